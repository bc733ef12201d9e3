"""manage.py demo_data: a demo state with two counties, staff of every role, and an outbreak to work on."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.demo.builder import (
    DEFAULT_CASES,
    DEFAULT_SEED,
    MAX_CASES,
    DemoError,
    build_demo,
    demo_exists,
    demo_logins,
    demo_summary,
)


class Command(BaseCommand):
    help = (
        "Create a demo jurisdiction (Demo State, Harbor and Valley counties), users of every role and N cases "
        "at every stage with their contacts, places and lab results. Runs once: when the demo state exists it "
        "only prints the logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cases",
            type=int,
            default=DEFAULT_CASES,
            help=f"number of cases to create (default {DEFAULT_CASES}, at most {MAX_CASES})",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=f"seed of the random choices: the same seed gives the same data (default {DEFAULT_SEED})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "demo_data creates fictitious people and users with a published password: "
                "it does not run with TRACECENTER_ENV=production."
            )
        if demo_exists():
            self.stdout.write("The demo jurisdiction already exists; nothing was created.")
        else:
            started = time.monotonic()
            log = self.stdout.write if options["verbosity"] >= 2 else None
            try:
                build_demo(cases=options["cases"], seed=options["seed"], log=log)
            except DemoError as exc:
                raise CommandError(str(exc)) from None
            elapsed = time.monotonic() - started
            self.stdout.write(self.style.SUCCESS(f"Demo data created in {elapsed:.1f} s (seed {options['seed']})."))
            self._summary()
        self._logins()

    def _summary(self) -> None:
        for key, value in demo_summary().items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
            self.stdout.write(f"  {key.replace('_', ' ')}: {value}")

    def _logins(self) -> None:
        rows = [("username", "role", "jurisdiction", "password", "authenticator (TOTP) secret"), *demo_logins()]
        if len(rows) == 1:
            self.stdout.write("No demo users exist.")
            return
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        self.stdout.write("")
        self.stdout.write("Demo logins: the same password for all, then a code from an authenticator app holding the")
        self.stdout.write("user's secret (add it by hand in Google Authenticator, 1Password, FreeOTP... as a time-based key),")
        self.stdout.write("or print the current code with: .venv/bin/python manage.py demo_code USERNAME")
        for number, row in enumerate(rows):
            self.stdout.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
            if number == 0:
                self.stdout.write("  " + "  ".join("-" * width for width in widths))

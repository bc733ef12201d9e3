"""`manage.py createadmin`: the first administrator of a department, on an empty database.

    manage.py createadmin --username chief --jurisdiction-code ms --jurisdiction-name "Example State"

The password is asked twice on a terminal; scripts give it in a file (--password-file) or in the
TRACECENTER_ADMIN_PASSWORD environment variable, never as an argument (arguments show in `ps` and
in shell histories).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.services import administrator_create
from tracecenter.core.errors import DomainError

PASSWORD_ENV = "TRACECENTER_ADMIN_PASSWORD"  # noqa: S105 -- the name of a variable, not a password
MAX_PASSWORD_FILE = 4096


class Command(BaseCommand):
    help = "Create an administrator, and the top-level jurisdiction when no jurisdiction has the code given."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--jurisdiction-code", required=True, help="e.g. 'ms'; created when no jurisdiction has it")
        parser.add_argument("--jurisdiction-name", default="", help="the name of a jurisdiction to create, e.g. 'Example State'")
        parser.add_argument("--time-zone", default="", help="of a jurisdiction to create, e.g. 'America/Chicago'")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--password-file", help=f"read the password from this file (else ${PASSWORD_ENV}, else ask)")

    def handle(self, *args: Any, **options: Any) -> None:
        password = self._password(options["password_file"])
        try:
            user, created = administrator_create(
                username=options["username"],
                password=password,
                jurisdiction_code=options["jurisdiction_code"],
                jurisdiction_name=options["jurisdiction_name"],
                time_zone=options["time_zone"],
                first_name=options["first_name"],
                last_name=options["last_name"],
                email=options["email"],
            )
        except DomainError as exc:
            where = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{where}{exc.message}") from None
        if user.jurisdiction is None:  # never: the administrator is made with one
            raise CommandError("The administrator was created without a jurisdiction.")
        if created:
            self.stdout.write(f"Created the jurisdiction {user.jurisdiction.name} ({user.jurisdiction.code}).")
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the administrator {user.username} of {user.jurisdiction.name}: sign in and open Administration."
            )
        )

    def _password(self, path: str | None) -> str:
        if path:
            try:
                with Path(path).open(encoding="utf-8") as fp:
                    text = fp.read(MAX_PASSWORD_FILE + 1)
            except OSError as exc:
                raise CommandError(f"--password-file: cannot read {path}: {exc.strerror}") from None
            if len(text) > MAX_PASSWORD_FILE:
                raise CommandError("--password-file: this file is too long to hold a password.")
            return text.rstrip("\r\n")  # the newline an editor or `echo` leaves is not part of the password
        if os.environ.get(PASSWORD_ENV):
            return os.environ[PASSWORD_ENV]
        if not sys.stdin.isatty():
            raise CommandError(f"No password: give --password-file or set {PASSWORD_ENV} (there is no terminal to ask on).")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return first

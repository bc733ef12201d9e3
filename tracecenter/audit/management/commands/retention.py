"""manage.py retention: what is past its retention period (the dry run, the default), and --purge to carry it out."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.models import Jurisdiction
from tracecenter.audit import retention


class Command(BaseCommand):
    help = (
        "Show, per record type and jurisdiction, the retention period and how many records are past it (nothing is "
        "changed); with --purge, purge or de-identify them, one audit entry per record. Legal holds are respected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--purge", action="store_true", help="carry it out (without it: a dry run)")
        parser.add_argument("--jurisdiction", default="", help="code of a jurisdiction: it and those below it (default: all)")
        parser.add_argument("--type", action="append", default=[], dest="types", help="only this record type (repeatable)")
        parser.add_argument("--batch", type=int, default=500, help="records per transaction (default 500)")

    def handle(self, *args: Any, **options: Any) -> None:
        known = retention.record_types()
        unknown = [t for t in options["types"] if t not in known]
        if unknown:
            raise CommandError(f"Unknown record type {unknown[0]!r}; known: {', '.join(known)}.")
        if not 1 <= options["batch"] <= 10_000:
            raise CommandError("--batch must be between 1 and 10000.")
        if options["jurisdiction"]:
            roots = list(Jurisdiction.objects.filter(code=options["jurisdiction"]))
            if not roots:
                raise CommandError(f"No jurisdiction has the code {options['jurisdiction']!r}.")
        else:
            roots = list(Jurisdiction.objects.filter(parent__isnull=True))
        for root in roots:
            if options["purge"]:
                for step, gone in retention.carry_out(root, actor=None, types=options["types"], batch=options["batch"]):
                    verb = "purged" if step.record_type.action == retention.PURGE else "de-identified"
                    self.stdout.write(f"{step.record_type.name} in {step.jurisdiction.code}: {verb} {gone}")
                continue
            for step in retention.plan(root, types=options["types"]):
                source = f"set at {step.inherited_from.code}" if step.inherited_from else "default"
                self.stdout.write(
                    f"{step.record_type.name} in {step.jurisdiction.code}: kept {step.keep_days} days ({source}), "
                    f"{step.count} past it (before {step.cutoff:%Y-%m-%d})"
                )
        if not options["purge"]:
            self.stdout.write("dry run: nothing was changed (--purge carries it out)")

"""manage.py retention: what is past its retention period (the dry run, the default), and --purge to carry it out."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.models import Jurisdiction
from tracecenter.audit import retention, trail_retention
from tracecenter.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Show, per record type and jurisdiction, the retention period and how many records are past it (nothing is "
        "changed); with --purge, purge or de-identify them, one audit entry per record. Legal holds are respected. "
        f"The audit trail itself ({trail_retention.AUDIT_TRAIL}) is kept AUDIT_RETENTION_DAYS; its older entries "
        "leave only as a whole, behind a signed checkpoint that audit_verify verifies from."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--purge", action="store_true", help="carry it out (without it: a dry run)")
        parser.add_argument("--jurisdiction", default="", help="code of a jurisdiction: it and those below it (default: all)")
        parser.add_argument(
            "--type",
            action="append",
            default=[],
            dest="types",
            help=f"only this record type (repeatable); {trail_retention.AUDIT_TRAIL} for the audit trail",
        )
        parser.add_argument("--batch", type=int, default=500, help="records per transaction (default 500)")

    def handle(self, *args: Any, **options: Any) -> None:
        known = [*retention.record_types(), trail_retention.AUDIT_TRAIL]
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
        trail = not options["types"] or trail_retention.AUDIT_TRAIL in options["types"]
        if trail:
            # Checked before anything is touched: a trail kept shorter than a record is a configuration to fix first.
            try:
                trail_retention.keep_days()
            except trail_retention.AuditPeriodTooShort as exc:
                raise CommandError(exc.message) from None
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
        if trail and options["jurisdiction"]:
            self.stdout.write(
                f"{trail_retention.AUDIT_TRAIL}: one trail for the whole center, left alone here (run without --jurisdiction)"
            )
        elif trail:
            self._audit_trail(purge=options["purge"])
        if not options["purge"]:
            self.stdout.write("dry run: nothing was changed (--purge carries it out)")

    def _audit_trail(self, *, purge: bool) -> None:
        name = trail_retention.AUDIT_TRAIL
        step = trail_retention.plan()
        line = (
            f"{name}: kept {step.keep_days} days (AUDIT_RETENTION_DAYS), {step.count} entries past it "
            f"(before {step.cutoff:%Y-%m-%d})"
        )
        if step.count and step.first_at is not None and step.last_at is not None:  # entries to go have their dates
            line += (
                f": #{step.from_seq} to #{step.up_to_seq}, written {step.first_at:%Y-%m-%d} to {step.last_at:%Y-%m-%d}, "
                "to go behind a signed checkpoint"
            )
        if step.held_from is not None:
            line += f"; a legal hold keeps entry #{step.held_from} and every one after it"
        if step.latest is not None:
            line += f"; entries up to #{step.latest.up_to_seq} were removed before (checkpoint {step.latest.pk})"
        self.stdout.write(line)
        if not purge or not step.count:
            return
        try:
            checkpoints = trail_retention.purge(actor=None, by="manage.py retention --purge")
        except DomainError as exc:
            raise CommandError(exc.message) from None
        for checkpoint in checkpoints:
            self.stdout.write(
                f"{name}: removed {checkpoint.removed} entries, #{checkpoint.from_seq} to #{checkpoint.up_to_seq}, "
                f"behind checkpoint {checkpoint.pk}"
            )

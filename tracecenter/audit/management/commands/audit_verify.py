from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tracecenter.audit.services import seal_all_reporting, verify_chain

# Problems listed one by one; past this many, only their number.
MAX_LISTED = 50


class Command(BaseCommand):
    help = (
        "Seal pending audit entries, then verify the checkpoints the trail's retention left (their signatures, chained), "
        "the chain from the latest of them on, and every entry not sealed; names each checkpoint forged or edited and "
        "each entry that was forged (its HMAC does not hold), changed, removed (with or without a checkpoint) or relinked."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-seal", action="store_true", help="verify only, do not seal pending entries first")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_seal"]:
            sealed, refused = seal_all_reporting()
            if sealed:
                self.stdout.write(f"sealed {sealed} pending entries")
            if refused:
                self.stdout.write(f"refused to seal {refused} entries whose HMAC does not hold")
        verdict = verify_chain()
        if verdict.resumed_after:
            self.stdout.write(
                f"entries #1 to #{verdict.resumed_after} were removed by the trail's retention; verified from "
                f"#{verdict.resumed_after + 1} on, after {verdict.checkpoints} checkpoint(s) whose signature holds"
            )
        if verdict.legacy:
            self.stdout.write(
                f"{verdict.legacy} entries sealed before the keyed cut-over were verified by their unkeyed hash "
                "(they predate keyed entries: see docs/security.md)"
            )
        if verdict.pending:
            self.stdout.write(f"{verdict.pending} entries not sealed yet (their HMAC holds)")
        if not verdict.ok:
            first = verdict.first
            if first is None:  # a verdict that is not ok names its first problem
                raise CommandError("the audit trail failed verification without naming a problem")
            for problem in verdict.problems[:MAX_LISTED]:
                self.stderr.write(f"  {problem.where()}: {problem.reason}")
            if len(verdict.problems) > MAX_LISTED:
                self.stderr.write(f"  ... and {len(verdict.problems) - MAX_LISTED} more")
            raise CommandError(
                f"audit chain BROKEN at {first.where()}: {first.reason}; "
                f"{verdict.checked_before_first_problem} entries before it verified; "
                f"{len(verdict.problems)} problem(s) in all"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain OK: {verdict.checked} entries verified"))

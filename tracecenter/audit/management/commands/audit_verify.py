from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tracecenter.audit.services import seal_all, verify_chain


class Command(BaseCommand):
    help = "Seal pending audit entries, then verify the whole audit chain; names the first broken entry."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-seal", action="store_true", help="verify only, do not seal pending entries first")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_seal"]:
            sealed = seal_all()
            if sealed:
                self.stdout.write(f"sealed {sealed} pending entries")
        verdict = verify_chain()
        if not verdict.ok:
            raise CommandError(
                f"audit chain BROKEN at seq {verdict.first_broken_seq} (entry id {verdict.first_broken_pk}): "
                f"{verdict.reason}; {verdict.checked} entries before it verified"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain OK: {verdict.checked} entries verified"))

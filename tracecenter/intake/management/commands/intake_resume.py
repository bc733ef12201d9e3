"""manage.py intake_resume: process messages that were stored but never processed, and retry failed ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.core.errors import DomainError
from tracecenter.intake.pipeline import intake_root, resume_pending


class Command(BaseCommand):
    help = (
        "Process inbound messages left in the 'received' state (the process stopped between storing and "
        "processing them) and, with --failed, retry those that failed on TraceCenter's side."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="also retry messages in the 'failed' state")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            root = intake_root()
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        count = resume_pending(root=root, include_failed=options["failed"])
        self.stdout.write(f"processed {count} message(s); the workers deliver what they announced")

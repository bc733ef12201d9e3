from typing import Any

from django.core.management.base import BaseCommand

from tracecenter.core.events import deliver_pending


class Command(BaseCommand):
    help = "Deliver domain events that are still pending in the outbox (after a crash or a failed subscriber)."

    def handle(self, *args: Any, **options: Any) -> None:
        delivered, failed = deliver_pending()
        self.stdout.write(f"delivered {delivered}, failed {failed}")

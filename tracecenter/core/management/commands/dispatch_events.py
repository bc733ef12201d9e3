"""manage.py dispatch_events: deliver every event due now in this process (what a worker would)."""

from typing import Any

from django.core.management.base import BaseCommand

from tracecenter.core import relay


class Command(BaseCommand):
    help = "Deliver every event delivery that is due now, in this process, then stop (a worker does this all the time)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = relay.drain()
        self.stdout.write(f"delivered {result.done}, failed {result.failed}, dead {result.dead}")

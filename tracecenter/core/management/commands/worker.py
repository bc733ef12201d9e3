"""manage.py worker: run event deliveries, tasks and periodic jobs until stopped."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.core.worker import Worker


class Command(BaseCommand):
    help = (
        "Run a worker: event deliveries, background tasks and periodic jobs. Start as many as you like on as many "
        "machines as share the database; SIGTERM or Ctrl-C stops one after the piece of work in hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--until-idle", action="store_true", help="stop once nothing is due (for scripts and CI)")
        parser.add_argument("--batch", type=int, default=0, help="event deliveries claimed at a time (default: by database)")
        parser.add_argument("--id", default="", help="this worker's id (default: random); must be unique")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 0:
            raise CommandError("--batch must be positive.")
        if len(options["id"]) > 32:
            raise CommandError("--id is at most 32 characters.")
        worker = Worker(worker_id=options["id"] or None, batch=options["batch"] or None)
        if options["until_idle"]:
            done = 0
            while did := worker.run_once():
                done += did
            self.stdout.write(f"worker {worker.id}: {done} piece(s) of work done, nothing more is due")
            return

        def stop(signum: int, frame: Any) -> None:
            worker.shutdown()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"worker {worker.id} started", ending="\n")
        self.stdout.flush()
        worker.run()

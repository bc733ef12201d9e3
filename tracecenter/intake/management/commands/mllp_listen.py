"""manage.py mllp_listen --port P: receive HL7 v2 lab results over MLLP."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.core.errors import DomainError
from tracecenter.intake.mllp import MllpServer
from tracecenter.intake.pipeline import intake_root, resume_pending


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # leave serve_forever the way Ctrl-C does


class Command(BaseCommand):
    help = (
        "Listen for HL7 v2 messages over MLLP (TCP). Each message is stored before it is acknowledged; "
        "the answer is AA, AE (with ERR segments naming each problem) or AR. Messages left unprocessed by an "
        "earlier run are processed at start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=2575, help="TCP port (default 2575, the registered HL7 port)")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)")
        parser.add_argument("--jurisdiction", default="", help="code of the receiving jurisdiction")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            root = intake_root(options["jurisdiction"])
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535.")
        # What an earlier run left half done: messages stored but not processed. (Opening cases from
        # the results is the workers' job, never the listener's: it only has to store and answer.)
        resumed = resume_pending(root=root)
        if resumed:
            self.stdout.write(f"processed {resumed} message(s) left by an earlier run")
        try:
            server = MllpServer((options["host"], options["port"]), root)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {exc.strerror}.") from None
        signal.signal(signal.SIGTERM, _stop)
        self.stdout.write(f"listening for MLLP on {options['host']}:{options['port']} (Ctrl-C to stop)", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

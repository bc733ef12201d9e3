"""manage.py mllp_listen --port P [--tls-cert C --tls-key K [--tls-client-ca CA]]: receive HL7 v2 lab results over MLLP."""

from __future__ import annotations

import signal
import ssl
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.core.errors import DomainError
from tracecenter.intake.mllp import MllpServer, tls_context
from tracecenter.intake.pipeline import intake_root, resume_pending
from tracecenter.intake.selectors import sending_facilities_allowed


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
        parser.add_argument("--tls-cert", default="", help="PEM certificate (chain) of the listener: MLLP over TLS")
        parser.add_argument("--tls-key", default="", help="PEM private key of that certificate")
        parser.add_argument(
            "--tls-client-ca",
            default="",
            help="PEM certificates of the CA that signs the senders' certificates: mutual TLS, a sender without one is refused",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            root = intake_root(options["jurisdiction"])
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535.")
        tls = self._tls(options)
        # What an earlier run left half done: messages stored but not processed. (Opening cases from
        # the results is the workers' job, never the listener's: it only has to store and answer.)
        resumed = resume_pending(root=root)
        if resumed:
            self.stdout.write(f"processed {resumed} message(s) left by an earlier run")
        try:
            server = MllpServer((options["host"], options["port"]), root, tls=tls)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {exc.strerror}.") from None
        signal.signal(signal.SIGTERM, _stop)
        kind = "MLLP"
        if tls is not None:
            kind = "MLLP over TLS, senders with a certificate" if options["tls_client_ca"] else "MLLP over TLS"
        allowed = sending_facilities_allowed(root)
        senders = f"{len(allowed)} allowed sending facilities" if allowed else "any sending facility"
        self.stdout.write(
            f"listening for {kind} on {options['host']}:{options['port']}, from {senders} (Ctrl-C to stop)", ending="\n"
        )
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    def _tls(self, options: dict[str, Any]) -> ssl.SSLContext | None:
        cert, key, client_ca = options["tls_cert"], options["tls_key"], options["tls_client_ca"]
        if not (cert or key or client_ca):
            return None
        if not (cert and key):
            raise CommandError("MLLP over TLS needs both --tls-cert and --tls-key.")
        try:
            return tls_context(cert=cert, key=key, client_ca=client_ca)
        except FileNotFoundError as exc:
            raise CommandError(f"Cannot read {exc.filename}: no such file.") from None
        except (ssl.SSLError, OSError) as exc:
            raise CommandError(f"Cannot use the TLS certificate, key or client CA given: {exc}.") from None

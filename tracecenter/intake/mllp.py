"""An MLLP (HL7 v2 over TCP) listener: frames in, each message stored and processed, an ACK out.

MLLP frames a message as <VT> message <FS><CR>. For every frame the listener stores
the message durably (committed) before it answers, then processes it and answers:

- AA  accepted (also for a message received before: the sender may resend safely);
- AE  the message was read but its content is refused: one ERR segment per problem;
- AR  the message could not be read as an HL7 v2 lab result at all (not HL7, wrong type or version, an
      empty frame), its sender is not on the receiving jurisdiction's allow-list (FeedSender), or TraceCenter failed
      on its side (ERR code 207): it is kept and processed again when resent.

Each connection is served by its own thread with its own database connection, within bounds
(settings, docs/intake.md): at most MLLP_MAX_CONNECTIONS at once (a connection beyond is answered
AR, "busy", and closed: the sender sends again), frames of at most MLLP_MAX_FRAME_BYTES, at most
MLLP_MAX_CONNECTION_BYTES per connection (then AR and closed: interface engines reconnect), and a
connection silent for MLLP_IDLE_TIMEOUT_SECONDS is closed. With a TLS context (`mllp_listen
--tls-cert --tls-key [--tls-client-ca]`) every connection is TLS, and with a client CA the sender
must present a certificate it signed.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from tracecenter.intake import detect
from tracecenter.intake.models import InboundMessage, IntakeBatch
from tracecenter.intake.pipeline import UNKNOWN_SENDER, Intake, problems_of
from tracecenter.intake.records import Problem
from tracecenter.intake.selectors import sending_facilities_allowed

logger = logging.getLogger(__name__)

SB, EB, CR = b"\x0b", b"\x1c", b"\r"
# A refused connection (too many at once) is answered after reading at most this much of its first frame,
# or after this many seconds: enough for the MSH its ACK echoes, never a reason to hold a thread.
_REFUSAL_READ_BYTES = 64 * 1024
_REFUSAL_SECONDS = 5.0
# A TLS handshake takes well under a second; one that has not finished in this time is given up.
_HANDSHAKE_SECONDS = 30.0
# Problems that mean "not a message we can take at all" rather than "this content is wrong".
_REJECT_CODES = frozenset(
    {
        "not_hl7",
        "unsupported_type",
        "unsupported_event",
        "unsupported_version",
        "invalid_encoding",
        "too_large",
        "unknown_format",
        UNKNOWN_SENDER,
    }
)


def ack_for(messages: list[InboundMessage], data: bytes) -> bytes:
    """The ACK for one frame: the worst state among its messages decides the code."""
    from tracecenter.intake.formats.hl7v2 import build_ack

    text = data.decode("utf-8", errors="replace")
    problems: list[Problem] = []
    code = "AA"
    for message in messages:
        message.refresh_from_db(fields=["state", "problems"])
        if message.state == InboundMessage.State.REJECTED:
            found = problems_of(message)
            problems.extend(found)
            code = "AR" if code == "AR" or any(p.code in _REJECT_CODES for p in found) else "AE"
        elif message.state in (InboundMessage.State.FAILED, InboundMessage.State.RECEIVED):
            problems.append(
                Problem(
                    "message", "TraceCenter could not process this message; it is kept. Send it again later.", "internal_error"
                )
            )
            code = "AR"
    control_id = f"ACK{messages[0].pk}" if messages else "ACK"
    return build_ack(text, code, problems, control_id=control_id).encode("utf-8")


def refusal(frame: bytes | None, reason: str, code: str) -> bytes:
    """An AR for a frame (or for the connection, when no frame could be read), framed for MLLP."""
    from tracecenter.intake.formats.hl7v2 import build_ack

    text = frame.decode("utf-8", errors="replace") if frame else None
    ack = build_ack(text, "AR", [Problem("message", reason, code)], control_id="ACK")
    return SB + ack.encode("utf-8") + EB + CR


def tls_context(*, cert: str, key: str, client_ca: str = "") -> ssl.SSLContext:
    """The listener's TLS: TLS 1.2 or later, its certificate and key; with `client_ca`, mutual TLS (a sender
    without a certificate signed by that CA cannot connect)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def _peer_name(sock: socket.socket) -> str:
    """The common name of the sender's certificate (mutual TLS), for the log and the delivery's name."""
    if not isinstance(sock, ssl.SSLSocket):
        return ""
    certificate: dict[str, Any] = dict(sock.getpeercert() or {})
    for rdn in certificate.get("subject", ()):
        for attribute in rdn:
            if attribute[0] == "commonName":
                return str(attribute[1])
    return ""


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        server = self.server
        sock.settimeout(server.idle_timeout)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        run: Intake | None = None  # one delivery per connection: its batch and report cover every frame
        buffer = b""
        taken = 0  # bytes of this connection's frames so far
        try:
            if isinstance(sock, ssl.SSLSocket):
                sock.settimeout(min(server.idle_timeout, _HANDSHAKE_SECONDS))
                sock.do_handshake()
                sock.settimeout(server.idle_timeout)
                certified = _peer_name(sock)
                if certified:
                    peer = f"{peer} ({certified})"
            while True:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    logger.info("MLLP connection from %s silent for %s s; closed", peer, server.idle_timeout)
                    break
                if not chunk:
                    break
                buffer += chunk
                while EB in buffer:
                    frame, _sep, buffer = buffer.partition(EB)
                    buffer = buffer.removeprefix(CR)
                    taken += len(frame) + 2
                    start = frame.find(SB)
                    frame = frame[start + 1 :] if start >= 0 else frame
                    if taken > server.max_connection_bytes:
                        sock.sendall(server.connection_full(frame))
                        return
                    if not frame.strip():
                        # A frame with nothing in it still gets its answer (a sender waits for one per frame);
                        # bytes that never opened a frame (a stray end of frame, line breaks between frames) do not.
                        if start >= 0:
                            sock.sendall(SB + self.server.empty() + EB + CR)
                        continue
                    if run is None:
                        batch = IntakeBatch.objects.create(
                            source=IntakeBatch.Source.MLLP,
                            filename=f"MLLP from {peer}"[:255],
                            format="hl7v2",
                            jurisdiction=server.root,
                        )
                        run = Intake(root=server.root, batch=batch)
                    sock.sendall(SB + server.receive(frame, run) + EB + CR)
                if taken + len(buffer) > server.max_connection_bytes:
                    sock.sendall(server.connection_full(None))
                    break
                if len(buffer) > server.max_frame_bytes:
                    # No end of frame within the limit: answer once and drop the connection rather than buffer forever.
                    logger.warning("MLLP frame from %s exceeds %d bytes; connection closed", peer, server.max_frame_bytes)
                    sock.sendall(SB + server.too_large() + EB + CR)
                    break
        except ssl.SSLError as exc:
            logger.info("MLLP TLS connection from %s refused (%s)", peer, exc.reason or type(exc).__name__)
        except (ConnectionError, OSError):
            logger.info("MLLP connection from %s ended", peer)
        finally:
            if run is not None:
                run.finish()
            close_old_connections()
            connection.close()


class MllpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], root: Any, *, tls: ssl.SSLContext | None = None) -> None:
        detect.parser_for("hl7v2")  # load the parser now, not on the first connection
        self.root = root
        self.tls = tls
        self.received = 0
        self.max_connections = settings.MLLP_MAX_CONNECTIONS
        self.max_frame_bytes = settings.MLLP_MAX_FRAME_BYTES
        self.max_connection_bytes = settings.MLLP_MAX_CONNECTION_BYTES
        self.idle_timeout = float(settings.MLLP_IDLE_TIMEOUT_SECONDS)
        self._lock = threading.Lock()
        self._active = 0
        # Refusals are answered in threads of their own too (a TLS handshake must not hold up the accept loop),
        # as many at once as connections served; beyond, a connection is closed without an answer.
        self._refusals = threading.BoundedSemaphore(max(self.max_connections, 1))
        super().__init__(address, _Handler)

    # -- connections

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        if self.tls is not None:
            # The handshake happens in the connection's thread, under its timeout: a slow or silent
            # client must not hold up the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    @property
    def active(self) -> int:
        with self._lock:
            return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            busy = self._active >= self.max_connections
            if not busy:
                self._active += 1
        if busy:
            self._refuse(request, client_address)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._done()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done()

    def _done(self) -> None:
        with self._lock:
            self._active -= 1

    def _refuse(self, request: Any, client_address: Any) -> None:
        logger.warning("MLLP connection from %s refused: %d connections already", client_address[0], self.max_connections)
        if not self._refusals.acquire(blocking=False):
            self.shutdown_request(request)
            return
        threading.Thread(target=self._answer_busy, args=(request,), daemon=True).start()

    def _answer_busy(self, sock: Any) -> None:
        """AR to the first frame of a connection refused for being one too many (its MSH echoed when it came)."""
        try:
            sock.settimeout(_REFUSAL_SECONDS)
            if isinstance(sock, ssl.SSLSocket):
                sock.do_handshake()
            received = b""
            try:
                while EB not in received and len(received) < _REFUSAL_READ_BYTES:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except TimeoutError:
                pass
            frame = received.partition(EB)[0]
            start = frame.find(SB)
            frame = frame[start + 1 :] if start >= 0 else frame
            reason = "TraceCenter is receiving on too many connections at once; the message was not taken. Send it again."
            sock.sendall(refusal(frame or None, reason, "busy"))
        except (ssl.SSLError, OSError):
            pass
        finally:
            self.shutdown_request(sock)
            self._refusals.release()

    # -- answers

    def receive(self, frame: bytes, run: Intake) -> bytes:
        try:
            # The allow-list as it is now: a sender added or removed applies from the next frame on.
            run.senders = sending_facilities_allowed(self.root)
            messages = run.ingest_hl7_frame(frame)
            with self._lock:
                self.received += len(messages)
            return ack_for(messages, frame)
        except Exception:  # the listener must answer and keep serving whatever happens
            logger.exception("MLLP frame could not be processed")
            from tracecenter.intake.formats.hl7v2 import build_ack

            problem = Problem("message", "TraceCenter could not store this message; send it again.", "internal_error")
            return build_ack(frame.decode("utf-8", errors="replace"), "AR", [problem], control_id="ACK").encode("utf-8")

    def empty(self) -> bytes:
        """AR for an empty frame: there is no message to store, read or acknowledge by its control id."""
        from tracecenter.intake.formats.hl7v2 import build_ack

        problem = Problem("MSH", "The frame is empty; expected an HL7 v2 message starting with MSH.", "required")
        return build_ack(None, "AR", [problem], control_id="ACK").encode("utf-8")

    def too_large(self) -> bytes:
        from tracecenter.intake.formats.hl7v2 import build_ack

        problem = Problem("message", f"The message is larger than {self.max_frame_bytes} bytes.", "too_large")
        return build_ack(None, "AR", [problem], control_id="ACK").encode("utf-8")

    def connection_full(self, frame: bytes | None) -> bytes:
        reason = (
            f"This connection has sent more than {self.max_connection_bytes} bytes; the message was not taken. "
            "Open a new connection and send it again."
        )
        return refusal(frame, reason, "too_large")

"""An MLLP (HL7 v2 over TCP) listener: frames in, each message stored and processed, an ACK out.

MLLP frames a message as <VT> message <FS><CR>. For every frame the listener stores
the message durably (committed) before it answers, then processes it and answers:

- AA  accepted (also for a message received before: the sender may resend safely);
- AE  the message was read but its content is refused: one ERR segment per problem;
- AR  the message could not be read as an HL7 v2 lab result at all (not HL7, wrong type or version, an empty
      frame), or TraceCenter failed on its side (ERR code 207): it is kept and processed again when resent.

Each connection is served by its own thread with its own database connection.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from typing import Any

from django.db import close_old_connections, connection

from tracecenter.intake import detect
from tracecenter.intake.models import InboundMessage, IntakeBatch
from tracecenter.intake.pipeline import Intake, problems_of
from tracecenter.intake.records import Problem

logger = logging.getLogger(__name__)

SB, EB, CR = b"\x0b", b"\x1c", b"\r"
MAX_FRAME_BYTES = 2 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 300.0
# Problems that mean "not a message we can take at all" rather than "this content is wrong".
_REJECT_CODES = frozenset(
    {"not_hl7", "unsupported_type", "unsupported_event", "unsupported_version", "invalid_encoding", "too_large", "unknown_format"}
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


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(IDLE_TIMEOUT_SECONDS)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        run: Intake | None = None  # one delivery per connection: its batch and report cover every frame
        buffer = b""
        try:
            while True:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                buffer += chunk
                while EB in buffer:
                    frame, _sep, buffer = buffer.partition(EB)
                    buffer = buffer.removeprefix(CR)
                    start = frame.find(SB)
                    frame = frame[start + 1 :] if start >= 0 else frame
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
                            jurisdiction=self.server.root,
                        )
                        run = Intake(root=self.server.root, batch=batch)
                    sock.sendall(SB + self.server.receive(frame, run) + EB + CR)
                if len(buffer) > MAX_FRAME_BYTES:
                    # No end of frame within the limit: answer once and drop the connection rather than buffer forever.
                    logger.warning("MLLP frame from %s exceeds %d bytes; connection closed", peer, MAX_FRAME_BYTES)
                    sock.sendall(SB + self.server.too_large() + EB + CR)
                    break
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

    def __init__(self, address: tuple[str, int], root: Any) -> None:
        detect.parser_for("hl7v2")  # load the parser now, not on the first connection
        super().__init__(address, _Handler)
        self.root = root
        self.received = 0
        self._lock = threading.Lock()

    def receive(self, frame: bytes, run: Intake) -> bytes:
        try:
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

        problem = Problem("message", f"The message is larger than {MAX_FRAME_BYTES} bytes.", "too_large")
        return build_ack(None, "AR", [problem], control_id="ACK").encode("utf-8")

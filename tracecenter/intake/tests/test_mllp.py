"""The MLLP listener, driven by python-hl7's own client and its `mllp_send` command.

The crash test runs the listener as a separate process on its own SQLite file, kills it
with SIGKILL in the middle of a file, restarts it, and has the sender resend the whole
file: every message ends up stored once and processed once.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import hl7
import pytest
from hl7.client import MLLPClient

from tracecenter.core import clock
from tracecenter.intake.mllp import MllpServer
from tracecenter.intake.models import InboundMessage, LabResult
from tracecenter.intake.synthetic import Analyte, SyntheticReport, oru_r01

ROOT = Path(__file__).resolve().parents[3]
MLLP_SEND = Path(sys.executable).with_name("mllp_send")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FIRST = ["Astrid", "Kwabena", "Haruto", "Amelie", "Svetlana", "Joao", "Priya", "Tadeo", "Yusuf", "Ngozi", "Lars", "Mei"]
LAST = ["Lindqvist", "Osei", "Tanaka", "Moreau", "Ivanova", "Costa", "Raman", "Quispe", "Demir", "Adeyemi", "Berg"]


def message(n: int, **overrides: object) -> str:
    """Message n of a feed: 132 different people (12 x 11 names, each with their own birth date, phone and address)."""
    values: dict[str, object] = {
        "control_id": f"MLLP{n:05d}",
        "first_name": FIRST[n % 12],
        "last_name": LAST[n // 12 % 11],
        "date_of_birth": dt.date(1940 + n % 60, 1 + n % 12, 1 + n % 28),
        "collected": clock.today() - dt.timedelta(days=2),
        "accession": f"MLLPACC{n:05d}",
        "phone": f"617555{n:04d}",
        # Each at their own address: 132 women at one address with one-digit-apart birth dates and
        # phones would be, on the evidence, partly the same persons.
        "street": f"{n + 1} Main St",
        "analytes": [Analyte(result="negative" if n % 4 else "positive")],
        **overrides,
    }
    return oru_r01(SyntheticReport(**values))  # type: ignore[arg-type]


@pytest.fixture
def listener(transactional_db: None, state: object) -> Iterator[int]:
    port = free_port()
    server = MllpServer(("127.0.0.1", port), state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def ack_code(ack: str) -> tuple[str, list[str]]:
    parsed = hl7.parse(ack)
    return str(parsed.segment("MSA")[1]), [str(err[8]) for err in parsed.segments("ERR")] if "ERR" in ack else []


def test_an_accepted_message_is_stored_and_acknowledged_aa(listener: int) -> None:
    with MLLPClient("127.0.0.1", listener) as client:
        ack = client.send_message(message(1)).decode()
    code, _errors = ack_code(ack)
    assert code == "AA"
    assert "MSA|AA|MLLP00001" in ack
    assert InboundMessage.objects.get().state == "processed"
    assert LabResult.objects.count() == 1


def test_a_message_with_wrong_content_gets_ae_naming_the_field(listener: int) -> None:
    broken = message(2, first_name="", last_name="")
    with MLLPClient("127.0.0.1", listener) as client:
        ack = client.send_message(broken).decode()
    code, errors = ack_code(ack)
    assert code == "AE"
    assert any("PID-5" in e or "name" in e for e in errors)
    assert "ERR|" in ack and "PID^1^5" in ack
    assert InboundMessage.objects.get().state == "rejected"  # kept, with its problems


def test_an_order_is_refused_with_ar(listener: int) -> None:
    order = message(3).replace("ORU^R01^ORU_R01", "ORM^O01^ORM_O01")
    with MLLPClient("127.0.0.1", listener) as client:
        ack = client.send_message(order).decode()
    assert ack_code(ack)[0] == "AR"


def test_a_resent_message_is_acknowledged_again_without_a_second_result(listener: int) -> None:
    with MLLPClient("127.0.0.1", listener) as client:
        first = client.send_message(message(4)).decode()
        second = client.send_message(message(4)).decode()
    assert ack_code(first)[0] == ack_code(second)[0] == "AA"
    assert InboundMessage.objects.count() == 1 and LabResult.objects.count() == 1


def test_garbage_gets_an_answer_and_the_listener_keeps_serving(listener: int) -> None:
    with MLLPClient("127.0.0.1", listener) as client:
        ack = client.send_message(b"\x00\xff not hl7 at all").decode()
        assert ack_code(ack)[0] == "AR"
        assert ack_code(client.send_message(message(5)).decode())[0] == "AA"


def test_mllp_send_delivers_a_file_and_gets_an_ack_for_each_message(listener: int, tmp_path: Path) -> None:
    feed = tmp_path / "feed.hl7"
    feed.write_text("\n".join(message(n).replace("\r", "\n") for n in range(10, 20)))
    result = subprocess.run(
        [str(MLLP_SEND), "--loose", "-f", str(feed), "-p", str(listener), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.count("MSA|AA|") == 10
    assert InboundMessage.objects.filter(state="processed").count() == 10


# --- Crash in the middle of a file -----------------------------------------------------------------


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def _start_listener(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "mllp_listen", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait until it listens
        if "listening for MLLP" in line:
            return process
    raise AssertionError("the listener did not start")


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_killing_the_listener_mid_file_and_resending_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "TRACECENTER_VAR_DIR": str(tmp_path), "TRACECENTER_ENV": "local", "DATABASE_URL": ""}
    db = tmp_path / "tracecenter.sqlite3"
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(
        env,
        "shell",
        "-c",
        "from tracecenter.accounts.models import Jurisdiction as J; J.objects.create(name='Test State', code='ts')",
    )
    total = 120
    feed = tmp_path / "feed.hl7"
    feed.write_text("\n".join(message(n).replace("\r", "\n") for n in range(total)))
    port = free_port()
    send = [str(MLLP_SEND), "--loose", "-f", str(feed), "-p", str(port), "127.0.0.1"]

    listener = _start_listener(env, port)
    sender = subprocess.Popen(send, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _count(db, "SELECT count(*) FROM intake_inboundmessage") < 20:
        assert time.monotonic() < deadline, "the listener stored nothing"
        time.sleep(0.05)
    listener.send_signal(signal.SIGKILL)  # no cleanup, no flush: a crash
    listener.wait(timeout=30)
    sender.wait(timeout=30)
    stored_before = _count(db, "SELECT count(*) FROM intake_inboundmessage")
    assert 20 <= stored_before < total, "the crash should come in the middle of the file"

    listener = _start_listener(env, port)
    try:
        resend = subprocess.run(send, capture_output=True, text=True, timeout=300, check=True)
    finally:
        listener.send_signal(signal.SIGTERM)
        listener.wait(timeout=30)
    assert resend.stdout.count("MSA|AA|") == total
    assert _count(db, "SELECT count(*) FROM intake_inboundmessage") == total
    assert _count(db, "SELECT count(DISTINCT control_id) FROM intake_inboundmessage") == total
    assert _count(db, "SELECT count(*) FROM intake_inboundmessage WHERE state <> 'processed'") == 0
    assert _count(db, "SELECT count(*) FROM intake_labresult") == total
    assert _count(db, "SELECT count(DISTINCT message_id) FROM intake_labresult") == total
    # The listener only stores and answers: opening cases is the workers' job.
    assert _count(db, "SELECT count(*) FROM cases_case") == 0
    _manage(env, "worker", "--until-idle")
    positives = len([n for n in range(total) if n % 4 == 0])
    assert _count(db, "SELECT count(*) FROM cases_case") == positives


def test_a_connection_is_one_delivery_whose_report_counts_every_frame(listener: int) -> None:
    import json

    from tracecenter.intake.models import IntakeBatch

    with MLLPClient("127.0.0.1", listener) as client:
        client.send_message(message(30))
        client.send_message(message(31, first_name="", last_name=""))
        client.send_message(message(32))
    deadline = time.monotonic() + 20
    while not IntakeBatch.objects.filter(source="mllp", finished_at__isnull=False).exists():
        assert time.monotonic() < deadline, "the delivery was not finished when the connection closed"
        time.sleep(0.05)
    batch = IntakeBatch.objects.get(source="mllp")
    report = json.loads(batch.report)
    assert (report["messages"], report["accepted"], report["rejected"]) == (3, 2, 1)
    assert report["rejections"][0]["location"] == "PID-5"


def _exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes on a real socket and read one MLLP frame back (or nothing, when the listener answers nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while not received.endswith(b"\x1c\r"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


@pytest.mark.parametrize("frame", [b"\x0b\x1c\r", b"\x0b \r\n\t\x1c\r"], ids=["empty", "blank"])
def test_an_empty_frame_gets_an_ar_naming_the_missing_message_and_the_listener_keeps_serving(listener: int, frame: bytes) -> None:
    answer = _exchange(listener, frame)
    assert answer.startswith(b"\x0b") and answer.endswith(b"\x1c\r")
    code, errors = ack_code(answer[1:-2].decode())
    assert code == "AR"
    assert errors == ["The frame is empty; expected an HL7 v2 message starting with MSH."]
    assert InboundMessage.objects.count() == 0
    with MLLPClient("127.0.0.1", listener) as client:
        assert ack_code(client.send_message(message(7)).decode())[0] == "AA"


def test_an_empty_frame_between_two_messages_gets_its_own_answer_in_order(listener: int) -> None:
    framed = [b"\x0b" + message(n).encode() + b"\x1c\r" for n in (8, 9)]
    with socket.create_connection(("127.0.0.1", listener), timeout=10) as sock:
        sock.sendall(framed[0] + b"\x0b\x1c\r" + framed[1])
        received = b""
        while received.count(b"\x1c\r") < 3:
            chunk = sock.recv(65536)
            assert chunk, f"the listener stopped answering after {received.count(b'\x1c\r')} answers"
            received += chunk
    answers = [ack_code(part.strip(b"\x0b").decode())[0] for part in received.split(b"\x1c\r") if part]
    assert answers == ["AA", "AR", "AA"]

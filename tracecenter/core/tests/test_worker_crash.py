"""Workers killed with SIGKILL at the worst moments lose nothing and do nothing twice.

Real worker processes (tracecenter.core.tests.crash_worker: the worker, plus a subscriber
that sends a text through the recording channel) run against this test's database and
are killed mid-work; a fresh worker then finishes. Leases and heartbeat timeouts are
shortened through the environment so the tests do not wait a minute.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import database_url
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case, CaseActivity
from tracecenter.core import clock
from tracecenter.core.models import EventDelivery, OutboxEvent, RecordedMessage, SideEffect
from tracecenter.intake.models import InboundMessage, IntakeBatch, LabResult
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.intake.synthetic import SyntheticReport, oru_r01
from tracecenter.people.services import PersonInput, person_create

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
FIRST = ["Amara", "Bogdan", "Chiara", "Dmitri", "Esperanza", "Farouk", "Giulia", "Hiroshi", "Ingrid", "Jamal"]
LAST = ["Abernathy", "Baptiste", "Castellanos", "Dunmore", "Eriksen", "Fairbanks", "Gallagher", "Hollis", "Iwasaki", "Jablonski"]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(**extra_env: str) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "RELAY_LEASE_SECONDS": "2",
            "WORKER_HEARTBEAT_TIMEOUT_SECONDS": "2",
            "TASK_RECOVER_SECONDS": "1",
            "WORKER_POLL_MS": "100",
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tracecenter.core.tests.crash_worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "started" in line, line
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)  # no cleanup, no flush: a crash
    process.wait(timeout=30)


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def positives(county: Jurisdiction, n: int) -> list[LabResult]:
    labs = []
    for i in range(n):
        person = person_create(
            actor=None,
            jurisdiction=county,
            data=PersonInput(
                first_name=FIRST[i % 10],
                last_name=LAST[i // 10 % 10] + "-" + str(i),
                date_of_birth=dt.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            ),
        )
        labs.append(
            lab_result_record(
                actor=None,
                person=person,
                data=LabResultInput(
                    specimen_collection_date=clock.today() - dt.timedelta(days=2), test_loinc="94500-6", result="positive"
                ),
            )
        )
    return labs


def test_a_worker_killed_mid_delivery_leaves_every_subscriber_run_exactly_once(county: Jurisdiction, start_worker: Any) -> None:
    labs = positives(county, 60)
    first = start_worker(WORKER_BATCH="5")
    wait_for(lambda: Case.objects.count() >= 15, "the first cases")
    kill(first)
    opened_before = Case.objects.count()
    assert opened_before < len(labs), "the crash should come in the middle of the work"

    second = start_worker(WORKER_BATCH="5")
    wait_for(lambda: not EventDelivery.objects.exclude(state="done").exists() and Case.objects.count() == len(labs), "the rest")
    stop(second)

    # One case per positive, opened once: one "opened" line, one audit entry, one CaseOpened event each.
    assert Case.objects.count() == len(labs)
    assert sorted(Case.objects.values_list("lab_results", flat=True)) == sorted(lab.pk for lab in labs)
    assert CaseActivity.objects.filter(kind=CaseActivity.Kind.OPENED).count() == len(labs)
    assert AuditEntry.objects.filter(action="create", object_type="case").count() == len(labs)
    assert OutboxEvent.objects.filter(name="CaseOpened").count() == len(labs)
    # Every subscriber of every event has its delivery done, once; the text to each case went out once.
    per_subscriber = EventDelivery.objects.values_list("event_id", "subscriber")
    assert len(per_subscriber) == len(set(per_subscriber))
    assert EventDelivery.objects.filter(subscriber="test.crash.welcome", state="done").count() == len(labs)
    assert RecordedMessage.objects.count() == len(labs)
    assert not SideEffect.objects.exclude(state="done").exists()


def test_a_worker_killed_after_a_text_left_and_before_it_was_recorded_does_not_send_it_again(
    county: Jurisdiction, start_worker: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "sent"
    positives(county, 1)
    first = start_worker(HANG_AFTER_SEND=str(marker))
    wait_for(marker.exists, "the text to leave")
    kill(first)
    assert RecordedMessage.objects.count() == 1
    effect = SideEffect.objects.get()
    assert effect.state == "started"  # the worker died before it could say the text was sent
    assert EventDelivery.objects.get(subscriber="test.crash.welcome").state == "pending"

    second = start_worker(HANG_AFTER_SEND=str(marker))  # the marker exists: it does not hang again
    wait_for(lambda: not EventDelivery.objects.exclude(state="done").exists(), "the retry")
    stop(second)
    assert RecordedMessage.objects.count() == 1  # the channel saw the same key and sent nothing new
    effect.refresh_from_db()
    assert effect.state == "done" and effect.attempts == 2
    assert effect.receipt["message_id"] == RecordedMessage.objects.get().pk


def test_a_worker_killed_mid_upload_has_the_file_finished_by_another(county: Jurisdiction, start_worker: Any) -> None:
    from tracecenter.intake.uploads import upload_start

    supervisor = User.objects.create(username="sup", role=Role.SUPERVISOR, jurisdiction=county)
    total = 1200
    collected = clock.today() - dt.timedelta(days=2)
    data = "".join(
        oru_r01(
            SyntheticReport(
                control_id=f"CRASH{n:05d}",
                first_name=FIRST[n % 10],
                last_name=f"{LAST[n // 10 % 10]}{n}",
                date_of_birth=dt.date(1940, 1, 1) + dt.timedelta(days=7 * n),
                collected=collected,
                accession=f"CRASHACC{n:05d}",
            )
        )
        for n in range(total)
    ).encode()
    batch = upload_start(actor=supervisor, data=data, filename="big.hl7")
    first = start_worker()
    wait_for(lambda: IntakeBatch.objects.get(pk=batch.pk).units_done >= 500, "the first chunk")
    kill(first)
    batch.refresh_from_db()
    assert batch.status == "running" and batch.units_done < total

    second = start_worker()
    wait_for(lambda: IntakeBatch.objects.get(pk=batch.pk).status != "running", "the batch to finish", seconds=180)
    stop(second)
    batch.refresh_from_db()
    assert batch.status == "done"
    assert InboundMessage.objects.filter(batch=batch).count() == total
    assert LabResult.objects.count() == total and LabResult.objects.values("message").distinct().count() == total
    import json

    report = json.loads(batch.report)
    assert report["duplicates"] == 0 and report["earlier"] + report["accepted"] == total and report["earlier"] >= 500
    assert batch.upload.data is None  # ingested: the file itself is not kept beside its messages

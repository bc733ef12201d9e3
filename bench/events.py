"""Event delivery speed: positive results becoming open cases through the relay and real worker processes.

    python bench/events.py [--surge 20000] [--workers 2] [--steady-rate 100] [--steady-seconds 60]
                           [--peer 2000] [--database URL]

What it does, in one run, and prints as ONE JSON object:

1. Surge. N positive lab results (each a different person) are stored by intake, exactly as a
   feed stores them, with their LabResultReceived events; no worker runs meanwhile. Then W
   `manage.py worker` processes start, and the clock runs from the first worker's start to the
   last delivery done: every case opened with its dates, its CaseOpened event delivered to
   every subscriber (contacts, live screens). `cases_per_s` is cases over that time.
2. Steady. With the workers running, one result is committed every 1/rate seconds (the service
   a lab feed or the API calls) for the given time; each case's lag is its opening time minus
   its result's commit time (database timestamps on the same clock).
3. Duplicates: cases beyond one per person, and results attached to more than one case. Must be 0.
4. Ceiling: the rows the surge wrote (cases, their result links, timeline lines, audit entries,
   events, deliveries, pushes) written again by a bare COPY into empty tables of the same
   shape: cases per second with no logic at all.
5. Peer: the stock django-tasks-db worker (`db_worker`, W processes, no polling pause) running
   the same case opening as one task per result, the way the library is used out of the box,
   on a sample of the same kind of results. Same machine, same database, same run.

It needs a PostgreSQL server (the database named by --database is emptied); nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import machine, setup_django  # noqa: E402  (bench/ is on the path)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tracecenter_bench_events"
FIRST = ["Amara", "Bogdan", "Chiara", "Dmitri", "Esperanza", "Farouk", "Giulia", "Hiroshi", "Ingrid", "Jamal"]
SYLLABLES = ["ka", "lo", "mi", "su", "te", "ra", "vo", "ni", "pe", "zu", "bo", "de", "fi", "gu", "ha", "jo"]


def surname(n: int) -> str:
    """A surname of its own for every n (letters only: names are compared by their letters)."""
    parts = []
    for _ in range(4):
        n, digit = divmod(n, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
    return ("".join(parts) + ("x" * n if n else "")).capitalize()


WRITTEN = [  # (table, the rows of it the surge wrote)
    ("cases_case", "true"),
    ("cases_case_lab_results", "true"),
    ("cases_caseactivity", "true"),
    ("audit_auditentry", "object_type = 'case'"),
    ("core_outboxevent", "name = 'CaseOpened'"),
    ("core_eventdelivery", "event_id IN (SELECT id FROM core_outboxevent WHERE name = 'CaseOpened')"),
    ("core_pushmessage", "true"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surge", type=int, default=20_000, help="positive results stored before the workers start")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steady-rate", type=float, default=100.0, help="results per second in the steady run")
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    parser.add_argument("--peer", type=int, default=2_000, help="results for the stock db_worker peer (0: skip it)")
    parser.add_argument("--database", default=os.environ.get("BENCH_EVENTS_DATABASE_URL", DEFAULT_DATABASE))
    return parser.parse_args()


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        tables = [
            t
            for t in connection.introspection.table_names(cursor)
            if t.split("_")[0] in {"people", "intake", "cases", "contacts", "audit", "core", "accounts", "api", "django"}
            and t not in {"django_migrations", "django_content_type"}
        ]
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")


def hl7_positives(start: int, count: int, collected: dt.date) -> bytes:
    from tracecenter.intake.synthetic import SyntheticReport, oru_r01

    return "".join(
        oru_r01(
            SyntheticReport(
                control_id=f"EVT{n:07d}",
                first_name=FIRST[n % len(FIRST)],
                last_name=surname(n // len(FIRST)),
                date_of_birth=dt.date(1930, 1, 1) + dt.timedelta(days=(n * 37) % 30_000),
                collected=collected,
                accession=f"EVTACC{n:07d}",
            )
        )
        for n in range(start, start + count)
    ).encode()


def store_positives(root: Any, start: int, count: int) -> float:
    """Positive results stored by intake as a feed stores them; returns the seconds it took (not measured)."""
    from tracecenter.core import clock
    from tracecenter.intake.pipeline import Intake

    began = time.perf_counter()
    for chunk in range(start, start + count, 5_000):
        run = Intake(root=root)
        run.ingest_bytes(hl7_positives(chunk, min(5_000, start + count - chunk), clock.today() - dt.timedelta(days=2)))
        run.finish()
    return time.perf_counter() - began


def env_for(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
    }


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def surge(args: argparse.Namespace, root: Any) -> dict[str, Any]:
    from django.db.models import Max, Min

    from tracecenter.cases.models import Case
    from tracecenter.core.models import EventDelivery, WorkerProcess
    from tracecenter.intake.models import LabResult

    store_seconds = store_positives(root, 0, args.surge)
    pending = EventDelivery.objects.filter(state="pending").count()
    # Intake may link two results to one person (that is its job): one case per person is what is expected.
    expected = LabResult.objects.values("person_id").distinct().count()
    workers = [
        start([sys.executable, "manage.py", "worker", "--id", f"bench-{i}"], env_for(args.database)) for i in range(args.workers)
    ]
    try:
        wait_until(
            lambda: not EventDelivery.objects.exclude(state="done").exists() and Case.objects.count() >= expected,
            600,
            "the surge to be delivered",
        )
        began = WorkerProcess.objects.aggregate(first=Min("started_at"))["first"]
        done = EventDelivery.objects.aggregate(last=Max("finished_at"))["last"]
        opened = Case.objects.aggregate(last=Max("opened_at"))["last"]
        cases = Case.objects.count()
        seconds = (done - began).total_seconds()
        steady = steady_run(args, root)
    finally:
        stop(workers)
    return {
        "cases": cases,
        "surge_results": args.surge,
        "workers": args.workers,
        "cases_per_s": round(cases / seconds, 1),
        "surge_seconds": round(seconds, 2),
        "surge_seconds_to_last_case": round((opened - began).total_seconds(), 2),
        "surge_deliveries": EventDelivery.objects.filter(state="done").count() - steady.pop("_deliveries"),
        "surge_pending_at_start": pending,
        "surge_store_seconds": round(store_seconds, 1),
        **steady,
    }


def steady_run(args: argparse.Namespace, root: Any) -> dict[str, Any]:
    """One result committed every 1/rate s while the workers run; the lag of each case."""
    from django.db.models import Min

    from tracecenter.cases.models import Case
    from tracecenter.core import clock
    from tracecenter.core.models import EventDelivery
    from tracecenter.intake.models import LabResult
    from tracecenter.intake.services import LabResultInput, lab_result_record
    from tracecenter.people.services import PersonInput, person_create

    count = int(args.steady_rate * args.steady_seconds)
    before = EventDelivery.objects.filter(state="done").count()
    persons = [
        person_create(
            actor=None,
            jurisdiction=root,
            data=PersonInput(
                first_name=FIRST[n % 10], last_name=f"Steady-{n}", date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=n)
            ),
        )
        for n in range(count)
    ]
    interval = 1 / args.steady_rate
    started = time.monotonic()
    labs = []
    for n, person in enumerate(persons):
        due = started + n * interval
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        labs.append(
            lab_result_record(
                actor=None,
                person=person,
                data=LabResultInput(
                    specimen_collection_date=clock.today() - dt.timedelta(days=1), test_loinc="94500-6", result="positive"
                ),
            ).pk
        )
    produced_seconds = time.monotonic() - started
    wait_until(lambda: Case.objects.filter(lab_results__in=labs).count() >= count, 300, "the steady run's cases")
    committed = dict(LabResult.objects.filter(pk__in=labs).values_list("person_id", "created_at"))
    opened = dict(
        Case.objects.filter(person__in=[p.pk for p in persons])
        .values("person_id")
        .annotate(at=Min("opened_at"))
        .values_list("person_id", "at")
    )
    lags = sorted((opened[p] - committed[p]).total_seconds() * 1000 for p in committed)
    return {
        "steady_results": count,
        "steady_rate_achieved": round(count / produced_seconds, 1),
        "steady_lag_p50_ms": round(statistics.median(lags), 1),
        "steady_lag_p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 1),
        "steady_lag_max_ms": round(lags[-1], 1),
        "_deliveries": EventDelivery.objects.filter(state="done").count() - before,
    }


def duplicates() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) - count(DISTINCT person_id) FROM cases_case")
        extra_cases = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM (SELECT labresult_id FROM cases_case_lab_results GROUP BY 1 HAVING count(*) > 1) d")
        shared = int(cursor.fetchone()[0])
    return extra_cases + shared


def ceiling(cases: int) -> dict[str, Any]:
    """The rows the surge wrote, written again with bare COPY into same-shaped empty tables."""
    from django.db import connection

    raw = connection.connection
    assert raw is not None
    buffers: dict[str, bytes] = {}
    with raw.cursor() as cur:
        for table, condition in WRITTEN:
            out = io.BytesIO()
            with cur.copy(f"COPY (SELECT * FROM {table} WHERE {condition}) TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    out.write(block)
            buffers[table] = out.getvalue()
            cur.execute(f"DROP TABLE IF EXISTS ceiling_{table}")
            cur.execute(f"CREATE TABLE ceiling_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)")
        raw.commit()
        started = time.perf_counter()
        for table, _condition in WRITTEN:
            with cur.copy(f"COPY ceiling_{table} FROM STDIN (FORMAT binary)") as copy:
                copy.write(buffers[table])
        raw.commit()
        seconds = time.perf_counter() - started
        for table, _condition in WRITTEN:
            cur.execute(f"DROP TABLE ceiling_{table}")
        raw.commit()
    return {
        "ceiling_cases_per_s": round(cases / seconds, 1),
        "ceiling_seconds": round(seconds, 3),
        "ceiling_bytes": sum(map(len, buffers.values())),
    }


def peer(args: argparse.Namespace, root: Any) -> dict[str, Any]:
    """The same case opening, one django-tasks-db task per result, run by the library's own db_worker."""
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from tracecenter.core.models import EventDelivery
    from tracecenter.intake.models import LabResult

    if args.peer <= 0:
        return {}
    first = LabResult.objects.aggregate(last=Max("pk"))["last"] or 0
    store_positives(root, 10_000_000, args.peer)
    labs = list(LabResult.objects.filter(pk__gt=first).values_list("pk", flat=True))
    # Those results are the peer's: the relay leaves them (no worker of ours runs now anyway).
    EventDelivery.objects.filter(event__name="LabResultReceived", state="pending").update(state="done")
    from events_peer import open_case

    DBTaskResult.objects.all().delete()
    for pk in labs:
        open_case.enqueue(pk)
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--interval",
        "0",
        "--no-reload",
        "--no-startup-delay",
        "--queue-name",
        "*",
    ]
    workers = [start([*command, "--worker-id", f"peer-{i}"], env_for(args.database)) for i in range(args.workers)]
    try:
        wait_until(lambda: not DBTaskResult.objects.exclude(status__in=["SUCCESSFUL", "FAILED"]).exists(), 600, "the peer")
    finally:
        stop(workers)
    span = DBTaskResult.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    return {
        "peer": "django-tasks-db 0.13 db_worker, one task per result (case_open_for_positive), --interval 0; "
        "it only opens the cases (their CaseOpened events are left undelivered), where the relay delivers those too",
        "peer_cases": len(labs),
        "peer_failed": DBTaskResult.objects.filter(status="FAILED").count(),
        "peer_cases_per_s": round(len(labs) / seconds, 1),
    }


def main() -> None:
    args = parse_args()
    setup_django(args.database)
    empty_tables()
    from tracecenter.accounts.models import Jurisdiction

    root = Jurisdiction.objects.create(name="Bench State", code="bench")
    result = surge(args, root)
    result["duplicates"] = duplicates()
    result.update(ceiling(result["cases"]))
    result["ratio_to_ceiling"] = round(result["cases_per_s"] / result["ceiling_cases_per_s"], 3)
    peer_result = peer(args, root)
    result.update(peer_result)
    if peer_result:
        result["ratio_to_peer"] = round(result["cases_per_s"] / peer_result["peer_cases_per_s"], 2)
    print(
        json.dumps(
            {
                "benchmark": "events: positive results to open cases through the relay, with worker processes on PostgreSQL",
                "machine": machine(),
                "inputs": {
                    "surge": args.surge,
                    "workers": args.workers,
                    "steady_rate": args.steady_rate,
                    "steady_seconds": args.steady_seconds,
                    "peer_sample": args.peer,
                    "results": "HL7 v2 ORU^R01 positives, one person each, stored by intake before the workers start",
                },
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()

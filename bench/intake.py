"""Intake speed: HL7 v2 ORU^R01 messages into PostgreSQL, matched against a population of persons.

    python bench/intake.py [--messages 100000] [--population 1000000] [--seed 7] [--database URL]

What it does, in one run, and prints as ONE JSON object:

1. Builds (or, when the same population was built before, reuses) a database of N persons:
   encrypted names, birth dates, addresses, phones and e-mails, blind indexes and
   blocking keys, loaded with COPY. The population comes from bench/matcher.py's
   generator (households, twins, namesakes, common names).
2. Generates M realistic ORU^R01 messages (bench/matcher.py's re-arrivals with their
   corruptions for ~70%, new people for ~30%; ~12% positive), as HL7 files of 10,000.
3. Ingests them exactly as `manage.py ingest` does (raw store, parse, match, store),
   timing each stage; then the relay delivers the events (positives open cases) in this
   process, as its own stage (bench/events.py measures that with real worker processes).
4. Measures the ceiling: the rows the run wrote (messages, persons, contact points,
   match keys, lab results, audit entries, outbox events) are read back and written again
   by a bare COPY into empty tables of the same shape and indexes, timed.
5. Scores the matching against the known truth (which existing person each message came from).

The database named by --database is dropped and recreated unless --reuse finds the same
population in it. It needs a PostgreSQL server; nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import io
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tracecenter_bench"
FILE_MESSAGES = 10_000
POSITIVITY = 0.12
TABLES_WRITTEN = [
    "intake_inboundmessage",
    "intake_intakebatch",
    "people_person",
    "people_contactpoint",
    "people_personmatchkey",
    "people_matchreview",
    "intake_labresult",
    "audit_auditentry",
    "core_outboxevent",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--fresh", action="store_true", help="rebuild the population even if the database has it")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="ingest processes (default: one per core)")
    return parser.parse_args()


def setup_django(database: str) -> None:
    import psycopg

    base, _, name = database.rpartition("/")
    os.environ["DATABASE_URL"] = database
    os.environ.setdefault("TRACECENTER_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracecenter.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- Population -----------------------------------------------------------------------------------


def population_marker(args: argparse.Namespace) -> str:
    return f"bench population {args.population} seed {args.seed}"


def copy_persons(people: list[Any], jurisdiction_of: Callable[[int], int]) -> None:
    """COPY `people` in as persons with ids from 1 (the caller has emptied the tables), with their contact points
    and stored keys (blocking and search): encrypted fields, blind indexes and keys computed by the application's own
    functions, so that search and matching find them as they find persons entered through the pages.
    `jurisdiction_of(person id)` places each person."""
    from django.db import connection

    from tracecenter.core import crypto
    from tracecenter.people import matching
    from tracecenter.people.identity import key_hash
    from tracecenter.people.models import ContactPoint, Person
    from tracecenter.people.normalize import name_key

    field = {
        name: Person._meta.get_field(name)
        for name in (
            "first_name",
            "middle_name",
            "last_name",
            "date_of_birth",
            "date_of_birth_as_written",
            "street",
            "city",
            "postal_code",
        )
    }
    cp_value = ContactPoint._meta.get_field("value")
    now = dt.datetime.now(dt.UTC)
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cur:
        with cur.copy(
            "COPY people_person (id, jurisdiction_id, first_name, middle_name, last_name, date_of_birth, "
            "date_of_birth_as_written, sex, "
            "preferred_language, street, city, state, postal_code, notes, first_name_bidx, last_name_bidx, dob_bidx, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for pid, p in enumerate(people, start=1):
                copy.write_row(
                    (
                        pid,
                        jurisdiction_of(pid),
                        field["first_name"].get_prep_value(p.first),
                        field["middle_name"].get_prep_value(p.middle),
                        field["last_name"].get_prep_value(p.last),
                        field["date_of_birth"].get_prep_value(p.dob),
                        field["date_of_birth_as_written"].get_prep_value(""),
                        p.sex,
                        "en",
                        field["street"].get_prep_value(p.street),
                        field["city"].get_prep_value(p.city),
                        "MA",
                        field["postal_code"].get_prep_value(p.postal),
                        "",
                        crypto.blind_index(name_key(p.first), purpose="first_name"),
                        crypto.blind_index(name_key(p.last), purpose="last_name"),
                        crypto.blind_index(p.dob.isoformat(), purpose="dob"),
                        now,
                        now,
                    )
                )
        with cur.copy("COPY people_contactpoint (person_id, kind, value, value_bidx, label, rank) FROM STDIN") as copy:
            for pid, p in enumerate(people, start=1):
                for kind, values in (("phone", p.phones), ("email", [e.lower() for e in p.emails])):
                    for rank, value in enumerate(dict.fromkeys(values)):
                        copy.write_row((pid, kind, cp_value.get_prep_value(value), ContactPoint.index_of(kind, value), "", rank))
        with cur.copy("COPY people_personmatchkey (person_id, key) FROM STDIN") as copy:
            for pid, p in enumerate(people, start=1):
                identity = matching.identity_from(
                    first_name=p.first,
                    middle_name=p.middle,
                    last_name=p.last,
                    date_of_birth=p.dob,
                    sex=p.sex,
                    street=p.street,
                    city=p.city,
                    postal_code=p.postal,
                    phones=p.phones,
                    emails=p.emails,
                )
                for key in matching.stored_keys(identity):
                    copy.write_row((pid, key_hash(key)))
    raw.commit()


def build_population(args: argparse.Namespace, people: list[Any]) -> float:
    """Load the persons with COPY (their encrypted fields, indexes and keys computed here); returns seconds."""
    from django.db import connection

    from tracecenter.accounts.models import Jurisdiction

    started = time.perf_counter()
    with connection.cursor() as cursor:
        tables = [
            t
            for t in connection.introspection.table_names(cursor)
            if t.split("_")[0] in {"people", "intake", "cases", "contacts", "audit", "core", "accounts", "api"}
        ]
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    root = Jurisdiction.objects.create(name="Bench State", code="bench")
    copy_persons(people, lambda _pid: root.pk)
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence('people_person', 'id'), %s)", (len(people),))
        cur.execute("CREATE TABLE IF NOT EXISTS bench_marker (marker text)")
        cur.execute("DELETE FROM bench_marker")
        cur.execute("INSERT INTO bench_marker VALUES (%s)", (population_marker(args),))
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE people_person")
        cursor.execute("VACUUM ANALYZE people_personmatchkey")
        cursor.execute("VACUUM ANALYZE people_contactpoint")
    return time.perf_counter() - started


def population_present(args: argparse.Namespace) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_marker') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT marker FROM bench_marker")
        row = cursor.fetchone()
    return bool(row) and row[0] == population_marker(args)


def reset_run_tables() -> None:
    """Remove what an earlier run added on top of the population (persons above it included)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE intake_labresultrevision, intake_labresult, intake_inboundmessage, intake_intakebatch, "
            "people_matchreview, people_personmerge, cases_caseactivity, cases_casestatuschange, cases_case_lab_results, "
            "cases_case, audit_auditentry, audit_auditchainhead, core_outboxevent CASCADE"
        )


# --- Messages -------------------------------------------------------------------------------------


def make_messages(args: argparse.Namespace, gen: Any, people: list[Any]) -> tuple[list[bytes], list[int | None]]:
    """HL7 files of FILE_MESSAGES messages each, and for each message the true person id (None: a new person)."""
    import matcher as mb

    from tracecenter.intake.synthetic import Analyte, SyntheticReport, oru_r01

    rng = random.Random(args.seed + 1)
    today = dt.date.today()
    files: list[bytes] = []
    truth: list[int | None] = []
    chunk: list[str] = []
    for n in range(args.messages):
        if rng.random() < 0.7:
            query = mb.re_arrival(rng, gen, people, rng.randrange(len(people)))
            truth.append(query.true_id + 1)  # persons were loaded with ids from 1
        else:
            query = mb.new_person(rng, gen, people)
            truth.append(None)
        raw = query.raw
        phone = "".join(ch for ch in (raw["phones"] or [""])[0] if ch.isdigit())[-10:]  # type: ignore[index]
        roll = rng.random()
        result = "positive" if roll < POSITIVITY else "inconclusive" if roll < POSITIVITY + 0.01 else "negative"
        sex = str(raw["sex"] or "U")[:1].upper()
        report = SyntheticReport(
            control_id=f"BENCH{args.seed}-{n:08d}",
            first_name=str(raw["first_name"]),
            middle_name=str(raw["middle_name"]),
            last_name=str(raw["last_name"]),
            date_of_birth=raw["date_of_birth"],  # type: ignore[arg-type]
            sex=sex if sex in "FMOU" else "U",
            street=str(raw["street"]),
            city=str(raw["city"]),
            postal_code=str(raw["postal_code"]),
            state="MA",
            phone=phone if len(phone) == 10 else "",
            email=str((raw["emails"] or [""])[0]),  # type: ignore[index]
            collected=today - dt.timedelta(days=rng.randint(1, 7)),
            accession=f"ACC{args.seed}-{n:08d}",
            analytes=[Analyte(loinc=rng.choice(["94500-6", "94558-4"]), result=result)],
            lab_name=rng.choice(["Quest Diagnostics", "LabCorp", "State Public Health Lab", "Broad Institute"]),
        )
        chunk.append(oru_r01(report))
        if len(chunk) == FILE_MESSAGES:
            files.append("".join(chunk).encode())
            chunk = []
    if chunk:
        files.append("".join(chunk).encode())
    return files, truth


# --- The run --------------------------------------------------------------------------------------


_FILES: list[bytes] = []  # inherited by forked workers, so the files are not copied to them


def _ingest_file(index: int) -> tuple[dict[str, float], Any]:
    from tracecenter.accounts.models import Jurisdiction
    from tracecenter.intake.pipeline import Intake

    run = Intake(root=Jurisdiction.objects.get(code="bench"))
    run.ingest_bytes(_FILES[index], filename=f"bench-{index + 1:03d}.hl7")
    return dict(run.timings), run.report


def ingest(files: list[bytes], workers: int) -> tuple[dict[str, float], Any, float, float, int]:
    """Ingest every file (with `workers` processes, as `manage.py ingest --workers`), then deliver the events."""
    import multiprocessing
    from collections import defaultdict
    from concurrent.futures import ProcessPoolExecutor

    from django.db import connections

    from tracecenter.cases.models import Case
    from tracecenter.core import relay
    from tracecenter.intake.report import IngestReport

    _FILES[:] = files
    timings: defaultdict[str, float] = defaultdict(float)
    total = IngestReport()
    started = time.perf_counter()
    if workers > 1:
        connections.close_all()
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            outcomes = list(pool.map(_ingest_file, range(len(files))))
    else:
        outcomes = [_ingest_file(i) for i in range(len(files))]
    ingest_seconds = time.perf_counter() - started
    for run_timings, report in outcomes:
        for stage, seconds in run_timings.items():
            timings[stage] += seconds  # summed over workers: CPU-seconds of each stage, not wall time
        total.merge(report)
    cases_before = Case.objects.count()
    started = time.perf_counter()
    relay.drain()
    deliver_seconds = time.perf_counter() - started
    return dict(timings), total, ingest_seconds, deliver_seconds, Case.objects.count() - cases_before


def copy_ceiling(messages: int) -> dict[str, Any]:
    """Write the rows this run wrote again, with bare COPY into same-shaped empty tables."""
    from django.db import connection

    raw = connection.connection
    assert raw is not None
    buffers: dict[str, bytes] = {}
    rows = 0
    with raw.cursor() as cur:
        for table in TABLES_WRITTEN:
            condition = "WHERE id > (SELECT coalesce(max(id), 0) FROM bench_population_max)" if table == "people_person" else ""
            if table in {"people_contactpoint", "people_personmatchkey"}:
                condition = "WHERE person_id > (SELECT coalesce(max(id), 0) FROM bench_population_max)"
            out = io.BytesIO()
            with cur.copy(f"COPY (SELECT * FROM {table} {condition}) TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    out.write(block)
            buffers[table] = out.getvalue()
            cur.execute(f"SELECT count(*) FROM {table} {condition}")
            rows += int(cur.fetchone()[0])
        for table in TABLES_WRITTEN:
            cur.execute(f"DROP TABLE IF EXISTS ceiling_{table}")
            cur.execute(f"CREATE TABLE ceiling_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)")
        raw.commit()
        started = time.perf_counter()
        for table in TABLES_WRITTEN:
            with cur.copy(f"COPY ceiling_{table} FROM STDIN (FORMAT binary)") as copy:
                copy.write(buffers[table])
        raw.commit()
        seconds = time.perf_counter() - started
        for table in TABLES_WRITTEN:
            cur.execute(f"DROP TABLE ceiling_{table}")
        raw.commit()
    return {
        "rows": rows,
        "bytes": sum(len(b) for b in buffers.values()),
        "seconds": round(seconds, 3),
        "messages_per_second": round(messages / seconds, 1),
    }


def matching_quality(truth: list[int | None], population: int) -> dict[str, Any]:
    from tracecenter.intake.models import LabResult
    from tracecenter.people.models import MatchReview

    person_of: dict[int, int] = {}
    # Map each message (by its control id's number) to the person its result went to.
    for control_id, person_id in LabResult.objects.values_list("message__control_id", "person_id"):
        person_of[int(control_id.rsplit("-", 1)[1])] = person_id
    reviewed = set(MatchReview.objects.values_list("incoming_id", flat=True))
    auto_links = correct_links = false_links = missed = to_review = 0
    for n, true_id in enumerate(truth):
        got = person_of.get(n)
        if got is None:
            continue
        linked_existing = got <= population
        if linked_existing:
            auto_links += 1
            if got == true_id:
                correct_links += 1
            else:
                false_links += 1
        elif got in reviewed:
            to_review += 1
        elif true_id is not None:
            missed += 1
    re_arrivals = sum(1 for t in truth if t is not None)
    return {
        "re_arrivals": re_arrivals,
        "new_people": len(truth) - re_arrivals,
        "automatic_links": auto_links,
        "precision": round(correct_links / auto_links, 5) if auto_links else None,
        "recall": round(correct_links / re_arrivals, 5) if re_arrivals else None,
        "false_links": false_links,
        "sent_to_review": to_review,
        "re_arrivals_made_new_without_review": missed,
    }


def machine() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": pg,
        "note": "PostgreSQL runs on the same machine, sharing its cores",
    }


def main() -> None:
    args = parse_args()
    setup_django(args.database)
    import matcher as mb
    from django.db import connection

    rng = random.Random(args.seed)
    gen = mb.Generator(rng)
    started = time.perf_counter()
    people = mb.build_population(gen, args.population)
    generate_population_seconds = time.perf_counter() - started
    load_seconds = None
    if args.fresh or not population_present(args):
        load_seconds = round(build_population(args, people), 1)
    reset_run_tables()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_population_max")
        cursor.execute("CREATE TABLE bench_population_max AS SELECT %s::bigint AS id", [len(people)])
        cursor.execute("DELETE FROM people_personmatchkey WHERE person_id > %s", [len(people)])
        cursor.execute("DELETE FROM people_contactpoint WHERE person_id > %s", [len(people)])
        cursor.execute("DELETE FROM people_person WHERE id > %s", [len(people)])
    started = time.perf_counter()
    files, truth = make_messages(args, gen, people)
    generate_messages_seconds = time.perf_counter() - started
    # The generated population (millions of objects) stays in memory; keep the garbage collector from
    # walking it again and again during the run, which would be charged to intake.
    gc.collect()
    gc.freeze()

    timings, report, ingest_seconds, deliver_seconds, cases_opened = ingest(files, args.workers)
    ceiling = copy_ceiling(args.messages)
    rate = args.messages / ingest_seconds
    result = {
        "benchmark": "intake: HL7 v2 ORU^R01 into PostgreSQL with identity matching",
        "machine": machine(),
        "inputs": {
            "messages": args.messages,
            "files": len(files),
            "messages_per_file": FILE_MESSAGES,
            "population": args.population,
            "seed": args.seed,
            "mix": "70% re-arrivals of existing persons with bench/matcher.py corruptions, 30% new people",
            "positivity": POSITIVITY,
            "bytes": sum(len(f) for f in files),
            "workers": args.workers,
        },
        "messages_per_second": round(rate, 1),
        "ingest_seconds": round(ingest_seconds, 2),
        "stage_seconds": {k: round(v, 2) for k, v in sorted(timings.items())},
        "stage_note": "seconds per stage summed over the workers; parse, match and store run in every worker",
        "events": {
            "seconds": round(deliver_seconds, 2),
            "cases_opened": cases_opened,
            "note": "the relay run in one process after intake: positives open cases (not in messages_per_second)",
        },
        "copy_ceiling": ceiling,
        "ratio_to_ceiling": round(rate / ceiling["messages_per_second"], 3),
        "report": {k: v for k, v in report.as_dict().items() if k not in ("rejections", "file_errors")},
        "matching": matching_quality(truth, len(people)),
        "setup_seconds": {
            "generate_population": round(generate_population_seconds, 1),
            "load_population": load_seconds,
            "generate_messages": round(generate_messages_seconds, 1),
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

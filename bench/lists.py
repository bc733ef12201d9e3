"""Speed at a state's size: the pages a center opens all day, under 50 signed-in users, on PostgreSQL.

    python bench/lists.py [--persons 1000000] [--cases 200000] [--contacts 400000] [--users 50]
                          [--seconds 120] [--database URL] [--fresh] [--small]

What it does, in one run, and prints as ONE JSON object:

1. Builds (or, when the same sizes were built before, reuses; --fresh rebuilds) a state: the demo's
   jurisdictions (a state, Harbor and Valley counties), teams in each county, their tracers,
   investigators and supervisors as real accounts (a password and an authenticator each), N persons
   from bench/matcher.py's generator (names with accents, nicknames and namesakes, birth dates,
   addresses, phones, e-mails) loaded by COPY with their encrypted fields, blind indexes and blocking
   keys computed by the application's own functions (bench/intake.py's `copy_persons`), and the cases
   (statuses, owners, teams, dates, each with its positive lab result and its opening line on the
   timeline) and contacts (linked to a case and a person, statuses, dates, owners).
2. Starts the server as a state runs it (docs/platform.md, "For a state"): `manage.py serve` (uvicorn, one
   process, DEBUG off, a pool of database connections) on loopback, a `manage.py worker` beside it, Redis
   between them (--topology embedded: one `serve` with its workers inside, as on a laptop).
3. Runs locust headless (bench/lists_locust.py, a subprocess) with U users: each signs in through the
   pages (password, then the 6-digit code of their authenticator, computed from its secret), then loops,
   pausing 1 s between requests as a person reading the page would. Workers (tracers and investigators)
   open My work, the page of a person of theirs and a search by that person's name; supervisors open
   their case list filtered (by status, worker, the unassigned, the last week, newest first), a person
   page and a search. Timing starts when every user is signed in and lasts --seconds.
4. Reports per page the requests, p50 and p95 in ms; `errors` counts any answer but 200 and any page
   without what it must show (My work's lists, the case list, the person's name, search results).
   The run exits with status 1 when errors is not 0 (or no page was served), after printing.

Locust and PostgreSQL run on the same machine as the server and share its cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import copy_persons, machine, setup_django  # noqa: E402  (bench/ is on the path)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tracecenter_lists_bench"
REDIS_URL = "redis://127.0.0.1:6379/7"  # a database number of its own: the bench's pushes meet nobody else's
PASSWORD = "bench-lists-password"  # noqa: S105 -- the bench accounts' password, in a bench database only
PAGES = ("my_work", "case_list", "person", "search")
# Cases still open (opened in the last three weeks; the rest closed over two years): 10,000 of 200,000, about 25 open
# cases and 45 open contacts per worker, a surge's load (a steady 275 cases a day would leave about 4,000 open).
OPEN_SHARE = 0.05
OPEN_CASE_STATUSES = (  # (status, weight) among open cases
    ("new", 10),
    ("assigned", 20),
    ("attempting", 20),
    ("interviewed", 10),
    ("in_isolation", 25),
    ("unreachable", 7),
    ("refused", 3),
    ("released", 5),
)
OPEN_CONTACT_STATUSES = (("new", 30), ("notified", 25), ("monitoring", 35), ("unreachable", 10))
CASES_PER_WORKER = 500  # all time; about 75 open at a time
WORKERS_PER_TEAM = 40
SUPERVISORS_PER_TEAM = 2
MIN_WORKERS, MIN_SUPERVISORS = 40, 10
SMALL = {"persons": 20_000, "cases": 4_000, "contacts": 8_000, "users": 10, "seconds": 15.0}
SARA_ALERT = (
    "Sara Alert (Rails and MySQL) is not run here: it needs its own Ruby and MySQL stack and a data set of its own "
    "shape, which this machine cannot host beside TraceCenter; so no peer ran. For reference only, not a measurement: "
    "Sara Alert's own performance test allowed its patient list 10 s on average over 1,000,000 records."
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=400_000)
    parser.add_argument("--users", type=int, default=50, help="concurrent signed-in users")
    parser.add_argument("--seconds", type=float, default=120.0, help="measured time, once every user is signed in")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users starting (and signing in) per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8611)
    parser.add_argument(
        "--topology",
        choices=["state", "embedded"],
        default="state",
        help="state: the server, a `manage.py worker` beside it and Redis (docs/platform.md, For a state); "
        "embedded: one `manage.py serve` with its workers inside, as on a laptop",
    )
    parser.add_argument("--processes", type=int, default=1, help="web processes of the server (manage.py serve --processes)")
    parser.add_argument("--pool", type=int, default=10, help="the server's DB_POOL_MAX_SIZE (PostgreSQL connections)")
    parser.add_argument("--database", default=os.environ.get("BENCH_LISTS_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--fresh", action="store_true", help="rebuild the data even if the database has these sizes")
    parser.add_argument("--small", action="store_true", help="CI's size: 20,000 persons, 4,000 cases, 10 users, 15 s")
    args = parser.parse_args()
    if args.small:
        for name, value in SMALL.items():
            setattr(args, name, value)
    if not (args.persons >= args.cases >= 10 and args.contacts >= 0 and args.users >= 2):
        parser.error("give at least 10 cases, no more cases than persons, and at least 2 users")
    return args


# --- The state --------------------------------------------------------------------------------------


def markers(args: argparse.Namespace) -> dict[str, str]:
    """What each stage built: the persons (slow to build), and the staff, cases and contacts on top of them."""
    return {
        "persons": f"lists persons {args.persons} seed {args.seed}",
        "work": f"lists cases {args.cases} contacts {args.contacts} open {OPEN_SHARE} staff {MIN_WORKERS} seed {args.seed}",
    }


def built(stage: str, args: argparse.Namespace) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_lists_marker') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT marker FROM bench_lists_marker WHERE stage = %s", [stage])
        row = cursor.fetchone()
    return bool(row) and row[0] == markers(args)[stage]


def _mark(stage: str, args: argparse.Namespace) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_lists_marker (stage text PRIMARY KEY, marker text)")
        cursor.execute("DELETE FROM bench_lists_marker WHERE stage = %s", [stage])
        cursor.execute("INSERT INTO bench_lists_marker VALUES (%s, %s)", [stage, markers(args)[stage]])


def _empty_tables(*, keep_persons: bool) -> None:
    """Empty what the bench builds; with `keep_persons`, everything but the persons and their jurisdictions.

    TRUNCATE ... CASCADE empties every table referring to one emptied: so with the persons kept, the tables a person
    refers to, and what those refer to (jurisdictions, households, users, teams), are not truncated; the users and
    teams are deleted once nothing else refers to them (the bench's persons were entered by nobody)."""
    from django.db import connection

    kept = {"django_migrations", "django_content_type"}
    if keep_persons:
        kept |= {
            "people_person",
            "people_contactpoint",
            "people_personmatchkey",
            "people_household",
            "accounts_jurisdiction",
            "accounts_user",
            "accounts_team",  # the users refer to their team: truncating it would empty the users, then the persons
        }
    with connection.cursor() as cursor:
        tables = [
            t
            for t in connection.introspection.table_names(cursor)
            if t.split("_")[0] in {"people", "intake", "cases", "contacts", "audit", "core", "accounts", "tc", "django", "otp"}
            and t not in kept
        ]
        cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        if keep_persons:
            cursor.execute("UPDATE people_person SET created_by_id = NULL WHERE created_by_id IS NOT NULL")
            cursor.execute("DELETE FROM accounts_user")
            cursor.execute("DELETE FROM accounts_team")


def _staff(args: argparse.Namespace) -> dict[str, Any]:
    """The demo's jurisdictions, teams in each county, and their workers and supervisors (real accounts)."""
    from django.contrib.auth.hashers import make_password
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tracecenter.accounts.models import Jurisdiction, Team, User
    from tracecenter.accounts.roles import Role
    from tracecenter.demo.builder import DEMO_STATE_CODE

    rng = random.Random(args.seed + 11)
    counties = list(Jurisdiction.objects.filter(parent__code=DEMO_STATE_CODE).order_by("pk"))
    # At least enough accounts for 50 users at any size (40 workers, 10 supervisors): a small state has a small staff,
    # but the load's users each sign in as their own account.
    workers_wanted = max(MIN_WORKERS, args.cases // CASES_PER_WORKER)
    per_county = max(1, workers_wanted // (WORKERS_PER_TEAM * len(counties)))
    teams = {
        county.pk: [Team.objects.create(name=f"{county.name} team {n + 1}", jurisdiction=county) for n in range(per_county)]
        for county in counties
    }
    all_teams = [team for county_teams in teams.values() for team in county_teams]
    password = make_password(PASSWORD)  # one hash (Argon2 is slow by design), the same password for every account
    users: list[User] = []
    first = ["Ana", "Ben", "Chloe", "Dev", "Eun", "Femi", "Gia", "Hugo", "Isla", "Jun", "Kofi", "Lena"]
    last = ["Alvarez", "Brooks", "Chen", "Dubois", "Eze", "Fischer", "Gupta", "Haddad", "Ito", "Jensen", "Kowalski"]
    for n in range(workers_wanted):
        team = all_teams[n % len(all_teams)]
        users.append(
            User(
                username=f"bench.worker.{n + 1}",
                password=password,
                first_name=rng.choice(first),
                last_name=rng.choice(last),
                role=Role.CASE_INVESTIGATOR if n % 2 else Role.CONTACT_TRACER,
                jurisdiction_id=team.jurisdiction_id,
                team=team,
            )
        )
    for n in range(max(MIN_SUPERVISORS, SUPERVISORS_PER_TEAM * len(all_teams))):
        team = all_teams[n % len(all_teams)]
        users.append(
            User(
                username=f"bench.supervisor.{n + 1}",
                password=password,
                first_name=rng.choice(first),
                last_name=rng.choice(last),
                role=Role.SUPERVISOR,
                jurisdiction_id=team.jurisdiction_id,
                team=team,
            )
        )
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith="bench.").order_by("pk"))
    TOTPDevice.objects.bulk_create(
        [TOTPDevice(user=u, name="authenticator app", confirmed=True, key=rng.randbytes(20).hex()) for u in users]
    )
    workers_by_team: dict[int, list[int]] = {team.pk: [] for team in all_teams}
    for user in users:
        if user.role != Role.SUPERVISOR:
            workers_by_team[user.team_id].append(user.pk)  # type: ignore[index]
    return {
        "counties": [c.pk for c in counties],
        "teams": {county: [t.pk for t in county_teams] for county, county_teams in teams.items()},
        "workers_by_team": workers_by_team,
    }


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([s for s, _ in table], weights=[w for _, w in table])[0]


def _jurisdictions() -> list[int]:
    """The demo's state and counties (demo/builder.py): the persons live in the counties."""
    from tracecenter.accounts.models import Jurisdiction
    from tracecenter.demo.builder import COUNTIES, DEMO_STATE_CODE

    state = Jurisdiction.objects.create(name="Demo State", code=DEMO_STATE_CODE)
    return [Jurisdiction.objects.create(name=c.name, code=c.code, parent=state).pk for c in COUNTIES]


def _county_of(counties: list[int], pid: int) -> int:
    # Harbor County holds three quarters of the people, as in the demo (VALLEY_SHARE).
    return counties[1] if pid % 4 == 0 else counties[0]


def build_persons(args: argparse.Namespace) -> dict[str, float]:
    """Empty the database and load the persons; returns the seconds of each step."""
    import matcher as mb

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    _empty_tables(keep_persons=False)
    counties = _jurisdictions()
    people = mb.build_population(mb.Generator(random.Random(args.seed)), args.persons)
    seconds["generate_persons"] = time.perf_counter() - started
    started = time.perf_counter()
    copy_persons(people, lambda pid: _county_of(counties, pid))
    del people
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('people_person', 'id'), %s)", [args.persons])
        for table in ("people_person", "people_contactpoint", "people_personmatchkey"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    _mark("persons", args)
    seconds["load_persons"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in seconds.items()}


def build_work(args: argparse.Namespace) -> dict[str, float]:
    """Over the persons: the staff, the cases (with their lab results and timelines) and the contacts."""
    from django.db import connection

    from tracecenter.accounts.models import Jurisdiction
    from tracecenter.cases import timeline
    from tracecenter.cases.models import Case, CaseActivity
    from tracecenter.contacts.models import Exposure
    from tracecenter.core import clock
    from tracecenter.demo.builder import DEMO_STATE_CODE

    seconds: dict[str, float] = {}
    _empty_tables(keep_persons=True)
    staff = _staff(args)
    counties = list(Jurisdiction.objects.filter(parent__code=DEMO_STATE_CODE).order_by("pk").values_list("pk", flat=True))

    def county_of(pid: int) -> int:
        return _county_of(counties, pid)

    started = time.perf_counter()
    rng = random.Random(args.seed + 1)
    now = clock.now()
    notes = Case._meta.get_field("interview_notes")
    summary = CaseActivity._meta.get_field("summary")
    exposure_notes = Exposure._meta.get_field("notes")
    case_rows: list[tuple[Any, ...]] = []
    cases: list[tuple[int, int, int | None, int | None, str, dt.datetime, dt.date]] = []
    for case_id, pid in enumerate(rng.sample(range(1, args.persons + 1), args.cases), start=1):
        county = county_of(pid)
        team = rng.choice(staff["teams"][county]) if rng.random() < 0.9 else None  # the rest not yet routed to a team
        is_open = rng.random() < OPEN_SHARE
        status = _weighted(rng, OPEN_CASE_STATUSES) if is_open else "closed"
        owner = rng.choice(staff["workers_by_team"][team]) if team is not None and status != "new" else None
        opened = now - dt.timedelta(days=rng.uniform(0, 21) if is_open else rng.uniform(21, 730))
        specimen = opened.date() - dt.timedelta(days=rng.randint(0, 3))
        asymptomatic = rng.random() < 0.2
        onset = None if asymptomatic else specimen - dt.timedelta(days=rng.randint(0, 3))
        start = (onset or specimen) - dt.timedelta(days=2)
        interviewed = status in ("interviewed", "in_isolation", "released", "closed")
        isolation_end = (onset or specimen) + dt.timedelta(days=10) if interviewed else None
        updated = min(now, opened + dt.timedelta(days=rng.uniform(0, 14)))
        case_rows.append(
            (
                case_id,
                status,
                rng.choices([1, 2, 3, 4], weights=[15, 30, 40, 15])[0],
                specimen,
                onset,
                asymptomatic,
                "[]",
                rng.random() < 0.04,
                rng.random() < 0.08,
                start,
                start + dt.timedelta(days=12),
                isolation_end,
                isolation_end if status in ("released", "closed") else None,
                notes.get_prep_value("Reached by phone; household of three." if interviewed else ""),
                opened + dt.timedelta(hours=rng.uniform(2, 30)) if interviewed else None,
                opened,
                updated,
                owner,
                county,
                pid,
                team,
                "covid-19",
            )
        )
        cases.append((case_id, pid, team, owner, status, opened, specimen))
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cur:
        with cur.copy(
            "COPY cases_case (id, status, priority, specimen_collection_date, symptom_onset, asymptomatic, symptoms, "
            "hospitalized, congregate_setting, infectious_start, infectious_end, isolation_end, released_on, "
            "interview_notes, interviewed_at, opened_at, updated_at, owner_id, jurisdiction_id, person_id, team_id, "
            "condition) FROM STDIN"
        ) as copy:
            for row in case_rows:
                copy.write_row(row)
        del case_rows
        with cur.copy(
            "COPY intake_labresult (id, specimen_collection_date, result_date, test_loinc, test_name, result, performing_lab, "
            "ordering_provider, ordering_facility, source, created_at, jurisdiction_id, person_id, condition, "
            "observation_key, result_code, result_text, review_reason, sending_facility, status) FROM STDIN"
        ) as copy:
            for case_id, pid, _team, _owner, _status, opened, specimen in cases:
                copy.write_row(
                    (
                        case_id,
                        specimen,
                        opened.date(),
                        "94500-6",
                        "SARS-CoV-2 RNA, respiratory, NAA with probe detection",
                        "positive",
                        rng.choice(["Quest Diagnostics", "LabCorp", "State Public Health Lab"]),
                        "",
                        "",
                        "hl7v2",
                        opened,
                        county_of(pid),
                        pid,
                        "covid-19",
                        "",
                        "260373001",
                        "Detected",
                        "",
                        "",
                        "final",
                    )
                )
        with cur.copy("COPY cases_case_lab_results (case_id, labresult_id) FROM STDIN") as copy:
            for case in cases:
                copy.write_row((case[0], case[0]))
        with cur.copy("COPY cases_caseactivity (at, kind, summary, actor_id, case_id, code) FROM STDIN") as copy:
            for case_id, _pid, _team, _owner, _status, opened, _specimen in cases:
                line = summary.get_prep_value(timeline.stored("opened_from_lab", id=case_id))
                copy.write_row((opened, "opened", line, None, case_id, "opened_from_lab"))
        seconds["load_cases"] = time.perf_counter() - started

        started = time.perf_counter()
        seen: set[tuple[int, int]] = set()
        with cur.copy(
            "COPY contacts_exposure (id, status, first_exposure_date, last_exposure_date, setting, proximity, "
            "duration_minutes, relationship, quarantine_end, notes, created_at, updated_at, owner_id, case_id, "
            "created_by_id, jurisdiction_id, person_id, team_id) FROM STDIN"
        ) as copy:
            exposure_id = 0
            while exposure_id < args.contacts:
                case_id, case_pid, team, case_owner, case_status, opened, specimen = rng.choice(cases)
                pid = rng.randint(1, args.persons)
                if pid == case_pid or (case_id, pid) in seen:
                    continue
                seen.add((case_id, pid))
                exposure_id += 1
                open_contact = case_status != "closed" and rng.random() < 0.9
                status = _weighted(rng, OPEN_CONTACT_STATUSES) if open_contact else "released"
                owner = rng.choice(staff["workers_by_team"][team]) if team is not None and rng.random() < 0.8 else case_owner
                last = specimen - dt.timedelta(days=rng.randint(0, 4))
                created = min(now, opened + dt.timedelta(hours=rng.uniform(1, 48)))
                copy.write_row(
                    (
                        exposure_id,
                        status,
                        last - dt.timedelta(days=rng.randint(0, 3)),
                        last,
                        rng.choice(["household", "work", "school", "social", "other"]),
                        rng.choice(["within_6ft", "same_room", "physical", "unknown"]),
                        rng.choice([15, 30, 60, 120, 480]),
                        rng.choice(["household_member", "family", "friend", "coworker", "classmate", "other"]),
                        last + dt.timedelta(days=14),
                        exposure_notes.get_prep_value(""),
                        created,
                        min(now, created + dt.timedelta(days=rng.uniform(0, 10))),
                        owner,
                        case_id,
                        case_owner,
                        county_of(case_pid),
                        pid,
                        team,
                    )
                )
        for table, count in (
            ("cases_case", args.cases),
            ("intake_labresult", args.cases),
            ("contacts_exposure", args.contacts),
        ):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (max(count, 1),))
    raw.commit()
    seconds["load_contacts"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("cases_case", "cases_case_lab_results", "cases_caseactivity", "intake_labresult", "contacts_exposure"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("ANALYZE")
    _mark("work", args)
    seconds["vacuum_analyze"] = time.perf_counter() - started
    return {k: round(v, 1) for k, v in seconds.items()}


def reset_run_tables() -> None:
    """What an earlier run left (audit entries, sessions, pushes), so that every run starts alike."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE audit_auditentry, audit_auditchainhead, core_pushmessage, accounts_signedinsession, "
            "django_session, core_ratecounter CASCADE"
        )
        cursor.execute("UPDATE otp_totp_totpdevice SET last_t = -1, throttling_failure_count = 0")


# --- Who signs in, and what they open -------------------------------------------------------------


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """The accounts the load signs in as, each with the persons and filters it opens (ids and names from the
    database: a worker's persons are those of their open cases and contacts; a supervisor's, their team's)."""
    from django.db.models import Q
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tracecenter.accounts.models import User
    from tracecenter.accounts.roles import Role
    from tracecenter.cases.models import OPEN_STATUSES, Case
    from tracecenter.contacts.models import Exposure
    from tracecenter.core import clock
    from tracecenter.people.models import Person

    rng = random.Random(args.seed + 2)
    supervisors_wanted = max(1, round(args.users * 0.2))
    staff = list(User.objects.filter(username__startswith="bench.").order_by("pk"))
    supervisors = [u for u in staff if u.role == Role.SUPERVISOR]
    workers = [u for u in staff if u.role != Role.SUPERVISOR]
    if supervisors_wanted > len(supervisors) or args.users - supervisors_wanted > len(workers):
        raise SystemExit(f"{args.users} users need more accounts than these sizes make: give more cases")
    keys = dict(TOTPDevice.objects.filter(user__in=staff, confirmed=True).values_list("user_id", "key"))
    week_ago = (clock.today() - dt.timedelta(days=7)).isoformat()
    # Those with open work first (a small state leaves some workers and teams idle): they have persons to open.
    busy = set(Case.objects.filter(status__in=OPEN_STATUSES).values_list("owner", flat=True).distinct())
    busy |= set(Exposure.objects.exclude(status__in=["released", "became_case"]).values_list("owner", flat=True).distinct())
    busy_teams = set(Case.objects.filter(status__in=OPEN_STATUSES).values_list("team", flat=True).distinct())
    rng.shuffle(supervisors)
    rng.shuffle(workers)
    supervisors.sort(key=lambda u: u.team_id not in busy_teams)
    workers.sort(key=lambda u: u.pk not in busy)
    accounts = []
    for user in supervisors[:supervisors_wanted] + workers[: args.users - supervisors_wanted]:
        if user.role == Role.SUPERVISOR:
            team_cases = Case.objects.filter(team=user.team_id, status__in=OPEN_STATUSES)
            person_ids = list(team_cases.order_by("?").values_list("person_id", flat=True)[:40])
            mates = list(User.objects.filter(team=user.team_id).exclude(role=Role.SUPERVISOR).values_list("pk", flat=True))
            filters = [f"status={s}" for s in ("new", "assigned", "attempting", "in_isolation")]
            filters += [f"worker={w}" for w in rng.sample(mates, min(4, len(mates)))]
            filters += ["worker=none", f"date_from={week_ago}", "sort=newest"]
        else:
            person_ids = list(
                Case.objects.filter(owner=user.pk, status__in=OPEN_STATUSES).values_list("person_id", flat=True)[:20]
            ) + list(
                Exposure.objects.filter(Q(owner=user.pk), ~Q(status__in=["released", "became_case"])).values_list(
                    "person_id", flat=True
                )[:20]
            )
            filters = []
        persons = [{"id": p.pk, "first": p.first_name, "last": p.last_name} for p in Person.objects.filter(pk__in=person_ids)]
        accounts.append(
            {
                "username": user.username,
                "password": PASSWORD,
                "totp_key": keys[user.pk],
                "kind": "supervisor" if user.role == Role.SUPERVISOR else "worker",
                "persons": persons,
                "filters": filters,
            }
        )
    return {"accounts": accounts, "seconds": args.seconds}


# --- The run ----------------------------------------------------------------------------------------


def serve(args: argparse.Namespace, log: Path) -> list[subprocess.Popen[bytes]]:
    """The server, and (the state's way, docs/platform.md) a worker process beside it with Redis between them."""
    # DEBUG off, as in production; a pool of connections (DB_POOL_MAX_SIZE) as .env.example advises.
    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING", "DB_POOL_MAX_SIZE": str(args.pool)}
    env.pop("REDIS_URL", None)
    processes = []
    if args.topology == "state":
        try:
            socket.create_connection(("127.0.0.1", 6379), timeout=5).close()
        except OSError:
            raise SystemExit("--topology state needs Redis at 127.0.0.1:6379 (or run --topology embedded)") from None
        env["REDIS_URL"] = REDIS_URL
        processes.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "worker"],
                cwd=ROOT,
                env=env,
                stdout=(log.parent / "worker.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    # The state's server runs no workers inside (they run apart); the embedded default runs them in the server.
    inside = "no" if args.topology == "state" else "yes"
    server = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(args.port)),
            *("--worker", inside, "--processes", str(args.processes)),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    processes.insert(0, server)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.port}/accounts/login/", timeout=5)
            return processes
        except (urllib.error.URLError, ConnectionError) as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                stop(processes)
                raise SystemExit(f"manage.py serve did not answer ({exc}); its log: {log}") from None
            time.sleep(0.5)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def load(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    plan_path, out_path = work / "plan.json", work / "out.json"
    the_plan = plan(args)
    processes = serve(args, work / "serve.log")
    the_plan["pids"] = dict(zip(["server", "worker"], [p.pid for p in processes], strict=False))
    plan_path.write_text(json.dumps(the_plan))
    try:
        env = {**os.environ, "LISTS_BENCH_PLAN": str(plan_path), "LISTS_BENCH_OUT": str(out_path)}
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "bench" / "lists_locust.py"),
                "--headless",
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.spawn_rate),
                "--run-time",
                f"{int(args.seconds + args.users / args.spawn_rate + 300)}s",  # a bound only: the locustfile stops itself
                "--host",
                f"http://127.0.0.1:{args.port}",
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "10",
            ],
            cwd=ROOT,
            env=env,
            check=False,
            stdout=(work / "locust.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wall = time.perf_counter() - started
    finally:
        stop(processes)
    if not out_path.exists():
        raise SystemExit(f"locust wrote no results; its log: {work / 'locust.log'}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    result["wall_seconds"] = round(wall, 1)
    return result


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    args = parse_args()
    setup_django(args.database)

    build_seconds: dict[str, float] = {}
    if args.fresh or not built("persons", args):
        build_seconds.update(build_persons(args))
    if args.fresh or not built("work", args):
        build_seconds.update(build_work(args))
    reset_run_tables()
    load_before = os.getloadavg()  # the machine is shared: what else ran shows here
    with tempfile.TemporaryDirectory(prefix="bench-lists-") as tmp:
        outcome = load(args, Path(tmp))
        if outcome["errors"] and os.environ.get("LISTS_BENCH_KEEP"):
            Path(os.environ["LISTS_BENCH_KEEP"]).write_text((Path(tmp) / "serve.log").read_text(errors="replace"))
    times: dict[str, list[float]] = outcome["times"]
    result: dict[str, Any] = {
        "benchmark": "lists: the pages of a day's work at a state's size, 50 signed-in users, on PostgreSQL",
        "machine": {
            **machine(),
            "note": f"PostgreSQL, Redis, the server ({args.processes} uvicorn process(es), as manage.py serve runs it), its "
            "worker and the load generator (locust) all run on this machine and share its cores",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "inputs": {
            "persons": args.persons,
            "cases": args.cases,
            "contacts": args.contacts,
            "users": args.users,
            "seconds": args.seconds,
            "pause_seconds": 1,
            "seed": args.seed,
            "open_share": OPEN_SHARE,
            "server": f"manage.py serve --processes {args.processes} (uvicorn), DEBUG off, on loopback, "
            f"DB_POOL_MAX_SIZE={args.pool}",
            "topology": "the server, one manage.py worker process beside it, Redis (docs/platform.md, For a state)"
            if args.topology == "state"
            else "manage.py serve with its two workers inside (the embedded default)",
            "load": "locust, headless; each user signs in with a password and a TOTP code, then loops, pausing 1 s",
        },
        "persons": args.persons,
        "users": args.users,
        "requests": sum(len(v) for v in times.values()),
        "errors": outcome["errors"],
    }
    for page in PAGES:
        values = times.get(page, [])
        result[f"{page}_requests"] = len(values)
        result[f"{page}_p50_ms"] = round(statistics.median(values), 1) if values else None
        result[f"{page}_p95_ms"] = round(percentile(values, 0.95), 1) if values else None
        result[f"{page}_max_ms"] = round(max(values), 1) if values else None
    result["requests_per_second"] = round(result["requests"] / args.seconds, 1)
    result["error_samples"] = outcome["error_samples"][:10]
    result["sign_ins"] = outcome["sign_ins"]
    result["search_target_on_first_page"] = outcome["search_target_on_first_page"]
    result["peer"] = SARA_ALERT
    result["reference"] = {"sara_alert_patient_list_over_1m_records_average_s": 10, "measured_here": False}
    result["setup_seconds"] = build_seconds or "reused the database built before (same sizes)"
    result["measured_seconds"] = outcome["measured_seconds"]
    cpu = outcome.get("cpu_seconds") or {}
    result["cpu_seconds"] = cpu  # over the measured time: where the processor time went
    if cpu.get("server") is not None and result["requests"]:
        result["server_cpu_ms_per_request"] = round(1000 * cpu["server"] / result["requests"], 1)
    result["wall_seconds"] = outcome["wall_seconds"]
    print(json.dumps(result))
    if result["errors"] or not result["requests"]:
        sys.exit(1)  # a page failed, or none was served: the figures above do not stand


if __name__ == "__main__":
    main()

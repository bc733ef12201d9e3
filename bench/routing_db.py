"""The routing bench's database half: the real claim path and its bare-SQL ceiling, each from two processes.

Used by bench/routing.py (see its docstring for what the figures mean). Run alone it is the child
process of one phase, started by `measure` with DATABASE_URL naming the bench's database:

    python bench/routing_db.py route            # routing passes (claims.route) until nothing is left to offer
    python bench/routing_db.py claim PAIRS      # claims.claim on each (item, agent, step) of the JSON file PAIRS
    python bench/routing_db.py ceiling PAIRS    # the same claims in bare SQL through psycopg, no Django ORM

A child prints "started", waits for a line on stdin (so that both start together), runs, and prints
one JSON line: its offers, passes, and the wall-clock times it started and ended.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tracecenter_bench_routing"
PROCESSES = 2
COUNTIES = 4
TEAMS_PER_COUNTY = 5
OTHER_LANGUAGES = ["es", "zh", "vi", "ht", "ru", "ko"]
# Tables a phase writes: emptied (or put back) before the next phase, so that each starts alike.
RUN_TABLES = (
    "routing_offer",
    "audit_auditentry",
    "audit_auditchainhead",
    "core_eventdelivery",
    "core_outboxevent",
    "core_pushmessage",
)


# --- The database of the bench: created, migrated, dropped.


def unreachable(url: str) -> str | None:
    """Why PostgreSQL at `url`'s server cannot be used, or None when it can."""
    try:
        import psycopg

        base = url.rpartition("/")[0]
        with psycopg.connect(f"{base}/postgres", connect_timeout=5):
            return None
    except Exception as exc:  # any failure to connect: the section says why instead of failing the bench
        from urllib.parse import urlsplit

        where = urlsplit(url)  # host and port only: a password in the URL stays out of the output
        why = " ".join(str(exc).split())
        return f"not measured: PostgreSQL is not reachable at {where.hostname}:{where.port or 5432} ({type(exc).__name__}: {why})"


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{url.rpartition('/')[0]}/postgres", autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]  # a fixed statement with the bench's own name


def create_database(url: str) -> None:
    name = url.rpartition("/")[2]
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    from django.db import connections

    connections.close_all()
    _admin(url, f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def environment(url: str) -> dict[str, str]:
    """What every process of the bench runs with: the bench's database, its own var directory, quiet logs."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("TRACECENTER_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracecenter.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    # The embedded default (no Redis): a push is its row, and the web server's own process reads it.
    os.environ.pop("REDIS_URL", None)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")])}


def setup(url: str) -> None:
    """Create the database, set Django up on it and migrate."""
    create_database(url)
    environment(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0])


# --- The backlog.


def build(agent_count: int, item_count: int, seed: int) -> dict[str, Any]:
    """A state with counties and teams; tracers signed in to routing (available, with capacities and languages);
    `item_count` waiting items of mixed kinds, channels, languages, priorities, owners and ages, half interviews of
    cases, half notifications of contacts (their subjects real rows)."""
    from django.db import connection

    from tracecenter.accounts.models import Jurisdiction, Proficiency, Team, User, UserLanguage
    from tracecenter.accounts.roles import Role
    from tracecenter.cases.models import Case
    from tracecenter.contacts.models import Exposure
    from tracecenter.core import clock
    from tracecenter.people.services import PersonInput, person_create
    from tracecenter.routing.models import AgentStateChoice, AgentStatus, Channel, WorkItem, WorkKind

    rng = random.Random(seed)
    now = clock.now()
    # Calls allowed all day: the bench routes whenever it is run (the calling window is still checked per item).
    hours = {"calling_from": dt.time(0, 0), "calling_until": dt.time(23, 59, 59, 999999)}
    state = Jurisdiction.objects.create(name="Bench State", code="bench-routing", **hours)
    counties = [
        Jurisdiction.objects.create(name=f"County {n}", code=f"bench-routing-{n}", parent=state, **hours) for n in range(COUNTIES)
    ]
    teams = {c.pk: [Team.objects.create(name=f"Team {n}", jurisdiction=c) for n in range(TEAMS_PER_COUNTY)] for c in counties}
    users = []
    for n in range(agent_count):
        county = counties[n % COUNTIES]
        users.append(
            User(
                username=f"bench.agent.{n}",
                role=Role.CASE_INVESTIGATOR if n % 2 else Role.CONTACT_TRACER,
                jurisdiction=county,
                team=rng.choice(teams[county.pk]),
            )
        )
    User.objects.bulk_create(users)
    users = list(User.objects.filter(username__startswith="bench.agent.").order_by("pk"))
    languages = []
    statuses = []
    for user in users:
        if rng.random() < 0.3:
            languages.append(
                UserLanguage(user=user, language=rng.choice(OTHER_LANGUAGES), proficiency=rng.choice(list(Proficiency)))
            )
        # Most take the defaults (one call, three texts); some a planner set otherwise.
        capacity = {} if rng.random() < 0.8 else {"voice": 1, "sms": rng.choice([1, 2, 5])}
        idle = now - dt.timedelta(seconds=rng.uniform(0, 3600))
        statuses.append(AgentStatus(user=user, state=AgentStateChoice.AVAILABLE, since=idle, idle_since=idle, capacity=capacity))
    UserLanguage.objects.bulk_create(languages)
    AgentStatus.objects.bulk_create(statuses)

    # Subjects: a case per interview, a contact (of one of those cases) per notification.
    persons = [
        person_create(actor=None, jurisdiction=c, data=PersonInput(first_name=f"Bench{n}", last_name="Routing"))
        for n, c in enumerate(counties * 2)
    ]
    interviews = (item_count + 1) // 2
    cases = Case.objects.bulk_create(
        [
            Case(person=persons[n % COUNTIES], jurisdiction_id=persons[n % COUNTIES].jurisdiction_id, priority=rng.randint(1, 4))
            for n in range(interviews)
        ]
    )
    exposures = Exposure.objects.bulk_create(
        [
            Exposure(
                case=cases[n],
                person=persons[COUNTIES + n % COUNTIES],
                jurisdiction_id=cases[n].jurisdiction_id,
                last_exposure_date=now.date(),
                quarantine_end=now.date() + dt.timedelta(days=14),
            )
            for n in range(item_count - interviews)
        ]
    )
    items = []
    agent_ids = [u.pk for u in users]
    for n in range(item_count):
        subject: dict[str, Any] = {"case": cases[n // 2]} if n % 2 == 0 else {"exposure": exposures[n // 2]}
        county = (subject.get("case") or subject["exposure"]).jurisdiction_id
        items.append(
            WorkItem(
                kind=WorkKind.CASE_INTERVIEW if n % 2 == 0 else WorkKind.CONTACT_NOTIFICATION,
                jurisdiction_id=county,
                team=rng.choice(teams[county]) if rng.random() < 0.8 else None,
                # The case's flow makes calls today; texts come with inbound messages (a later issue): a fifth here.
                channel=Channel.VOICE if rng.random() < 0.8 else Channel.SMS,
                language="en" if rng.random() < 0.7 else rng.choice(OTHER_LANGUAGES),
                priority=rng.choice([10, 20, 30, 40]) + rng.choice([0, 0, 5]),
                due_at=now + dt.timedelta(hours=24),
                queued_at=now - dt.timedelta(seconds=rng.uniform(0, 3 * 3600)),
                owner_id=rng.choice(agent_ids) if rng.random() < 0.5 else None,
                # A few were rejected before by someone.
                excluded=[rng.choice(agent_ids)] if rng.random() < 0.05 else [],
                **subject,
            )
        )
    WorkItem.objects.bulk_create(items, batch_size=5000)
    with connection.cursor() as cursor:
        # What each phase puts back: the agents' idle times as they were.
        cursor.execute("CREATE TABLE bench_idle AS SELECT user_id, idle_since FROM routing_agentstatus")
        cursor.execute("VACUUM ANALYZE")
    return {"agents": len(users), "items": len(items), "county": counties[0].pk}


def reset() -> None:
    """The backlog as it was before a phase: every item waiting, no offers, idle times back, run tables empty."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(RUN_TABLES))
        cursor.execute("UPDATE routing_workitem SET status = 'queued' WHERE status <> 'queued'")
        cursor.execute(
            "UPDATE routing_agentstatus s SET idle_since = b.idle_since, state = 'available' FROM bench_idle b "
            "WHERE b.user_id = s.user_id"
        )
        cursor.execute("VACUUM ANALYZE routing_workitem, routing_agentstatus, routing_offer")
        cursor.execute("CHECKPOINT")  # the phase should not pay for the writes of the one before


# --- Counting, after a phase, in SQL.


def violations() -> dict[str, int]:
    """Double assignments, tracers above capacity, and items whose status disagrees with their offers."""
    from django.db import connection

    from tracecenter.routing.models import DEFAULT_CAPACITY

    default = " ".join(f"WHEN '{channel}' THEN {n}" for channel, n in DEFAULT_CAPACITY.items())
    with connection.cursor() as cursor:
        # An item offered to (or held by) two tracers at once, or accepted twice.
        cursor.execute(
            "SELECT count(*) FROM (SELECT item_id FROM routing_offer WHERE status IN ('pending', 'accepted') "
            "GROUP BY item_id HAVING count(*) > 1) d"
        )
        double = int(cursor.fetchone()[0])
        # Per tracer and channel: offers pending plus work accepted, against their capacity (or the default).
        cursor.execute(
            f"""
            WITH held AS (
                SELECT o.agent_id AS agent, w.channel, count(*) AS n
                FROM routing_offer o JOIN routing_workitem w ON w.id = o.item_id
                WHERE o.status = 'pending' GROUP BY 1, 2
                UNION ALL
                SELECT holder_id, channel, count(*) FROM routing_workitem
                WHERE status = 'accepted' AND holder_id IS NOT NULL GROUP BY 1, 2
            )
            SELECT count(*) FROM (SELECT agent, channel, sum(n) AS total FROM held GROUP BY 1, 2) h
            JOIN routing_agentstatus s ON s.user_id = h.agent
            WHERE h.total > COALESCE((s.capacity ->> h.channel)::int, CASE h.channel {default} ELSE 0 END)
            """
        )
        over = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*) FROM routing_workitem w WHERE (w.status = 'offered') <> EXISTS "
            "(SELECT 1 FROM routing_offer o WHERE o.item_id = w.id AND o.status = 'pending')"
        )
        mismatch = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM routing_offer")
        offers = int(cursor.fetchone()[0])
    return {"double": double, "over": over, "mismatch": mismatch, "offers": offers}


def audit_entries_hold() -> bool:
    """Whether every audit entry written by the phase carries an HMAC that the sealer would accept."""
    from django.conf import settings

    from tracecenter.audit import chain
    from tracecenter.audit.models import AuditEntry
    from tracecenter.audit.services import _content, _decoded

    key = _decoded(settings.AUDIT_CHAIN_KEY)
    entries = AuditEntry.objects.filter(object_type="work_item")
    return entries.exists() and all(
        chain.entry_holds(key, _content(entry), entry.entry_hash) for entry in entries.iterator(chunk_size=2000)
    )


# --- A phase: two processes at once.


def phase(mode: str, env: dict[str, str], pairs: Path | None = None) -> dict[str, Any]:
    """Start the processes, put the backlog back while they load Django, then let them go together."""
    command = [sys.executable, str(Path(__file__).resolve()), mode, *([str(pairs)] if pairs else [])]
    children = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    try:
        reset()  # they hold no lock nor transaction until told to go
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if "started" not in line:
                raise RuntimeError(f"a {mode} process did not start: {line!r}")
        for child in children:  # as close to the same moment as two processes can be told
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=900)[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    if any(child.returncode for child in children):
        raise RuntimeError(f"a {mode} process failed: {outputs}")
    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    seconds = max(r["ended"] for r in results) - min(r["began"] for r in results)
    offers = sum(r["offers"] for r in results)
    return {
        "offers": offers,
        "seconds": seconds,
        "per_s": round(offers / seconds, 1) if seconds else None,
        "passes": [r.get("passes") for r in results],
    }


def decided_pairs() -> list[list[int]]:
    """The (item, agent, step) of each offer the routing phase made, in the order made."""
    from tracecenter.routing.models import Offer

    return [list(row) for row in Offer.objects.order_by("pk").values_list("item_id", "agent_id", "step")]


def final_pass() -> int:
    """Offers one more routing pass still finds to make (0 when the phase filled every place it could)."""
    from django.db import transaction

    from tracecenter.routing.claims import route

    with transaction.atomic():
        made = len(route())
        transaction.set_rollback(True)
    return made


def measure(url: str, agents: int, items: int, seed: int) -> dict[str, Any]:
    """Build the backlog, then run the real path (routing passes; then claims of the same decisions) and the
    bare-SQL ceiling, each from two processes, counting what each left behind. The last phase's rows stay."""
    env = environment(url)
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        stages[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    built = build(agents, items, seed)
    stage("build")
    out: dict[str, Any] = {"backlog": built, "stages": stages, "load": {}}

    out["routed"] = phase("route", env)
    out["load"]["route"] = round(os.getloadavg()[0], 2)
    out["routed_counts"] = violations()
    out["routed_left"] = final_pass()
    stage("route")
    with tempfile.TemporaryDirectory(prefix="bench-routing-") as tmp:
        pairs_file = Path(tmp) / "pairs.json"
        pairs_file.write_text(json.dumps(decided_pairs()))
        for mode in ("claim", "ceiling"):
            out[mode] = phase(mode, env, pairs_file)
            out["load"][mode] = round(os.getloadavg()[0], 2)
            out[f"{mode}_counts"] = violations()
            stage(mode)
    out["ceiling_audit_holds"] = audit_entries_hold()
    return out


# --- The children.


def _route() -> dict[str, Any]:
    from tracecenter.routing.claims import route

    began = ended = time.time()
    offers = passes = empty = 0
    # Two passes in a row with nothing claimed: the other process took what this one decided, and then nothing was left.
    # The time ends with the last pass that offered something: the empty passes are this loop's way to stop, which a
    # process routing on events (a pass per new piece of work) does not have.
    while empty < 2:
        made = len(route())
        offers, passes = offers + made, passes + 1
        empty = 0 if made else empty + 1
        if made:
            ended = time.time()
    return {"offers": offers, "passes": passes, "began": began, "ended": ended}


def _claim(pairs: list[list[int]]) -> dict[str, Any]:
    from tracecenter.core import clock
    from tracecenter.routing.claims import claim

    began = time.time()
    offers = 0
    for item_id, agent_id, step in pairs:
        if claim(item_id=item_id, agent_id=agent_id, step=step, now=clock.now()) is not None:
            offers += 1
    return {"offers": offers, "began": began, "ended": time.time()}


# The ceiling's claim, in plain SQL: the same locks and checks as claims.claim, the same rows written.
LOCK_ITEM = (
    "SELECT channel, excluded, jurisdiction_id FROM routing_workitem WHERE id = %(item)s AND status = 'queued' "
    "AND (not_before IS NULL OR not_before <= %(now)s) FOR UPDATE SKIP LOCKED"
)
LOCK_AGENT = """
SELECT s.state, s.capacity,
       (SELECT count(*) FROM routing_workitem w
        WHERE w.holder_id = s.user_id AND w.status = 'accepted' AND w.channel = %(channel)s)
     + (SELECT count(*) FROM routing_offer o JOIN routing_workitem w ON w.id = o.item_id
        WHERE o.agent_id = s.user_id AND o.status = 'pending' AND w.channel = %(channel)s)
FROM routing_agentstatus s WHERE s.user_id = %(agent)s FOR UPDATE OF s
"""
WRITE = """
WITH offer AS (
    INSERT INTO routing_offer (item_id, agent_id, step, status, offered_at, expires_at, reason)
    VALUES (%(item)s, %(agent)s, %(step)s, 'pending', %(now)s, %(expires)s, '') RETURNING id
), item AS (
    UPDATE routing_workitem SET status = 'offered' WHERE id = %(item)s
), agent AS (
    UPDATE routing_agentstatus SET idle_since = %(now)s WHERE user_id = %(agent)s
), audit AS (
    INSERT INTO audit_auditentry (at, actor_id, actor_username, actor_role, action, object_type, object_id,
                                  jurisdiction_id, ip_address, channel, fields, detail, entry_hash, prev_hash, chain_hash)
    VALUES (%(at)s, NULL, '', '', 'assign', 'work_item', %(object_id)s, %(jurisdiction)s, '', %(audit_channel)s, '[]',
            %(detail)s, %(entry_hash)s, '', '')
), event AS (
    INSERT INTO core_outboxevent (name, payload, origin, created_at)
    SELECT 'OfferMade',
           jsonb_build_object('offer_id', offer.id, 'item_id', %(item)s::bigint, 'agent_id', %(agent)s::bigint,
                              'expires_at', %(expires_text)s::text),
           %(origin)s, %(now)s
    FROM offer RETURNING id
), pushed AS (
    INSERT INTO core_pushmessage ("group", kind, data, created_at)
    SELECT 'user.' || %(agent)s::bigint, 'work.offer',
           jsonb_build_object('offer_id', offer.id, 'item_id', %(item)s::bigint, 'status', 'pending'), %(now)s
    FROM offer
), delivery AS (
    INSERT INTO core_eventdelivery (event_id, subscriber, state, attempts, next_attempt_at, claim, last_error, created_at)
    SELECT event.id, s.name, 'pending', 0, %(now)s, '', '', %(now)s FROM event, unnest(%(subscribers)s::text[]) AS s(name)
    RETURNING 1
)
SELECT pg_notify('tracecenter_work', '') WHERE EXISTS (SELECT 1 FROM delivery)
"""


def _ceiling(pairs: list[list[int]], conn: Any) -> dict[str, Any]:
    """claims.claim's transaction without Django: three statements and a commit per claim. (Without Redis, what
    claims.claim does after its commit is to poke this process's push fan-out, which only a web server runs: nothing.)"""
    from django.conf import settings
    from psycopg.types.json import Jsonb

    from tracecenter.audit import chain
    from tracecenter.core import events, request_context
    from tracecenter.routing.claims import ROUTABLE_STATES
    from tracecenter.routing.events import OfferMade
    from tracecenter.routing.models import DEFAULT_CAPACITY
    from tracecenter.routing.queues import RESERVATION_SECONDS

    key = chain_key(settings.AUDIT_CHAIN_KEY)
    context = request_context.current()
    origin = Jsonb(request_context.origin())
    probe = OfferMade(offer_id=0, item_id=0, agent_id=0, expires_at=dt.datetime.now(dt.UTC))
    subscribers = [s.name for s in events.subscribers_of(probe)]
    routable = {str(s) for s in ROUTABLE_STATES}
    offers = 0
    with conn:
        began = time.time()
        for item_id, agent_id, step in pairs:
            with conn.transaction(), conn.cursor() as cur:
                claimed_at = dt.datetime.now(dt.UTC)
                row = cur.execute(LOCK_ITEM, {"item": item_id, "now": claimed_at}).fetchone()
                if row is None or agent_id in row[1]:
                    continue
                channel, _excluded, jurisdiction = row
                agent = cur.execute(LOCK_AGENT, {"channel": channel, "agent": agent_id}).fetchone()
                if agent is None or agent[0] not in routable:
                    continue
                if agent[2] >= int(agent[1].get(channel, DEFAULT_CAPACITY.get(channel, 0))):
                    continue
                now, at = claimed_at, dt.datetime.now(dt.UTC)  # the claim's moment; the audit entry's own
                expires = now + dt.timedelta(seconds=RESERVATION_SECONDS)
                detail = f"offered to user {agent_id}"
                content = {
                    "at": at.isoformat(timespec="microseconds"),
                    "actor_id": None,
                    "actor_username": "",
                    "actor_role": "",
                    "action": "assign",
                    "object_type": "work_item",
                    "object_id": str(item_id),
                    "jurisdiction_id": jurisdiction,
                    "ip_address": "",
                    "channel": context.channel,
                    "fields": [],
                    "detail": detail,
                }
                cur.execute(
                    WRITE,  # type: ignore[arg-type]  # a constant statement
                    {
                        "item": item_id,
                        "agent": agent_id,
                        "step": step,
                        "now": now,
                        "expires": expires,
                        "expires_text": expires.isoformat(),
                        "at": at,
                        "object_id": str(item_id),
                        "jurisdiction": jurisdiction,
                        "audit_channel": context.channel,
                        "detail": detail,
                        "entry_hash": chain.entry_hmac(key, content),
                        "origin": origin,
                        "subscribers": subscribers,
                    },
                )
                offers += 1
        ended = time.time()
    return {"offers": offers, "began": began, "ended": ended}


def chain_key(setting: str) -> bytes:
    import base64

    return base64.b64decode(setting)


def child(mode: str, pairs_path: str | None) -> None:
    environment(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import psycopg
    from django.db import connection

    if mode not in ("route", "claim", "ceiling"):
        raise SystemExit(f"unknown mode {mode}")
    pairs: list[list[int]] = json.loads(Path(pairs_path).read_text()) if pairs_path else []
    # Connected before the start, whichever the path: the time is the claims', not a connection's.
    raw = psycopg.connect(os.environ["DATABASE_URL"]) if mode == "ceiling" else None
    connection.ensure_connection()
    print("started", flush=True)
    sys.stdin.readline()
    if mode == "route":
        result = _route()
    elif mode == "claim":
        result = _claim(pairs)
    else:
        result = _ceiling(pairs, raw)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)

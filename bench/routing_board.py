"""The supervisor's routing board at a surge's size: the figures over 100,000 waiting items, on PostgreSQL.

    python bench/routing_board.py [--waiting 100000] [--history 300000] [--tracers 2000] [--repeat 20] [--database URL]
                                  [--fresh] [--small]

Prints ONE JSON object. What it does, in one run:

1. Builds (or reuses, when the same sizes were built before; --fresh rebuilds) a state with two counties and
   four teams, `--tracers` tracers in every routing state, `--waiting` items waiting (mixed kinds, channels,
   priorities, languages, teams and counties, waiting up to a day), and beside them today's traffic: items
   offered, in progress and finished, with their offers accepted, rejected and timed out; and `--history` items
   finished on the thirty days before, each with its accepted offer (what a center's tables hold after a month).
2. Reads what one refresh of the board reads (`routing.board`: the queues with today's service level, the
   tracers by state, a page of tracers, a page of waiting work) `--repeat` times, as the state's supervisor
   (everything) and as a county team's supervisor (their team and the unteamed work), and reports p50 and p95
   in ms with the number of queries of one refresh.
3. Beside it, in the same run, the obvious implementation of the queues' figures (`naive_*_queues_ms`, to hold
   against `*_queues_ms`): every open item of the reach and every offer of today read into Python and counted
   there; what aggregating in SQL saves.

The whole run happens at 17:00 on a fixed day of the center's time zone (time-machine), so that "today" holds a
working day's traffic whenever the bench is run and a database built before can be reused.

PostgreSQL runs on the same machine and shares its cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import machine, setup_django  # noqa: E402  (bench/ is on the path)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/tracecenter_board_bench"
LANGUAGES = ["", "", "", "es", "zh", "ht", "vi"]


def build(args: argparse.Namespace) -> None:
    from django.db import connection

    from tracecenter.accounts.models import Jurisdiction, Team, User
    from tracecenter.accounts.roles import Role
    from tracecenter.cases.models import Case
    from tracecenter.core import clock
    from tracecenter.people.models import Person
    from tracecenter.routing import board
    from tracecenter.routing.models import AgentStatus, Offer, WorkItem, WorkKind, WorkStatus

    marker = f"board bench 2 {args.waiting} {args.history} {args.tracers} {args.seed}"
    if not args.fresh and Jurisdiction.objects.filter(name=marker).exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE routing_offer, routing_workitem, routing_agentstatus, cases_case, people_person, accounts_team, "
            "accounts_user, accounts_jurisdiction RESTART IDENTITY CASCADE"
        )
    rng = random.Random(args.seed)
    now = clock.now()
    state = Jurisdiction.objects.create(name=marker, code="bb")
    counties = [Jurisdiction.objects.create(name=f"County {i}", code=f"bb-{i}", parent=state) for i in range(2)]
    teams = [Team.objects.create(name=f"Team {i}", jurisdiction=counties[i % 2]) for i in range(4)]
    User.objects.create(username="supervisor.state", role=Role.SUPERVISOR, jurisdiction=state)
    User.objects.create(username="supervisor.team", role=Role.SUPERVISOR, jurisdiction=counties[0], team=teams[0])
    tracers = User.objects.bulk_create(
        [
            User(
                username=f"tracer-{i}",
                role=rng.choice([Role.CONTACT_TRACER, Role.CASE_INVESTIGATOR]),
                jurisdiction=counties[i % 2],
                team=rng.choice([teams[i % 2], teams[2 + i % 2], None]),
                password="!",  # noqa: S106 -- an unusable password: nobody signs in as these
            )
            for i in range(args.tracers)
        ]
    )
    states = ["available", "busy", "wrap_up", "break", "lunch", "training", "meeting", "offline"]
    AgentStatus.objects.bulk_create(
        [
            AgentStatus(
                user=t,
                state=rng.choice(states),
                since=now - dt.timedelta(minutes=rng.randint(0, 300)),
                idle_since=now - dt.timedelta(minutes=rng.randint(0, 300)),
            )
            for t in tracers
        ]
    )
    person = Person.objects.create(jurisdiction=counties[0])
    today = args.waiting // 5  # today's traffic besides the waiting work
    total = args.waiting + today + args.history
    cases: list[Case] = []
    for start in range(0, total, 20_000):
        cases += Case.objects.bulk_create(
            [Case(person=person, jurisdiction=counties[i % 2]) for i in range(start, min(total, start + 20_000))],
            batch_size=5000,
        )
    kinds = [WorkKind.CASE_INTERVIEW, WorkKind.CONTACT_NOTIFICATION, WorkKind.CALLBACK]
    items = []
    for i, case in enumerate(cases):
        if i >= args.waiting + today:  # the month before: finished, each accepted once
            age = dt.timedelta(days=1 + (i % 30), minutes=rng.randint(0, 24 * 60))
            items.append(
                WorkItem(
                    kind=rng.choice(kinds),
                    case=case,
                    jurisdiction_id=case.jurisdiction_id,
                    channel="voice",
                    priority=30,
                    queued_at=now - age,
                    status=WorkStatus.COMPLETED,
                    closed_at=now - age + dt.timedelta(minutes=30),
                )
            )
            continue
        waiting = i < args.waiting
        age = dt.timedelta(minutes=rng.randint(1, 16 * 60 if waiting else 14 * 60))
        status = (
            WorkStatus.QUEUED
            if waiting
            else rng.choice([WorkStatus.OFFERED, WorkStatus.ACCEPTED, WorkStatus.COMPLETED, WorkStatus.COMPLETED])
        )
        items.append(
            WorkItem(
                kind=rng.choice(kinds),
                case=case,
                jurisdiction_id=case.jurisdiction_id,
                team=rng.choice([teams[i % 2], teams[2 + i % 2], None]),
                channel=rng.choice(["voice", "voice", "voice", "sms"]),
                language=rng.choice(LANGUAGES),
                priority=rng.choice([10, 20, 30, 35, 40]),
                due_at=now - age + dt.timedelta(hours=24),
                queued_at=now - age,
                status=status,
                holder=rng.choice(tracers) if status == WorkStatus.ACCEPTED else None,
                closed_at=now - age / 2 if status == WorkStatus.COMPLETED else None,
            )
        )
    # Numbered in the order the work came in, as the case's flow numbers it (the board relies on it).
    items.sort(key=lambda item: item.queued_at)
    made = WorkItem.objects.bulk_create(items, batch_size=5000)
    # created_at is set on insert: spread it as the work came in.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE routing_workitem SET created_at = queued_at")
    midnight = board.day_start(now)
    offers = []
    for item in made:
        if item.status == WorkStatus.QUEUED or item.queued_at >= midnight:
            continue
        offers.append(
            Offer(
                item=item,
                agent=rng.choice(tracers),
                status="accepted",
                offered_at=item.queued_at + dt.timedelta(minutes=5),
                expires_at=item.queued_at + dt.timedelta(minutes=5, seconds=45),
                answered_at=item.queued_at + dt.timedelta(minutes=5, seconds=20),
            )
        )
    for item in made:
        if item.status == WorkStatus.QUEUED or item.queued_at < midnight:
            continue
        delay = dt.timedelta(minutes=rng.choice([1, 5, 20, 50, 90, 180]))
        for answer in rng.sample(["rejected", "timed_out", "accepted"], k=rng.randint(1, 3)):
            offers.append(
                Offer(
                    item=item,
                    agent=rng.choice(tracers),
                    status=answer,
                    offered_at=min(item.queued_at + delay, now),
                    expires_at=min(item.queued_at + delay, now) + dt.timedelta(seconds=45),
                    answered_at=min(item.queued_at + delay, now),
                )
            )
    Offer.objects.bulk_create(offers, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def refresh(viewer: Any) -> int:
    """One refresh of the board's three regions; returns the queries it took."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tracecenter.core import clock
    from tracecenter.routing import board

    now = clock.now()
    with CaptureQueriesContext(connection) as ctx:
        board.queue_rows(viewer, now=now)
        board.agents_by_state(viewer)
        board.agent_page(viewer, 1, now=now)
        board.waiting_page(viewer, 1, now=now)
    return len(ctx.captured_queries)


def naive(viewer: Any) -> None:
    """The same figures counted in Python from every row of the reach."""
    from tracecenter.core import clock
    from tracecenter.routing import board
    from tracecenter.routing.models import OPEN_WORK

    now = clock.now()
    start = board.day_start(now)
    counts: Counter[tuple[str, str, str]] = Counter()
    oldest: dict[tuple[str, str], dt.datetime] = {}
    for kind, channel, status, queued_at in (
        board.work_in_reach(viewer).filter(status__in=OPEN_WORK).values_list("kind", "channel", "status", "queued_at")
    ):
        counts[kind, channel, status] += 1
        if status == "queued" and ((kind, channel) not in oldest or queued_at < oldest[kind, channel]):
            oldest[kind, channel] = queued_at
    answers: Counter[tuple[str, str, str]] = Counter(
        board.offers_in_reach(viewer).filter(answered_at__gte=start).values_list("item__kind", "item__channel", "status")
    )
    first: dict[int, dt.datetime] = {}
    for item_id, offered_at in (
        board.offers_in_reach(viewer).filter(item__created_at__gte=start).values_list("item_id", "offered_at")
    ):
        first[item_id] = min(offered_at, first.get(item_id, offered_at))
    target = dt.timedelta(minutes=board.SERVICE_TARGET_MINUTES)
    met = sum(
        1
        for pk, created in board.work_in_reach(viewer).filter(created_at__gte=start).values_list("pk", "created_at")
        if pk in first and first[pk] <= created + target
    )
    assert counts or answers or met >= 0


def timed(fn: Any, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 1), "p95": round(times[max(0, int(len(times) * 0.95) - 1)], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=300_000)
    parser.add_argument("--tracers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", default=os.environ.get("BENCH_BOARD_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--small", action="store_true", help="2,000 waiting items and 200 tracers: a quick check")
    args = parser.parse_args()
    if args.small:
        args.waiting, args.history, args.tracers, args.repeat = 2000, 6000, 200, 5
    import time_machine

    setup_django(args.database)
    from django.utils import timezone

    at = timezone.make_aware(dt.datetime(2025, 3, 4, 17, 0), timezone.get_current_timezone())
    with time_machine.travel(at, tick=True):
        build(args)
        print(json.dumps(measure(args)))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from tracecenter.accounts.models import User
    from tracecenter.core import clock
    from tracecenter.routing import board

    result: dict[str, Any] = {"waiting": args.waiting, "history": args.history, "tracers": args.tracers, "repeat": args.repeat}
    for name in ("supervisor.state", "supervisor.team"):
        viewer = User.objects.select_related("jurisdiction").get(username=name)
        key = name.split(".")[1]
        result[f"{key}_waiting_in_reach"] = board.work_in_reach(viewer).filter(status="queued").count()
        result[f"{key}_queries_per_refresh"] = refresh(viewer)
        result[f"{key}_refresh_ms"] = timed(lambda v=viewer: refresh(v), args.repeat)
        result[f"{key}_queues_ms"] = timed(lambda v=viewer: board.queue_rows(v, now=clock.now()), args.repeat)
        result[f"naive_{key}_queues_ms"] = timed(lambda v=viewer: naive(v), max(3, args.repeat // 4))
    result["machine"] = machine()
    return result


if __name__ == "__main__":
    main()

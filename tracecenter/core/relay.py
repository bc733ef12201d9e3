"""The relay: every (event, subscriber) pair delivered by the workers, each with its own state.

Claiming. A round takes up to `limit` due deliveries (pending, next attempt now or past) in one
short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so workers never wait for each other;
SQLite's single writer serialises it) and stamps each with the worker's claim token, one more
attempt, and a next attempt one lease ahead. That stamp is the lease: a worker killed mid-way
leaves its deliveries due again when the lease ends, and another worker takes them.

Running. An atomic subscriber's work and the row that marks its delivery done commit together,
and the mark is conditional on the claim token: a worker that lost its lease (another took
over) rolls its work back. So an effect inside the database happens exactly once, however the
workers die. Deliveries of one subscriber claimed together run in one transaction, each in its
own savepoint (or all through the subscriber's batch handler, falling back to one by one when
that fails), so a failing one is retried alone and the others keep their success. A subscriber
with an effect outside the database runs outside any transaction and makes that effect once per
idempotency key (core/effects.py).

Failing. A delivery that raises is due again after 2, 4, 8 ... seconds (at most an hour) until
its subscriber's max_attempts are spent; then it is dead: administrators see it with its error
and may send it again. The error kept is the exception's class and where it was raised, never
its message, which may quote personal data.

Order. Deliveries are claimed oldest first, but two workers may run two events of one record at
once: subscribers read the record's current state rather than trusting the order of events.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import traceback
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F

from tracecenter.core import clock, events, request_context, wakeup
from tracecenter.core.env import env_int
from tracecenter.core.models import EventDelivery

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=env_int("RELAY_LEASE_SECONDS", 60))
MAX_BACKOFF = dt.timedelta(hours=1)
PENDING, DONE, DEAD = EventDelivery.State.PENDING, EventDelivery.State.DONE, EventDelivery.State.DEAD


@dataclasses.dataclass
class Claimed:
    id: int
    event_id: int
    subscriber: str
    attempts: int
    name: str
    payload: dict[str, Any]
    origin: dict[str, Any]
    event: events.DomainEvent | None = None


@dataclasses.dataclass
class Round:
    claimed: int = 0
    done: int = 0
    failed: int = 0
    dead: int = 0

    def add(self, other: Round) -> None:
        self.claimed += other.claimed
        self.done += other.done
        self.failed += other.failed
        self.dead += other.dead


class _LeaseLost(Exception):
    """Another worker took these deliveries over: what this one did for them is rolled back."""


# The delivery being run: what an idempotency key of a side effect is made from (core/effects.py).
_current: contextvars.ContextVar[Claimed | None] = contextvars.ContextVar("tracecenter_delivery", default=None)


def current_delivery() -> Claimed | None:
    return _current.get()


def new_token() -> str:
    return uuid.uuid4().hex


def describe(exc: BaseException) -> str:
    """The exception's class and the innermost frame of our code it passed: enough to find it, nothing personal."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "/tracecenter/" in frame.filename:
            where = f" at {frame.filename.rsplit('/tracecenter/', 1)[1]}:{frame.lineno} in {frame.name}"
    return f"{type(exc).__module__}.{type(exc).__qualname__}{where}"[:300]


def backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(seconds=2 ** max(attempts, 1)), MAX_BACKOFF)


def claim(*, token: str, limit: int, now: dt.datetime | None = None) -> list[Claimed]:
    now = now or clock.now()
    with transaction.atomic():
        due = EventDelivery.objects.filter(state=PENDING, next_attempt_at__lte=now).order_by("next_attempt_at", "id")
        ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
        if not ids:
            return []
        EventDelivery.objects.filter(id__in=ids).update(claim=token, attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
        rows = EventDelivery.objects.filter(id__in=ids).order_by("id")
        values = rows.values_list("id", "event_id", "subscriber", "attempts", "event__name", "event__payload", "event__origin")
        return [Claimed(*row) for row in values]


def run_round(*, token: str, limit: int = 100) -> Round:
    """Claim up to `limit` due deliveries and run them; what a worker does each time it looks."""
    claimed = claim(token=token, limit=limit)
    result = Round(claimed=len(claimed))
    if claimed:
        result.add(run_claimed(claimed, token=token))
    return result


def run_claimed(claimed: Sequence[Claimed], *, token: str) -> Round:
    result = Round()
    groups: dict[tuple[str, str], list[Claimed]] = {}
    for item in claimed:
        # Grouped by subscriber and by who started it, so a batch runs in one person's context.
        groups.setdefault((item.subscriber, repr(sorted((item.origin or {}).items()))), []).append(item)
    for (name, _origin), items in groups.items():
        sub = events.subscriber(name)
        if sub is None:
            _give_up(items, token=token, error=f"no subscriber named {name} any more")
            result.dead += len(items)
            continue
        readable: list[Claimed] = []
        for item in items:
            try:
                item.event = events.decode(item.name, item.payload)
                readable.append(item)
            except Exception as exc:  # an event whose class or fields changed: retrying will not help
                _give_up([item], token=token, error=f"event cannot be read: {describe(exc)}")
                result.dead += 1
        if not readable:
            continue
        with request_context.acting_for(readable[0].origin):
            outcome = _run_atomic(sub, readable, token) if sub.atomic else _run_outside(sub, readable, token)
        result.add(outcome)
    return result


@contextlib.contextmanager
def _delivering(item: Claimed) -> Iterator[None]:
    reset = _current.set(item)
    try:
        yield
    finally:
        _current.reset(reset)


def _one_by_one(sub: events.Subscriber, items: Sequence[Claimed]) -> tuple[list[Claimed], list[tuple[Claimed, BaseException]]]:
    done: list[Claimed] = []
    failures: list[tuple[Claimed, BaseException]] = []
    for item in items:
        try:
            with transaction.atomic(), _delivering(item):
                sub.handler(item.event)
            done.append(item)
        except Exception as exc:
            failures.append((item, exc))
    return done, failures


def _run_atomic(sub: events.Subscriber, items: Sequence[Claimed], token: str) -> Round:
    result = Round()
    failures: list[tuple[Claimed, BaseException]] = []
    try:
        with transaction.atomic():
            if sub.batch is not None and len(items) > 1:
                try:
                    with transaction.atomic():
                        sub.batch([item.event for item in items])
                    done = list(items)
                except Exception as exc:
                    logger.info("batch of %d for %s failed (%s); running them one by one", len(items), sub.name, describe(exc))
                    done, failures = _one_by_one(sub, items)
            else:
                done, failures = _one_by_one(sub, items)
            if done and _mark_done(done, token) != len(done):
                raise _LeaseLost
    except _LeaseLost:
        logger.warning("deliveries to %s were taken over by another worker; this worker's work on them is undone", sub.name)
        return result
    result.done = len(items) - len(failures)
    result.add(_record_failures(sub, failures, token))
    return result


def _run_outside(sub: events.Subscriber, items: Sequence[Claimed], token: str) -> Round:
    result = Round()
    for item in items:
        try:
            with _delivering(item):
                sub.handler(item.event)
        except Exception as exc:
            result.add(_record_failures(sub, [(item, exc)], token))
            continue
        if _mark_done([item], token) == 1:
            result.done += 1
    return result


def _mark_done(items: Sequence[Claimed], token: str) -> int:
    return EventDelivery.objects.filter(id__in=[i.id for i in items], claim=token, state=PENDING).update(
        state=DONE, finished_at=clock.now(), last_error=""
    )


def _record_failures(sub: events.Subscriber, failures: Sequence[tuple[Claimed, BaseException]], token: str) -> Round:
    result = Round()
    now = clock.now()
    for item, exc in failures:
        error = describe(exc)
        logger.error(
            "delivery %s of event %s to %s failed (attempt %d): %s", item.id, item.event_id, sub.name, item.attempts, error
        )
        row = EventDelivery.objects.filter(id=item.id, claim=token, state=PENDING)
        if item.attempts >= sub.max_attempts:
            row.update(state=DEAD, finished_at=now, last_error=error)
            result.dead += 1
        else:
            row.update(next_attempt_at=now + backoff(item.attempts), last_error=error)
            result.failed += 1
    return result


def _give_up(items: Sequence[Claimed], *, token: str, error: str) -> None:
    logger.error("deliveries %s given up: %s", [i.id for i in items], error)
    EventDelivery.objects.filter(id__in=[i.id for i in items], claim=token, state=PENDING).update(
        state=DEAD, finished_at=clock.now(), last_error=error[:300]
    )


def drain(*, token: str | None = None, limit: int = 500, max_rounds: int = 10_000) -> Round:
    """Run every delivery due now, and those they publish, in this process (commands and tests).

    A delivery that failed and waits for its next attempt is left to wait.
    """
    token = token or new_token()
    total = Round()
    for _ in range(max_rounds):
        result = run_round(token=token, limit=limit)
        total.add(result)
        if result.claimed == 0:
            break
    return total


def deliveries_retry(ids: Sequence[int]) -> int:
    """Send dead deliveries again (an administrator's button): pending, due now, attempts counted afresh."""
    changed = EventDelivery.objects.filter(id__in=list(ids), state=DEAD).update(
        state=PENDING, attempts=0, next_attempt_at=clock.now(), claim="", finished_at=None
    )
    if changed:
        wakeup.signal_after_commit()
    return changed

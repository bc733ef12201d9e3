"""Counting attempts per key in a window, shared by every process: for sign-in failures, API token
failures, and the public links to come.

`hit(key, limit, window)` counts one attempt and says whether the key is still within its limit;
`take(key, window)` counts one and says how many its window holds and when it ends (for a
`Retry-After`, and to act once on the first attempt over a limit); `exceeded(key, limit)` asks
without counting (to refuse before even trying); `retry_after(key)` says when the window ends;
`reset(key)` forgets.
A key's window starts at its first attempt and lasts `window` seconds; the next attempt after it
starts a new one.

The default cache is per process (LocMem), so a limit kept there would hold only inside one process:
an attacker spreading guesses over the web processes, or waiting for a restart, would never meet it.
The counters live in the database (one row per key, an atomic upsert that SQLite and PostgreSQL both
run, nothing else to operate) or, when REDIS_URL is set, in Redis. Keys are stored as a keyed hash:
neither store holds a user name or an address. A count made inside a transaction that rolls back is
lost with it: call these outside one (a sign-in or an API call is not inside one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

from tracecenter.core import clock


def _digest(key: str) -> str:
    return salted_hmac("tracecenter.ratelimit", key, algorithm="sha256").hexdigest()


@dataclasses.dataclass(frozen=True)
class Window:
    attempts: int  # in the key's current window, the one just counted included
    resets_in: int  # whole seconds until the window ends (at least 1): what a `Retry-After` says


def hit(key: str, limit: int, window: int) -> bool:
    """Count one attempt for `key`; True while the attempts in its window, this one included, are at most `limit`."""
    return take(key, window).attempts <= limit


def take(key: str, window: int) -> Window:
    """Count one attempt for `key` and describe its window as it stands after it."""
    attempts, resets_at = _store().hit(_digest(key), window)
    return Window(attempts=attempts, resets_in=_seconds_until(resets_at))


def retry_after(key: str) -> int:
    """Whole seconds until `key`'s window ends (0 when it has none)."""
    resets_at = _store().resets_at(_digest(key))
    return _seconds_until(resets_at) if resets_at is not None else 0


def _seconds_until(moment: dt.datetime) -> int:
    # Rounded up, and never 0 while a window runs: a client told to wait 0 seconds would come straight back.
    return max(1, math.ceil((moment - clock.now()).total_seconds()))


def exceeded(key: str, limit: int) -> bool:
    """Whether `key` has used up its `limit` in its current window (no attempt is counted)."""
    return _store().count(_digest(key)) >= limit


def count(key: str) -> int:
    return _store().count(_digest(key))


def reset(key: str) -> None:
    _store().reset(_digest(key))


def prune() -> int:
    """Forget the windows that are over (the database store; Redis expires its keys by itself)."""
    return _store().prune()


def _as_datetime(value: Any) -> dt.datetime:
    """A timestamp as the database driver returns it from raw SQL: PostgreSQL gives a datetime, SQLite text (UTC)."""
    moment = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    if moment is None:
        raise ValueError("the rate counter's window end is not a timestamp")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


class _DatabaseStore:
    def hit(self, digest: str, window: int) -> tuple[int, dt.datetime]:
        from tracecenter.core.models import RateCounter

        now = clock.now()
        table = connection.ops.quote_name(RateCounter._meta.db_table)
        adapt = connection.ops.adapt_datetimefield_value
        params: list[Any] = [digest, adapt(now + dt.timedelta(seconds=window)), adapt(now), adapt(now)]
        # One statement, atomic on both databases: a new key starts at 1; a key whose window is over starts
        # again at 1 with a new window; otherwise one more.
        sql = (
            f"INSERT INTO {table} (digest, attempts, resets_at) VALUES (%s, 1, %s) "  # noqa: S608 (quoted identifier only)
            f"ON CONFLICT (digest) DO UPDATE SET "
            f"attempts = CASE WHEN {table}.resets_at <= %s THEN 1 ELSE {table}.attempts + 1 END, "
            f"resets_at = CASE WHEN {table}.resets_at <= %s THEN excluded.resets_at ELSE {table}.resets_at END "
            f"RETURNING attempts, resets_at"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return int(row[0]), _as_datetime(row[1])

    def count(self, digest: str) -> int:
        from tracecenter.core.models import RateCounter

        row = RateCounter.objects.filter(digest=digest, resets_at__gt=clock.now()).values_list("attempts", flat=True).first()
        return int(row or 0)

    def resets_at(self, digest: str) -> dt.datetime | None:
        from tracecenter.core.models import RateCounter

        return RateCounter.objects.filter(digest=digest, resets_at__gt=clock.now()).values_list("resets_at", flat=True).first()

    def reset(self, digest: str) -> None:
        from tracecenter.core.models import RateCounter

        RateCounter.objects.filter(digest=digest).delete()

    def prune(self) -> int:
        from tracecenter.core.models import RateCounter

        return int(RateCounter.objects.filter(resets_at__lte=clock.now()).delete()[0])


class _RedisStore:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    @staticmethod
    def _name(digest: str) -> str:
        return f"tracecenter:ratelimit:{digest}"

    def hit(self, digest: str, window: int) -> tuple[int, dt.datetime]:
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(self._name(digest))
        pipe.expire(self._name(digest), window, nx=True)  # the window starts at the first attempt
        pipe.pttl(self._name(digest))
        attempts, _set, left_ms = pipe.execute()
        return int(attempts), clock.now() + dt.timedelta(milliseconds=max(int(left_ms), 0))

    def resets_at(self, digest: str) -> dt.datetime | None:
        left_ms = int(self.client.pttl(self._name(digest)))  # type: ignore[arg-type]
        return clock.now() + dt.timedelta(milliseconds=left_ms) if left_ms > 0 else None

    def count(self, digest: str) -> int:
        value = self.client.get(self._name(digest))
        return int(value) if value is not None else 0  # type: ignore[arg-type]

    def reset(self, digest: str) -> None:
        self.client.delete(self._name(digest))

    def prune(self) -> int:
        return 0


def _store() -> _DatabaseStore | _RedisStore:
    return _redis_store(settings.REDIS_URL) if settings.REDIS_URL else _DATABASE


_DATABASE = _DatabaseStore()


@functools.lru_cache(maxsize=4)
def _redis_store(url: str) -> _RedisStore:
    return _RedisStore(url)

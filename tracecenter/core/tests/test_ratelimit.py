"""Counting attempts per key in a window, in the database or in Redis, the same for every process."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import time_machine

from tracecenter.core import clock, ratelimit
from tracecenter.core.models import RateCounter

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["database", "redis"])
def store(request, db, settings):
    if request.param == "redis":
        if not _redis_running():
            pytest.skip("Redis is not running at 127.0.0.1:6379")
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    return request.param


def fresh_key() -> str:
    return f"test:{uuid.uuid4()}"


def test_hits_are_allowed_up_to_the_limit_and_refused_after(store):
    key = fresh_key()
    assert [ratelimit.hit(key, 3, 60) for _ in range(5)] == [True, True, True, False, False]
    assert ratelimit.count(key) == 5
    assert ratelimit.exceeded(key, 3) and ratelimit.exceeded(key, 5) and not ratelimit.exceeded(key, 6)


def test_keys_are_counted_apart_and_a_reset_forgets_one(store):
    one, other = fresh_key(), fresh_key()
    ratelimit.hit(one, 1, 60)
    ratelimit.hit(one, 1, 60)
    ratelimit.hit(other, 1, 60)
    ratelimit.reset(one)
    assert (ratelimit.count(one), ratelimit.count(other)) == (0, 1)


def test_a_window_starts_at_the_first_attempt_and_a_new_one_after_it_ends(db, settings):
    settings.REDIS_URL = ""
    key = fresh_key()
    start = clock.now()
    with time_machine.travel(start, tick=False):
        ratelimit.hit(key, 2, 60)
    with time_machine.travel(start + dt.timedelta(seconds=50), tick=False):
        ratelimit.hit(key, 2, 60)
        assert not ratelimit.hit(key, 2, 60)  # the third within the window that began at the first
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert ratelimit.count(key) == 0 and not ratelimit.exceeded(key, 2)
        assert ratelimit.hit(key, 2, 60)
        assert ratelimit.count(key) == 1
    with time_machine.travel(start + dt.timedelta(seconds=200), tick=False):
        assert ratelimit.prune() == 1
    assert not RateCounter.objects.exists()


def test_take_says_how_many_and_when_the_window_ends(store):
    key = fresh_key()
    first = ratelimit.take(key, 60)
    second = ratelimit.take(key, 60)
    assert (first.attempts, second.attempts) == (1, 2)
    assert 58 <= second.resets_in <= 60
    assert 58 <= ratelimit.retry_after(key) <= 60
    assert ratelimit.retry_after(fresh_key()) == 0  # no window, nothing to wait for
    ratelimit.reset(key)


def test_the_time_to_wait_follows_the_window_and_is_never_zero_while_it_runs(db, settings):
    settings.REDIS_URL = ""
    key = fresh_key()
    start = clock.now()
    with time_machine.travel(start, tick=False):
        ratelimit.take(key, 60)
    with time_machine.travel(start + dt.timedelta(seconds=45.5), tick=False):
        assert ratelimit.take(key, 60).resets_in == 15  # rounded up
        assert ratelimit.retry_after(key) == 15
    with time_machine.travel(start + dt.timedelta(seconds=59.999), tick=False):
        assert ratelimit.retry_after(key) == 1
    with time_machine.travel(start + dt.timedelta(seconds=60), tick=False):
        assert ratelimit.retry_after(key) == 0
        assert ratelimit.take(key, 60) == ratelimit.Window(attempts=1, resets_in=60)


def test_in_redis_a_window_runs_out_by_itself(store):
    if store != "redis":
        pytest.skip("the database store is timed by the clock (above)")
    import time

    key = fresh_key()
    ratelimit.hit(key, 1, 1)
    assert ratelimit.exceeded(key, 1)
    time.sleep(1.2)
    assert not ratelimit.exceeded(key, 1)


def test_neither_store_holds_the_key_itself(store):
    key = "login:address:203.0.113.7"
    ratelimit.hit(key, 5, 60)
    if store == "database":
        assert "203.0.113.7" not in str(list(RateCounter.objects.values_list("digest", flat=True)))
    else:
        import redis

        names = [name.decode() for name in redis.Redis.from_url(REDIS_URL).scan_iter("tracecenter:ratelimit:*")]
        assert names and not any("203.0.113.7" in name for name in names)
        ratelimit.reset(key)


@pytest.mark.django_db(transaction=True)
def test_attempts_counted_by_another_process_count_here(settings):
    """What a second web process counts, this one sees: the counters are not in a per-process cache."""
    from conftest import database_url

    settings.REDIS_URL = ""
    key = fresh_key()
    code = (
        "import django; django.setup()\n"
        "from tracecenter.core import ratelimit\n"
        f"for _ in range(4): ratelimit.hit({key!r}, 3, 600)\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "tracecenter.settings"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=120)
    assert ratelimit.count(key) == 4 and ratelimit.exceeded(key, 3)

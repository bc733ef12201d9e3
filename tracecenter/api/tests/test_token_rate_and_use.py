"""Each token makes at most so many requests a minute, counted for every process (the database or Redis); past
it, 429 with Retry-After, audited once a window. Every request is counted on the token's use of the day."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import time_machine

from tracecenter.accounts.roles import Role
from tracecenter.api.models import ApiToken, ApiTokenUse
from tracecenter.api.services import api_token_create
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.core import clock

from .conftest import ApiClient


def _redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    if request.param == "redis":
        if not _redis_running():
            pytest.skip("Redis is not running at 127.0.0.1:6379")
        settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    else:
        settings.REDIS_URL = ""
    return request.param


def _client(user, name="script", **kwargs):
    token, raw = api_token_create(actor=None, user=user, name=name, scopes=["read"], days=30, **kwargs)
    return token, ApiClient(headers={"Authorization": f"Bearer {raw}"}, REMOTE_ADDR="198.51.100.7")


def test_past_its_limit_a_token_gets_429_with_retry_after_until_the_minute_is_over(world, users, settings):
    settings.REDIS_URL = ""  # the database store: it follows the test's clock, where Redis keeps its own
    settings.API_TOKEN_RATE_PER_MINUTE = 3
    token, client = _client(users[Role.CASE_INVESTIGATOR])
    start = clock.now()
    with time_machine.travel(start, tick=False):
        statuses = [client.get("/api/cases").status_code for _ in range(3)]
    with time_machine.travel(start + dt.timedelta(seconds=20), tick=False):
        refused = client.get("/api/cases")
        again = client.get("/api/cases")
    assert statuses == [200, 200, 200]
    assert refused.status_code == again.status_code == 429
    assert 39 <= int(refused["Retry-After"]) <= 41  # the minute began at the first request
    body = refused.json()
    assert set(body) == {"detail", "field"} and "more than 3 requests in a minute" in body["detail"]
    assert "items" not in body
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert client.get("/api/cases").status_code == 200
    # One audit entry for the window, however many requests it refused.
    over = AuditEntry.objects.filter(action=Action.DENIED, object_type="api_token", object_id=str(token.pk))
    assert over.count() == 1 and over.get().detail.startswith("rate limit: over 3 requests a minute")
    use = ApiTokenUse.objects.get(token=token)
    assert (use.requests, use.refusals) == (6, 2)


def test_each_token_has_its_own_count_and_may_carry_its_own_limit(world, users, settings, store):
    settings.API_TOKEN_RATE_PER_MINUTE = 2
    investigator = users[Role.CASE_INVESTIGATOR]
    _busy, busy = _client(investigator, name="busy", rate_per_minute=5)
    _other, other = _client(investigator, name="other")
    assert [busy.get("/api/cases").status_code for _ in range(6)] == [200] * 5 + [429]
    responses = [other.get("/api/cases") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 1 <= int(responses[-1]["Retry-After"]) <= 60


def test_a_session_has_no_token_limit(world, users, settings, session_client):
    settings.API_TOKEN_RATE_PER_MINUTE = 1
    client = session_client(users[Role.CASE_INVESTIGATOR])
    assert [client.get("/api/cases").status_code for _ in range(3)] == [200, 200, 200]


def test_the_lock_out_of_an_address_says_when_to_come_back(users, settings):
    settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 2
    guesser = ApiClient(REMOTE_ADDR="192.0.2.60")
    [guesser.get("/api/cases", headers={"Authorization": f"Bearer tc_guess{n}"}) for n in range(2)]
    locked = guesser.get("/api/cases", headers={"Authorization": "Bearer tc_guess3"})
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    schema = guesser.get("/api/schema", headers={"Authorization": "Bearer tc_guess4"})
    assert schema.status_code == 429 and int(schema["Retry-After"]) >= 1


def test_use_is_counted_per_token_and_day_with_when_and_where_it_was_last_let_in(world, users):
    token, client = _client(users[Role.CASE_INVESTIGATOR])
    start = clock.now().replace(hour=12)
    with time_machine.travel(start, tick=False):
        client.get("/api/cases")
        client.get(f"/api/cases/{world.far.pk}")  # another county's case: 404, not a refusal of the token
        client.post_json("/api/persons", {"first_name": "A", "last_name": "B"})  # no write scope: refused
        client.get("/api/schema")
    with time_machine.travel(start + dt.timedelta(days=1), tick=False):
        client.get("/api/cases", REMOTE_ADDR="203.0.113.9")
    days = list(ApiTokenUse.objects.filter(token=token).order_by("day").values_list("requests", "refusals"))
    assert days == [(4, 1), (1, 0)]
    token.refresh_from_db()
    assert token.last_used_from == "203.0.113.9"
    assert token.last_used_at == start + dt.timedelta(days=1)


def test_refused_calls_of_a_revoked_or_expired_token_are_counted_for_its_holder_to_see(users):
    token, client = _client(users[Role.CASE_INVESTIGATOR])
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    assert client.get("/api/cases").status_code == 401
    assert client.get("/api/schema").status_code == 401
    use = ApiTokenUse.objects.get(token=token)
    assert (use.requests, use.refusals) == (2, 2)
    token.refresh_from_db()
    assert token.last_used_at is None  # refused calls do not count as use

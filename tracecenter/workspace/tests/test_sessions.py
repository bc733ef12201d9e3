"""Sessions end a fixed time after signing in, however busy, and a user holds only a few at once."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import Client

from conftest import PASSWORD, sign_in_through_pages
from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.core import clock


def signed_in_client(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    response = sign_in_through_pages(client, User.objects.get(username=username), password)
    assert response.status_code == 302, response.content
    return client


def is_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_a_busy_session_still_ends_its_absolute_lifetime_after_signing_in(users, settings):
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    tracer = users[Role.CONTACT_TRACER]
    start = clock.now()
    with time_machine.travel(start, tick=False):
        client = signed_in_client(tracer.username)
    for minutes in (20, 40, 59):  # never idle long enough for the idle limit
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            assert is_in(client), minutes
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client.get("/api/cases").status_code == 401
    ended = AuditEntry.objects.get(action=Action.LOGOUT, actor_id=tracer.pk)
    assert ended.detail == "session ended: its absolute lifetime is over" and ended.jurisdiction_id == tracer.jurisdiction_id


def test_the_absolute_lifetime_is_twelve_hours_unless_set(settings):
    from tracecenter.core.env import env_int

    assert env_int("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60) == settings.SESSION_ABSOLUTE_SECONDS == 12 * 60 * 60
    assert settings.SESSION_MAX_PER_USER == 3


def test_a_new_sign_in_past_the_limit_ends_the_oldest_session(users, settings):
    settings.SESSION_MAX_PER_USER = 3
    supervisor = users[Role.SUPERVISOR]
    start = clock.now()
    clients = []
    for n in range(4):
        with time_machine.travel(start + dt.timedelta(minutes=n), tick=False):
            clients.append(signed_in_client(supervisor.username))
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        assert [is_in(c) for c in clients] == [False, True, True, True]
    from tracecenter.accounts.models import SignedInSession

    assert SignedInSession.objects.filter(user=supervisor).count() == 3
    ended = AuditEntry.objects.get(action=Action.LOGOUT, object_type="user", object_id=str(supervisor.pk))
    assert "1 older session(s) ended" in ended.detail


def test_signing_out_makes_room_and_sessions_that_ended_by_themselves_count_for_nothing(users, settings):
    settings.SESSION_MAX_PER_USER = 2
    tracer = users[Role.CONTACT_TRACER]
    start = clock.now()
    with time_machine.travel(start, tick=False):
        first = signed_in_client(tracer.username)
        left_idle = signed_in_client(tracer.username)
        first.post("/accounts/logout/")
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        kept = signed_in_client(tracer.username)  # two now: the one signed out made room
        assert is_in(left_idle)
    with time_machine.travel(start + dt.timedelta(minutes=25), tick=False):
        assert is_in(kept)
    # The idle one expires (30 minutes); the next sign-in then ends nothing that is still in use.
    with time_machine.travel(start + dt.timedelta(minutes=40), tick=False):
        assert is_in(kept) and not is_in(left_idle)
        newest = signed_in_client(tracer.username)
        assert is_in(kept) and is_in(newest)
    assert not AuditEntry.objects.filter(action=Action.LOGOUT, object_type="user").exists()


def test_a_password_change_keeps_its_session_counted(users, settings):
    settings.SESSION_MAX_PER_USER = 2
    tracer = users[Role.CONTACT_TRACER]
    client = signed_in_client(tracer.username)
    new_password = "a-much-longer-passphrase-2026"
    response = client.post(
        "/accounts/password/", {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password}
    )
    assert response.status_code == 302
    from tracecenter.accounts.models import SignedInSession

    assert set(SignedInSession.objects.values_list("session_key", flat=True)) == {client.session.session_key}
    assert is_in(client)


def test_sessions_that_ended_by_themselves_are_pruned_with_their_sign_in_rows(users, settings):
    from django.contrib.sessions.models import Session

    from tracecenter.accounts.jobs import prune_sessions
    from tracecenter.accounts.models import SignedInSession

    tracer, supervisor = users[Role.CONTACT_TRACER], users[Role.SUPERVISOR]
    start = clock.now()
    with time_machine.travel(start, tick=False):
        idle = signed_in_client(tracer.username)
    with time_machine.travel(start + dt.timedelta(minutes=20), tick=False):
        busy = signed_in_client(supervisor.username)
    assert SignedInSession.objects.count() == 2
    # 31 minutes on: the tracer's session idled out (30 minutes), the supervisor's is 11 minutes old.
    with time_machine.travel(start + dt.timedelta(minutes=31), tick=False):
        assert prune_sessions() == 1
        assert list(SignedInSession.objects.values_list("user_id", flat=True)) == [supervisor.pk]
        assert Session.objects.count() == 1
        assert busy.get("/").status_code == 200
        assert idle.get("/").status_code == 302  # signed out, as it already was

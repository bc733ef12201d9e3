"""Live pushes: who is told what, the socket's door, catch-up; and with Redis, across web processes.

The in-process tests drive the consumer with Channels' communicator; the Redis test runs two
web servers and a worker as separate processes, as a state would, and real WebSocket clients.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore

from conftest import database_url, run_background_work
from tracecenter.accounts import policy
from tracecenter.accounts.models import Team, User
from tracecenter.accounts.roles import Role
from tracecenter.accounts.second_factor import second_factor_passed
from tracecenter.cases.services import case_assign
from tracecenter.core.models import PushMessage
from tracecenter.workspace.live import LiveConsumer

ROOT = Path(__file__).resolve().parents[3]


def pushes_to(group: str) -> list[tuple[str, dict[str, Any]]]:
    return list(PushMessage.objects.filter(group=group).order_by("pk").values_list("kind", "data"))


# --- Who hears about what (the policy's groups).


@pytest.mark.django_db
def test_an_assignment_is_pushed_to_the_new_owner_the_old_one_the_team_and_the_jurisdictions_above(
    make_case, county, state, team, users, make_user
):
    tracer = users[Role.CONTACT_TRACER]
    other = make_user(Role.CONTACT_TRACER, county, team)
    case = make_case(county, owner=other)
    PushMessage.objects.all().delete()
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=tracer)
    assert not PushMessage.objects.exists()  # pushed by the workers, after the commit
    run_background_work()
    told = {"case_id": case.pk, "owner_id": tracer.pk}
    for group in (
        f"user.{tracer.pk}",
        f"user.{other.pk}",
        f"team.{team.pk}",
        f"jurisdiction.{county.pk}",
        f"jurisdiction.{state.pk}",
    ):
        assert ("case.assigned", told) in pushes_to(group), group
    # Nobody else: no other team, no unteamed queue (the case has a team), no other user.
    assert set(PushMessage.objects.filter(kind="case.assigned").values_list("group", flat=True)) == {
        f"user.{tracer.pk}",
        f"user.{other.pk}",
        f"team.{team.pk}",
        f"jurisdiction.{county.pk}",
        f"jurisdiction.{state.pk}",
    }


@pytest.mark.django_db
def test_pushes_carry_ids_and_never_a_name(make_case, county, users):
    case = make_case(county, first_name="Wilhelmina", last_name="Oyelaran-Pettersson")
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=users[Role.CONTACT_TRACER])
    run_background_work()
    text = json.dumps(list(PushMessage.objects.values_list("group", "kind", "data")))
    assert PushMessage.objects.exists()
    assert "Wilhelmina" not in text and "Oyelaran" not in text


@pytest.mark.django_db
def test_each_role_joins_the_groups_of_exactly_what_it_may_see(county, team, users, make_user):
    supervisor = users[Role.SUPERVISOR]
    assert policy.push_groups(supervisor) == [f"user.{supervisor.pk}", f"team.{team.pk}", f"jurisdiction.{county.pk}.unteamed"]
    epidemiologist = users[Role.EPIDEMIOLOGIST]
    assert policy.push_groups(epidemiologist) == [f"user.{epidemiologist.pk}", f"jurisdiction.{county.pk}"]
    tracer = users[Role.CONTACT_TRACER]
    assert policy.push_groups(tracer) == [f"user.{tracer.pk}"]
    for role in (Role.ADMINISTRATOR, Role.AUDITOR, Role.WORKFORCE_PLANNER, Role.QUALITY_ANALYST):
        assert policy.push_groups(users[role]) == [f"user.{users[role].pk}"]


# --- The socket.


def _past_second_factor() -> SessionBase:
    """A session (never saved) of a user who signed in with both factors."""
    session = SessionStore()
    second_factor_passed(session, "totp")
    return session


class Socket(ApplicationCommunicator):
    """A browser's socket, driven at the ASGI edge (what Channels' own test communicator does)."""

    def __init__(
        self, app: Any, user: Any = None, headers: list[tuple[bytes, bytes]] | None = None, session: SessionBase | None = None
    ) -> None:
        scope = {
            "type": "websocket",
            "path": "/live/",
            "query_string": b"",
            "headers": headers or [],
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "user": user,
            "session": session if session is not None else _past_second_factor(),
        }
        super().__init__(app, scope)

    async def connect(self) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(5)
        return answer["type"] == "websocket.accept", answer.get("code")

    async def send_text(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def receive_json(self, timeout: float = 5) -> Any:
        answer = await self.receive_output(timeout)
        assert answer["type"] == "websocket.send", answer
        return json.loads(answer["text"])

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


def communicator(user: Any) -> Socket:
    return Socket(LiveConsumer.as_asgi(), user)


@pytest.mark.django_db(transaction=True)
def test_a_session_past_its_password_only_is_refused(users):
    """The second step of the sign-in not passed: the password alone opens no live updates."""

    async def run() -> tuple[bool, int | None]:
        return await Socket(LiveConsumer.as_asgi(), users[Role.SUPERVISOR], session=SessionStore()).connect()

    assert async_to_sync(run)() == (False, 4401)


@pytest.mark.django_db(transaction=True)
def test_a_signed_out_browser_is_refused():
    async def run() -> tuple[bool, int | None]:
        comm = communicator(AnonymousUser())
        connected, code = await comm.connect()
        return connected, code

    connected, code = async_to_sync(run)()
    assert connected is False and code == 4401


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_user_is_refused(users):
    tracer = users[Role.CONTACT_TRACER]
    User.objects.filter(pk=tracer.pk).update(is_active=False)
    tracer.refresh_from_db()

    async def run() -> bool:
        connected, _code = await communicator(tracer).connect()
        return connected

    assert async_to_sync(run)() is False


@pytest.mark.django_db(transaction=True)
def test_a_browser_catches_up_on_its_groups_only_and_hostile_messages_are_ignored(make_case, county, users, make_user):
    tracer = users[Role.CONTACT_TRACER]
    stranger = make_user(Role.CONTACT_TRACER, county, username="stranger")
    mine, theirs = make_case(county), make_case(county, first_name="Other")
    case_assign(actor=users[Role.SUPERVISOR], case=mine, assignee=tracer)
    case_assign(actor=users[Role.SUPERVISOR], case=theirs, assignee=stranger)
    run_background_work()

    async def run() -> list[dict[str, Any]]:
        comm = communicator(tracer)
        connected, _ = await comm.connect()
        assert connected
        for hostile in ("not json", json.dumps({"type": "resume", "after": "0; DROP TABLE"}), json.dumps([1, 2]), "x" * 10_000):
            await comm.send_text(hostile)
        await comm.send_text(json.dumps({"type": "ping"}))
        received = [await comm.receive_json()]
        await comm.send_text(json.dumps({"type": "resume", "after": 0}))
        while not await comm.receive_nothing(timeout=0.5):
            received.append(await comm.receive_json())
        await comm.disconnect()
        return received

    received = async_to_sync(run)()
    assert received[0] == {"type": "pong"}
    told = [(m["kind"], m["data"]["case_id"]) for m in received[1:]]
    assert ("case.assigned", mine.pk) in told
    assert {case_id for _kind, case_id in told} == {mine.pk}  # nothing of the case given to someone else


# --- With Redis: two web processes and a worker process, as a state runs them.


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": "redis://127.0.0.1:6379/7",
        "WORKER_POLL_MS": "200",
        "LOG_LEVEL": "WARNING",
    }

    def start(*args: str, ready: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if ready in line:
                break
            assert time.monotonic() < deadline, f"{args[0]} did not start"
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379 (CI has one): the multi-process push needs it")
def test_with_redis_an_assignment_reaches_browsers_on_two_web_processes(processes, make_case, county, team, users, make_user):
    from django.test import Client
    from websockets.sync.client import connect

    tracer = users[Role.CONTACT_TRACER]
    supervisor = users[Role.SUPERVISOR]
    elsewhere = make_user(Role.SUPERVISOR, county, Team.objects.create(name="Team B", jurisdiction=county), username="sup.b")
    case = make_case(county)
    ports = [_free_port(), _free_port()]
    for port in ports:
        processes("serve", "--port", str(port), "--worker", "no", ready="TraceCenter is at")
        _wait_for_port(port)
    processes("worker", ready="started")

    def socket_for(stack: contextlib.ExitStack, user: User, port: int) -> Any:
        client = Client()
        client.force_login(user)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
        ws = stack.enter_context(connect(f"ws://127.0.0.1:{port}/live/", additional_headers=headers))
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}  # joined its groups
        return ws

    def kinds_until_assigned(ws: Any) -> list[tuple[str, int]]:
        heard: list[tuple[str, int]] = []
        while ("case.assigned", case.pk) not in heard:
            message = json.loads(ws.recv(timeout=10))
            heard.append((message["kind"], message["data"]["case_id"]))
        return heard

    with contextlib.ExitStack() as stack:
        tracer_ws = socket_for(stack, tracer, ports[0])
        supervisor_ws = socket_for(stack, supervisor, ports[1])
        elsewhere_ws = socket_for(stack, elsewhere, ports[1])
        case_assign(actor=supervisor, case=case, assignee=tracer)  # the worker process delivers it and pushes through Redis
        for ws in (tracer_ws, supervisor_ws):
            assert {case_id for _kind, case_id in kinds_until_assigned(ws)} == {case.pk}
        with pytest.raises(TimeoutError):
            elsewhere_ws.recv(timeout=1.5)  # another team's supervisor hears nothing of it


def test_an_origin_from_another_site_cannot_open_the_socket():
    from channels.security.websocket import AllowedHostsOriginValidator

    async def run() -> bool:
        app = AllowedHostsOriginValidator(LiveConsumer.as_asgi())
        connected, _ = await Socket(app, AnonymousUser(), headers=[(b"origin", b"https://evil.example")]).connect()
        return connected

    assert async_to_sync(run)() is False

"""The routing bench's last figure: work created -> its offer on a connected browser socket.

Used by bench/routing.py (see its docstring). The real server (`manage.py serve`, uvicorn with its two
workers inside and no Redis, the embedded default) runs on the bench's database; a tracer signed in
(a session made as a sign-in makes it, second factor passed) holds a WebSocket open on /live/; a case
is opened through `cases.services.case_open`, and the clock runs until that socket receives the push
`work.offer` naming an offer, to that tracer, of the new case's interview. Between two cases the
tracer accepts the offer and wraps the attempt up as reached (`offer_accept`, `work_wrap_up`), as a
tracer would, so that they are free for the next.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import os
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
PUSH_MODULE = "tracecenter.routing.pushes"  # the offer pushed to the tracer, by the claim itself
WARM_UP = 2  # cases opened before the measured ones: the server's first deliveries load its code and connections
TIMEOUT = 10.0  # seconds one offer may take before it counts as missed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(county_id: int, samples: int) -> tuple[Any, list[Any]]:
    """No routing left from the claim phases; one case investigator on, in one county; persons for the cases."""
    from django.db import connection

    from tracecenter.accounts.models import Jurisdiction, User
    from tracecenter.accounts.roles import Role
    from tracecenter.core import clock
    from tracecenter.people.services import PersonInput, person_create
    from tracecenter.routing.models import AgentStateChoice, AgentStatus

    with connection.cursor() as cursor:
        # What the claim phases left would keep the server's workers busy (offers timing out, deliveries, sealing).
        cursor.execute(
            "TRUNCATE routing_agentstatus, routing_workitem, routing_offer, audit_auditentry, audit_auditchainhead, "
            "core_eventdelivery, core_outboxevent, core_pushmessage CASCADE"
        )
    county = Jurisdiction.objects.get(pk=county_id)
    tracer = User.objects.create(username="bench.screen.tracer", role=Role.CASE_INVESTIGATOR, jurisdiction=county)
    now = clock.now()
    AgentStatus.objects.create(user=tracer, state=AgentStateChoice.AVAILABLE, since=now, idle_since=now)
    persons = [
        person_create(actor=None, jurisdiction=county, data=PersonInput(first_name=f"Screen{n}", last_name="Routing"))
        for n in range(samples + WARM_UP)
    ]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("CHECKPOINT")  # the claim phases' writes flushed now, not during the measured commits
    return tracer, persons


def _session_cookie(user: Any) -> str:
    """A session as a sign-in leaves it: the user, their password's hash, the second factor passed, the sign-in
    registered (accounts/sessions.py)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from tracecenter.accounts import sessions
    from tracecenter.accounts.second_factor import second_factor_passed

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    second_factor_passed(session, "totp")
    session.save()
    sessions.session_started(user=user, session=session)
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**env, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)  # the embedded default: the workers run in the server, pushes reach its sockets at once
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)
            return server
        except (urllib.error.URLError, ConnectionError) as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"manage.py serve did not answer ({exc}): {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.25)


def _offer_heard(ws: Any, tracer_id: int, case_id: int, deadline: float) -> float | None:
    """When (perf_counter) the socket received the offer of `case_id`'s work to the tracer; None if not in time."""
    from tracecenter.routing.models import Offer

    while (left := deadline - time.perf_counter()) > 0:
        try:
            message = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            return None
        heard = time.perf_counter()
        if message.get("type") != "push" or message.get("kind") != "work.offer":
            continue
        offer_id = (message.get("data") or {}).get("offer_id")
        if Offer.objects.filter(pk=offer_id, agent_id=tracer_id, item__case_id=case_id).exists():
            return heard
    return None


def measure(env: dict[str, str], county_id: int, samples: int) -> dict[str, Any]:
    if importlib.util.find_spec(PUSH_MODULE) is None:
        return {
            "offer_to_screen": f"not measured: this version has no push of offers to the screen ({PUSH_MODULE} is missing)",
        }
    from websockets.sync.client import connect

    from tracecenter.cases.services import case_open
    from tracecenter.core import clock
    from tracecenter.routing.attempts import work_wrap_up
    from tracecenter.routing.claims import offer_accept
    from tracecenter.routing.models import Offer

    tracer, persons = _prepare(county_id, samples)
    cookie = _session_cookie(tracer)
    port = _free_port()
    latencies: list[float] = []
    heard_at: dict[int, float] = {}  # case id -> when its offer reached the socket (wall clock, for the stages)
    missed = 0
    with tempfile.TemporaryDirectory(prefix="bench-routing-serve-") as tmp:
        log = Path(tmp) / "serve.log"
        server = _serve(env, port, log)
        try:
            headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
            with connect(f"ws://127.0.0.1:{port}/live/", additional_headers=headers, open_timeout=30) as ws:
                ws.send(json.dumps({"type": "ping"}))
                if json.loads(ws.recv(timeout=30)).get("type") != "pong":
                    raise RuntimeError("the live socket did not answer its ping")
                for n, person in enumerate(persons):
                    began = time.perf_counter()
                    case = case_open(actor=None, person=person, specimen_collection_date=clock.today() - dt.timedelta(days=1))
                    heard = _offer_heard(ws, tracer.pk, case.pk, began + TIMEOUT)
                    if n >= WARM_UP:
                        if heard is None:
                            missed += 1
                        else:
                            latencies.append((heard - began) * 1000)
                            heard_at[case.pk] = time.time() - (time.perf_counter() - heard)
                    offer = Offer.objects.filter(item__case_id=case.pk, agent=tracer, status="pending").first()
                    if offer is not None:  # the tracer takes it and finishes it: free for the next one
                        offer_accept(actor=tracer, offer_id=offer.pk)
                        work_wrap_up(actor=tracer, item_id=offer.item_id, disposition="reached")
                    time.sleep(0.2)  # the answer's own deliveries settle before the next case
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    ordered = sorted(latencies)

    def rank(q: float) -> float:  # the nearest-rank percentile
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)

    return {
        "offer_to_screen_samples": len(latencies),
        "offer_to_screen_missed": missed,
        "offer_to_screen_p50_ms": round(statistics.median(ordered), 1) if ordered else None,
        "offer_to_screen_p99_ms": rank(0.99) if ordered else None,
        "offer_to_screen_max_ms": round(ordered[-1], 1) if ordered else None,
        "offer_to_screen_stages_p50_ms": _stages(heard_at),
    }


def _stages(heard_at: dict[int, float]) -> dict[str, float] | None:
    """Where the time went, at the median, from the rows' own timestamps: the case stored -> its work item stored
    (the CaseOpened delivery) -> the routing pass that offered it began (the WorkItemCreated delivery's start; the
    offer's `offered_at` is the pass's moment) -> the push stored (the pass: snapshot, engine, and the claim, which
    writes the push in its own transaction) -> the socket heard it (the commit, the fan-out and the socket)."""
    from tracecenter.cases.models import Case
    from tracecenter.core.models import PushMessage
    from tracecenter.routing.models import Offer, WorkItem

    if not heard_at:
        return None
    spans: dict[str, list[float]] = {"case_to_work": [], "work_to_pass": [], "pass_to_push": [], "push_to_socket": []}
    for case_id, heard in heard_at.items():
        opened = Case.objects.get(pk=case_id).opened_at
        item = WorkItem.objects.get(case_id=case_id)
        offer = Offer.objects.get(item=item)
        pushed = PushMessage.objects.filter(kind="work.offer", data__offer_id=offer.pk).order_by("pk").first()
        if pushed is None:
            continue
        spans["case_to_work"].append((item.created_at - opened).total_seconds())
        spans["work_to_pass"].append((offer.offered_at - item.created_at).total_seconds())
        spans["pass_to_push"].append((pushed.created_at - offer.offered_at).total_seconds())
        spans["push_to_socket"].append(heard - pushed.created_at.timestamp())
    return {name: round(statistics.median(values) * 1000, 1) for name, values in spans.items() if values}


if __name__ == "__main__":  # pragma: no cover - a module of bench/routing.py
    raise SystemExit(f"run bench/routing.py (this is a part of it), not {os.path.basename(__file__)}")

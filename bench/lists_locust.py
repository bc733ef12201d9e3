"""The load of bench/lists.py, for locust: signed-in staff opening the pages of a day's work.

Run by bench/lists.py (`python -m locust -f bench/lists_locust.py --headless ...`), which writes the plan
(the accounts, their authenticator secrets, the persons and filters each opens) to LISTS_BENCH_PLAN;
the timings of every page request made once all users are signed in go to LISTS_BENCH_OUT.
Each user signs in as a person does (the password, then the 6-digit code of the authenticator app),
then loops over their pages, pausing 1 s between requests.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import os
import re
import struct
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import FastHttpUser, constant, events, task

PLAN: dict[str, Any] = json.loads(Path(os.environ["LISTS_BENCH_PLAN"]).read_text())
OUT = os.environ["LISTS_BENCH_OUT"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_next_account = itertools.count()
STATE: dict[str, Any] = {
    "measuring": False,
    "times": defaultdict(list),
    "errors": 0,
    "error_samples": [],
    "sign_ins": {"done": 0, "failed": 0},
    "started": 0.0,
    "cpu_start": {},
    "cpu_seconds": {},
    "search": {"target_on_first_page": 0, "searches": 0},
}


def totp(key_hex: str, at: float) -> str:
    """RFC 6238 with django-otp's defaults (30-second steps, 6 digits, SHA-1): what the user's app shows."""
    counter = int(at) // 30
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def _error(what: str, *, always: bool = False) -> None:
    """Count a failure: a page's while measuring; a sign-in's always (a user who could not sign in is an error)."""
    if STATE["measuring"] or always:
        STATE["errors"] += 1
        if len(STATE["error_samples"]) < 20:
            STATE["error_samples"].append(what[:200])


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, exception: Any, **_kwargs: Any) -> None:
    if not STATE["measuring"] or name == "sign_in":
        return
    if exception is not None:
        _error(f"{name}: {exception}")
    else:
        STATE["times"][name].append(response_time)


RUNNER: list[Any] = []


@events.init.add_listener
def _on_init(environment: Any, **_kwargs: Any) -> None:
    RUNNER.append(environment.runner)


def _signed_in_one() -> None:
    """Timing starts once every user has signed in (a sign-in's password hashing is no page's cost) and lasts
    the plan's seconds."""
    tried = STATE["sign_ins"]["done"] + STATE["sign_ins"]["failed"]
    if tried == len(PLAN["accounts"]) and not STATE["measuring"]:
        STATE["measuring"] = True
        STATE["started"] = time.time()
        STATE["cpu_start"] = _cpu_seconds()
        gevent.spawn_later(PLAN["seconds"], _stop)


def _cpu_seconds() -> dict[str, float]:
    """Processor seconds used so far by the server, its worker and this load generator (where each went)."""
    used = {"load_generator": time.process_time()}
    for name, pid in PLAN.get("pids", {}).items():
        try:
            process = psutil.Process(pid)
            # With --processes, the server's pages run in its child processes.
            used[name] = sum(t.user + t.system for t in [process.cpu_times(), *(c.cpu_times() for c in process.children(True))])
        except psutil.Error:
            pass
    return used


def _stop() -> None:
    end = _cpu_seconds()
    STATE["cpu_seconds"] = {name: round(end[name] - STATE["cpu_start"].get(name, 0.0), 1) for name in end}
    RUNNER[0].quit()


@events.quitting.add_listener
def _write(environment: Any, **_kwargs: Any) -> None:
    searches = STATE["search"]["searches"]
    with Path(OUT).open("w") as out:
        json.dump(
            {
                "times": STATE["times"],
                "errors": STATE["errors"],
                "error_samples": STATE["error_samples"],
                "sign_ins": STATE["sign_ins"],
                "cpu_seconds": STATE["cpu_seconds"],
                "measured_seconds": round(time.time() - STATE["started"], 1) if STATE["started"] else 0,
                "search_target_on_first_page": round(STATE["search"]["target_on_first_page"] / searches, 3) if searches else None,
            },
            out,
        )


class Staff(FastHttpUser):
    wait_time = constant(1)
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        self.account = PLAN["accounts"][next(_next_account) % len(PLAN["accounts"])]
        self.step = 0
        self.token = ""
        self.sign_in()
        first = self.account["kind"] == "supervisor"
        self.pages = [self.case_list if first else self.my_work, self.person, self.search]

    def sign_in(self) -> None:
        account = self.account
        with self.client.get("/accounts/login/", name="sign_in", catch_response=True) as page:
            token = CSRF.search(page.text or "")
        form = {
            "username": account["username"],
            "password": account["password"],
            "csrfmiddlewaretoken": token.group(1) if token else "",
        }
        with self.client.post("/accounts/login/", data=form, name="sign_in", catch_response=True) as step:
            token = CSRF.search(step.text or "")
            if "second-factor" not in (step.url or "") or token is None:
                step.failure("the password step did not lead to the second factor")
                STATE["sign_ins"]["failed"] += 1
                _error(f"sign_in {account['username']}: password step", always=True)
                _signed_in_one()
                return
        code = {"code": totp(account["totp_key"], time.time()), "csrfmiddlewaretoken": token.group(1)}
        with self.client.post("/accounts/second-factor/", data=code, name="sign_in", catch_response=True) as done:
            token = CSRF.search(done.text or "")
            if "second-factor" in (done.url or "") or done.status_code != 200:
                done.failure("the code was refused")
                STATE["sign_ins"]["failed"] += 1
                _error(f"sign_in {account['username']}: code refused", always=True)
                _signed_in_one()
                return
        with self.client.get("/persons/", name="sign_in", catch_response=True) as search_page:
            token = CSRF.search(search_page.text or "")
        self.token = token.group(1) if token else ""
        STATE["sign_ins"]["done"] += 1
        _signed_in_one()

    @task
    def next_page(self) -> None:
        page = self.pages[self.step % len(self.pages)]
        self.step += 1
        page()

    def _person(self) -> dict[str, Any] | None:
        persons = self.account["persons"]
        return persons[(self.step // len(self.pages)) % len(persons)] if persons else None

    def my_work(self) -> None:
        with self.client.get("/", name="my_work", catch_response=True) as response:
            if response.status_code != 200 or 'id="live-cases"' not in (response.text or ""):
                response.failure(f"my work: {response.status_code}")
                _error(f"my_work {response.status_code}")

    def case_list(self) -> None:
        filters = self.account["filters"]
        query = filters[(self.step // len(self.pages)) % len(filters)]
        with self.client.get(f"/?{query}", name="case_list", catch_response=True) as response:
            text = response.text or ""
            if response.status_code != 200 or 'id="queue"' not in text or 'id="caseload"' not in text:
                response.failure(f"case list: {response.status_code}")
                _error(f"case_list {query} {response.status_code}")

    def person(self) -> None:
        person = self._person()
        if person is None:
            return
        with self.client.get(f"/persons/{person['id']}/", name="person", catch_response=True) as response:
            if response.status_code != 200 or html.escape(person["last"]) not in (response.text or ""):
                response.failure(f"person page: {response.status_code}")
                _error(f"person {response.status_code}")

    def search(self) -> None:
        person = self._person()
        if person is None:
            return
        form = {"first_name": person["first"], "last_name": person["last"], "csrfmiddlewaretoken": self.token}
        with self.client.post("/persons/", data=form, name="search", catch_response=True) as response:
            text = response.text or ""
            if response.status_code != 200 or 'href="/persons/' not in text:
                response.failure(f"search: {response.status_code}")
                _error(f"search {response.status_code}")
                return
            STATE["search"]["searches"] += 1
            STATE["search"]["target_on_first_page"] += f'href="/persons/{person["id"]}/"' in text

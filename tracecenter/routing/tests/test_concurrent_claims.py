"""Several processes routing the same work at once on PostgreSQL: never one item to two tracers, never a tracer
above capacity, every tracer with room filled. Once through routing passes (which decide alike from alike snapshots),
once through claims made in a different order by each process (so that they contend for the same agents' last
places, not only for the same items)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from conftest import AROUND_THE_CLOCK, database_url
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case
from tracecenter.core import clock
from tracecenter.people.services import PersonInput, person_create
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
PROCESSES = 3
AGENTS = 30
ITEMS = 90


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks with SKIP LOCKED are PostgreSQL's; SQLite runs one writer"
)
@pytest.mark.parametrize("mode", ["route", "claim"])
def test_processes_routing_at_once_never_double_offer_nor_overfill(mode):
    # Calls at any hour: what is tested is the race, not the calling window of the hour the suite runs at.
    state = Jurisdiction.objects.create(name="Race State", code="rs", **AROUND_THE_CLOCK)
    county = Jurisdiction.objects.create(name="Race County", code="rs-c", parent=state, **AROUND_THE_CLOCK)
    now = clock.now()
    for n in range(AGENTS):
        user = User.objects.create(username=f"agent{n}", role=Role.CASE_INVESTIGATOR, jurisdiction=county)
        AgentStatus.objects.create(user=user, state=AgentStateChoice.AVAILABLE, since=now, idle_since=now, capacity={"voice": 1})
    person = person_create(actor=None, jurisdiction=county, data=PersonInput(first_name="Ana", last_name="Race"))
    for n in range(ITEMS):
        case = Case.objects.create(person=person, jurisdiction=county, priority=1 + n % 4)
        WorkItem.objects.create(kind=WorkKind.CASE_INTERVIEW, case=case, jurisdiction=county, priority=n % 3, queued_at=now)

    env = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tracecenter.routing.tests.route_process", mode, str(3 if mode == "route" else n)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and "started" in process.stdout.readline()
        for process in processes:  # as close to the same moment as a test can
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=120)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert all(p.returncode == 0 for p in processes), outputs
    claimed = sum(int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("offered"))

    pending = Offer.objects.filter(status=OfferStatus.PENDING)
    assert claimed == pending.count() == AGENTS  # every tracer filled, each offer claimed by exactly one process
    assert not pending.values("item").annotate(n=Count("id")).filter(n__gt=1).exists()  # never one item twice
    assert not pending.values("agent").annotate(n=Count("id")).filter(n__gt=1).exists()  # never above one call
    assert WorkItem.objects.filter(status=WorkStatus.OFFERED).count() == AGENTS
    assert WorkItem.objects.filter(status=WorkStatus.QUEUED).count() == ITEMS - AGENTS

"""Periodic jobs run once per period however many workers look, and say when they last ran and failed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from tracecenter.core import clock, schedule
from tracecenter.core.models import PeriodicJob

pytestmark = pytest.mark.django_db

runs: list[str] = []


def test_the_platform_declares_its_jobs() -> None:
    assert {"audit.seal", "tasks.recover", "events.prune"} <= set(schedule.jobs())


@pytest.fixture
def job() -> Iterator[None]:
    runs.clear()
    state = {"fail": False}

    def tick() -> None:
        if state["fail"]:
            raise RuntimeError("the job broke for Ana García")
        runs.append("tick")

    saved = schedule.jobs()
    schedule._JOBS.clear()  # only this test's job: the apps' own are tested where they are declared
    schedule.periodic("test.tick", every=dt.timedelta(minutes=1))(tick)
    tick.state = state  # type: ignore[attr-defined]
    yield
    schedule._JOBS.clear()
    schedule._JOBS.update(saved)


@pytest.mark.usefixtures("job")
def test_two_workers_looking_at_the_same_moment_run_the_job_once_per_period() -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        first, second = schedule.Scheduler(), schedule.Scheduler()
        assert first.run_due() + second.run_due() == 1
        assert second.run_due() == 0
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        assert schedule.Scheduler().run_due() == 0
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert schedule.Scheduler().run_due() + schedule.Scheduler().run_due() == 1
    assert runs == ["tick", "tick"]
    row = PeriodicJob.objects.get(name="test.tick")
    assert row.runs == 2 and row.failures == 0 and row.last_error == "" and row.last_duration_ms is not None


@pytest.mark.usefixtures("job")
def test_a_stale_claim_loses_to_the_worker_that_claimed_first() -> None:
    with time_machine.travel(clock.now(), tick=False):
        schedule.Scheduler().run_due()
        row = PeriodicJob.objects.get(name="test.tick")
        stale = PeriodicJob(name=row.name, next_run_at=row.next_run_at - dt.timedelta(minutes=1))
        assert schedule.run_job(stale, clock.now() + dt.timedelta(minutes=5)) is False
    assert runs == ["tick"]


@pytest.mark.usefixtures("job")
def test_periods_missed_while_no_worker_ran_are_run_once_not_caught_up() -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False):
        schedule.Scheduler().run_due()
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        assert schedule.Scheduler().run_due() == 1
        assert schedule.Scheduler().run_due() == 0
        assert PeriodicJob.objects.get(name="test.tick").next_run_at > clock.now()


@pytest.mark.usefixtures("job")
def test_a_failing_job_records_where_it_failed_and_runs_again_next_period() -> None:
    start = clock.now()
    schedule.jobs()["test.tick"].func.state["fail"] = True  # type: ignore[attr-defined]
    with time_machine.travel(start, tick=False):
        assert schedule.Scheduler().run_due() == 1
    row = PeriodicJob.objects.get(name="test.tick")
    assert row.failures == 1 and row.last_error.startswith("builtins.RuntimeError at core/tests/test_schedule.py")
    assert "García" not in row.last_error and row.last_error_at is not None
    schedule.jobs()["test.tick"].func.state["fail"] = False  # type: ignore[attr-defined]
    with time_machine.travel(start + dt.timedelta(minutes=2), tick=False):
        assert schedule.Scheduler().run_due() == 1
    assert runs == ["tick"] and PeriodicJob.objects.get(name="test.tick").runs == 2

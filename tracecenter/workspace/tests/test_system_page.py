"""The administrators' system page: workers, periodic jobs, failed work and the button that sends it again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.core import clock, schedule
from tracecenter.core.models import EventDelivery, WorkerProcess
from tracecenter.core.worker import Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_delivery(make_case, county, monkeypatch):
    """A case whose CaseOpened delivery to contacts failed every time and was given up."""
    from tracecenter.contacts import services

    def broken(**kwargs):
        raise RuntimeError("broken for Wilhelmina")

    monkeypatch.setattr(services, "link_new_case_to_exposures", broken)
    case = make_case(county, first_name="Wilhelmina")
    for _ in range(10):
        EventDelivery.objects.filter(state="pending").update(next_attempt_at=clock.now())
        run_background_work()
    monkeypatch.undo()
    return EventDelivery.objects.get(state="dead"), case


def test_the_page_shows_the_workers_the_jobs_and_the_dead_deliveries_without_personal_data(client, users, dead_delivery):
    _delivery, case = dead_delivery
    Worker(worker_id="w" * 32)._heartbeat(clock.now())  # what a running worker writes
    schedule.run_now("audit.seal")
    client.force_login(users[Role.ADMINISTRATOR])
    html = client.get(reverse("workspace:system")).content.decode()
    assert "wwwwwwww" in html and "working" in html
    assert "audit.seal" in html and "tasks.recover" in html
    assert "tracecenter.contacts.handlers.on_case_opened" in html
    assert "builtins.RuntimeError at workspace/tests/test_system_page.py" in html
    assert "Wilhelmina" not in html and case.person.last_name not in html


def test_sending_dead_work_again_runs_it_and_is_audited(client, users, dead_delivery):
    delivery, _case = dead_delivery
    admin = users[Role.ADMINISTRATOR]
    client.force_login(admin)
    response = client.post(reverse("workspace:system_retry"), {"delivery": [str(delivery.pk), "x", "-1"]})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    run_background_work()
    delivery.refresh_from_db()
    assert delivery.state == "done"
    assert AuditEntry.objects.filter(actor_id=admin.pk, object_type="system", action="update").exists()


def test_a_failed_task_can_be_run_again(client, users):
    from tracecenter.intake.tasks import ingest_upload

    task = DBTaskResult.objects.get(pk=ingest_upload.enqueue(999_999).id)
    DBTaskResult.objects.filter(pk=task.pk).update(status="FAILED", finished_at=clock.now())
    client.force_login(users[Role.ADMINISTRATOR])
    client.post(reverse("workspace:system_retry"), {"task": [str(task.pk)]})
    assert DBTaskResult.objects.get(pk=task.pk).status == "READY"
    # An id that is not one of ours is refused quietly, and changes nothing.
    assert client.post(reverse("workspace:system_retry"), {"task": ["not-a-uuid"]}).status_code == 302


def test_a_silent_worker_is_shown_as_taken_for_stopped(client, users):
    now = clock.now()
    WorkerProcess.objects.create(id="s" * 32, started_at=now, heartbeat_at=now - dt.timedelta(minutes=5))
    client.force_login(users[Role.ADMINISTRATOR])
    assert "silent: taken for stopped" in client.get(reverse("workspace:system")).content.decode()


def test_supervisors_and_tracers_cannot_open_it(client, users):
    for role in (Role.SUPERVISOR, Role.CONTACT_TRACER, Role.AUDITOR):
        client.force_login(users[role])
        assert client.get(reverse("workspace:system")).status_code == 403

"""manage.py demo_data: it runs once, every role has a login, and the same seed gives the same data.

The command's cases are opened by on-commit event handlers, so these tests commit for
real (transaction=True) instead of running inside a rolled-back transaction.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import OPEN_STATUSES, Case, CaseStatus
from tracecenter.contacts.models import Attendance, Event, Exposure, ExposureStatus, Setting, event_name_index
from tracecenter.demo.builder import DEMO_PASSWORD, DEMO_STATE_CODE, DEMO_USERS, demo_summary
from tracecenter.intake.models import LabResult, ResultClass
from tracecenter.people.models import ContactPoint, Household, Person
from tracecenter.people.normalize import phone_e164

pytestmark = pytest.mark.django_db(transaction=True)

ARGS = ("--cases", "12", "--seed", "7")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_data", *args, stdout=out)
    return out.getvalue()


def table_counts() -> dict[str, int]:
    models: list[Any] = [
        Jurisdiction,
        User,
        Household,
        Person,
        ContactPoint,
        LabResult,
        Case,
        Exposure,
        Attendance,
        Event,
        AuditEntry,
    ]
    return {model.__name__: model.objects.count() for model in models}


def fingerprint() -> list[tuple[Any, ...]]:
    """Every case in the order it was opened: its state, its person, its worker, its contacts and places."""
    cases = Case.objects.select_related("jurisdiction", "person", "owner").order_by("pk")
    return [
        (
            case.status,
            case.jurisdiction.code,
            case.person.full_name,
            case.person.date_of_birth,
            case.specimen_collection_date,
            case.symptom_onset,
            sorted(case.symptoms),
            case.priority,
            case.owner.username if case.owner else "",
            sorted(
                (e.person.full_name, e.last_exposure_date, e.setting, e.status) for e in case.exposures.select_related("person")
            ),
            sorted((a.place.name, a.arrived_at) for a in case.attendances.select_related("place")),
            case.source_exposures.exists(),
        )
        for case in cases
    ]


def test_the_first_run_creates_the_demo_and_the_second_creates_nothing() -> None:
    first_output = run(*ARGS)
    counts = table_counts()
    summary = demo_summary()
    assert summary["cases"] == 12

    second_output = run(*ARGS)

    assert "nothing was created" in second_output
    assert table_counts() == counts
    assert demo_summary() == summary
    for output in (first_output, second_output):  # the logins are printed both times
        for username in ("investigator", "tracer", "supervisor", "auditor", "tracer.valley"):
            assert username in output
        assert DEMO_PASSWORD in output


def test_every_role_has_a_demo_login_with_the_shared_password() -> None:
    run(*ARGS)

    users = User.objects.select_related("jurisdiction")
    assert {user.role for user in users} == set(Role.values)
    by_name = {user.username: user for user in users}
    for username in ("investigator", "tracer", "supervisor", "epidemiologist", "planner", "quality", "admin", "auditor"):
        assert by_name[username].jurisdiction.code == "demo-harbor"
    assert by_name["tracer.valley"].jurisdiction.code == "demo-valley"
    assert by_name["supervisor.state"].jurisdiction.parent is None  # the state, where lab feeds arrive
    assert by_name["investigator"].check_password(DEMO_PASSWORD)
    assert by_name["admin"].check_password(DEMO_PASSWORD)
    assert not any(user.is_superuser for user in users)


def test_the_printed_authenticator_secret_and_demo_code_sign_a_demo_user_in_through_both_steps(settings: Any) -> None:
    printed = run(*ARGS)
    secrets = dict(re.findall(r"^  (\S+)\s.*\s([A-Z2-7]{32})$", printed, flags=re.MULTILINE))
    assert set(secrets) == {spec.username for spec in DEMO_USERS}
    assert len(set(secrets.values())) == len(secrets)  # a secret of its own for each
    assert secrets == dict(re.findall(r"^  (\S+)\s.*\s([A-Z2-7]{32})$", run(*ARGS), flags=re.MULTILINE))  # kept

    tracer = User.objects.get(username="tracer")
    client = Client()
    assert client.post("/accounts/login/", {"username": "tracer", "password": DEMO_PASSWORD})["Location"].startswith(
        "/accounts/second-factor/"
    )
    # The code an app holding the printed secret shows, and the code demo_code prints, are the same and sign in.
    key = base64.b32decode(secrets["tracer"])
    code = io.StringIO()
    call_command("demo_code", "tracer", stdout=code, stderr=io.StringIO())
    assert code.getvalue().strip() == f"{TOTP(key).token():06d}"
    assert client.post("/accounts/second-factor/", {"code": code.getvalue().strip()})["Location"] == "/"
    assert client.get("/").status_code == 200 and str(tracer.pk) == client.session["_auth_user_id"]

    with pytest.raises(CommandError, match="not a demo user"):
        call_command("demo_code", "someone.else", stdout=io.StringIO())
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("demo_code", "tracer", stdout=io.StringIO())


def test_the_cases_are_at_every_stage_and_owned_by_the_demo_workers() -> None:
    run(*ARGS)

    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    assert Case.objects.filter(owner__username="investigator", status__in=OPEN_STATUSES).count() >= 3
    assert Exposure.objects.filter(owner__username="tracer").exists()
    assert not Case.objects.filter(status=CaseStatus.NEW, owner__isnull=False).exists()
    today = timezone.localdate()
    for case in Case.objects.all():
        assert 0 <= (today - case.specimen_collection_date).days <= 21
        assert case.rules is not None and case.rules.isolation_days == 5  # the 2022 version of the state's rules


def test_interviewed_cases_have_facts_contacts_and_places_in_their_infectious_period() -> None:
    run(*ARGS)

    interviewed = Case.objects.filter(interviewed_at__isnull=False)
    assert interviewed.exists()
    for case in interviewed:
        assert case.asymptomatic or (case.symptom_onset and case.symptoms)
        assert 1 <= case.exposures.count() <= 5
        for exposure in case.exposures.all():
            assert case.infectious_start <= exposure.last_exposure_date <= case.infectious_end
        for attendance in case.attendances.all():
            assert case.infectious_start <= timezone.localdate(attendance.arrived_at) <= case.infectious_end
    assert not Case.objects.filter(interviewed_at__isnull=True, exposures__isnull=False).exists()
    assert Exposure.objects.filter(setting=Setting.HOUSEHOLD).exists()
    assert Exposure.objects.filter(parent_exposure__isnull=False).exists()  # contacts of contacts
    # A contact who tested positive became a case, linked to the exposure.
    became = Exposure.objects.filter(resulting_case__isnull=False).select_related("resulting_case")
    assert became.exists()
    assert all(e.status == ExposureStatus.BECAME_CASE and e.resulting_case.person_id == e.person_id for e in became)
    # A place that several cases went to: the material of cluster detection.
    shared = Attendance.objects.values("place").annotate(cases=Count("case", distinct=True)).filter(cases__gte=2)
    assert shared.exists()
    rehearsal = Event.objects.get(name_bidx=event_name_index("Choir rehearsal"))  # names are encrypted
    assert timezone.localtime(rehearsal.starts_at).strftime("%A %H:%M") == "Tuesday 18:00"
    assert LabResult.objects.filter(result=ResultClass.NEGATIVE).exists()


def test_the_people_look_real() -> None:
    run(*ARGS)

    assert Household.objects.annotate(n=Count("members")).filter(n__gte=2).exists()
    languages = set(Person.objects.values_list("preferred_language", flat=True))
    assert {"en", "es"} <= languages
    for point in ContactPoint.objects.all():
        if point.kind == ContactPoint.Kind.PHONE:
            assert phone_e164(point.value) == point.value
            assert point.value[5:9] == "5550"  # the fictional 555-01xx range
        else:
            assert point.value.endswith("@example.org")


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    run(*ARGS)
    first = (demo_summary(), fingerprint())
    call_command("flush", interactive=False, verbosity=0)
    assert not Jurisdiction.objects.filter(code=DEMO_STATE_CODE).exists()

    run(*ARGS)
    assert (demo_summary(), fingerprint()) == first

    call_command("flush", interactive=False, verbosity=0)
    run("--cases", "12", "--seed", "8")
    assert fingerprint() != first[1]


def test_the_audit_chain_verifies_after_the_demo() -> None:
    run(*ARGS)
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK" in out.getvalue()
    assert AuditEntry.objects.filter(object_type="user", detail="demo data").count() == len(DEMO_USERS)


def test_taken_user_names_stop_the_demo_before_it_creates_anything() -> None:
    User.objects.create(username="admin", role=Role.ADMINISTRATOR)
    with pytest.raises(CommandError, match="admin"):
        run(*ARGS)
    assert not Jurisdiction.objects.exists()
    assert not Person.objects.exists()


@pytest.mark.django_db  # inside the test's transaction: the case-opening hooks could never run
def test_the_demo_refuses_to_run_inside_a_transaction() -> None:
    with pytest.raises(CommandError, match="outside of a transaction"):
        run(*ARGS)
    assert not Jurisdiction.objects.exists()


def test_the_demo_does_not_run_in_production(settings: Any) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run(*ARGS)
    assert not Jurisdiction.objects.exists()


def test_the_state_auditor_sees_state_level_actions_that_a_county_auditor_does_not() -> None:
    run(*ARGS)
    by_name = {user.username: user for user in User.objects.select_related("jurisdiction")}
    state_auditor, county_auditor = by_name["auditor.state"], by_name["auditor"]
    assert state_auditor.role == Role.AUDITOR and state_auditor.jurisdiction.parent is None
    # The state supervisor's account was made at state level: a state-level entry.
    query = {"object_type": "user", "object_id": str(by_name["supervisor.state"].pk)}
    client = Client()
    client.force_login(state_auditor)
    seen = client.get("/audit/", query).content.decode()
    assert "demo data" in seen.split('id="audit-entries"')[1]
    client.force_login(county_auditor)
    hidden = client.get("/audit/", query).content.decode()
    assert "demo data" not in hidden.split('id="audit-entries"')[1]

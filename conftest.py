"""Fixtures shared by the whole suite: a small state with two counties, users of every role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case
from tracecenter.core import clock, relay, tasks
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.people.models import Person
from tracecenter.people.services import PersonInput, person_create

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 -- the test users' password


def database_url() -> str:
    """The test database, as a URL for the worker and server processes a test starts."""
    from pathlib import Path

    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    return f"postgres://{settings.get('USER') or 'postgres'}@{host}:{port}/{settings['NAME']}"


def run_background_work() -> int:
    """Do here, now, what the workers would: every task and every event delivery that is due.

    The same code the workers run (core.relay, core.tasks), in the test's own process and
    transaction; returns how many pieces of work ran.
    """
    total = 0
    while True:
        ran = relay.drain().claimed + tasks.drain()
        if not ran:
            return total
        total += ran


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Argon2 is deliberately slow; tests create dozens of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def state(db: Any) -> Jurisdiction:
    return Jurisdiction.objects.create(name="Example State", code="xs")


@pytest.fixture
def county(state: Jurisdiction) -> Jurisdiction:
    return Jurisdiction.objects.create(name="North County", code="xs-north", parent=state)


@pytest.fixture
def other_county(state: Jurisdiction) -> Jurisdiction:
    return Jurisdiction.objects.create(name="South County", code="xs-south", parent=state)


@pytest.fixture
def team(county: Jurisdiction) -> Team:
    return Team.objects.create(name="Team A", jurisdiction=county)


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    counter = {"n": 0}

    def make(role: str, jurisdiction: Jurisdiction, team: Team | None = None, username: str | None = None) -> User:
        counter["n"] += 1
        user = User(
            username=username or f"{role}-{counter['n']}",
            role=role,
            jurisdiction=jurisdiction,
            team=team,
            first_name=role.replace("_", " ").title(),
            last_name=str(counter["n"]),
        )
        user.set_password(PASSWORD)
        user.save()
        return user

    return make


@pytest.fixture
def users(make_user: Callable[..., User], county: Jurisdiction, team: Team) -> dict[str, User]:
    """One user of each role in North County (the workers and the supervisor in Team A)."""
    return {
        role: make_user(role, county, team if role in {Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR} else None)
        for role in Role.values
    }


@pytest.fixture
def make_person(db: Any) -> Callable[..., Person]:
    def make(jurisdiction: Jurisdiction, **overrides: Any) -> Person:
        data = PersonInput(
            **{
                "first_name": "Ana",
                "last_name": "García",
                "date_of_birth": dt.date(1985, 3, 14),
                "phones": ["(617) 555-0134"],
                "emails": ["ana@example.org"],
                **overrides,
            }
        )
        return person_create(actor=None, jurisdiction=jurisdiction, data=data)

    return make


@pytest.fixture
def make_case(make_person: Callable[..., Person], django_capture_on_commit_callbacks: Any) -> Callable[..., Case]:
    """A case opened the way real ones are: a positive lab result, delivered through the event."""

    def make(jurisdiction: Jurisdiction, *, owner: User | None = None, days_ago: int = 2, **person: Any) -> Case:
        p = make_person(jurisdiction, **person)
        with django_capture_on_commit_callbacks(execute=True):
            lab = lab_result_record(
                actor=None,
                person=p,
                data=LabResultInput(
                    specimen_collection_date=clock.today() - dt.timedelta(days=days_ago),
                    test_loinc="94500-6",
                    result="positive",
                    test_name="SARS-CoV-2 RNA NAA",
                ),
            )
        run_background_work()
        case = Case.objects.get(lab_results=lab)
        if owner is not None:
            case.owner = owner
            case.team = owner.team
            case.save()
        return case

    return make

"""Fixtures shared by the whole suite: a small state with two counties, users of every role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.accounts.roles import Role
from tracecenter.accounts.second_factor import second_factor_passed
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


def totp_code(user: Any) -> str:
    """A code the user's authenticator app would show now (the app is set up for them if they have none).

    The code of the earliest time step the device still accepts (within its tolerance, after the last one
    used): a test may sign the same user in more than once within one 30-second step.
    """
    from django_otp.oath import TOTP, hotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
    now_step = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).t()
    step = max(now_step - device.tolerance, device.last_t + 1)
    assert step <= now_step + device.tolerance, "every code of this 30-second step was used: sign in less often in one test"
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def sign_in_through_pages(client: Any, user: Any, password: str = PASSWORD) -> Any:
    """Sign in as users do: the password on the sign-in page, then a code from the authenticator app.

    Returns the response to the second step (a redirect to where the user was going)."""
    first = client.post("/accounts/login/", {"username": user.username, "password": password})
    assert first.status_code == 302, f"the password was refused: {first.status_code}"
    return client.post("/accounts/second-factor/", {"code": totp_code(user)})


@receiver(user_logged_in)
def _test_client_sign_in_passes_second_factor(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The test client's force_login() and login() stand for a user fully signed in, as they did before the
    second factor: they mark their session as past it. They sign in through a bare HttpRequest; a request that
    came through the pages (a WSGI or ASGI request) passes the second step itself (accounts/tests/test_mfa.py,
    and the browser tests sign in with a password and a TOTP code as users do)."""
    if type(request) is HttpRequest:
        second_factor_passed(request.session, "totp")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Argon2 is deliberately slow; tests create dozens of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The test jurisdictions call at any hour, so that routing's tests do not depend on when the suite runs;
# calling windows are tested with hours of their own and time travel (routing/tests/test_attempts.py).
AROUND_THE_CLOCK = {"calling_from": dt.time(0, 0), "calling_until": dt.time(23, 59, 59)}


@pytest.fixture
def state(db: Any) -> Jurisdiction:
    return Jurisdiction.objects.create(name="Example State", code="xs", **AROUND_THE_CLOCK)


@pytest.fixture
def county(state: Jurisdiction) -> Jurisdiction:
    return Jurisdiction.objects.create(name="North County", code="xs-north", parent=state, **AROUND_THE_CLOCK)


@pytest.fixture
def other_county(state: Jurisdiction) -> Jurisdiction:
    return Jurisdiction.objects.create(name="South County", code="xs-south", parent=state, **AROUND_THE_CLOCK)


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

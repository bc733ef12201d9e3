"""A small world for the API tests: three cases, two contacts, clients signed in by session or token."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tracecenter.accounts.models import User
from tracecenter.api.scopes import usable_by
from tracecenter.api.services import api_token_create
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.people.services import PersonInput


@dataclasses.dataclass
class World:
    mine: Case  # assigned to the case investigator (team A)
    other: Case  # in the county, not assigned, no team
    far: Case  # in the other county
    contact: Exposure  # of `mine`, followed by the contact tracer
    other_contact: Exposure  # of `other`, followed by nobody


@pytest.fixture
def world(users: dict[str, User], make_case: Callable[..., Case], county: Any, other_county: Any) -> World:
    investigator = users["case_investigator"]
    mine = make_case(county, owner=investigator, first_name="Beatriz", last_name="Mineiro", phones=["(617) 555-0101"])
    other = make_case(county, first_name="Carl", last_name="Otherton", phones=["(617) 555-0102"])
    far = make_case(other_county, first_name="Dora", last_name="Farley", phones=["(617) 555-0103"])
    yesterday = clock.today() - dt.timedelta(days=1)
    contact = exposure_add(
        actor=investigator,
        case=mine,
        data=ExposureInput(last_exposure_date=yesterday),
        person=PersonInput(first_name="Eli", last_name="Contactson", date_of_birth=dt.date(1990, 1, 2)),
    )
    contact.owner = users["contact_tracer"]
    contact.save()
    other_contact = exposure_add(
        actor=None,
        case=other,
        data=ExposureInput(last_exposure_date=yesterday),
        person=PersonInput(first_name="Fay", last_name="Seconda", date_of_birth=dt.date(1970, 5, 6)),
    )
    return World(mine=mine, other=other, far=far, contact=contact, other_contact=other_contact)


class ApiClient(Client):
    """A test client that sends and reads JSON."""

    def post_json(self, path: str, data: Any, **extra: Any) -> Any:
        return self.post(path, data=json.dumps(data), content_type="application/json", **extra)


@pytest.fixture
def session_client() -> Callable[[User], ApiClient]:
    def make(user: User) -> ApiClient:
        c = ApiClient()
        c.force_login(user)
        return c

    return make


@pytest.fixture
def token_client() -> Callable[..., ApiClient]:
    def make(user: User, **kwargs: Any) -> ApiClient:
        """A client with a token of `user`: every scope their role can use and 30 days, unless the test says."""
        kwargs.setdefault("scopes", [scope.value for scope in usable_by(user)])
        kwargs.setdefault("days", 30)
        _token, raw = api_token_create(actor=None, user=user, name=kwargs.pop("name", "tests"), **kwargs)
        return ApiClient(headers={"Authorization": f"Bearer {raw}"})

    return make

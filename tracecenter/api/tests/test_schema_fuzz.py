"""The API against its own OpenAPI schema, by Schemathesis: every operation, reads and writes, with input made
to fit the schema and input made to break it, answered in-process through the real WSGI application (every
middleware, the bearer token, the audit trail) on the test database.

For every request: no server error (5xx); a status code the schema declares; a body that matches the schema
declared for that status; the declared content type and headers; input the schema forbids refused with a 4xx;
a request without the token, or with a wrong one, refused; methods the schema does not list answered 405.

The caller is a supervisor with a jurisdiction and a team, holding a real personal API token, in a small
county with cases, contacts and lab results made by the project's own services. Schemathesis draws ids and
values at random; two thirds of the input it draws to fit the schema is steered towards the records that exist
and towards values the domain accepts (a valid LOINC code, a recent date, a reason), so that writes get past
"not found" and "not valid" and the code behind them runs too: persons, lab results that open cases, contacts,
assignments and status changes are made, and their answers checked against the schema like the refusals.

The schema is the one the application itself generates (`api.get_openapi_schema()`), loaded when the module is
imported so that each operation is its own test; `test_the_schema_served_is_the_schema_tested` loads it the
way a client does, through `/api/schema` with the token, and checks that it is the same document.

It runs with the rest of the suite (`make test`, and `make test-postgres` on PostgreSQL), in about half a minute.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tracecenter.accounts.roles import Role
from tracecenter.api.api import api
from tracecenter.api.services import api_token_create
from tracecenter.core import clock
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.wsgi import application

# Examples per operation drawn at random, besides the boundary values Schemathesis derives from the schema
# (its "coverage" phase). Raise it locally to search harder: 300 runs clean in about four minutes.
EXAMPLES = 40

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": EXAMPLES},
        "checks": {
            # "Input that fits the schema must be accepted" cannot hold here: the schema says what a value looks
            # like, the services then apply the rules of the domain (a LOINC check digit, a date inside the
            # case's infectious period, a reason that is not blank, a status change the lifecycle allows, a
            # person who is not already a contact) and answer 422 naming the field. Those refusals are
            # correct; every other check stays on.
            "positive_data_acceptance": {"enabled": False},
        },
    }
)

# Loaded at import (no database needed), so that pytest lists one test per operation. Schemathesis's fixture
# loader (`schemathesis.pytest.from_fixture`), which would load it from the served endpoint inside a fixture,
# cannot run on pytest 9.2: it writes `request.node._nodeid`, which pytest no longer has.
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(), config=CONFIG)
schema.app = application  # calls go through the WSGI application, in this process and this database transaction

# The records of the test's world, by kind, for the steering below (filled by the `known` fixture).
KNOWN: dict[str, list[Any]] = {}


def _known(kind: str) -> st.SearchStrategy[Any]:
    # Looked up at each draw: every test has its own world (and, on PostgreSQL, its own ids).
    return st.integers(min_value=0, max_value=63).map(lambda i: KNOWN[kind][i % len(KNOWN[kind])])


def _days_ago(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=low, max_value=high).map(lambda days: (clock.today() - dt.timedelta(days=days)).isoformat())


# Values the domain accepts, by field name, for steered input (each fits the schema, so the input still does).
# The world's cases were tested two days ago, so their infectious periods began four days ago.
STEERED_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "specimen_collection_date": _days_ago(0, 3),
    "result_date": _days_ago(0, 0),
    "first_exposure_date": _days_ago(3, 3),
    "last_exposure_date": _days_ago(0, 2),
    "date_of_birth": st.sampled_from(["1961-07-08", "1990-01-02", "2015-05-30"]),
    "test_loinc": st.sampled_from(["94500-6", "94309-2", "94558-4", "95209-3"]),
    "result": st.sampled_from(["positive", "negative"]),
    "status": st.sampled_from(["assigned", "attempting", "interviewed", "in_isolation", "released", "closed"]),
    "reason": st.sampled_from(["Reached by phone.", "Interview done; isolating at home.", "Wrong number twice."]),
    "first_name": st.sampled_from(["Nia", "José", "Wei"]),
    "last_name": st.sampled_from(["Okafor", "Núñez", "Li"]),
    "duration_minutes": st.integers(min_value=0, max_value=600),
    "assignee_id": _known("assignee"),
    "team_id": _known("team") | st.none(),
    "jurisdiction_id": st.none(),
    "person_id": _known("person"),
}
STEERED_PATH = {"person_id": _known("person"), "case_id": _known("case"), "lab_result_id": _known("lab_result")}
STEERED_PATH["contact_id"] = _known("contact")
# A contact is a person the caller sees (`person_id`) or a new one as entered (`person`), never both.
CONTACT_PERSON = st.one_of(
    _known("person").map(lambda person_id: {"person_id": person_id, "person": None}),
    st.fixed_dictionaries({"first_name": STEERED_FIELDS["first_name"], "last_name": STEERED_FIELDS["last_name"]}).map(
        lambda person: {"person_id": None, "person": person}
    ),
)


def _printable(value: Any) -> Any:
    """Free text without the control characters the API refuses (by design: they are no one's name or street)."""
    if isinstance(value, str):
        return "".join(ch for ch in value if unicodedata.category(ch) not in {"Cc", "Cs"} or ch in "\t\n\r")
    return [_printable(item) for item in value] if isinstance(value, list) else value


def _replaced(values: dict[str, Any], choices: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({key: choices.get(key, st.just(_printable(value))) for key, value in values.items()})


def _steered(case: Any) -> st.SearchStrategy[Any]:
    path = _replaced(case.path_parameters or {}, STEERED_PATH)
    body: st.SearchStrategy[Any] = st.just(case.body)
    if isinstance(case.body, dict):
        body = _replaced(case.body, STEERED_FIELDS)
        if "last_exposure_date" in case.body:
            body = st.tuples(body, CONTACT_PERSON).map(lambda drawn: {**drawn[0], **drawn[1]})

    def build(drawn: tuple[dict[str, Any], Any]) -> Any:
        case.path_parameters, case.body = drawn
        return case

    return st.tuples(path, body).map(build)


@schema.hook
def flatmap_case(context: Any, case: Any) -> st.SearchStrategy[Any]:
    """Input drawn to fit the schema: most of it pointed at existing records, with values the domain accepts.

    Input drawn to break the schema is left as drawn: steering could replace the very part meant to be wrong.
    """
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return st.just(case)
    return st.sampled_from([True, True, False]).flatmap(lambda steer: _steered(case) if steer else st.just(case))


@pytest.fixture
def token(users) -> str:
    """A real personal API token of the supervisor, made as `manage.py api_token_create` makes one."""
    _row, raw = api_token_create(
        actor=None, user=users[Role.SUPERVISOR], name="schema fuzz", scopes=["read", "write", "ingest"], days=30
    )
    return raw


@pytest.fixture
def known(world, users, team, django_capture_on_commit_callbacks) -> None:
    """The supervisor's county as the ids to steer towards: the world's cases and contacts, and a negative result."""
    with django_capture_on_commit_callbacks(execute=True):
        negative = lab_result_record(
            actor=None,
            person=world.other_contact.person,
            data=LabResultInput(specimen_collection_date=clock.today(), test_loinc="94500-6", result="negative"),
        )
    cases = [world.mine, world.other, world.far]
    KNOWN.update(
        person=[c.person_id for c in cases] + [world.contact.person_id, world.other_contact.person_id],
        case=[c.pk for c in cases],
        lab_result=[lab.pk for c in cases for lab in c.lab_results.all()] + [negative.pk],
        contact=[world.contact.pk, world.other_contact.pk],
        assignee=[users[Role.CASE_INVESTIGATOR].pk, users[Role.CONTACT_TRACER].pk, users[Role.SUPERVISOR].pk],
        team=[team.pk],
    )


@pytest.fixture
def wsgi_in_the_test_transaction(settings) -> Iterator[None]:
    """Let requests through the WSGI application run inside the test's transaction, as Django's test client does.

    The WSGI handler closes the database connection at the start and end of each request when it is not in
    autocommit, which inside a test transaction would throw the test's data away; Django's test client
    disconnects the same receiver for the same reason.
    """
    # Schemathesis sends wrong and missing tokens on purpose, for every operation. The real limit (20 from one
    # address) then answers 429 to everything that follows, which is right for a server and the end of a test.
    settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 1_000_000
    settings.API_TOKEN_RATE_PER_MINUTE = 1_000_000  # the per-token limit would answer most of the run with 429
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    # One world per operation, shared by its examples (writes pile up in it, as they do on a server).
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case, known, token, wsgi_in_the_test_transaction):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})


def test_the_schema_served_is_the_schema_tested(token, wsgi_in_the_test_transaction):
    served = schemathesis.openapi.from_wsgi("/api/schema", application, headers={"Authorization": f"Bearer {token}"})
    assert served.raw_schema == schema.raw_schema
    labels = {operation.ok().label for operation in served.get_all_operations()}
    assert {"GET /api/persons/{person_id}", "POST /api/persons", "POST /api/cases/{case_id}/contacts"} <= labels


# Two answers the fuzzing cannot meet by chance; both were missing from the schema.


def test_an_address_locked_out_for_bad_tokens_gets_the_declared_429(token, wsgi_in_the_test_transaction, settings):
    settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 3
    case = schema["/api/cases"]["GET"].Case()
    for _ in range(3):
        assert case.call(headers={"Authorization": "Bearer tc_not-a-token"}).status_code == 401
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 429


def test_a_body_that_is_not_json_gets_the_declared_400(token, wsgi_in_the_test_transaction):
    case = schema["/api/persons/search"]["POST"].Case(body={"last_name": "Okafor"})
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, data=b'{"last_name": ')
    assert response.status_code == 400

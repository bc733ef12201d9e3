"""Walks every page of the site with every role and asserts allow or deny.

A new URL fails this test until someone states who may open it: access is a
decision, not an accident.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry

ALL = set(Role.values)
WORKERS = {Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR}
VIEWERS = WORKERS | {Role.EPIDEMIOLOGIST}
INGESTERS = {Role.SUPERVISOR, Role.EPIDEMIOLOGIST}
ADMINS = {Role.ADMINISTRATOR}

# url name -> (method, roles allowed). Allowed means 2xx/3xx; everyone else gets 403 (or the login page when signed out).
MATRIX: dict[str, tuple[str, set[str]]] = {
    "workspace:my_work": ("get", ALL),
    "workspace:case_detail": ("get", VIEWERS),
    "workspace:interview": ("get", WORKERS),
    "workspace:derived_dates": ("post", WORKERS),
    "workspace:case_status": ("post", WORKERS),
    "workspace:case_assign": ("post", {Role.SUPERVISOR}),
    "workspace:case_transfer": ("post", {Role.SUPERVISOR}),
    "workspace:contact_detail": ("get", VIEWERS),
    "workspace:audit_log": ("get", {Role.AUDITOR}),
    "workspace:intake_upload": ("get", INGESTERS),
    "workspace:intake_batch": ("get", INGESTERS),
    "workspace:intake_batch_progress": ("get", INGESTERS),
    "workspace:intake_message": ("get", INGESTERS),
    "workspace:match_reviews": ("get", {Role.SUPERVISOR}),
    "workspace:match_review": ("get", {Role.SUPERVISOR}),
    "workspace:merge_undo": ("post", {Role.SUPERVISOR}),
    "workspace:system": ("get", {Role.ADMINISTRATOR}),
    "workspace:system_retry": ("post", {Role.ADMINISTRATOR}),
    "accounts:password_change": ("get", ALL),
    # Administration: administrators only, and none of these pages shows a case, contact or person.
    "workspace:admin_jurisdictions": ("get", ADMINS),
    "workspace:admin_jurisdiction_edit": ("get", ADMINS),
    "workspace:admin_jurisdiction_create": ("get", ADMINS),
    "workspace:admin_jurisdiction_delete": ("post", ADMINS),
    "workspace:admin_team_create": ("get", ADMINS),
    "workspace:admin_team_edit": ("get", ADMINS),
    "workspace:admin_skills": ("get", ADMINS),
    "workspace:admin_users": ("get", ADMINS),
    "workspace:admin_user_create": ("get", ADMINS),
    "workspace:admin_user_edit": ("get", ADMINS),
    "workspace:admin_user_deactivate": ("post", ADMINS),
    "workspace:admin_user_reactivate": ("post", ADMINS),
    "workspace:admin_user_password_reset": ("post", ADMINS),
    "workspace:admin_rule_sets": ("get", ADMINS),
    "workspace:admin_rule_set_edit": ("get", ADMINS),
    "workspace:admin_rule_set_delete": ("post", ADMINS),  # last: it deletes the version the page before opens
}
# Pages that list (no record id in the URL): an outsider's refusal there is by role, tested above.
LISTS = {
    "workspace:my_work",
    "workspace:audit_log",
    "workspace:intake_upload",
    "workspace:match_reviews",
    "workspace:system",
    "workspace:system_retry",
    "accounts:password_change",  # everyone's own
}
PUBLIC = {"accounts:login", "accounts:logout", "set_language"}


def _names(resolver: URLResolver, namespace: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _names(entry, ns)
        elif entry.name:
            found.append((namespace + entry.name, entry))
    return found


def test_every_page_has_a_stated_access_rule():
    names = {name for name, _ in _names(get_resolver()) if not name.startswith(("api", "tc_api"))}
    assert names - set(MATRIX) - PUBLIC == set(), "state who may open these pages in MATRIX"


@pytest.fixture
def world(users, make_case, make_person, county, other_county, make_user):
    from django.urls import reverse

    from tracecenter.accounts.models import Team
    from tracecenter.cases.models import RuleSet
    from tracecenter.contacts.services import ExposureInput, exposure_add
    from tracecenter.intake.models import InboundMessage, IntakeBatch
    from tracecenter.people.identity import match_review_open
    from tracecenter.people.merge import person_merge
    from tracecenter.people.services import PersonInput

    investigator = users[Role.CASE_INVESTIGATOR]
    tracer = users[Role.CONTACT_TRACER]
    case = make_case(county, owner=investigator)
    exposure = exposure_add(
        actor=investigator,
        case=case,
        person=PersonInput(first_name="Luis", last_name="Pérez"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    exposure.owner = tracer
    exposure.save()
    batch = IntakeBatch.objects.create(source=IntakeBatch.Source.UPLOAD, filename="results.csv", jurisdiction=county)
    message = InboundMessage.objects.create(
        batch=batch, format="csv", raw="a,b\n1,2", content_key="k1", jurisdiction=county, state=InboundMessage.State.REJECTED
    )
    twin_a = make_person(county, first_name="Rosa", phones=[], emails=[])
    twin_b = make_person(county, first_name="Rosa", phones=[], emails=[])
    review = match_review_open(
        jurisdiction_id=county.pk, incoming_id=twin_a.pk, candidate_id=twin_b.pk, score=15.0, comparison=[], source="test"
    )
    merge = person_merge(actor=None, survivor=make_person(county, first_name="Eva"), merged=make_person(county, first_name="Eve"))
    # For the administration pages: a user to deactivate and reset, a team, a rule version no case was judged by.
    staff = make_user(Role.CONTACT_TRACER, county, username="staff.north")
    team = Team.objects.get(jurisdiction=county)
    unused_rules = RuleSet.objects.create(jurisdiction=county, effective_from=dt.date(2021, 6, 1))
    # Contacts and cases of the same role holders: investigator holds the case, tracer the contact.
    args = {
        "workspace:contact_detail": exposure.pk,
        "workspace:intake_batch": batch.pk,
        "workspace:intake_batch_progress": batch.pk,
        "workspace:intake_message": message.pk,
        "workspace:match_review": review.pk,
        "workspace:merge_undo": merge.pk,
        **dict.fromkeys(
            ["workspace:admin_jurisdiction_edit", "workspace:admin_jurisdiction_create", "workspace:admin_jurisdiction_delete"],
            county.pk,
        ),
        "workspace:admin_team_create": county.pk,
        "workspace:admin_rule_sets": county.pk,
        "workspace:admin_team_edit": team.pk,
        **dict.fromkeys(
            [
                "workspace:admin_user_edit",
                "workspace:admin_user_deactivate",
                "workspace:admin_user_reactivate",
                "workspace:admin_user_password_reset",
            ],
            staff.pk,
        ),
        "workspace:admin_rule_set_edit": unused_rules.pk,
        "workspace:admin_rule_set_delete": unused_rules.pk,
    }
    urls = {
        name: reverse(name, args=[args.get(name, case.pk)])
        if name in args
        or name.split(":")[1] in {"case_detail", "interview", "derived_dates", "case_status", "case_assign", "case_transfer"}
        else reverse(name)
        for name in MATRIX
    }
    return {"case": case, "exposure": exposure, "urls": urls, "outsider": make_user(Role.CASE_INVESTIGATOR, other_county)}


# Which role may see which of the two records: workers see what is assigned to them (or to the contacts they follow).
def _allowed(role: str, name: str) -> bool:
    _, roles = MATRIX[name]
    return role in roles


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_is_allowed_or_refused_each_page(client: Client, world, users, role):
    user = users[role]
    client.force_login(user)
    for name, (method, _roles) in MATRIX.items():
        url = world["urls"][name]
        data = {"status": "attempting", "reason": "called, no answer", "case-asymptomatic": "on"} if method == "post" else None
        response = getattr(client, method)(url, data=data) if data else getattr(client, method)(url)
        allowed = _allowed(role, name)
        if allowed:
            assert response.status_code < 400, f"{role} should open {name}, got {response.status_code}"
        else:
            assert response.status_code == 403, f"{role} must be refused {name}, got {response.status_code}"


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_a_worker_of_another_county_is_refused_every_record_page(client: Client, world, name):
    client.force_login(world["outsider"])
    method, _roles = MATRIX[name]
    if name in LISTS:
        return
    before = AuditEntry.objects.filter(action="denied").count()
    response = getattr(client, method)(world["urls"][name])
    # A page the role may open answers 404 for another county's record, as for an id that does not exist (the
    # trail records the refusal); a page the role may not open at all is 403, whatever the record.
    assert response.status_code == (404 if _allowed(Role.CASE_INVESTIGATOR, name) else 403), response.status_code
    assert AuditEntry.objects.filter(action="denied").count() == before + 1


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_signed_out_visitors_are_sent_to_sign_in(client: Client, world, name):
    method, _ = MATRIX[name]
    response = getattr(client, method)(world["urls"][name])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_tracer_sees_the_contact_they_follow_but_not_another_workers_case(client: Client, world, users, make_case, county):
    from django.urls import reverse

    client.force_login(users[Role.CONTACT_TRACER])
    assert client.get(world["urls"]["workspace:contact_detail"]).status_code == 200
    # The tracer follows a contact of this case, so they see the case ...
    assert client.get(world["urls"]["workspace:case_detail"]).status_code == 200
    # ... but not a case of the same county and team that has nothing to do with them.
    unrelated = make_case(county, owner=users[Role.CASE_INVESTIGATOR], first_name="Otra")
    assert client.get(reverse("workspace:case_detail", args=[unrelated.pk])).status_code == 404


def test_reading_a_case_is_audited_without_personal_values(client: Client, world, users):
    client.force_login(users[Role.CASE_INVESTIGATOR])
    client.get(world["urls"]["workspace:case_detail"])
    entry = AuditEntry.objects.filter(action="read", object_type="case").latest("pk")
    assert entry.object_id == str(world["case"].pk)
    assert entry.actor_username == users[Role.CASE_INVESTIGATOR].username
    assert entry.ip_address == "127.0.0.1"
    assert "García" not in str(entry.__dict__) and "Ana" not in entry.detail


# The API's allow side is proven endpoint by endpoint in tracecenter/api/tests/test_permissions.py;
# here every API route is walked for the deny side, so a new route cannot ship open.
API_PUBLIC = {"tc_api:openapi-json", "tc_api:openapi-view", "tc_api:api-root", "tc_api_docs_asset"}
NO_RECORD_ROLES = sorted({Role.WORKFORCE_PLANNER, Role.QUALITY_ANALYST, Role.ADMINISTRATOR, Role.AUDITOR})


def _api_routes(world) -> list[tuple[str, str]]:
    from django.urls import reverse

    ids = {
        "person_id": world["case"].person_id,
        "case_id": world["case"].pk,
        "contact_id": world["exposure"].pk,
        "lab_result_id": world["case"].lab_results.first().pk,
    }
    routes = []
    for name, pattern in _names(get_resolver()):
        if not name.startswith("tc_api") or name in API_PUBLIC:
            continue
        routes.append((name, reverse(name, kwargs={k: v for k, v in ids.items() if f"<{k}>" in str(pattern.pattern)})))
    return routes


def test_signed_out_callers_are_refused_every_api_route(client: Client, world):
    routes = _api_routes(world)
    assert len(routes) >= 10
    for name, url in routes:
        for response, method in (
            (client.get(url), "GET"),
            (client.post(url, data="{}", content_type="application/json"), "POST"),
        ):
            assert response.status_code in {401, 405}, f"{method} {name} answered {response.status_code} signed out"


@pytest.mark.parametrize("role", NO_RECORD_ROLES)
def test_roles_without_records_get_no_personal_data_from_any_api_route(client: Client, world, users, role):
    client.force_login(users[role])
    answered = set()
    for name, url in _api_routes(world):
        response = client.get(url)
        answered.add(response.status_code)
        if response.status_code == 405:
            continue
        body = response.content.decode()
        assert response.status_code in {403, 404} or '"items": []' in body.replace('":[]', '": []'), (name, response.status_code)
        assert "García" not in body and "Pérez" not in body
    assert 403 in answered  # the walk reached the API, not only method-not-allowed answers


def test_a_case_page_out_of_reach_looks_like_a_case_that_does_not_exist(client: Client, world):
    from django.urls import reverse

    client.force_login(world["outsider"])
    hidden = client.get(reverse("workspace:case_detail", args=[world["case"].pk]))
    absent = client.get(reverse("workspace:case_detail", args=[world["case"].pk + 1000]))
    assert hidden.status_code == absent.status_code == 404
    assert hidden.content == absent.content
    denied = AuditEntry.objects.filter(action="denied", actor_id=world["outsider"].pk)
    assert list(denied.values_list("object_type", "object_id")) == [("case", str(world["case"].pk))]

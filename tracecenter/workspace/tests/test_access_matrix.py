"""Walks every page of the site with every role and asserts allow or deny.

A new URL fails this test until someone states who may open it: access is a
decision, not an accident.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry

ALL = set(Role.values)
WORKERS = {Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR}
VIEWERS = WORKERS | {Role.EPIDEMIOLOGIST}
INGESTERS = {Role.SUPERVISOR, Role.EPIDEMIOLOGIST}
# The case's owner and their team's supervisor. The contact tracer of the world below follows one contact
# of the case: they see the case's summary through it (case_detail), and may change nothing on the case.
CASE_EDITORS = {Role.CASE_INVESTIGATOR, Role.SUPERVISOR}
ADMINS = {Role.ADMINISTRATOR}

# url name -> (method, roles allowed). Allowed means 2xx/3xx; everyone else gets 403 (or the login page when signed out).
MATRIX: dict[str, tuple[str, set[str]]] = {
    "workspace:my_work": ("get", ALL),
    "workspace:bulk_assign": ("post", {Role.SUPERVISOR}),  # each record then checked on its own
    # The routing desk: roles that take routed work, each on their own state, offers and work only
    # (test_desk.py: another's offer or work is refused).
    "workspace:agent_state": ("post", WORKERS),
    "workspace:next_task": ("post", WORKERS),
    "workspace:offer_accept": ("post", WORKERS),
    "workspace:offer_reject": ("post", WORKERS),
    "workspace:wrap_up": ("post", WORKERS),
    "workspace:routing_board": ("get", {Role.SUPERVISOR, Role.EPIDEMIOLOGIST}),  # epidemiologists watch, supervisors act
    "workspace:line_list": ("get", INGESTERS),  # supervisors and epidemiologists: the roles that export
    "workspace:case_detail": ("get", VIEWERS),  # the contact tracer: the case's summary only
    "workspace:interview": ("get", CASE_EDITORS),
    "workspace:derived_dates": ("post", CASE_EDITORS),
    "workspace:case_status": ("post", CASE_EDITORS),
    "workspace:case_assign": ("post", {Role.SUPERVISOR}),
    "workspace:case_transfer": ("post", {Role.SUPERVISOR}),
    "workspace:contact_detail": ("get", VIEWERS),
    # The person pages (the person of the contact: the case's owner, the contact's tracer, supervisor, epidemiologist).
    "workspace:person_search": ("get", VIEWERS),
    "workspace:person_detail": ("get", VIEWERS),
    "workspace:person_edit": ("get", WORKERS),  # epidemiologists read only
    "workspace:case_report": ("get", {Role.CASE_INVESTIGATOR, Role.SUPERVISOR}),
    "workspace:contact_add": ("get", CASE_EDITORS),
    # The contact's tracer, its case's investigator and their team's supervisor work on it; the supervisor assigns.
    "workspace:contact_status": ("post", WORKERS),
    "workspace:contact_call": ("post", WORKERS),
    "workspace:contact_exposure": ("post", WORKERS),
    "workspace:contact_assign": ("post", {Role.SUPERVISOR}),
    "workspace:audit_log": ("get", {Role.AUDITOR, Role.PRIVACY_OFFICER}),
    "workspace:person_access": ("get", {Role.AUDITOR, Role.PRIVACY_OFFICER}),
    "workspace:user_access": ("get", {Role.AUDITOR, Role.PRIVACY_OFFICER}),
    "workspace:intake_upload": ("get", INGESTERS),
    "workspace:intake_batch": ("get", INGESTERS),
    "workspace:intake_batch_progress": ("get", INGESTERS),
    "workspace:intake_message": ("get", INGESTERS),
    "workspace:match_reviews": ("get", {Role.SUPERVISOR}),
    "workspace:match_review": ("get", {Role.SUPERVISOR}),
    "workspace:merge_undo": ("post", {Role.SUPERVISOR}),
    "workspace:system": ("get", {Role.ADMINISTRATOR}),
    "workspace:retention": ("get", {Role.PRIVACY_OFFICER}),
    "workspace:access_review": ("get", {Role.AUDITOR, Role.PRIVACY_OFFICER}),
    "workspace:retention_rule": ("post", {Role.PRIVACY_OFFICER}),
    "workspace:legal_hold_place": ("post", {Role.PRIVACY_OFFICER}),
    "workspace:legal_hold_lift": ("post", {Role.PRIVACY_OFFICER}),
    "workspace:break_glass": ("get", WORKERS),  # those who see part of their jurisdiction
    "workspace:break_glass_reviews": ("get", {Role.PRIVACY_OFFICER}),
    "workspace:break_glass_review": ("post", {Role.PRIVACY_OFFICER}),
    "workspace:system_retry": ("post", {Role.ADMINISTRATOR}),
    "accounts:password_change": ("get", ALL),
    "accounts:second_factor": ("get", ALL),
    "accounts:second_factor_setup": ("get", ALL),
    "accounts:security": ("get", ALL),
    "accounts:recovery_codes_new": ("post", ALL),
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
    "workspace:admin_user_second_factors_reset": ("post", ADMINS),
    "workspace:admin_rule_sets": ("get", ADMINS),
    "workspace:admin_conditions": ("get", ADMINS),
    "workspace:admin_condition_test_add": ("post", ADMINS),
    "workspace:admin_condition_test_remove": ("post", ADMINS),
    # Routing: administrators and supervisors see their state's queues; administrators open a queue (a county's
    # previews it and changes nothing). Surge mode is switched by the state's own administrators and supervisors
    # only, so every role of this county-level world is refused it (test_routing_admin.py shows who may).
    "workspace:admin_routing": ("get", ADMINS | {Role.SUPERVISOR}),
    "workspace:admin_routing_queue": ("get", ADMINS),
    "workspace:admin_routing_surge": ("post", set()),
    # API tokens: each holder their own (roles with a use for the API), administrators those of their jurisdiction.
    "tokens:mine": ("get", VIEWERS),
    "tokens:revoke_mine": ("post", VIEWERS),
    "tokens:administered": ("get", ADMINS),
    "tokens:revoke": ("post", ADMINS),
    "workspace:admin_rule_set_edit": ("get", ADMINS),
    "workspace:admin_rule_set_delete": ("post", ADMINS),  # last: it deletes the version the page before opens
}
# Pages that list (no record id in the URL): an outsider's refusal there is by role, tested above.
LISTS = {
    "workspace:my_work",
    "workspace:person_search",
    "workspace:case_report",
    "workspace:bulk_assign",
    "workspace:routing_board",
    "workspace:line_list",
    "workspace:audit_log",
    "workspace:person_access",
    "workspace:user_access",
    "workspace:intake_upload",
    "workspace:match_reviews",
    "workspace:system",
    "workspace:system_retry",
    "workspace:retention",
    "workspace:access_review",
    "workspace:retention_rule",
    "workspace:legal_hold_place",
    "workspace:break_glass",
    "workspace:break_glass_reviews",
    "accounts:password_change",  # everyone's own
    "accounts:second_factor",
    "accounts:second_factor_setup",
    "accounts:security",
    "accounts:recovery_codes_new",
    "tokens:mine",  # everyone's own
    "tokens:revoke_mine",  # the token is named in the form, and must be the user's own
    "tokens:administered",
    "workspace:admin_routing",  # the user's own state
    "workspace:agent_state",  # the routing desk: the user's own state, offers and work
    "workspace:next_task",
    "workspace:offer_accept",
    "workspace:offer_reject",
    "workspace:wrap_up",
}
CONDITION_TEST = {"loinc": "94309-2", "condition": "covid-19", "kind": "molecular"}
PUBLIC = {"accounts:login", "accounts:logout", "accounts:sso_start", "accounts:sso_callback", "set_language"}
# The security-key calls of the second step and of each user's sign-in security page (JSON, on the user's own keys
# only; accounts/tests/test_mfa.py tries them signed out, past the password only, and with another user's key).
OWN_KEYS = {
    "accounts:security_key_challenge",
    "accounts:security_key_check",
    "accounts:security_key_options",
    "accounts:security_key_add",
    "accounts:security_key_remove",
}


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
    assert names - set(MATRIX) - PUBLIC - OWN_KEYS == set(), "state who may open these pages in MATRIX"


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
    from tracecenter.api.services import api_token_create

    staff_token, _raw = api_token_create(actor=None, user=staff, name="nightly", scopes=["read"], days=30)
    team = Team.objects.get(jurisdiction=county)
    unused_rules = RuleSet.objects.create(jurisdiction=county, effective_from=dt.date(2021, 6, 1))
    from tracecenter.intake.models import ConditionTest

    local_test = ConditionTest.objects.create(jurisdiction=county, loinc="94500-6", condition="covid-19", kind="molecular")
    from tracecenter.audit.models import LegalHold

    hold = LegalHold.objects.create(person_id=1, reason="Records request", placed_by=users[Role.PRIVACY_OFFICER])
    from tracecenter.accounts.services import access_grant_break_glass

    grant = access_grant_break_glass(
        actor=make_user(Role.CONTACT_TRACER, county), record_type="cases.case", object_id=case.pk, reason="Hotline callback"
    )
    # Contacts and cases of the same role holders: investigator holds the case, tracer the contact.
    args = {
        **dict.fromkeys(
            [
                "workspace:contact_detail",
                "workspace:contact_status",
                "workspace:contact_call",
                "workspace:contact_exposure",
                "workspace:contact_assign",
            ],
            exposure.pk,
        ),
        "workspace:person_detail": exposure.person_id,
        "workspace:person_edit": exposure.person_id,
        "workspace:contact_add": case.pk,
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
        "workspace:admin_conditions": county.pk,
        "workspace:admin_condition_test_add": county.pk,
        "workspace:admin_condition_test_remove": local_test.pk,
        "workspace:admin_team_edit": team.pk,
        "workspace:admin_routing_queue": county.parent_id,
        "workspace:admin_routing_surge": county.parent_id,
        **dict.fromkeys(
            [
                "workspace:admin_user_edit",
                "workspace:admin_user_deactivate",
                "workspace:admin_user_reactivate",
                "workspace:admin_user_password_reset",
                "workspace:admin_user_second_factors_reset",
            ],
            staff.pk,
        ),
        "workspace:admin_rule_set_edit": unused_rules.pk,
        "workspace:admin_rule_set_delete": unused_rules.pk,
        "workspace:legal_hold_lift": hold.pk,
        "workspace:break_glass_review": grant.pk,
        "tokens:revoke": staff_token.pk,
        # No offer or work is anyone's here: a role that takes work is told so (a redirect), the others refused.
        **dict.fromkeys(["workspace:offer_accept", "workspace:offer_reject", "workspace:wrap_up"], case.pk),
    }
    urls = {
        name: reverse(name, args=[args.get(name, case.pk)])
        if name in args
        or name.split(":")[1] in {"case_detail", "interview", "derived_dates", "case_status", "case_assign", "case_transfer"}
        else reverse(name)
        for name in MATRIX
    }
    return {
        "case": case,
        "exposure": exposure,
        "batch": batch,
        "urls": urls,
        "outsider": make_user(Role.CASE_INVESTIGATOR, other_county),
        # What a POST sends when it is not POST_DATA: a valid change, so that an allowed role gets through.
        "post_data": {
            "workspace:contact_status": {"status": "notified"},
            "workspace:contact_exposure": {"last_exposure_date": exposure.last_exposure_date.isoformat()},
        },
    }


POST_DATA = {
    "status": "attempting",
    "reason": "called, no answer",
    "case-asymptomatic": "on",
    "outcome": "no_answer",
    **CONDITION_TEST,  # a test to add to a jurisdiction's conditions
}


# Which role may see which of the two records: workers see what is assigned to them (or to the contacts they follow).
def _allowed(role: str, name: str) -> bool:
    _, roles = MATRIX[name]
    return role in roles


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_is_allowed_or_refused_each_page(client: Client, world, users, role):
    user = users[role]
    client.force_login(user)
    refusals = AuditEntry.objects.filter(action="denied", actor_id=user.pk).count()
    for name, (method, _roles) in MATRIX.items():
        url = world["urls"][name]
        data = {**POST_DATA, **world["post_data"].get(name, {})} if method == "post" else None
        response = getattr(client, method)(url, data=data) if data else getattr(client, method)(url)
        allowed = _allowed(role, name)
        if allowed:
            assert response.status_code < 400, f"{role} should open {name}, got {response.status_code}"
        else:
            # 403 for a page the role may not use; 404 for a record of it out of this user's reach (as for a
            # missing id, docs/security.md); both audited.
            assert response.status_code in (403, 404), f"{role} must be refused {name}, got {response.status_code}"
            denied = AuditEntry.objects.filter(action="denied", actor_id=user.pk).count()
            assert denied > refusals, f"{role} refused {name} without an audit entry"
            refusals = denied


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
    # The tracer follows a contact of this case, so they see the case's summary ...
    assert client.get(world["urls"]["workspace:case_detail"]).status_code == 200
    # ... but not a case of the same county and team that has nothing to do with them.
    unrelated = make_case(county, owner=users[Role.CASE_INVESTIGATOR], first_name="Otra")
    assert client.get(reverse("workspace:case_detail", args=[unrelated.pk])).status_code == 404


def test_a_tracer_who_follows_a_contact_sees_the_cases_summary_and_not_its_person(client: Client, world, users):
    case = world["case"]
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.get(world["urls"]["workspace:case_detail"])
    assert response.status_code == 200
    assert response.templates[0].name == "workspace/case_summary.html"
    html = response.content.decode()
    # What notifying and quarantining the contact needs: the case's dates and the contact they follow.
    assert f"{case.infectious_start:%Y-%m-%d} – {case.infectious_end:%Y-%m-%d}" in html
    assert world["urls"]["workspace:contact_detail"] in html and "Luis Pérez" in html
    # Not the case's person, results, interview or other records.
    for withheld in ("Ana", "García", "555-0134", "ana@example.org", "1985-03-14", "SARS-CoV-2", "Timeline", "Lab results"):
        assert withheld not in html, withheld
    assert reverse("workspace:interview", args=[case.pk]) not in html
    assert reverse("workspace:case_status", args=[case.pk]) not in html


def test_a_tracer_who_follows_a_contact_may_change_nothing_on_the_case(client: Client, world, users):
    case = world["case"]
    tracer = users[Role.CONTACT_TRACER]
    client.force_login(tracer)
    before = AuditEntry.objects.filter(action="denied", actor_username=tracer.username).count()
    refused = [
        client.get(world["urls"]["workspace:interview"]),
        client.post(world["urls"]["workspace:interview"], {"case-asymptomatic": "on"}),
        client.post(world["urls"]["workspace:derived_dates"], {"case-asymptomatic": "on"}),
        client.post(world["urls"]["workspace:case_status"], {"status": "attempting", "reason": "called"}),
        client.post(world["urls"]["workspace:case_assign"], {"assignee": tracer.pk}),
        client.post(world["urls"]["workspace:case_transfer"], {"reason": "moved"}),
    ]
    # Editing the case: not found, as for any case out of reach; assigning and transferring: not their role's.
    assert [r.status_code for r in refused] == [404] * 4 + [403] * 2
    assert AuditEntry.objects.filter(action="denied", actor_username=tracer.username).count() == before + 6
    case.refresh_from_db()
    assert case.status == "new" and case.owner == users[Role.CASE_INVESTIGATOR] and case.symptoms == []


def test_the_cases_owner_keeps_the_whole_case_and_its_actions(client: Client, world, users):
    client.force_login(users[Role.CASE_INVESTIGATOR])
    html = client.get(world["urls"]["workspace:case_detail"]).content.decode()
    assert "Ana García" in html and "SARS-CoV-2" in html
    assert reverse("workspace:interview", args=[world["case"].pk]) in html
    response = client.post(world["urls"]["workspace:case_status"], {"status": "attempting", "reason": "called"})
    assert response.status_code == 302
    world["case"].refresh_from_db()
    assert world["case"].status == "attempting"


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
        "batch_id": world["batch"].pk,
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
    # The same page, but for the CSRF tokens of its forms (the site's header), new at every rendering.
    from tracecenter.workspace.tests.test_error_pages import without_csrf_tokens

    assert without_csrf_tokens(hidden.content.decode()) == without_csrf_tokens(absent.content.decode())
    denied = AuditEntry.objects.filter(action="denied", actor_id=world["outsider"].pk)
    assert list(denied.values_list("object_type", "object_id")) == [("case", str(world["case"].pk))]

"""Breaking the glass: a record outside one's reach, opened with a reason, read only, for a while, reviewed."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from tracecenter.accounts import policy
from tracecenter.accounts.models import AccessGrant
from tracecenter.accounts.roles import Role
from tracecenter.accounts.services import BREAK_GLASS_MINUTES, access_grant_break_glass, access_grant_review
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.cases.models import Case
from tracecenter.cases.selectors import cases_permitted
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.people.services import PersonInput


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def strangers_case(make_case, county, make_user, team):
    """A case of the county owned by another investigator of the same team."""
    return make_case(county, owner=make_user(Role.CASE_INVESTIGATOR, county, team))


def test_a_grant_lets_its_holder_read_the_record_and_change_nothing(users, strangers_case):
    investigator = users[Role.CASE_INVESTIGATOR]
    assert not cases_permitted(investigator, policy.Act.SEE_LINKED).filter(pk=strangers_case.pk).exists()

    access_grant_break_glass(
        actor=investigator, record_type="cases.case", object_id=strangers_case.pk, reason="Caller says she is this case's mother"
    )

    assert cases_permitted(investigator, policy.Act.READ).filter(pk=strangers_case.pk).exists()
    assert not cases_permitted(investigator, policy.Act.EDIT).filter(pk=strangers_case.pk).exists()
    fetched = policy.with_acts(Case.objects.all(), investigator).get(pk=strangers_case.pk)
    assert policy.acts(investigator, fetched) == {policy.Act.SEE_LINKED, policy.Act.READ}
    assert policy.acts(investigator, Case.objects.get(pk=strangers_case.pk)) == {policy.Act.SEE_LINKED, policy.Act.READ}
    entry = AuditEntry.objects.get(action=Action.BREAK_GLASS)
    assert (entry.actor_id, entry.object_type, entry.object_id) == (investigator.pk, "case", str(strangers_case.pk))
    assert entry.jurisdiction_id == strangers_case.jurisdiction_id
    assert "mother" not in entry.detail  # the reason is kept encrypted with the grant, not in the trail


def test_the_grant_ends_by_itself(users, strangers_case):
    investigator = users[Role.CASE_INVESTIGATOR]
    access_grant_break_glass(actor=investigator, record_type="cases.case", object_id=strangers_case.pk, reason="Callback")
    with time_machine.travel(clock.now() + dt.timedelta(minutes=BREAK_GLASS_MINUTES + 1)):
        assert not cases_permitted(investigator, policy.Act.READ).filter(pk=strangers_case.pk).exists()


def test_a_grant_is_for_its_holder_and_its_record_only(users, strangers_case, make_case, county, make_user, team):
    investigator = users[Role.CASE_INVESTIGATOR]
    colleague = make_user(Role.CASE_INVESTIGATOR, county, team)
    another = make_case(county, owner=colleague, first_name="Berta")
    access_grant_break_glass(actor=investigator, record_type="cases.case", object_id=strangers_case.pk, reason="Callback")
    assert list(cases_permitted(investigator, policy.Act.READ).filter(pk__in=[strangers_case.pk, another.pk])) == [strangers_case]
    assert not cases_permitted(users[Role.CONTACT_TRACER], policy.Act.READ).filter(pk=strangers_case.pk).exists()


def test_another_jurisdiction_and_a_missing_number_get_the_same_refusal(users, make_case, other_county):
    investigator = users[Role.CASE_INVESTIGATOR]
    elsewhere = make_case(other_county)
    messages = []
    for object_id in (elsewhere.pk, elsewhere.pk + 10_000):
        with pytest.raises(DomainError) as refused:
            access_grant_break_glass(actor=investigator, record_type="cases.case", object_id=object_id, reason="Callback")
        messages.append((refused.value.field, refused.value.message))
    assert messages[0] == messages[1] and messages[0][0] == "object_id"
    assert not AccessGrant.objects.exists()


@pytest.mark.parametrize("role", [Role.EPIDEMIOLOGIST, Role.AUDITOR, Role.PRIVACY_OFFICER, Role.ADMINISTRATOR])
def test_roles_that_see_a_whole_jurisdiction_or_nothing_cannot_break_the_glass(users, strangers_case, role):
    with pytest.raises(PermissionDenied):
        access_grant_break_glass(actor=users[role], record_type="cases.case", object_id=strangers_case.pk, reason="Curious")


@pytest.mark.parametrize(
    ("record_type", "reason", "field"),
    [
        ("cases.case", "   ", "reason"),
        ("cases.case", "x" * 501, "reason"),
        ("accounts.user", "Callback", "record_type"),
        ("people.person", "Callback", "record_type"),
        ("'; DROP TABLE cases_case; --", "Callback", "record_type"),
    ],
)
def test_bad_requests_are_refused_and_say_which_field(users, strangers_case, record_type, reason, field):
    with pytest.raises(DomainError) as refused:
        access_grant_break_glass(
            actor=users[Role.CASE_INVESTIGATOR], record_type=record_type, object_id=strangers_case.pk, reason=reason
        )
    assert refused.value.field == field
    assert not AccessGrant.objects.exists()


def test_a_contact_can_be_opened_too(users, make_case, county, make_user, team):
    investigator = make_user(Role.CASE_INVESTIGATOR, county, team)
    case = make_case(county, owner=investigator)
    exposure = exposure_add(
        actor=investigator,
        case=case,
        person=PersonInput(first_name="Luis", last_name="Pérez"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    tracer = users[Role.CONTACT_TRACER]
    client = _client(tracer)
    assert client.get(reverse("workspace:contact_detail", args=[exposure.pk])).status_code in (403, 404)
    response = client.post(
        reverse("workspace:break_glass"),
        {"record_type": "contacts.exposure", "object_id": exposure.pk, "reason": "He called back on the hotline"},
    )
    assert response.status_code == 302 and response.url == reverse("workspace:contact_detail", args=[exposure.pk])
    assert client.get(response.url).status_code == 200


def test_the_pages_open_read_and_review(users, strangers_case, make_user, other_county):
    investigator = users[Role.CASE_INVESTIGATOR]
    client = _client(investigator)
    url = reverse("workspace:case_detail", args=[strangers_case.pk])
    assert client.get(url).status_code in (403, 404)
    page = client.get(reverse("workspace:break_glass"))
    assert page.status_code == 200 and b"Open the record" in page.content

    bad = client.post(reverse("workspace:break_glass"), {"record_type": "cases.case", "object_id": "12abc", "reason": ""})
    assert bad.status_code == 200 and b"errors" in bad.content and not AccessGrant.objects.exists()

    response = client.post(
        reverse("workspace:break_glass"),
        {"record_type": "cases.case", "object_id": strangers_case.pk, "reason": "Caller on the line for her mother"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url
    assert response.status_code == 200
    assert strangers_case.person.first_name.encode() in response.content
    assert reverse("workspace:case_status", args=[strangers_case.pk]).encode() not in response.content  # read only
    refused = client.post(reverse("workspace:case_status", args=[strangers_case.pk]), {"status": "closed", "reason": "x"})
    assert refused.status_code in (403, 404)
    mine = client.get(reverse("workspace:break_glass"))
    assert b"Caller on the line for her mother" in mine.content and b"not yet" in mine.content

    officer = _client(users[Role.PRIVACY_OFFICER])
    queue = officer.get(reverse("workspace:break_glass_reviews"))
    assert queue.status_code == 200 and b"Caller on the line for her mother" in queue.content
    grant = AccessGrant.objects.get()
    listed = AuditEntry.objects.get(object_type="access_grant_list", actor_id=users[Role.PRIVACY_OFFICER].pk)
    assert listed.detail == f"ids {grant.pk}"  # the queue's read names what it showed
    assert (
        officer.post(reverse("workspace:break_glass_review", args=[grant.pk]), {"note": "Confirmed with supervisor"}).status_code
        == 302
    )
    grant.refresh_from_db()
    assert grant.reviewed_by == users[Role.PRIVACY_OFFICER] and grant.review_note == "Confirmed with supervisor"

    # Another county's privacy officer neither sees nor reviews it.
    elsewhere = _client(make_user(Role.PRIVACY_OFFICER, other_county))
    assert b"Caller on the line" not in elsewhere.get(reverse("workspace:break_glass_reviews")).content
    assert elsewhere.post(reverse("workspace:break_glass_review", args=[grant.pk]), {"note": "x"}).status_code == 404


def test_a_review_needs_the_capability_and_a_short_note(users, strangers_case):
    grant = access_grant_break_glass(
        actor=users[Role.CASE_INVESTIGATOR], record_type="cases.case", object_id=strangers_case.pk, reason="Callback"
    )
    with pytest.raises(PermissionDenied):
        access_grant_review(actor=users[Role.AUDITOR], grant=grant, note="")
    with pytest.raises(DomainError):
        access_grant_review(actor=users[Role.PRIVACY_OFFICER], grant=grant, note="x" * 1001)


def test_hostile_numbers_on_the_page_are_form_errors(users):
    client = _client(users[Role.CONTACT_TRACER])
    for object_id in ("-1", "0", str(2**70), "1e9", "<script>"):
        response = client.post(
            reverse("workspace:break_glass"), {"record_type": "cases.case", "object_id": object_id, "reason": "x"}
        )
        assert response.status_code == 200, object_id
    assert not AccessGrant.objects.exists()

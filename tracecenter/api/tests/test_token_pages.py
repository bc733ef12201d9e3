"""The API tokens pages: a holder makes (shown once), sees and revokes their own tokens with their use; an
administrator sees and revokes those of their jurisdiction and below, and no others."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.api.models import ApiToken, ApiTokenUse
from tracecenter.api.services import api_token_create
from tracecenter.audit.models import Action, AuditEntry

from .conftest import ApiClient

MINE = reverse("tokens:mine")
ADMINISTERED = reverse("tokens:administered")


def _token(user, name, scopes=("read",)):
    token, raw = api_token_create(actor=None, user=user, name=name, scopes=list(scopes), days=30)
    return token, ApiClient(headers={"Authorization": f"Bearer {raw}"}, REMOTE_ADDR="198.51.100.23")


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_tracer_makes_a_token_sees_it_once_and_it_works(users):
    tracer = users[Role.CONTACT_TRACER]
    client = _signed_in(tracer)
    page = client.get(MINE)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{MINE}"' in html  # in the navigation
    assert 'value="read"' in html and 'value="write"' in html and 'value="ingest"' not in html  # what the role can use
    made = client.post(MINE, {"name": "nightly export", "scopes": ["read"], "days": "30"})
    assert made.status_code == 201
    assert "no-store" in made["Cache-Control"]
    token = ApiToken.objects.get(user=tracer)
    raw = made.content.decode().split('<code id="api-token">')[1].split("</code>")[0]
    assert raw.startswith("tc_") and token.scopes == "read"
    assert ApiClient(headers={"Authorization": f"Bearer {raw}"}).get("/api/contacts").status_code == 200
    assert raw not in client.get(MINE).content.decode()  # shown that once
    entry = AuditEntry.objects.get(action=Action.CREATE, object_type="api_token")
    assert entry.actor_id == tracer.pk and raw not in entry.detail


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"name": "n" * 101, "scopes": ["read"], "days": "30"}, "at most 100 characters"),
        ({"name": "", "scopes": ["read"], "days": "30"}, "This field is required"),
        ({"name": "feed\x00", "scopes": ["read"], "days": "30"}, "Null characters are not allowed"),
        ({"name": "feed\x07", "scopes": ["read"], "days": "30"}, "control characters"),
        ({"name": "feed", "days": "30"}, "Choose at least one scope"),
        ({"name": "feed", "scopes": ["ingest"], "days": "30"}, "Select a valid choice"),
        ({"name": "feed", "scopes": ["admin"], "days": "30"}, "Select a valid choice"),
        ({"name": "feed", "scopes": ["read"], "days": "0"}, "greater than or equal to 1"),
        ({"name": "feed", "scopes": ["read"], "days": "-3"}, "greater than or equal to 1"),
        ({"name": "feed", "scopes": ["read"], "days": "366"}, "less than or equal to 365"),
        ({"name": "feed", "scopes": ["read"], "days": "9" * 40}, "less than or equal to 365"),
        ({"name": "feed", "scopes": ["read"], "days": "1e3"}, "Enter a whole number"),
        ({"name": "feed", "scopes": ["read"]}, "This field is required"),
    ],
)
def test_the_page_refuses_bad_input_on_its_field(users, data, words):
    response = _signed_in(users[Role.CONTACT_TRACER]).post(MINE, data)
    assert response.status_code == 422
    assert words in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_same_name_twice_is_refused_on_the_field(users):
    tracer = users[Role.CONTACT_TRACER]
    _token(tracer, "feed")
    response = _signed_in(tracer).post(MINE, {"name": "feed", "scopes": ["read"], "days": "30"})
    assert response.status_code == 422 and "already has an active token with this name" in response.content.decode()


def test_a_tracer_sees_only_their_own_tokens_with_their_use(world, users):
    tracer, investigator = users[Role.CONTACT_TRACER], users[Role.CASE_INVESTIGATOR]
    mine, api = _token(tracer, "tracer script")
    _theirs, _ = _token(investigator, "investigator script")
    api.get("/api/contacts")
    api.get("/api/contacts")
    api.post_json("/api/persons", {"first_name": "A", "last_name": "B"})  # no write scope: refused
    html = _signed_in(tracer).get(MINE).content.decode()
    assert "tracer script" in html and "investigator script" not in html
    row = html.split("tracer script")[1]
    assert "198.51.100.23" in row  # where it was last used from
    assert "<td>3</td><td><strong>1</strong></td>" in row  # requests and refusals of the last 30 days
    assert "By day" in row
    assert ApiTokenUse.objects.get(token=mine).requests == 3


def test_a_holder_revokes_their_own_token_and_no_one_elses(users):
    tracer, investigator = users[Role.CONTACT_TRACER], users[Role.CASE_INVESTIGATOR]
    mine, api = _token(tracer, "mine")
    theirs, _ = _token(investigator, "theirs")
    client = _signed_in(tracer)
    for bad in ("", "abc", "9" * 40, "-1"):
        assert client.post(reverse("tokens:revoke_mine"), {"token": bad}).status_code == 302
    refused = client.post(reverse("tokens:revoke_mine"), {"token": str(theirs.pk)}, follow=True)
    assert "There is no such token of yours" in refused.content.decode()
    theirs.refresh_from_db()
    assert not theirs.revoked
    denied = AuditEntry.objects.get(action=Action.DENIED, object_type="api_token")
    assert (denied.actor_id, denied.object_id) == (tracer.pk, str(theirs.pk))
    assert api.get("/api/contacts").status_code == 200
    done = client.post(reverse("tokens:revoke_mine"), {"token": str(mine.pk)}, follow=True)
    assert "was revoked" in done.content.decode()
    assert api.get("/api/contacts").status_code == 401
    entry = AuditEntry.objects.get(action=Action.UPDATE, object_type="api_token")
    assert entry.actor_id == tracer.pk and "revoked by its holder" in entry.detail


def test_roles_without_a_use_for_tokens_have_no_page_and_no_link(users):
    client = _signed_in(users[Role.AUDITOR])
    assert client.get(MINE).status_code == 403
    assert MINE not in client.get(reverse("workspace:my_work")).content.decode()
    assert AuditEntry.objects.filter(action=Action.DENIED, object_type="api_token", actor_id=users[Role.AUDITOR].pk).exists()


def test_a_county_administrator_sees_and_revokes_only_their_countys_tokens(world, users, make_user, county, other_county):
    north_admin = users[Role.ADMINISTRATOR]
    north, north_api = _token(users[Role.CASE_INVESTIGATOR], "north script")
    south, _ = _token(make_user(Role.CASE_INVESTIGATOR, other_county), "south script")
    old, _ = _token(users[Role.SUPERVISOR], "old feed", scopes=("ingest",))
    old.revoked = True
    old.save()
    north_api.get("/api/cases")
    client = _signed_in(north_admin)
    page = client.get(ADMINISTERED)
    assert page.status_code == 200
    html = page.content.decode()
    assert "north script" in html and "south script" not in html and "old feed" not in html
    assert "198.51.100.23" in html and "<td>1</td><td>0</td>" in html
    assert "old feed" in client.get(ADMINISTERED + "?show=all").content.decode()
    assert ADMINISTERED in client.get(reverse("workspace:admin_users")).content.decode()  # in the administration menu
    listed = AuditEntry.objects.filter(action=Action.READ, object_type="api_token_list").order_by("pk")
    assert [e.detail for e in listed] == [f"ids {north.pk}", f"ids {north.pk},{old.pk}"]
    # Another county's token: not found, as a token that does not exist, and the refusal written down.
    assert client.post(reverse("tokens:revoke", args=[south.pk])).status_code == 404
    south.refresh_from_db()
    assert not south.revoked
    assert AuditEntry.objects.filter(action=Action.DENIED, object_type="api_token", object_id=str(south.pk)).exists()
    assert client.post(reverse("tokens:revoke", args=[north.pk])).status_code == 302
    north.refresh_from_db()
    assert north.revoked
    assert north_api.get("/api/cases").status_code == 401
    revoked = AuditEntry.objects.get(action=Action.UPDATE, object_type="api_token")
    assert (revoked.actor_id, revoked.jurisdiction_id) == (north_admin.pk, county.pk)


def test_a_state_administrator_sees_every_countys_tokens(world, users, make_user, state, other_county):
    _token(users[Role.CASE_INVESTIGATOR], "north script")
    _token(make_user(Role.CASE_INVESTIGATOR, other_county), "south script")
    html = _signed_in(make_user(Role.ADMINISTRATOR, state)).get(ADMINISTERED).content.decode()
    assert "north script" in html and "south script" in html


def test_workers_cannot_open_the_administrators_list(users):
    _token(users[Role.CASE_INVESTIGATOR], "north script")
    for role in (Role.CONTACT_TRACER, Role.SUPERVISOR, Role.AUDITOR):
        assert _signed_in(users[role]).get(ADMINISTERED).status_code == 403

"""A token serves only its scopes: read (GETs and the person search), write (changes), ingest (lab intake).

Each endpoint's scope is declared once, in api/scopes.py; a token without it is refused with 403
naming the scope, audited, and counted on the token. A session has no scopes; the role still
decides, on top of any scope.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tracecenter.accounts.roles import Role
from tracecenter.api import scopes
from tracecenter.api.models import ApiToken, ApiTokenUse
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.intake.models import IntakeBatch
from tracecenter.intake.uploads import upload_ingest

FIXTURE = Path(__file__).resolve().parents[2] / "intake" / "tests" / "fixtures" / "hl7" / "hl7_2.7.hl7"


def _calls(world, person_id):
    """One call of every endpoint, with the scope the table says it needs."""
    status = {"status": "attempting", "reason": "Left a voicemail"}
    contact = {"last_exposure_date": "2024-01-02", "person": {"first_name": "Gil", "last_name": "Newman"}}
    lab = {"specimen_collection_date": "2024-01-02", "test_loinc": "94500-6", "result": "negative"}
    return [
        ("get", "/api/persons", None, "read"),
        ("post", "/api/persons/search", {"last_name": "Mineiro"}, "read"),
        ("get", f"/api/persons/{person_id}", None, "read"),
        ("post", "/api/persons", {"first_name": "Hal", "last_name": "Newcomb"}, "write"),
        ("post", f"/api/persons/{person_id}/lab-results", lab, "write"),
        ("get", "/api/lab-results", None, "read"),
        ("get", "/api/cases", None, "read"),
        ("get", f"/api/cases/{world.mine.pk}", None, "read"),
        ("post", f"/api/cases/{world.mine.pk}/status", status, "write"),
        ("post", f"/api/cases/{world.mine.pk}/contacts", contact, "write"),
        ("post", f"/api/cases/{world.mine.pk}/assign", {"assignee_id": None}, "write"),
        ("get", "/api/contacts", None, "read"),
        ("get", f"/api/contacts/{world.contact.pk}", None, "read"),
    ]


def _send(client, method, path, body):
    return client.post_json(path, body) if method == "post" else client.get(path)


def test_every_endpoint_declares_its_scope_in_the_one_table_and_the_schema_shows_it(users, session_client):
    schema = session_client(users[Role.EPIDEMIOLOGIST]).get("/api/schema").json()
    operations = [(method, path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) == len(scopes.ENDPOINT_SCOPES) == 16
    for method, path, op in operations:
        assert op["x-token-scope"] in {"read", "write", "ingest"}, (method, path)
        if method == "get":
            assert op["x-token-scope"] in {"read", "ingest"}, path  # a GET never needs write
    by_path = {(m, p): op["x-token-scope"] for m, p, op in operations}
    assert by_path[("post", "/api/persons/search")] == "read"
    assert by_path[("post", "/api/intake/batches")] == by_path[("get", "/api/intake/batches/{batch_id}")] == "ingest"
    assert "429" in schema["paths"]["/api/cases"]["get"]["responses"]


def test_an_endpoint_without_a_declared_scope_stops_the_api_from_loading():
    with pytest.raises(ImproperlyConfigured, match="declares no token scope"):
        scopes.required("an_endpoint_nobody_declared")


def test_a_read_only_token_reads_and_cannot_change_anything(world, users, token_client):
    investigator = users[Role.CASE_INVESTIGATOR]
    client = token_client(investigator, scopes=["read"])
    token = ApiToken.objects.get(user=investigator)
    for method, path, body, needed in _calls(world, world.mine.person_id):
        response = _send(client, method, path, body)
        if needed == "read":
            assert response.status_code == 200, (path, response.content)
        else:
            assert response.status_code == 403, (path, response.status_code)
            assert "“write” scope" in response.json()["detail"] and response.json()["field"] is None
            assert 'error="insufficient_scope", scope="write"' in response["WWW-Authenticate"]
    world.mine.refresh_from_db()
    assert world.mine.status == "new" and world.mine.exposures.count() == 1
    refusals = AuditEntry.objects.filter(action=Action.DENIED, object_type="api_token", object_id=str(token.pk))
    assert refusals.count() == 5
    assert {e.detail.split(" (")[0] for e in refusals} == {
        f"scope write missing for {name}"
        for name in ("person_new", "lab_result_new", "case_status", "contact_new", "case_assign_to")
    }
    assert all(e.jurisdiction_id == investigator.jurisdiction_id and e.actor_id == investigator.pk for e in refusals)
    use = ApiTokenUse.objects.get(token=token)
    assert (use.requests, use.refusals) == (13, 5)


def test_a_write_only_token_changes_but_cannot_read(world, users, token_client):
    client = token_client(users[Role.CASE_INVESTIGATOR], scopes=["write"])
    assert client.get("/api/cases").status_code == 403
    assert client.post_json("/api/persons/search", {"last_name": "Mineiro"}).status_code == 403
    response = client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "attempting", "reason": "Voicemail"})
    assert response.status_code == 200, response.content


def test_an_ingest_only_token_delivers_lab_files_and_reads_no_record(world, users, token_client, county):
    supervisor = users[Role.SUPERVISOR]
    client = token_client(supervisor, scopes=["ingest"])
    for method, path, body, _needed in _calls(world, world.mine.person_id):
        response = _send(client, method, path, body)
        assert response.status_code == 403, (path, response.status_code)
        assert "scope" in response.json()["detail"]
        assert "Mineiro" not in response.content.decode()
    delivered = client.post(
        "/api/intake/batches?filename=results.hl7", data=FIXTURE.read_bytes(), content_type="application/octet-stream"
    )
    assert delivered.status_code == 202, delivered.content
    batch = IntakeBatch.objects.get(pk=delivered.json()["id"])
    assert (batch.jurisdiction_id, batch.received_by_id, batch.source) == (county.pk, supervisor.pk, "upload")
    upload_ingest(batch_id=batch.pk)  # what the worker does next
    followed = client.get(f"/api/intake/batches/{batch.pk}").json()
    assert followed["status"] == "done" and followed["finished"] and followed["messages"] == 1
    assert followed["accepted"] + followed["rejected"] == 1
    assert "Buckridge" not in str(followed)  # counts and reasons, never the values the file holds


def test_the_intake_endpoints_refuse_empty_or_unreadable_files_and_other_jurisdictions(
    world, users, token_client, make_user, other_county
):
    client = token_client(users[Role.SUPERVISOR], scopes=["ingest"])
    empty = client.post("/api/intake/batches", data=b"  \n", content_type="application/octet-stream")
    assert empty.status_code == 422 and empty.json()["field"] == "body"
    garbage = client.post("/api/intake/batches", data=b"\x00\x01 not a lab file", content_type="application/octet-stream")
    assert garbage.status_code == 422 and "not a format" in garbage.json()["detail"]
    too_long = client.post("/api/intake/batches?filename=" + "a" * 300, data=b"MSH|", content_type="text/plain")
    assert too_long.status_code == 422 and too_long.json()["field"] == "filename"
    assert not IntakeBatch.objects.exists()
    mine = client.post("/api/intake/batches", data=FIXTURE.read_bytes(), content_type="application/octet-stream").json()["id"]
    other = make_user(Role.SUPERVISOR, other_county)
    assert token_client(other, scopes=["ingest"]).get(f"/api/intake/batches/{mine}").status_code == 404


def test_a_scope_never_gives_more_than_the_role(world, users, token_client):
    tracer = users[Role.CONTACT_TRACER]
    client = token_client(tracer, scopes=["read", "write"])
    # Assigning is a supervisor's act: the write scope does not make a tracer one.
    assert client.post_json(f"/api/cases/{world.mine.pk}/assign", {"assignee_id": tracer.pk}).status_code == 403
    # A token made with ingest while its holder supervised keeps the scope, and loses the use with the role.
    supervisor = users[Role.SUPERVISOR]
    feed = token_client(supervisor, scopes=["ingest"], name="feed")
    supervisor.role = Role.CASE_INVESTIGATOR
    supervisor.save()
    refused = feed.post("/api/intake/batches", data=FIXTURE.read_bytes(), content_type="application/octet-stream")
    assert refused.status_code == 403 and "scope" not in refused.json()["detail"]
    assert not IntakeBatch.objects.exists()


def test_a_session_is_not_limited_by_scopes_but_by_its_role(world, users, session_client):
    supervisor = session_client(users[Role.SUPERVISOR])
    assert supervisor.get("/api/cases").status_code == 200
    assert supervisor.post("/api/intake/batches", data=FIXTURE.read_bytes(), content_type="text/plain").status_code == 202
    epidemiologist = session_client(users[Role.EPIDEMIOLOGIST])
    assert epidemiologist.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "closed", "reason": "x"}).status_code == 403

"""Entries are keyed from the moment they are written: a row written around the application, by someone
who can write the database but lacks the chain key, is never sealed into the chain and is named on verify."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Iterator

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.audit.services import audit_record, seal_all, verify_chain
from tracecenter.audit.tests import tamper


def verify() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("audit_verify", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def unkeyed_hash(content: dict) -> str:
    """What anyone can compute without the key: the plain SHA-256 of an entry's content."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def insert_around_the_application(*, object_id: str, entry_hash: str | None = None) -> int:
    """A row written straight into the table, as someone with database access but not the key would."""
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    content = {
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": None,
        "actor_username": "",
        "actor_role": "",
        "action": "read",
        "object_type": "person",
        "object_id": object_id,
        "jurisdiction_id": None,
        "ip_address": "",
        "channel": "web",
        "fields": [],
        "detail": "",
    }
    json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditentry (at, actor_id, actor_username, actor_role, action, object_type, object_id,"
            " jurisdiction_id, ip_address, channel, fields, detail, entry_hash, prev_hash, chain_hash)"
            f" VALUES (%s, NULL, '', '', 'read', 'person', %s, NULL, '', 'web', {json_param}, '', %s, '', '')",
            [at, object_id, "[]", entry_hash or unkeyed_hash(content)],
        )
        cursor.execute("SELECT id FROM audit_auditentry WHERE object_id = %s", [object_id])
        return int(cursor.fetchone()[0])


raw_sql = tamper.raw_sql  # around the database's guards, as someone with write access would


@pytest.fixture
def written(db, users) -> list[AuditEntry]:
    actor = users[Role.SUPERVISOR]
    for n in range(10):
        audit_record(actor=actor, action=Action.READ, object_type="case", object_id=n, jurisdiction_id=actor.jurisdiction_id)
    return list(AuditEntry.objects.order_by("pk"))


def test_a_row_inserted_without_the_key_is_never_sealed_and_verify_names_it_as_forged(written):
    forged = insert_around_the_application(object_id="31337")

    with pytest.raises(CommandError) as caught:
        verify()
    assert f"entry id {forged} (not sealed): forged" in str(caught.value)
    assert AuditEntry.objects.get(pk=forged).seq is None  # left out of the chain
    assert AuditEntry.objects.filter(seq__isnull=False).count() == 10  # the real entries were sealed


def test_every_entry_is_keyed_when_it_is_written(db, users, settings):
    """The same content under two keys gives two hashes, neither of them the plain hash anyone could compute."""
    hashes = []
    for key in (b"k" * 32, b"q" * 32):
        settings.AUDIT_CHAIN_KEY = base64.b64encode(key).decode()
        with time_machine.travel(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), tick=False):
            hashes.append(audit_record(actor=None, action=Action.EXPORT, object_type="case", object_id=7).entry_hash)
    assert hashes[0] != hashes[1]
    entry = AuditEntry.objects.first()
    content = {name: getattr(entry, name) for name in ("actor_id", "actor_username", "actor_role", "action", "object_type")}
    content |= {"at": entry.at.isoformat(timespec="microseconds"), "object_id": "7", "jurisdiction_id": None}
    content |= {"ip_address": "", "channel": "command", "fields": [], "detail": ""}
    assert unkeyed_hash(content) not in hashes


def test_an_entry_written_under_another_key_does_not_verify(written, settings):
    real_key = settings.AUDIT_CHAIN_KEY
    settings.AUDIT_CHAIN_KEY = base64.b64encode(os.urandom(32)).decode()
    stranger = audit_record(actor=None, action=Action.READ, object_type="case", object_id=99)
    settings.AUDIT_CHAIN_KEY = real_key
    verdict = verify_chain()
    assert not verdict.ok
    assert [p.pk for p in verdict.problems if p.seq is None] == [stranger.pk]


def test_audit_verify_names_every_forged_edited_and_missing_entry(written):
    seal_all()
    edited, gone = written[3], written[6]
    raw_sql("UPDATE audit_auditentry SET object_id = %s WHERE id = %s", ["4242", edited.pk])
    raw_sql("DELETE FROM audit_auditentry WHERE id = %s", [gone.pk])
    forged = insert_around_the_application(object_id="31337")

    with pytest.raises(CommandError) as caught:
        verify()
    message = str(caught.value)
    assert f"BROKEN at seq 4 (entry id {edited.pk}): its content was changed" in message
    assert "3 problem(s) in all" in message
    _out, listed = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--no-seal", stdout=_out, stderr=listed)
    lines = listed.getvalue().splitlines()
    assert f"  seq 4 (entry id {edited.pk}): its content was changed after it was written (its HMAC does not match)" in lines
    assert f"  seq 8 (entry id {written[7].pk}): entry #7 of the chain is missing" in lines
    assert any(line.startswith(f"  entry id {forged} (not sealed): forged") for line in lines)


def test_the_sealing_job_seals_the_sound_entries_refuses_the_forged_one_and_fails_where_administrators_look(written):
    from tracecenter.core import schedule
    from tracecenter.core.models import PeriodicJob

    forged = insert_around_the_application(object_id="31337")
    audit_record(actor=None, action=Action.READ, object_type="case", object_id=11)
    schedule.run_now("audit.seal")

    assert list(AuditEntry.objects.filter(seq__isnull=True).values_list("pk", "seal_refused")) == [(forged, True)]
    assert AuditEntry.objects.filter(seq__isnull=False).count() == 11
    assert "AuditEntriesRefused" in PeriodicJob.objects.get(name="audit.seal").last_error
    # Refused once, not looked at again by every round of the sealer.
    schedule.run_now("audit.seal")
    assert PeriodicJob.objects.get(name="audit.seal").failures == 1


def test_a_refusal_mark_set_by_hand_on_a_sound_entry_is_reported(written):
    raw_sql("UPDATE audit_auditentry SET seal_refused = %s WHERE id = %s", [True, written[2].pk])
    with pytest.raises(CommandError, match=rf"entry id {written[2].pk} \(not sealed\): marked as refused"):
        verify()


def test_only_an_unsealed_entry_can_be_marked_refused_and_then_nothing_changes_it(written):
    first, second = written[0], written[1]
    with transaction.atomic():
        AuditEntry.objects.filter(pk=first.pk).update(seal_refused=True)
    for change in ({"seal_refused": False}, {"seq": 1, "prev_hash": "0" * 64, "chain_hash": "1" * 64}):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEntry.objects.filter(pk=first.pk).update(**change)
    seal_all()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=second.pk).update(seal_refused=True)


# The cut-over, for a trail written before entries were keyed

BEFORE = [("audit", "0004_break_glass_action")]


@pytest.fixture
def back_to_latest() -> Iterator[None]:
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_entries_from_before_the_cut_over_verify_the_old_way_and_are_reported_as_such(back_to_latest, settings):
    import hmac

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldEntry, OldHead = old.get_model("audit", "AuditEntry"), old.get_model("audit", "AuditChainHead")
    key = base64.b64decode(settings.AUDIT_CHAIN_KEY)
    at = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)

    def old_entry(object_id: str, *, sealed_as: int | None, prev: str = "0" * 64, good: bool = True):
        content = {
            "at": at.isoformat(timespec="microseconds"),
            "actor_id": None,
            "actor_username": "",
            "actor_role": "",
            "action": "read",
            "object_type": "case",
            "object_id": object_id,
            "jurisdiction_id": None,
            "ip_address": "",
            "channel": "web",
            "fields": [],
            "detail": "",
        }
        entry_hash = unkeyed_hash(content) if good else "f" * 64
        chain_hash = hmac.new(key, f"{sealed_as}|{prev}|{entry_hash}".encode(), hashlib.sha256).hexdigest() if sealed_as else ""
        OldEntry.objects.create(
            at=at, action="read", object_type="case", object_id=object_id, channel="web", fields=[],
            entry_hash=entry_hash, seq=sealed_as, prev_hash=prev if sealed_as else "", chain_hash=chain_hash,
        )  # fmt: skip
        return chain_hash

    first = old_entry("1", sealed_as=1)
    second = old_entry("2", sealed_as=2, prev=first)
    OldHead.objects.update_or_create(pk=1, defaults={"last_seq": 2, "last_hash": second})
    old_entry("3", sealed_as=None)  # written by the old release, not sealed yet when the new one arrives
    old_entry("4", sealed_as=None, good=False)  # a forgery of the old kind: its hash does not hold

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    audit_record(actor=None, action=Action.READ, object_type="case", object_id=5)  # a keyed one, after

    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("audit_verify", stdout=out, stderr=io.StringIO())
    assert "3 entries sealed before the keyed cut-over were verified by their unkeyed hash" in out.getvalue()
    forged = AuditEntry.objects.get(object_id="4")
    assert forged.seq is None and forged.seal_refused
    assert f"BROKEN at entry id {forged.pk} (not sealed): forged" in str(caught.value)
    sealed = AuditEntry.objects.filter(seq__isnull=False).order_by("seq")
    assert list(sealed.values_list("object_id", "seq")) == [("1", 1), ("2", 2), ("3", 3), ("5", 4)]

    # Undone and done again: the cut-over is recorded again, after keyed entries, which still verify by their HMAC.
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("audit_verify", stdout=out, stderr=io.StringIO())
    assert "3 entries sealed before the keyed cut-over were verified by their unkeyed hash" in out.getvalue()
    assert "1 problem(s) in all" in str(caught.value)


def test_a_sealed_entry_changed_and_given_the_unkeyed_hash_of_its_new_content_fails_even_before_the_cut_over(written):
    """Moving the cut-over past an entry does not let it be changed: its chain link is keyed."""
    seal_all()
    target = written[4]
    raw_sql("UPDATE audit_auditentry SET object_id = %s WHERE id = %s", ["4242", target.pk])
    changed = AuditEntry.objects.get(pk=target.pk)
    content = {
        "at": changed.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        **{name: getattr(changed, name) for name in ("actor_id", "actor_username", "actor_role", "action", "object_type")},
        "object_id": "4242",
        "jurisdiction_id": changed.jurisdiction_id,
        "ip_address": changed.ip_address,
        "channel": changed.channel,
        "fields": changed.fields,
        "detail": changed.detail,
    }
    raw_sql("UPDATE audit_auditentry SET entry_hash = %s WHERE id = %s", [unkeyed_hash(content), target.pk])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchainhead SET keyed_from_seq = 1000")
    verdict = verify_chain()
    assert [(p.pk, p.reason) for p in verdict.problems] == [(target.pk, "its chain hash does not match")]

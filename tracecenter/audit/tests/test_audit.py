"""The audit trail: a sealed chain that shows any change, removal or forgery, and holds no personal values."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from tracecenter.accounts.roles import Role
from tracecenter.audit import chain
from tracecenter.audit.models import Action, AuditChainHead, AuditEntry
from tracecenter.audit.services import SEAL_BATCH, audit_record, seal_all, verify_chain
from tracecenter.audit.tests import tamper
from tracecenter.people.services import PersonInput, person_create, person_update


def verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


@pytest.fixture
def entries(db, users):
    actor = users[Role.CASE_INVESTIGATOR]
    for n in range(40):
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="case",
            object_id=n,
            jurisdiction_id=actor.jurisdiction_id,
            fields=["status"] if n % 2 else [],
        )
    seal_all()
    return list(AuditEntry.objects.order_by("seq"))


def raw_sql(sql: str, params: list) -> None:
    """What someone with write access to the database would do, around the application."""
    # The DBA takes the append-only guards off first (tamper.py); the chain must still tell.
    tamper.raw_sql(sql, params)


# A sound chain


def test_the_chain_verifies_after_many_entries_sealed_in_several_batches(db, users):
    actor = users[Role.SUPERVISOR]
    count = SEAL_BATCH * 2 + 37
    for n in range(count):
        audit_record(actor=actor, action=Action.READ, object_type="person", object_id=n, fields=["first_name"])
    assert AuditEntry.objects.filter(seq__isnull=True).count() == count  # nothing sealed yet: no commit in the test

    output = verify()
    assert f"sealed {count} pending entries" in output
    assert f"audit chain OK: {count} entries verified" in output
    assert AuditChainHead.objects.get().last_seq == count
    assert list(AuditEntry.objects.order_by("pk").values_list("seq", flat=True)) == list(range(1, count + 1))


def test_an_empty_trail_verifies():
    verdict = chain.verify(b"k" * 32, [])
    assert verdict.ok and verdict.checked == 0


def test_entries_written_after_a_verification_extend_the_chain(entries, users):
    audit_record(actor=users[Role.SUPERVISOR], action=Action.EXPORT, object_type="case")
    assert "audit chain OK: 41 entries verified" in verify()


def test_sealing_twice_seals_nothing_more(entries):
    assert seal_all() == 0
    assert verify_chain().ok


def test_a_sealed_entry_links_to_the_one_before(entries):
    first, second = entries[0], entries[1]
    assert first.prev_hash == chain.GENESIS
    assert second.prev_hash == first.chain_hash


# Tampering


def test_an_entry_edited_in_the_database_breaks_verification_naming_it(entries):
    target = entries[17]
    raw_sql("UPDATE audit_auditentry SET actor_username = %s WHERE id = %s", ["someone-else", target.pk])
    with pytest.raises(CommandError) as caught:
        verify()
    message = str(caught.value)
    assert f"entry id {target.pk})" in message
    assert f"seq {target.seq}" in message
    assert "content was changed" in message
    assert "17 entries before it verified" in message


def _content_of(target, **changes):
    content = {
        "at": target.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": target.actor_id,
        "actor_username": target.actor_username,
        "actor_role": target.actor_role,
        "action": target.action,
        "object_type": target.object_type,
        "object_id": target.object_id,
        "jurisdiction_id": target.jurisdiction_id,
        "ip_address": target.ip_address,
        "channel": target.channel,
        "fields": target.fields,
        "detail": target.detail,
    }
    return {**content, **changes}


@pytest.mark.parametrize("rehash", ["unkeyed", "another key"])
def test_an_edited_entry_whose_hash_was_recomputed_without_the_key_still_breaks_the_chain(entries, rehash):
    target = entries[5]
    content = _content_of(target, actor_username="someone-else")
    forged = chain.legacy_entry_hash(content) if rehash == "unkeyed" else chain.entry_hmac(b"guessed" * 5, content)
    raw_sql(
        "UPDATE audit_auditentry SET actor_username = %s, entry_hash = %s WHERE id = %s",
        ["someone-else", forged, target.pk],
    )
    with pytest.raises(CommandError, match=rf"entry id {target.pk}\).*content was changed"):
        verify()


def test_a_deleted_entry_in_the_middle_is_detected(entries):
    gone, after = entries[10], entries[11]
    raw_sql("DELETE FROM audit_auditentry WHERE id = %s", [gone.pk])
    with pytest.raises(CommandError) as caught:
        verify()
    message = str(caught.value)
    assert f"entry #{gone.seq} of the chain is missing" in message
    assert f"entry id {after.pk})" in message  # the first entry that no longer links


def test_entries_deleted_at_the_end_are_detected(entries):
    for entry in entries[-3:]:
        raw_sql("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    with pytest.raises(CommandError, match="entries at the end of the chain are missing") as caught:
        verify()
    assert f"seq {entries[-3].seq}" in str(caught.value)


def test_entries_renumbered_to_hide_a_deletion_are_detected(entries):
    gone = entries[20]
    raw_sql("DELETE FROM audit_auditentry WHERE id = %s", [gone.pk])
    raw_sql("UPDATE audit_auditentry SET seq = -seq WHERE seq > %s", [gone.seq])  # two steps: seq is unique
    raw_sql("UPDATE audit_auditentry SET seq = -seq - 1 WHERE seq < 0", [])
    with pytest.raises(CommandError, match=rf"entry id {entries[21].pk}\)"):
        verify()


# Append-only in the application and in the database


def test_saving_an_existing_entry_through_the_orm_raises(entries):
    entry = entries[0]
    entry.actor_username = "someone-else"
    with pytest.raises(RuntimeError, match="append-only"):
        entry.save()


def test_deleting_an_entry_through_the_orm_raises(entries):
    with pytest.raises(RuntimeError, match="append-only"):
        entries[0].delete()
    assert AuditEntry.objects.filter(pk=entries[0].pk).exists()


def test_a_plain_update_or_delete_is_refused_by_the_database(entries):
    for sql in ("UPDATE audit_auditentry SET actor_username = 'x' WHERE id = %s", "DELETE FROM audit_auditentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entries[0].pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entries[0].pk).update(detail="edited")
    assert "audit chain OK: 40 entries verified" in verify()


def test_a_sealed_entry_cannot_be_resealed(entries):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entries[0].pk).update(chain_hash="0" * 64)


# No personal values


def test_audit_entries_name_the_fields_touched_never_their_values(county, users):
    secret = {"first_name": "Wilhelmina", "last_name": "Okonkwo-Barros", "street": "1427 Larchmont Terrace"}
    person = person_create(
        actor=users[Role.CASE_INVESTIGATOR],
        jurisdiction=county,
        data=PersonInput(**secret, phones=["(202) 555-0173"], emails=["wob@example.net"], notes="penicillin"),
    )
    person_update(
        actor=users[Role.CASE_INVESTIGATOR],
        person=person,
        data=PersonInput(**{**secret, "street": "9 Elm Row"}, phones=["(202) 555-0188"], notes="penicillin"),
    )
    seal_all()

    rows = list(AuditEntry.objects.filter(object_type="person"))
    assert [r.action for r in rows] == [Action.CREATE, Action.UPDATE]
    assert rows[0].fields == ["emails", "first_name", "last_name", "notes", "phones", "preferred_language", "sex", "street"]
    assert rows[1].fields == ["emails", "phones", "street"]
    known_fields = {f.name for f in person._meta.get_fields()} | {"phones", "emails"}
    for row in AuditEntry.objects.all():
        assert all(
            isinstance(name, str) and name in known_fields | {"status", "person", "specimen_collection_date"}
            for name in row.fields
        )
        text = " ".join(str(getattr(row, f.attname)) for f in AuditEntry._meta.concrete_fields).casefold()
        for value in [*secret.values(), "9 Elm Row", "2025550173", "2025550188", "wob@example.net", "penicillin"]:
            assert value.casefold() not in text


def test_writing_entries_leaves_the_sealing_to_the_workers(db, users, django_capture_on_commit_callbacks):
    """A request that audits twenty reads schedules nothing and takes no lock: the chain is the sealer's alone."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for n in range(20):
            audit_record(actor=users[Role.SUPERVISOR], action=Action.READ, object_type="case", object_id=n)
    assert callbacks == []
    assert AuditEntry.objects.filter(seq__isnull=True).count() == 20
    assert not AuditChainHead.objects.exists() or AuditChainHead.objects.get().last_seq == 0


def test_the_periodic_sealing_job_seals_what_was_written_and_the_chain_verifies(db, users):
    from tracecenter.core import schedule

    try:
        with transaction.atomic():
            audit_record(actor=users[Role.SUPERVISOR], action=Action.READ, object_type="case", object_id=1)
            raise RuntimeError("the work failed")
    except RuntimeError:
        pass
    for n in range(2, 5):
        audit_record(actor=users[Role.SUPERVISOR], action=Action.READ, object_type="case", object_id=n)
    assert "audit.seal" in schedule.jobs()
    assert schedule.run_now("audit.seal")
    assert list(AuditEntry.objects.order_by("seq").values_list("object_id", "seq")) == [("2", 1), ("3", 2), ("4", 3)]
    assert verify_chain().ok

"""The audit trail's own retention: old entries leave only as a whole prefix, behind a signed checkpoint that
chains to the one before it, and verification starts from the latest checkpoint and names what does not hold."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from tracecenter.accounts.roles import Role
from tracecenter.audit import chain, jobs, retention, trail_retention
from tracecenter.audit.checks import audit_retention
from tracecenter.audit.models import Action, AuditCheck, AuditCheckpoint, AuditEntry, RetentionRule
from tracecenter.audit.services import AuditChainBroken, audit_record, seal_all, verify_chain
from tracecenter.audit.tests.tamper import raw_sql
from tracecenter.core import clock
from tracecenter.core.errors import DomainError

pytestmark = pytest.mark.django_db

SEVEN_YEARS = dt.timedelta(days=7 * 365)
LAST_YEAR = dt.timedelta(days=365)


def write(actor, n: int, *, ago: dt.timedelta, first_id: int = 0, object_type: str = "case") -> None:
    with time_machine.travel(clock.now() - ago, tick=False):
        for i in range(n):
            audit_record(
                actor=actor,
                action=Action.READ,
                object_type=object_type,
                object_id=first_id + i,
                jurisdiction_id=actor.jurisdiction_id,
            )


@pytest.fixture
def trail(users):
    """30 entries written seven years ago (past the six-year period), then 10 written last year; all sealed."""
    actor = users[Role.CASE_INVESTIGATOR]
    write(actor, 30, ago=SEVEN_YEARS)
    write(actor, 10, ago=LAST_YEAR, first_id=100)
    seal_all()
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 41))
    return actor


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("retention", "--type", "audit.trail", *args, stdout=out)
    return out.getvalue()


def verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def verify_fails() -> str:
    with pytest.raises(CommandError) as caught:
        call_command("audit_verify", "--no-seal", stdout=io.StringIO(), stderr=io.StringIO())
    return str(caught.value)


# The dry run and the purge


def test_the_dry_run_says_how_many_entries_would_go_and_up_to_which_one_and_changes_nothing(trail):
    out = run()
    assert "audit.trail: kept 2190 days (AUDIT_RETENTION_DAYS), 30 entries past it" in out
    assert ": #1 to #30, written " in out
    assert "dry run: nothing was changed" in out
    assert AuditEntry.objects.filter(seq__isnull=False).count() == 40
    assert not AuditCheckpoint.objects.exists()


def test_a_purge_leaves_a_signed_checkpoint_says_what_it_removed_and_the_trail_verifies(trail):
    out = run("--purge")

    checkpoint = AuditCheckpoint.objects.get()
    assert f"audit.trail: removed 30 entries, #1 to #30, behind checkpoint {checkpoint.pk}" in out
    assert (checkpoint.from_seq, checkpoint.up_to_seq, checkpoint.removed, checkpoint.keep_days) == (1, 30, 30, 2190)
    assert checkpoint.written_by == "manage.py retention --purge"
    assert checkpoint.prev_signature == chain.GENESIS and len(checkpoint.signature) == 64
    assert checkpoint.last_at < checkpoint.cutoff <= clock.now() - dt.timedelta(days=2190)
    assert not AuditEntry.objects.filter(seq__lte=30).exists()
    assert AuditEntry.objects.filter(seq__gt=30).count() == 10
    # The purge itself is audited, after the checkpoint, saying what went.
    said = AuditEntry.objects.get(action=Action.PURGE, object_type="audit_checkpoint")
    assert said.object_id == str(checkpoint.pk) and "entries #1 to #30 removed (30," in said.detail

    out = verify()
    assert "entries #1 to #30 were removed by the trail's retention; verified from #31 on" in out
    assert "audit chain OK: 11 entries verified" in out  # the ten left and the purge's own entry
    jobs.verify()
    assert AuditCheck.objects.get().ok
    # Run again: nothing more goes.
    assert "0 entries past it" in run("--purge") and AuditCheckpoint.objects.count() == 1


def test_entries_inside_the_period_are_never_removed_even_sealed_among_older_ones(users):
    actor = users[Role.CASE_INVESTIGATOR]
    write(actor, 5, ago=SEVEN_YEARS)
    write(actor, 1, ago=dt.timedelta(days=2189), first_id=50)  # one day inside the period
    write(actor, 5, ago=SEVEN_YEARS, first_id=10)  # older again, sealed after it: stays with it
    seal_all()
    inside = AuditEntry.objects.get(object_id="50")

    trail_retention.purge(actor=None, by="test")

    assert list(AuditEntry.objects.filter(seq__isnull=False).order_by("seq").values_list("seq", flat=True)[:6]) == [
        6,
        7,
        8,
        9,
        10,
        11,
    ]
    assert AuditEntry.objects.filter(pk=inside.pk).exists()
    assert AuditCheckpoint.objects.get().up_to_seq == 5
    assert verify_chain().ok


def test_two_purges_chain_their_checkpoints_and_verify_walks_them(trail):
    # A backlog goes in batches, each behind its own checkpoint; years later the next purge continues the chain.
    written = trail_retention.purge(actor=None, by="test", batch=12)
    assert [(c.from_seq, c.up_to_seq) for c in written] == [(1, 12), (13, 24), (25, 30)]
    with time_machine.travel(clock.now() + dt.timedelta(days=6 * 365), tick=False):
        later = trail_retention.purge(actor=None, by="test")
    assert [(c.from_seq, c.up_to_seq) for c in later] == [(31, 40)]

    checkpoints = list(AuditCheckpoint.objects.order_by("up_to_seq"))
    assert checkpoints[0].prev_signature == chain.GENESIS
    assert [c.prev_signature for c in checkpoints[1:]] == [c.signature for c in checkpoints[:-1]]
    verdict = verify_chain()
    assert verdict.ok and verdict.checkpoints == 4 and verdict.resumed_after == 40


# Tampering with checkpoints and with the start of the chain


@pytest.mark.parametrize(
    ("column", "value"),
    [("removed", 29), ("up_to_seq", 29), ("last_hash", "f" * 64), ("first_at", "2001-01-01 00:00:00"), ("written_by", "x")],
)
def test_an_edited_checkpoint_fails_verification_naming_it(trail, column, value):
    run("--purge")
    checkpoint = AuditCheckpoint.objects.get()
    raw_sql(f"UPDATE audit_auditcheckpoint SET {column} = %s WHERE id = %s", [value, checkpoint.pk])

    message = verify_fails()
    assert f"checkpoint {checkpoint.pk} (entries up to #" in message
    assert "forged or edited: its signature does not match what it records" in message


def test_the_scheduled_verification_fails_on_an_edited_checkpoint_and_names_it(trail):
    run("--purge")
    checkpoint = AuditCheckpoint.objects.get()
    raw_sql("UPDATE audit_auditcheckpoint SET removed = %s, up_to_seq = %s WHERE id = %s", [20, 20, checkpoint.pk])
    with pytest.raises(AuditChainBroken):
        jobs.verify()
    check = AuditCheck.objects.get()
    assert not check.ok and check.first_problem.startswith(f"checkpoint {checkpoint.pk} (entries up to #20): forged or edited")
    assert AuditEntry.objects.filter(action=Action.INTEGRITY, object_id=str(check.pk)).exists()


@pytest.mark.parametrize("claims", ["this key", "another key"])
def test_a_checkpoint_written_without_the_key_to_slip_past_the_guard_is_named(trail, settings, claims):
    """Someone who can write the tables (not alter them) writes a checkpoint so the database lets entries go."""
    third = AuditEntry.objects.get(seq=3)
    guess = b"a guess at the key"
    fields = {
        "from_seq": 1, "up_to_seq": 3, "last_hash": third.chain_hash, "removed": 3,
        "first_at": third.at, "last_at": third.at, "keep_days": 2190, "cutoff": clock.now(),
        "written_at": clock.now(), "written_by": "manage.py retention --purge",
        "key_id": chain.key_id(base64.b64decode(settings.AUDIT_CHAIN_KEY) if claims == "this key" else guess),
    }  # fmt: skip
    forged = AuditCheckpoint(**fields, prev_signature=chain.GENESIS, signature=chain.checkpoint_signature(guess, fields, ""))
    with transaction.atomic():
        forged.save()
        retention.lift_guards()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE seq <= 3")
    assert not AuditEntry.objects.filter(seq__lte=3).exists()  # the guard let them go: the checkpoint must tell

    message = verify_fails()
    reason = "forged or edited: its signature does not match" if claims == "this key" else "signed under another key"
    assert f"checkpoint {forged.pk} (entries up to #3): {reason}" in message


def test_a_checkpoint_removed_from_between_two_is_reported(trail):
    trail_retention.purge(actor=None, by="test", batch=15)
    first, second = AuditCheckpoint.objects.order_by("up_to_seq")
    raw_sql("DELETE FROM audit_auditcheckpoint WHERE id = %s", [first.pk])
    message = verify_fails()
    assert f"checkpoint {second.pk} (entries up to #30): it does not follow the checkpoint before it" in message


def test_the_oldest_entries_deleted_without_a_checkpoint_are_reported(trail):
    raw_sql("DELETE FROM audit_auditentry WHERE seq <= %s", [5])
    message = verify_fails()
    assert "entries #1 to #5 are missing at the start of the chain, and no checkpoint covers them" in message


def test_entries_deleted_beyond_the_checkpoint_are_reported(trail):
    trail_retention.purge(actor=None, by="test")
    checkpoint = AuditCheckpoint.objects.get()
    raw_sql("DELETE FROM audit_auditentry WHERE seq IN (31, 32)", [])
    message = verify_fails()
    assert f"entries #31 to #32 were removed beyond checkpoint {checkpoint.pk}, which covers the entries up to #30" in message


def test_the_first_entry_left_must_link_to_the_checkpoint(trail):
    trail_retention.purge(actor=None, by="test")
    checkpoint = AuditCheckpoint.objects.get()
    raw_sql("UPDATE audit_auditentry SET prev_hash = %s WHERE seq = 31", ["0" * 64])
    message = verify_fails()
    assert f"seq 31 (entry id {AuditEntry.objects.get(seq=31).pk}): it does not link to checkpoint {checkpoint.pk}'s" in message


def test_entries_left_below_the_checkpoint_are_reported(trail):
    """A checkpoint that says more went than did (written with the key, by a faulty or forced purge)."""
    trail_retention.purge(actor=None, by="test")
    checkpoint = AuditCheckpoint.objects.get()
    left = AuditEntry.objects.get(seq=31)
    raw_sql("UPDATE audit_auditentry SET seq = 30 WHERE seq = 31", [])
    message = verify_fails()
    assert (
        f"seq 30 (entry id {left.pk}): it is still here, yet checkpoint {checkpoint.pk} says the entries up to #30 were removed"
        in message
    )


def test_the_purge_refuses_to_sign_over_a_trail_that_does_not_verify(trail):
    target = AuditEntry.objects.get(seq=12)
    raw_sql("UPDATE audit_auditentry SET detail = %s WHERE id = %s", ["rewritten", target.pk])
    with pytest.raises(CommandError, match=r"does not verify at seq 12 .*nothing was removed"):
        run("--purge")
    assert not AuditCheckpoint.objects.exists()
    assert AuditEntry.objects.filter(seq__isnull=False).count() == 40


# The database's guard


def test_a_plain_delete_of_audit_entries_is_refused_by_the_database_on_both_engines(trail):
    oldest = AuditEntry.objects.get(seq=1)
    for delete in (
        lambda: AuditEntry.objects.filter(pk=oldest.pk).delete(),
        lambda: connection.cursor().execute("DELETE FROM audit_auditentry WHERE seq <= 3"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            delete()
    # Saying "retention" is not enough: only entries within a checkpoint of the same transaction may go.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        retention.lift_guards()
        AuditEntry.objects.filter(pk=oldest.pk).delete()
    run("--purge")
    checkpoint = AuditCheckpoint.objects.get()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        retention.lift_guards()  # the checkpoint was written by another transaction, and covers none of these
        AuditEntry.objects.filter(seq=31).delete()
    for change in ("UPDATE audit_auditcheckpoint SET removed = 1", "DELETE FROM audit_auditcheckpoint"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(change)
    with pytest.raises(RuntimeError, match="append-only"):
        checkpoint.save()
    assert AuditEntry.objects.filter(seq__isnull=False).count() == 10 and verify_chain().ok


def test_an_unsealed_entry_never_goes_even_within_a_checkpoint(trail):
    pending = audit_record(actor=None, action=Action.READ, object_type="case", object_id=7)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditCheckpoint.objects.create(
            from_seq=1, up_to_seq=1, last_hash="", removed=1, first_at=clock.now(), last_at=clock.now(), keep_days=1,
            cutoff=clock.now(), written_at=clock.now(), written_by="x", key_id="", prev_signature="", signature="",
        )  # fmt: skip
        retention.lift_guards()
        AuditEntry.objects.filter(pk=pending.pk).delete()


def test_the_guards_are_in_place_after_every_migration():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'audit_%%'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'audit_%'")
        names = {row[0] for row in cursor.fetchall()}
    expected = (
        {"audit_entry_append_only", "audit_checkpoint_append_only"}
        if connection.vendor == "postgresql"
        else {"audit_entry_no_delete", "audit_entry_append_only", "audit_checkpoint_no_update", "audit_checkpoint_no_delete"}
    )
    assert names == expected


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL empties tables with TRUNCATE, which row triggers do not see"
)
def test_flushing_the_whole_database_still_empties_the_trail_and_keeps_the_guards(trail):
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEntry.objects.exists()
    test_the_guards_are_in_place_after_every_migration()


# The period, and what may not go


def test_a_period_shorter_than_a_record_is_kept_is_refused(trail, county, settings, users):
    settings.AUDIT_RETENTION_DAYS = 1000  # persons are kept 1095 days by default
    with pytest.raises(CommandError, match=r"shorter than the 1095 days people.person \(its default\) is kept"):
        run()
    assert [m.id for m in audit_retention()] == ["audit.E001"]
    settings.AUDIT_RETENTION_DAYS = 0
    with pytest.raises(DomainError, match="at least 1 day"):
        trail_retention.purge(actor=None, by="test")

    settings.AUDIT_RETENTION_DAYS = 2190
    RetentionRule.objects.create(jurisdiction=county, record_type="people.person", keep_days=3000)  # set before
    with pytest.raises(CommandError, match=r"shorter than the 3000 days people.person in xs-north is kept"):
        run("--purge")
    assert not AuditCheckpoint.objects.exists()
    privacy = users[Role.PRIVACY_OFFICER]
    with pytest.raises(DomainError, match="longer than the audit trail") as caught:
        retention.rule_set(actor=privacy, jurisdiction=county, record_type="people.person", keep_days=2191)
    assert caught.value.field == "keep_days"

    settings.AUDIT_RETENTION_DAYS = 1500
    assert [m.id for m in audit_retention()] == ["audit.W001"]  # allowed, but below HIPAA's six years
    settings.AUDIT_RETENTION_DAYS = 2190
    assert audit_retention() == []


def test_a_legal_hold_on_a_jurisdiction_keeps_its_entries_and_the_removal_stops_before_them(trail, users, county):
    privacy = users[Role.PRIVACY_OFFICER]
    hold = retention.legal_hold_place(actor=privacy, reason="Records request", jurisdiction=county)
    step = trail_retention.plan()
    assert step.count == 0 and step.held_from == 1
    assert "a legal hold keeps entry #1 and every one after it" in run()
    trail_retention.purge(actor=None, by="test")
    assert not AuditCheckpoint.objects.exists()

    retention.legal_hold_lift(actor=privacy, hold=hold)
    assert trail_retention.plan().count == 30


def test_a_legal_hold_on_a_person_stops_the_removal_at_their_first_entry(users, county, make_person):
    actor = users[Role.CASE_INVESTIGATOR]
    write(actor, 4, ago=SEVEN_YEARS)
    with time_machine.travel(clock.now() - SEVEN_YEARS, tick=False):
        person = make_person(county, first_name="Held")  # its creation is audited
    write(actor, 4, ago=SEVEN_YEARS, first_id=10)
    seal_all()
    first_about = AuditEntry.objects.filter(object_type="person", object_id=str(person.pk)).order_by("seq").first()
    retention.legal_hold_place(actor=users[Role.PRIVACY_OFFICER], reason="Court order", person_id=person.pk)

    trail_retention.purge(actor=None, by="test")

    assert AuditCheckpoint.objects.get().up_to_seq == first_about.seq - 1
    assert AuditEntry.objects.filter(pk=first_about.pk).exists()


def test_a_hostile_batch_is_refused(trail):
    for batch in (0, -5, 10**9):
        with pytest.raises(DomainError, match="A batch"):
            trail_retention.purge(actor=None, by="test", batch=batch)
    with pytest.raises(CommandError, match="Unknown record type"):
        call_command("retention", "--type", "audit.trail; DROP TABLE audit_auditentry")


# The pages after a purge


def test_the_trail_page_and_the_who_accessed_report_show_what_remains_and_say_what_was_removed(
    client, users, county, make_person
):
    investigator = users[Role.CASE_INVESTIGATOR]
    with time_machine.travel(clock.now() - SEVEN_YEARS, tick=False):
        person = make_person(county, first_name="Ruth")
    audit_record(actor=investigator, action=Action.READ, object_type="person", object_id=person.pk, jurisdiction_id=county.pk)
    seal_all()
    run("--purge")
    checkpoint = AuditCheckpoint.objects.get()
    # The page shows the date in the deployment's time zone (at 01:00 UTC it is still yesterday in New York).
    removed_line = f"written up to {timezone.localtime(checkpoint.last_at):%Y-%m-%d}, were removed after the audit trail"

    for role in (Role.AUDITOR, Role.PRIVACY_OFFICER):
        client.force_login(users[role])
        page = client.get(reverse("workspace:audit_log"))
        assert page.status_code == 200 and removed_line in page.content.decode().replace("&#x27;", "'")
        assert all(e.seq is None or e.seq > checkpoint.up_to_seq for e in page.context["page"].object_list)
        report = client.get(reverse("workspace:person_access"), {"person": person.pk})
        assert report.status_code == 200 and removed_line in report.content.decode().replace("&#x27;", "'")
        shown = {(e.action, e.object_type, e.object_id) for e in report.context["page"].object_list}
        assert ("read", "person", str(person.pk)) in shown and ("create", "person", str(person.pk)) not in shown

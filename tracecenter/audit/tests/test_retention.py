"""Retention: periods per record type and jurisdiction, the dry run, purge and de-identification, legal holds."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit import retention
from tracecenter.audit.models import AuditEntry, LegalHold
from tracecenter.cases.models import Case, CaseStatusChange
from tracecenter.cases.services import case_change_status
from tracecenter.core import clock
from tracecenter.intake.models import InboundMessage, LabResult
from tracecenter.intake.pipeline import Intake
from tracecenter.intake.synthetic import SyntheticReport, oru_r01
from tracecenter.people.models import ContactPoint, Person, PersonMatchKey
from tracecenter.people.services import PersonInput, person_find_exact

pytestmark = pytest.mark.django_db

LONG_AGO = dt.timedelta(days=4 * 365)


def old_closed_case(make_case, county, supervisor, **person):
    """A case (from a real lab message) closed four years ago, with notes, a reason and a phone."""
    with time_machine.travel(clock.now() - LONG_AGO, tick=False):
        report = SyntheticReport(
            control_id=f"OLD{person.get('first_name', 'x')}",
            first_name=person.get("first_name", "Hester"),
            last_name="Quennell",
            date_of_birth=dt.date(1961, 2, 3),
            collected=clock.today() - dt.timedelta(days=2),
            accession=f"OLDACC{person.get('first_name', 'x')}",
            phone="6175550177",
        )
        run = Intake(root=county)
        run.ingest_bytes(oru_r01(report).encode(), filename="old.hl7")
        run.finish()
        run_background_work()
        case = Case.objects.get(person__lab_results__message__control_id=report.control_id)
        case.interview_notes = "Works nights at the Harbor bakery"
        case.save()
        case_change_status(actor=supervisor, case=case, to_status="closed", reason="Lost to follow-up: moved to Ohio")
    return Case.objects.get(pk=case.pk)


def test_a_person_with_nothing_recent_left_is_de_identified_and_their_records_stay_anonymous(make_case, county, users):
    case = old_closed_case(make_case, county, users[Role.SUPERVISOR])
    person = case.person
    Person.objects.filter(pk=person.pk).update(date_of_birth_as_written="19610231")  # also erased
    recent = make_case(county, first_name="Recent")  # an open case: still needed

    steps = {(s.record_type.name, s.jurisdiction.pk): s for s in retention.plan(county)}
    assert steps[("people.person", county.pk)].count == 1  # the dry run counts, and changes nothing
    assert Person.objects.get(pk=person.pk).first_name == "Hester"

    retention.carry_out(county, actor=None)

    person.refresh_from_db()
    assert (person.first_name, person.last_name, person.date_of_birth, person.street) == ("", "", None, "")
    assert person.date_of_birth_as_written == ""
    assert person.deidentified_at is not None and person.last_name_bidx == ""
    assert not ContactPoint.objects.filter(person=person).exists()
    assert not PersonMatchKey.objects.filter(person=person).exists()
    case.refresh_from_db()
    assert case.interview_notes == "" and case.status == "closed" and case.specimen_collection_date is not None
    assert set(CaseStatusChange.objects.filter(case=case).values_list("reason", flat=True)) == {""}
    assert LabResult.objects.filter(person=person).count() == 1  # it still counts
    assert set(InboundMessage.objects.filter(lab_results__person=person).values_list("raw", flat=True)) == {""}
    assert AuditEntry.objects.filter(action="deidentify", object_type="person", object_id=str(person.pk)).count() == 1
    # Nobody finds them by name any more; the person with an open case is untouched.
    everyone = Person.objects.filter(jurisdiction=county)
    hester = PersonInput(first_name="Hester", last_name="Quennell", date_of_birth=dt.date(1961, 2, 3))
    assert person_find_exact(among=everyone, data=hester) is None
    assert Person.objects.get(pk=recent.person_id).first_name == "Recent"
    # Run again: nothing more to do.
    assert all(gone == 0 for _step, gone in retention.carry_out(county, actor=None))


def test_a_legal_hold_on_a_person_or_a_jurisdiction_keeps_everything_it_names(make_case, county, state, users):
    held = old_closed_case(make_case, county, users[Role.SUPERVISOR], first_name="Held")
    privacy = users[Role.PRIVACY_OFFICER]
    privacy.jurisdiction = state
    privacy.save()
    hold = retention.legal_hold_place(actor=privacy, reason="Litigation 2030-17", person_id=held.person_id)
    retention.carry_out(county, actor=None)
    assert Person.objects.get(pk=held.person_id).first_name == "Held"

    retention.legal_hold_lift(actor=privacy, hold=hold)
    whole = retention.legal_hold_place(actor=privacy, reason="Records request", jurisdiction=county)
    assert {s.count for s in retention.plan(county) if s.record_type.name == "people.person"} == {0}
    retention.legal_hold_lift(actor=privacy, hold=whole)
    retention.carry_out(county, actor=None)
    assert Person.objects.get(pk=held.person_id).first_name == ""
    assert set(AuditEntry.objects.filter(object_type="legal_hold").values_list("action", flat=True)) == {"create", "update"}


def test_a_period_set_for_the_state_applies_to_its_counties_unless_a_county_sets_its_own(county, other_county, state, users):
    privacy = users[Role.PRIVACY_OFFICER]
    privacy.jurisdiction = state
    privacy.save()
    retention.rule_set(actor=privacy, jurisdiction=state, record_type="intake.rejected_message", keep_days=30)
    retention.rule_set(actor=privacy, jurisdiction=county, record_type="intake.rejected_message", keep_days=400)
    kept = {
        s.jurisdiction.pk: (s.keep_days, s.inherited_from and s.inherited_from.pk)
        for s in retention.plan(state)
        if s.record_type.name == "intake.rejected_message"
    }
    assert kept == {state.pk: (30, state.pk), county.pk: (400, county.pk), other_county.pk: (30, state.pk)}


def test_someone_without_the_capability_cannot_set_periods_or_holds(county, users):
    from django.core.exceptions import PermissionDenied

    for role in (Role.SUPERVISOR, Role.ADMINISTRATOR, Role.AUDITOR):
        with pytest.raises(PermissionDenied):
            retention.rule_set(actor=users[role], jurisdiction=county, record_type="people.person", keep_days=10)
        with pytest.raises(PermissionDenied):
            retention.legal_hold_place(actor=users[role], reason="x", jurisdiction=county)


def rejected_message(county, n: int) -> InboundMessage:
    run = Intake(root=county)
    nameless = SyntheticReport(
        control_id=f"BAD{n}",
        first_name="",
        last_name="",
        date_of_birth=dt.date(1970, 1, 1),
        collected=clock.today(),
        accession=f"BADACC{n}",
    )
    run.ingest_bytes(oru_r01(nameless).encode(), filename="bad.hl7")
    run.finish()
    return InboundMessage.objects.filter(state="rejected").latest("pk")


def test_rejected_raw_messages_are_purged_after_their_period_and_the_command_says_so(county, state):
    with time_machine.travel(clock.now() - dt.timedelta(days=100), tick=False):
        old = rejected_message(county, 1)
    fresh = rejected_message(county, 2)
    out = io.StringIO()
    call_command("retention", "--type", "intake.rejected_message", stdout=out)
    assert f"intake.rejected_message in {county.code}: kept 90 days (default), 1 past it" in out.getvalue()
    assert "dry run: nothing was changed" in out.getvalue()
    assert InboundMessage.objects.filter(pk=old.pk).exists()

    out = io.StringIO()
    call_command("retention", "--purge", "--type", "intake.rejected_message", stdout=out)
    assert f"intake.rejected_message in {county.code}: purged 1" in out.getvalue()
    assert not InboundMessage.objects.filter(pk=old.pk).exists() and InboundMessage.objects.filter(pk=fresh.pk).exists()
    assert AuditEntry.objects.filter(action="purge", object_type="inbound_message", object_id=str(old.pk)).exists()


def test_the_command_refuses_an_unknown_type_or_jurisdiction(county):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Unknown record type"):
        call_command("retention", "--type", "everything")
    with pytest.raises(CommandError, match="No jurisdiction"):
        call_command("retention", "--jurisdiction", "atlantis")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only triggers exist on PostgreSQL only")
def test_on_postgresql_a_received_message_goes_only_through_retention(county):
    message = rejected_message(county, 3)
    with pytest.raises(DatabaseError), transaction.atomic():
        InboundMessage.objects.filter(pk=message.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        InboundMessage.objects.filter(pk=message.pk).update(raw="")
    with transaction.atomic():
        retention.lift_guards()
        InboundMessage.objects.filter(pk=message.pk).delete()
    assert not InboundMessage.objects.filter(pk=message.pk).exists()


def test_the_privacy_officer_reads_the_dry_run_and_places_and_lifts_a_hold_on_the_page(client, county, state, users):
    privacy = users[Role.PRIVACY_OFFICER]
    privacy.jurisdiction = state
    privacy.save()
    client.force_login(privacy)
    page = client.get(reverse("workspace:retention"))
    assert page.status_code == 200 and "Rejected raw lab messages" in page.content.decode()
    response = client.post(reverse("workspace:legal_hold_place"), {"reason": "Court order 12", "person_id": "42"})
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert hold.person_id == 42 and hold.reason == "Court order 12" and hold.placed_by == privacy
    client.post(reverse("workspace:legal_hold_lift", args=[hold.pk]))
    hold.refresh_from_db()
    assert hold.lifted_at is not None and hold.lifted_by == privacy
    # Hostile input: nothing named, a huge reason, HTML: refused or shown escaped, never half-saved.
    client.post(reverse("workspace:legal_hold_place"), {"reason": "x"})
    client.post(reverse("workspace:legal_hold_place"), {"reason": "y" * 10_000, "person_id": "1"})
    client.post(reverse("workspace:legal_hold_place"), {"reason": "<script>alert(1)</script>", "object_id": "7"})
    assert LegalHold.objects.count() == 1
    assert "<script>alert(1)</script>" not in client.get(reverse("workspace:retention")).content.decode()

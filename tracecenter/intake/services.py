"""Recording lab results. Feeds (HL7, CSV, FHIR) will call the same service."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, events
from tracecenter.core.actors import acting_user
from tracecenter.core.errors import DomainError
from tracecenter.intake.classify import loinc_is_valid, test_condition
from tracecenter.intake.events import LabResultReceived
from tracecenter.intake.models import FeedSender, LabResult, PostalArea, ResultClass, condition_tests_configured
from tracecenter.people.models import Person


@dataclasses.dataclass
class LabResultInput:
    specimen_collection_date: dt.date
    test_loinc: str
    result: str
    test_name: str = ""
    result_date: dt.date | None = None
    performing_lab: str = ""
    ordering_provider: str = ""
    ordering_facility: str = ""


def clean_lab_result_input(date_of_birth: dt.date | None, data: LabResultInput) -> dict[str, Any]:
    """Validate a result for a person born on `date_of_birth` (None: unknown); DomainError names the field."""
    today = clock.today()
    if data.specimen_collection_date.year < 1900:
        raise DomainError(_("The specimen collection date is before 1900: check the date."), field="specimen_collection_date")
    if data.specimen_collection_date > today:
        raise DomainError(_("The specimen collection date cannot be in the future."), field="specimen_collection_date")
    if date_of_birth and data.specimen_collection_date < date_of_birth:
        raise DomainError(_("The specimen was collected before the person was born."), field="specimen_collection_date")
    if data.result_date is not None:
        if data.result_date > today:
            raise DomainError(_("The result date cannot be in the future."), field="result_date")
        if data.result_date < data.specimen_collection_date:
            raise DomainError(_("The result date is before the specimen was collected."), field="result_date")
    code = data.test_loinc.strip()
    if not loinc_is_valid(code):
        raise DomainError(
            _("%(code)s is not a valid LOINC code (digits, a dash, a check digit).") % {"code": code[:20]}, field="test_loinc"
        )
    if data.result not in ResultClass.values:
        raise DomainError(_("Choose one of the listed results."), field="result")
    values: dict[str, Any] = {
        "specimen_collection_date": data.specimen_collection_date,
        "result_date": data.result_date,
        "test_loinc": code,
        "result": data.result,
    }
    for field in ("test_name", "performing_lab", "ordering_provider", "ordering_facility"):
        text = " ".join((getattr(data, field) or "").split())
        if len(text) > 200:
            raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": 200}, field=field)
        values[field] = text
    return values


@transaction.atomic
def lab_result_record(
    *, actor: User | None, person: Person, data: LabResultInput, source: str = LabResult.Source.MANUAL
) -> LabResult:
    """Store a result and announce it; cases listens and opens a case for a positive."""
    values = clean_lab_result_input(person.date_of_birth, data)
    lab = LabResult.objects.create(
        person=person,
        condition=test_condition(values["test_loinc"])[0] or condition_tests_configured().get(values["test_loinc"], ("",))[0],
        jurisdiction_id=person.jurisdiction_id,
        source=source,
        entered_by=acting_user(actor),
        **values,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="lab_result",
        object_id=lab.pk,
        jurisdiction_id=person.jurisdiction_id,
        fields=sorted(values),
    )
    events.publish(
        LabResultReceived(
            lab_result_id=lab.pk, person_id=person.pk, jurisdiction_id=person.jurisdiction_id, classification=lab.result
        )
    )
    return lab


# --- Senders allowed to deliver over MLLP


def _facility_key(sending_facility: str) -> str:
    return " ".join(sending_facility.split()).casefold()


@transaction.atomic
def feed_sender_add(*, actor: User | None, jurisdiction: Jurisdiction, sending_facility: str, name: str = "") -> FeedSender:
    """Allow a sending facility (MSH-4's universal id or namespace id) to deliver to `jurisdiction`; again: reactivate it."""
    facility = " ".join(sending_facility.split())
    name = " ".join(name.split())[:200]
    if not facility or len(facility) > 200:
        raise DomainError(_("Give the sending facility's id (MSH-4), at most 200 characters."), field="sending_facility")
    key = _facility_key(facility)
    same = [s for s in FeedSender.objects.filter(jurisdiction=jurisdiction) if _facility_key(s.sending_facility) == key]
    if same:
        sender = same[0]
        sender.active = True
        sender.name = name or sender.name
        sender.save(update_fields=["active", "name", "updated_at"])
        action, fields = Action.UPDATE, ["active", "name"]
    else:
        sender = FeedSender.objects.create(jurisdiction=jurisdiction, sending_facility=facility, name=name)
        action, fields = Action.CREATE, ["sending_facility", "name", "active"]
    audit_record(
        actor=actor, action=action, object_type="feed_sender", object_id=sender.pk, jurisdiction_id=jurisdiction.pk, fields=fields
    )
    return sender


@transaction.atomic
def feed_sender_set_active(*, actor: User | None, sender: FeedSender, active: bool) -> FeedSender:
    """Stop (or start again) taking a sender's messages; the row stays, so the trail of who was allowed stays too."""
    sender.active = active
    sender.save(update_fields=["active", "updated_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="feed_sender",
        object_id=sender.pk,
        jurisdiction_id=sender.jurisdiction_id,
        fields=["active"],
    )
    return sender


# --- Postal areas: where a lab result goes when the lab wrote a postal code and no county


def _postal_prefix(prefix: str) -> str:
    cleaned = "".join(prefix.split()).upper()
    if not cleaned or len(cleaned) > 10 or not cleaned.isalnum() or not cleaned.isascii():
        raise DomainError(_("Give the start of the postal codes: 1 to 10 letters or digits, such as 021."), field="prefix")
    return cleaned


@transaction.atomic
def postal_area_add(*, actor: User | None, jurisdiction: Jurisdiction, prefix: str) -> PostalArea:
    """Postal codes starting with `prefix` lie in `jurisdiction` (a prefix names one jurisdiction only)."""
    prefix = _postal_prefix(prefix)
    existing = PostalArea.objects.filter(prefix=prefix).select_related("jurisdiction").first()
    if existing is not None and existing.jurisdiction_id != jurisdiction.pk:
        raise DomainError(
            _("Postal codes starting with %(prefix)s already go to %(name)s: remove that first.")
            % {"prefix": prefix, "name": existing.jurisdiction.name},
            field="prefix",
        )
    area = existing or PostalArea.objects.create(jurisdiction=jurisdiction, prefix=prefix)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="postal_area",
        object_id=area.pk,
        jurisdiction_id=jurisdiction.pk,
        fields=["prefix"],
    )
    return area


@transaction.atomic
def postal_area_remove(*, actor: User | None, prefix: str) -> bool:
    area = PostalArea.objects.filter(prefix=_postal_prefix(prefix)).first()
    if area is None:
        return False
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type="postal_area",
        object_id=area.pk,
        jurisdiction_id=area.jurisdiction_id,
        fields=["prefix"],
    )
    area.delete()
    return True

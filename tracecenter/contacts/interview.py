"""Recording a case interview: the case's facts, the places it went, the contacts it named.

All of it is saved in one transaction or none of it is: a tracer on the phone who
typed ten contacts must not find five saved and five lost because one date was
wrong. An error names the row and field at fault ("contacts", 2, "last_exposure_date").
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracecenter.accounts.models import User
from tracecenter.cases.models import Case
from tracecenter.cases.services import CaseFacts, case_mark_interviewed, case_record_facts
from tracecenter.contacts.events import InterviewCompleted
from tracecenter.contacts.services import (
    ExposureInput,
    PlaceInput,
    attendance_record,
    event_find_or_create,
    exposure_add,
    place_find_or_create,
)
from tracecenter.core import events
from tracecenter.core.errors import DomainError
from tracecenter.people.services import PersonInput

MAX_ROWS = 100


@dataclasses.dataclass
class VisitInput:
    place: PlaceInput
    day: dt.date
    arrived: dt.time
    left: dt.time
    event_name: str = ""


@dataclasses.dataclass
class ContactInput:
    person: PersonInput
    exposure: ExposureInput


class InterviewError(DomainError):
    """A DomainError that also names the repeating section and row it came from.

    `errors` holds every error of the save (this one first): a tracer fixes them all at once,
    rather than finding the next one only after fixing the first.
    """

    def __init__(self, message: str, *, section: str | None, row: int | None, field: str | None) -> None:
        super().__init__(message, field=field)
        self.section = section
        self.row = row
        self.errors: list[InterviewError] = [self]

    @classmethod
    def of(cls, errors: list[InterviewError]) -> InterviewError:
        first = errors[0]
        first.errors = list(errors)
        return first


def _local(day: dt.date, at: dt.time) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, at))


@transaction.atomic
def interview_record(
    *, actor: User | None, case: Case, facts: CaseFacts, visits: list[VisitInput], contacts: list[ContactInput]
) -> Case:
    """Save the interview whole, or nothing and every error it has (InterviewError, its `errors`)."""
    if len(visits) > MAX_ROWS or len(contacts) > MAX_ROWS:
        raise InterviewError(_("At most %(n)d rows per section.") % {"n": MAX_ROWS}, section=None, row=None, field=None)
    errors: list[InterviewError] = []
    # Each part in its own savepoint: a part that fails leaves nothing behind, and the parts after it are
    # still checked, so that one save reports every error. Any error rolls the whole interview back below.
    try:
        with transaction.atomic():
            case_record_facts(actor=actor, case=case, facts=facts)
    except DomainError as exc:
        errors.append(InterviewError(exc.message, section=None, row=None, field=exc.field))
    for index, visit in enumerate(visits):
        try:
            with transaction.atomic():
                place = place_find_or_create(actor=actor, jurisdiction=case.jurisdiction, data=visit.place)
                arrived, left = _local(visit.day, visit.arrived), _local(visit.day, visit.left)
                event = (
                    event_find_or_create(place=place, name=visit.event_name, starts_at=arrived, ends_at=left)
                    if visit.event_name.strip()
                    else None
                )
                attendance_record(actor=actor, case=case, place=place, event=event, arrived_at=arrived, left_at=left)
        except DomainError as exc:
            errors.append(InterviewError(exc.message, section="visits", row=index, field=_visit_field(exc.field)))
    for index, contact in enumerate(contacts):
        try:
            with transaction.atomic():
                exposure_add(actor=actor, case=case, person=contact.person, data=contact.exposure)
        except DomainError as exc:
            field = "phone" if exc.field == "phones" else exc.field
            errors.append(InterviewError(exc.message, section="contacts", row=index, field=field))
    if errors:
        raise InterviewError.of(errors)  # leaving the outer transaction by an exception: nothing is saved
    case_mark_interviewed(actor=actor, case=case, contacts=len(contacts), places=len(visits))
    events.publish(InterviewCompleted(case_id=case.pk, contacts_elicited=len(contacts)))
    return case


def _visit_field(field: str | None) -> str | None:
    return {"arrived_at": "arrived", "left_at": "left", "ends_at": "left"}.get(field or "", field)

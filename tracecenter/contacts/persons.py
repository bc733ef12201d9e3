"""Persons as a user may see them: which persons, and which of each person's records.

A person has no owner of their own: they are seen through a case or a contact the access policy
lets the user see (and, until they are either, by whoever entered them). So the question "may
this user see this person" is answered from the cases and contacts, here, where both are known
(contacts sits above cases and people), and the person page shows each record of the person
only if the policy lets the user see that record: a tracer who follows one contact of a person
sees that exposure and the person's identity, not the person's other cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.cases.models import Case, CaseActivity
from tracecenter.cases.selectors import cases_permitted
from tracecenter.contacts.models import Attendance, Exposure
from tracecenter.intake.models import LabResult
from tracecenter.people.models import ContactPoint, Person, PersonNameChange


def unattached_persons_visible_to(user: Viewer) -> QuerySet[Person]:
    """Persons with no case and no contact yet, in the user's scope: seen by whoever entered them."""
    if policy.signed_in(user) is None:
        return Person.objects.none()
    # NOT EXISTS per person rather than NOT IN every case's person: asked of a handful of persons (a search's
    # candidates, one page), the database looks each one up instead of reading every case and contact first.
    unattached = Person.objects.exclude(Exists(Case.objects.filter(person=OuterRef("pk")))).exclude(
        Exists(Exposure.objects.filter(person=OuterRef("pk")))
    )
    return policy.scope(unattached, user, assigned=Q(created_by=user.pk), team_field=None)


def _persons_through(user: Viewer, act: policy.Act) -> QuerySet[Person]:
    # Correlated EXISTS rather than IN (...): with a million persons and a state's cases, "is this person one of
    # the user's" is then answered per person through the person_id indexes, for the few persons a page or a
    # search asks about, instead of first listing the persons of every case and contact the user may see.
    cases = cases_permitted(user, act).filter(person=OuterRef("pk"))
    exposures = policy.permitted(Exposure.objects.all(), user, act).filter(person=OuterRef("pk"))
    unattached = unattached_persons_visible_to(user).filter(pk=OuterRef("pk"))
    return Person.objects.filter(Exists(cases) | Exists(exposures) | Exists(unattached))


def persons_visible_to(user: Viewer) -> QuerySet[Person]:
    """The persons of the cases and contacts `user` may read in full, and those they entered."""
    if policy.signed_in(user) is None:
        return Person.objects.none()
    return _persons_through(user, policy.Act.READ)


def persons_editable_by(user: Viewer) -> QuerySet[Person]:
    """The persons `user` may correct: of a case or contact they may edit, or entered by them and not yet either.

    A record opened by breaking the glass is read only, and so is its person.
    """
    if not policy.has(user, Capability.EDIT_RECORDS):
        return Person.objects.none()
    return _persons_through(user, policy.Act.EDIT)


@dataclasses.dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    kind: str  # "lab_result", "case", "contact", "named_contact", "place", or a case activity's kind
    label: str
    record: Any


@dataclasses.dataclass
class PersonRecord:
    """Everything of one person that one user may see."""

    person: Person
    phones: list[ContactPoint]
    emails: list[ContactPoint]
    earlier_names: list[PersonNameChange]
    household: list[Person]
    lab_results: list[LabResult]
    cases: list[Case]
    exposures: list[Exposure]  # the person as a contact
    named_contacts: list[Exposure]  # contacts the person's cases named
    attendances: list[Attendance]
    activities: list[CaseActivity]
    may_edit: bool

    def timeline(self) -> list[TimelineItem]:
        """Every dated item above, newest first."""
        items: list[TimelineItem] = []
        for result in self.lab_results:
            items.append(TimelineItem(_day(result.specimen_collection_date), "lab_result", result.get_result_display(), result))
        for exposure in self.exposures:
            items.append(TimelineItem(_day(exposure.last_exposure_date), "contact", exposure.get_status_display(), exposure))
        for exposure in self.named_contacts:
            items.append(TimelineItem(_day(exposure.last_exposure_date), "named_contact", "", exposure))
        for attendance in self.attendances:
            items.append(TimelineItem(attendance.arrived_at, "place", attendance.place.display_name, attendance))
        for activity in self.activities:
            items.append(TimelineItem(activity.at, activity.kind, activity.get_kind_display(), activity))
        return sorted(items, key=lambda item: item.at, reverse=True)


def _day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


MAX_ITEMS = 200


def person_record_for(user: Viewer, person: Person) -> PersonRecord:
    """What `user` may see of `person`, whom they may see (fetched through `persons_visible_to`).

    Cases only those the user may read in full; contacts (as the exposed person, or named by the
    person's cases) only those the policy lets them read; lab results those of readable cases and
    those that opened no case; places and events those of readable cases; household members only
    those the user may see. Each list is bounded.
    """
    readable_cases = cases_permitted(user, policy.Act.READ)
    readable_exposures = policy.permitted(Exposure.objects.all(), user, policy.Act.READ)
    cases = list(readable_cases.filter(person=person).select_related("owner", "jurisdiction").order_by("-opened_at")[:MAX_ITEMS])
    case_ids = [case.pk for case in cases]
    points = list(person.contact_points.all())
    return PersonRecord(
        person=person,
        phones=[p for p in points if p.kind == ContactPoint.Kind.PHONE],
        emails=[p for p in points if p.kind == ContactPoint.Kind.EMAIL],
        earlier_names=list(person.name_changes.all()[:50]),
        household=(
            list(persons_visible_to(user).filter(household_id=person.household_id).exclude(pk=person.pk)[:50])
            if person.household_id
            else []
        ),
        lab_results=list(
            LabResult.objects.filter(person=person)
            .filter(Q(cases__in=case_ids) | Q(cases__isnull=True))
            .distinct()
            .order_by("-specimen_collection_date", "-pk")[:MAX_ITEMS]
        ),
        cases=cases,
        exposures=list(
            readable_exposures.filter(person=person)
            .select_related("case", "owner", "parent_exposure")
            .order_by("-last_exposure_date", "-pk")[:MAX_ITEMS]
        ),
        named_contacts=list(
            readable_exposures.filter(case__in=case_ids)
            .select_related("person")
            .order_by("-last_exposure_date", "-pk")[:MAX_ITEMS]
        ),
        attendances=list(
            Attendance.objects.filter(person=person, case__in=case_ids)
            .select_related("place", "event")
            .order_by("-arrived_at")[:MAX_ITEMS]
        ),
        activities=list(CaseActivity.objects.filter(case__in=case_ids).order_by("-at", "-pk")[:MAX_ITEMS]),
        may_edit=persons_editable_by(user).filter(pk=person.pk).exists(),
    )

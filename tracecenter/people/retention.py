"""Persons are de-identified once nothing recent about them is left anywhere (audit/retention.py decides when).

De-identifying erases who someone was (names, birth date, address, notes, phones and
e-mails, the blind indexes and blocking keys that could find them) and keeps the record, so
cases, contacts and lab results still count in reports. The apps above people say which
persons they still need (an open case, a contact still in quarantine, anything changed since
the cutoff) and erase their own free text about a person being de-identified: each registers
its `in_use` and `forget` here when it starts, as each moves its own rows in a merge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet

from tracecenter.audit import retention
from tracecenter.core import clock
from tracecenter.people.models import ContactPoint, MatchReview, Person, PersonMatchKey, PersonNameChange

InUse = Callable[[dt.datetime], QuerySet[Any]]  # ids of persons still needed after the cutoff (a values() queryset)
Forget = Callable[[list[int]], None]  # erase an app's own free text about these persons

_IN_USE: dict[str, InUse] = {}
_FORGET: dict[str, Forget] = {}


def register_user(name: str, *, in_use: InUse, forget: Forget) -> None:
    """An app that keeps records about persons: what it still needs, and how it forgets."""
    _IN_USE[name] = in_use
    _FORGET[name] = forget


def users() -> list[str]:
    return sorted(_IN_USE)


def expired(jurisdiction_id: int, cutoff: dt.datetime) -> QuerySet[Person]:
    rows = Person.objects.filter(
        jurisdiction_id=jurisdiction_id, deidentified_at__isnull=True, created_at__lt=cutoff, updated_at__lt=cutoff
    )
    for in_use in _IN_USE.values():
        rows = rows.exclude(pk__in=in_use(cutoff))
    return rows


def persons_deidentify(ids: list[int]) -> int:
    """Erase who these persons were; each app forgets its own free text about them first."""
    for forget in _FORGET.values():
        forget(ids)
    ContactPoint.objects.filter(person_id__in=ids).delete()
    PersonNameChange.objects.filter(person_id__in=ids).delete()
    PersonMatchKey.objects.filter(person_id__in=ids).delete()
    MatchReview.objects.filter(Q(incoming_id__in=ids) | Q(candidate_id__in=ids), status=MatchReview.Status.OPEN).delete()
    return Person.objects.filter(pk__in=ids).update(
        first_name="",
        middle_name="",
        last_name="",
        date_of_birth=None,
        date_of_birth_as_written="",
        street="",
        city="",
        postal_code="",
        notes="",
        first_name_bidx="",
        last_name_bidx="",
        dob_bidx="",
        household=None,
        deidentified_at=clock.now(),
    )


PERSONS = retention.RecordType(
    name="people.person",
    label="Persons with nothing recent left (de-identified)",
    default_days=3 * 365,
    action=retention.DEIDENTIFY,
    object_type="person",
    expired=expired,
    carry=persons_deidentify,
    person_field="pk",
)

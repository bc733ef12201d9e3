"""Writes to persons: create, update, and the strict comparison of an entered person with known ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, crypto
from tracecenter.core.actors import acting_user
from tracecenter.core.codes import normalize_language
from tracecenter.core.errors import DomainError
from tracecenter.people import normalize
from tracecenter.people.identity import refresh_match_keys
from tracecenter.people.models import ContactPoint, Household, Person, PersonNameChange, Sex

MAX_TEXT = 200
_NAME_ERRORS = {
    "control_characters": gettext_lazy("A name cannot contain control characters."),
    "no_letter": gettext_lazy("A name must contain at least one letter."),
}
MAX_NOTES = 10_000
OLDEST_BIRTH_YEAR = 1900


@dataclasses.dataclass
class PersonInput:
    first_name: str
    last_name: str
    middle_name: str = ""
    date_of_birth: dt.date | None = None
    sex: str = Sex.UNKNOWN
    preferred_language: str = "en"
    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phones: list[str] = dataclasses.field(default_factory=list)
    emails: list[str] = dataclasses.field(default_factory=list)
    notes: str = ""


@dataclasses.dataclass(frozen=True)
class CleanPerson:
    values: dict[str, Any]
    phones: list[str]
    emails: list[str]


def clean_person_input(data: PersonInput) -> CleanPerson:
    """Validate and normalize; raises DomainError naming the first field at fault."""
    values: dict[str, Any] = {}
    for field in ("first_name", "middle_name", "last_name", "street", "city"):
        raw = getattr(data, field) or ""
        if len(raw) > MAX_TEXT:
            raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_TEXT}, field=field)
        try:
            values[field] = normalize.clean_name(raw) if field.endswith("name") else " ".join(raw.split())
        except normalize.InvalidValue as exc:
            raise DomainError(str(_NAME_ERRORS.get(exc.code, exc)), field=field) from None
    for field in ("first_name", "last_name"):
        if not values[field]:
            raise DomainError(_("This field is required."), field=field)
    dob = data.date_of_birth
    if dob is not None:
        if dob > clock.today():
            raise DomainError(_("The date of birth cannot be in the future."), field="date_of_birth")
        if dob.year < OLDEST_BIRTH_YEAR:
            raise DomainError(_("The date of birth is before %(year)d.") % {"year": OLDEST_BIRTH_YEAR}, field="date_of_birth")
    values["date_of_birth"] = dob
    if data.sex not in Sex.values:
        raise DomainError(_("Choose one of the listed values."), field="sex")
    values["sex"] = data.sex
    language = normalize_language((data.preferred_language or "").strip() or "en")
    if language is None:
        raise DomainError(
            _("This is not a language TraceCenter knows: give its ISO 639 code, such as “es”, or its name."),
            field="preferred_language",
        )
    values["preferred_language"] = language
    state = (data.state or "").strip().upper()
    if state and (len(state) != 2 or not state.isalpha()):
        raise DomainError(_("Use the two-letter state code."), field="state")
    values["state"] = state
    postal = (data.postal_code or "").strip()
    if postal and not (len(postal) <= 10 and all(ch.isdigit() or ch == "-" for ch in postal)):
        raise DomainError(_("A postal code has digits and at most one dash."), field="postal_code")
    values["postal_code"] = postal
    if len(data.notes or "") > MAX_NOTES:
        raise DomainError(_("Notes are limited to %(n)d characters.") % {"n": MAX_NOTES}, field="notes")
    values["notes"] = data.notes or ""
    phones: list[str] = []
    for raw in data.phones:
        if not raw.strip():
            continue
        try:
            phone = normalize.phone_e164(raw)
        except normalize.InvalidValue:
            raise DomainError(_("%(value)s is not a valid phone number.") % {"value": raw.strip()[:40]}, field="phones") from None
        if phone not in phones:
            phones.append(phone)
    emails: list[str] = []
    for raw in data.emails:
        if not raw.strip():
            continue
        try:
            email = normalize.email_key(raw)
        except normalize.InvalidValue:
            raise DomainError(
                _("%(value)s is not a valid e-mail address.") % {"value": raw.strip()[:80]}, field="emails"
            ) from None
        if email not in emails:
            emails.append(email)
    return CleanPerson(values=values, phones=phones, emails=emails)


def _replace_contact_points(person: Person, kind: str, values: list[str]) -> None:
    person.contact_points.filter(kind=kind).delete()
    for rank, value in enumerate(values):
        ContactPoint.objects.create(person=person, kind=kind, value=value, rank=rank)


@transaction.atomic
def person_create(
    *, actor: User | None, jurisdiction: Jurisdiction, data: PersonInput, household: Household | None = None
) -> Person:
    clean = clean_person_input(data)
    person = Person.objects.create(jurisdiction=jurisdiction, household=household, created_by=acting_user(actor), **clean.values)
    _replace_contact_points(person, ContactPoint.Kind.PHONE, clean.phones)
    _replace_contact_points(person, ContactPoint.Kind.EMAIL, clean.emails)
    refresh_match_keys(person)
    fields = [k for k, v in clean.values.items() if v not in ("", None)]
    fields += ["phones"] if clean.phones else []
    fields += ["emails"] if clean.emails else []
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="person",
        object_id=person.pk,
        jurisdiction_id=jurisdiction.pk,
        fields=fields,
    )
    return person


@transaction.atomic
def person_update(*, actor: User | None, person: Person, data: PersonInput) -> Person:
    clean = clean_person_input(data)
    changed = [k for k, v in clean.values.items() if getattr(person, k) != v]
    if {"first_name", "middle_name", "last_name"} & set(changed):
        # A correction keeps the name it replaces: the trail says which fields changed, this says from what.
        PersonNameChange.objects.create(
            person=person,
            first_name=person.first_name,
            middle_name=person.middle_name,
            last_name=person.last_name,
            changed_by=acting_user(actor),
        )
    for key, value in clean.values.items():
        setattr(person, key, value)
    if person.date_of_birth is not None and person.date_of_birth_as_written:
        # The real date, entered by someone who asked, replaces the one received that was no date.
        person.date_of_birth_as_written = ""
        changed.append("date_of_birth_as_written")
    old_phones = list(person.contact_points.filter(kind=ContactPoint.Kind.PHONE).values_list("value_bidx", flat=True))
    old_emails = list(person.contact_points.filter(kind=ContactPoint.Kind.EMAIL).values_list("value_bidx", flat=True))
    if [ContactPoint.index_of("phone", p) for p in clean.phones] != old_phones:
        _replace_contact_points(person, ContactPoint.Kind.PHONE, clean.phones)
        changed.append("phones")
    if [ContactPoint.index_of("email", e) for e in clean.emails] != old_emails:
        _replace_contact_points(person, ContactPoint.Kind.EMAIL, clean.emails)
        changed.append("emails")
    person.save()
    if changed:
        refresh_match_keys(person)
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="person",
            object_id=person.pk,
            jurisdiction_id=person.jurisdiction_id,
            fields=changed,
        )
    return person


def person_find_exact(*, among: QuerySet[Person], data: PersonInput) -> Person | None:
    """A person of `among` with the same name and birth date, or the same name and a shared phone.

    `among` is what the caller may compare with: the records a user entered or sees (the contacts of
    one case), never the whole registry, whose answer would tell a user about persons they may not
    see. Finding someone who may already be known elsewhere is identity review's work
    (people.identity.match_review_for_entered). Deliberately strict: a wrong answer here refuses a
    contact the user meant to add.
    """
    clean = clean_person_input(data)
    first = crypto.blind_index(normalize.name_key(clean.values["first_name"]), purpose="first_name")
    last = crypto.blind_index(normalize.name_key(clean.values["last_name"]), purpose="last_name")
    same_name = among.filter(first_name_bidx=first, last_name_bidx=last)
    dob = clean.values["date_of_birth"]
    if dob is not None:
        dob_index = crypto.blind_index(dob.isoformat(), purpose="dob")
        match = same_name.filter(dob_bidx=dob_index).order_by("pk").first()
        if match:
            return match
        # A shared phone does not outweigh a different birth date: a parent and child of the same name share one.
        same_name = same_name.filter(dob_bidx__in=["", dob_index])
    phone_indexes = [ContactPoint.index_of("phone", p) for p in clean.phones]
    if phone_indexes:
        return same_name.filter(contact_points__value_bidx__in=phone_indexes).order_by("pk").first()
    return None

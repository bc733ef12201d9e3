"""Writes to contacts, places, events and attendance."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import User
from tracecenter.accounts.roles import ASSIGNABLE_ROLES
from tracecenter.accounts.validation import clean_text
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases import engine
from tracecenter.cases.models import Case, CaseActivity
from tracecenter.cases.rule_messages import rule_error
from tracecenter.cases.selectors import rules_for
from tracecenter.cases.services import BulkOutcome, assign_each, case_activity_add
from tracecenter.contacts.events import ContactBecameCase, ContactElicited, ExposureAssigned, ExposureStatusChanged
from tracecenter.contacts.models import (
    RESIDENTIAL_KINDS,
    Attendance,
    Event,
    Exposure,
    ExposureActivity,
    ExposureStatus,
    Place,
    PlaceKind,
    Proximity,
    Relationship,
    Setting,
    event_name_index,
    home_index,
)
from tracecenter.core import clock, events
from tracecenter.core.actors import acting_user
from tracecenter.core.errors import DomainError
from tracecenter.core.outcomes import NOT_REACHED, CallOutcome
from tracecenter.people.identity import match_review_for_entered
from tracecenter.people.merge import fk_mover
from tracecenter.people.models import MatchReview, Person
from tracecenter.people.services import PersonInput, person_create, person_find_exact

MAX_DURATION_MINUTES = 60 * 24 * 30


@dataclasses.dataclass
class ExposureInput:
    last_exposure_date: dt.date
    first_exposure_date: dt.date | None = None
    setting: str = Setting.OTHER
    proximity: str = Proximity.UNKNOWN
    duration_minutes: int | None = None
    relationship: str = Relationship.OTHER
    notes: str = ""


def _clean_exposure(data: ExposureInput, *, infectious_start: dt.date | None, infectious_end: dt.date | None) -> None:
    try:
        engine.check_exposure(
            last_exposure=data.last_exposure_date,
            first_exposure=data.first_exposure_date,
            infectious_start=infectious_start,
            infectious_end=infectious_end,
            today=clock.today(),
        )
    except engine.RuleViolation as exc:
        raise rule_error(exc) from None
    for field, choices in (("setting", Setting), ("proximity", Proximity), ("relationship", Relationship)):
        if getattr(data, field) not in choices.values:
            raise DomainError(_("Choose one of the listed values."), field=field)
    if data.duration_minutes is not None and not 0 <= data.duration_minutes <= MAX_DURATION_MINUTES:
        raise DomainError(_("Give the time together in minutes, at most 30 days."), field="duration_minutes")
    if len(data.notes) > 5000:
        raise DomainError(_("Notes are limited to %(n)d characters.") % {"n": 5000}, field="notes")


def _person_of_contact(
    actor: User | None, jurisdiction: Any, person: Person | PersonInput, *, source: Person, siblings: QuerySet[Exposure]
) -> tuple[Person, bool]:
    """The contact's person, and whether it was entered now.

    A person given as a record is one the caller already sees. A person given as entered is always
    a new record, as entered: it is compared only with what the user sees on this case (`source`,
    the case's or contact's own person, and the other contacts in `siblings`), never with the rest
    of the registry, so the answer says nothing about anyone else. Whether someone already known
    elsewhere is the same person is for identity review (see `exposure_identity_check`).
    """
    if isinstance(person, Person):
        return person, False
    named = siblings.values("person_id")
    seen = Person.objects.filter(Q(pk=source.pk) | Q(pk__in=named) | Q(merged_into__in=named))
    same = person_find_exact(among=seen, data=person)
    if same is not None:
        return same, False  # refused by the caller: their own person, or a contact already there
    return person_create(actor=actor, jurisdiction=jurisdiction, data=person), True


def _quarantine(jurisdiction: Any, last_exposure: dt.date, condition: str = "") -> tuple[dt.date, Any]:
    rules, rule_set = rules_for(jurisdiction, last_exposure, condition)
    return engine.quarantine_end(rules, last_exposure=last_exposure), rule_set


def _condition_of(origin: Case | Exposure) -> str:
    """The condition an exposure is to: its case's, up the chain for a contact of a contact."""
    while isinstance(origin, Exposure):
        if origin.case_id is not None:
            return origin.case.condition if origin.case is not None else ""
        if origin.parent_exposure is None:
            return ""
        origin = origin.parent_exposure
    return origin.condition


def _exposure_create(
    *,
    actor: User | None,
    source: dict[str, Any],
    person: Person,
    origin: Case | Exposure,
    data: ExposureInput,
    duplicate: str,
    entered: bool,
) -> Exposure:
    """Save one exposure: quarantine from the rules in force, the source's team and worker, audit, event.

    `source` is how the contact was exposed ({"case": ...} or {"parent_exposure": ...});
    `origin` is that case or contact, whose jurisdiction, team and worker the new contact inherits.
    """
    quarantine_end, rule_set = _quarantine(origin.jurisdiction, data.last_exposure_date, _condition_of(origin))
    try:
        # A concurrent save of the same contact trips the unique constraint: say so, not a server error.
        with transaction.atomic():
            exposure = Exposure.objects.create(
                **source,
                person=person,
                jurisdiction=origin.jurisdiction,
                team=origin.team,
                owner=origin.owner,
                quarantine_end=quarantine_end,
                rules=rule_set,
                created_by=acting_user(actor),
                **dataclasses.asdict(data),
            )
    except IntegrityError:
        raise DomainError(duplicate, field="last_name") from None
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="contact",
        object_id=exposure.pk,
        jurisdiction_id=exposure.jurisdiction_id,
        fields=["person", "last_exposure_date", "setting"],
    )
    events.publish(
        ContactElicited(exposure_id=exposure.pk, case_id=exposure.case_id, person_id=person.pk, person_entered=entered)
    )
    return exposure


@transaction.atomic
def exposure_add(*, actor: User | None, case: Case, person: Person | PersonInput, data: ExposureInput) -> Exposure:
    """Record a contact of `case`; the exposure must fall in the case's infectious period."""
    _clean_exposure(data, infectious_start=case.infectious_start, infectious_end=case.infectious_end)
    # One contact entry at a time per case: two people typing the same contact at once would otherwise
    # both pass the duplicate check with two new records (the unique constraint cannot see that).
    list(Case.objects.select_for_update().filter(pk=case.pk).values_list("pk", flat=True))
    siblings = Exposure.objects.filter(case=case)
    contact, entered = _person_of_contact(actor, case.jurisdiction, person, source=case.person, siblings=siblings)
    if contact.pk == case.person_id:
        raise DomainError(_("A case cannot be their own contact."), field="last_name")
    duplicate = _("This person is already a contact of this case.")
    if not entered and siblings.filter(Q(person=contact) | Q(person__merged_from=contact)).exists():
        raise DomainError(duplicate, field="last_name")
    exposure = _exposure_create(
        actor=actor, source={"case": case}, person=contact, origin=case, data=data, duplicate=duplicate, entered=entered
    )
    case_activity_add(
        case=case,
        actor=actor,
        kind=CaseActivity.Kind.CONTACT,
        code="contact_added",
        id=exposure.pk,
        date=data.last_exposure_date.isoformat(),
    )
    return exposure


@transaction.atomic
def exposure_add_secondary(
    *, actor: User | None, parent: Exposure, person: Person | PersonInput, data: ExposureInput
) -> Exposure:
    """A contact of a contact: exposed to someone who may be infectious but is not yet a case."""
    # Counted from when the contact could first be infectious: the day of their own last exposure.
    _clean_exposure(data, infectious_start=parent.last_exposure_date, infectious_end=parent.quarantine_end)
    list(Exposure.objects.select_for_update().filter(pk=parent.pk).values_list("pk", flat=True))  # one at a time, as above
    siblings = Exposure.objects.filter(parent_exposure=parent)
    contact, entered = _person_of_contact(actor, parent.jurisdiction, person, source=parent.person, siblings=siblings)
    if contact.pk == parent.person_id:
        raise DomainError(_("A contact cannot be their own contact."), field="last_name")
    duplicate = _("This person is already a contact of this contact.")
    if not entered and siblings.filter(Q(person=contact) | Q(person__merged_from=contact)).exists():
        raise DomainError(duplicate, field="last_name")
    return _exposure_create(
        actor=actor,
        source={"parent_exposure": parent},
        person=contact,
        origin=parent,
        data=data,
        duplicate=duplicate,
        entered=entered,
    )


_EXPOSURE_TRANSITIONS: dict[str, frozenset[str]] = {
    ExposureStatus.NEW: frozenset({ExposureStatus.NOTIFIED, ExposureStatus.UNREACHABLE, ExposureStatus.MONITORING}),
    ExposureStatus.NOTIFIED: frozenset({ExposureStatus.MONITORING, ExposureStatus.RELEASED, ExposureStatus.UNREACHABLE}),
    ExposureStatus.MONITORING: frozenset({ExposureStatus.RELEASED, ExposureStatus.UNREACHABLE}),
    ExposureStatus.UNREACHABLE: frozenset({ExposureStatus.NOTIFIED, ExposureStatus.MONITORING, ExposureStatus.RELEASED}),
    ExposureStatus.RELEASED: frozenset(),
    ExposureStatus.BECAME_CASE: frozenset(),
}


MAX_REASON = 300
MAX_CALL_NOTE = 2000


def _require(actor: User | None, act: policy.Act, exposure: Exposure) -> None:
    """The acting user may `act` on this contact (the policy, per record); the system (no user) may."""
    if actor is not None and not policy.may(actor, act, exposure):
        raise PermissionDenied


def _activity(exposure: Exposure, actor: User | None, kind: str, *, summary: str = "", note: str = "", outcome: str = "") -> None:
    ExposureActivity.objects.create(
        exposure=exposure, at=clock.now(), actor=acting_user(actor), kind=kind, summary=summary, note=note, outcome=outcome
    )


def exposure_next_statuses(exposure: Exposure) -> list[str]:
    """The statuses this contact may go to from where it is (what the status selector offers)."""
    allowed = _EXPOSURE_TRANSITIONS.get(exposure.status, frozenset())
    return [value for value in ExposureStatus.values if value in allowed]


@transaction.atomic
def exposure_change_status(*, actor: User | None, exposure: Exposure, to_status: str, reason: str) -> Exposure:
    """Move a contact along its lifecycle, with the reason kept in its history."""
    _require(actor, policy.Act.EDIT, exposure)
    reason = clean_text(reason, field="reason", max_length=MAX_REASON)
    if to_status not in _EXPOSURE_TRANSITIONS.get(exposure.status, frozenset()):
        raise DomainError(_("A contact cannot go from this status to that one."), field="status")
    if to_status == ExposureStatus.RELEASED and clock.today() < exposure.quarantine_end:
        raise DomainError(
            _("Quarantine ends %(date)s; the contact cannot be released before.") % {"date": exposure.quarantine_end.isoformat()},
            field="status",
        )
    from_status = exposure.status
    exposure.status = to_status
    exposure.save(update_fields=["status", "updated_at"])
    _activity(
        exposure,
        actor,
        ExposureActivity.Kind.STATUS,
        summary=f"{ExposureStatus(from_status).label} → {ExposureStatus(to_status).label}",
        note=reason,
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="contact",
        object_id=exposure.pk,
        jurisdiction_id=exposure.jurisdiction_id,
        fields=["status"],
    )
    events.publish(
        ExposureStatusChanged(
            exposure_id=exposure.pk, jurisdiction_id=exposure.jurisdiction_id, from_status=from_status, to_status=to_status
        )
    )
    return exposure


@transaction.atomic
def exposure_call_record(*, actor: User, exposure: Exposure, outcome: str, note: str = "") -> ExposureActivity:
    """One call attempt to the contact and how it went. A contact reached while still new is notified
    by that call; the status otherwise stays the tracer's decision."""
    _require(actor, policy.Act.EDIT, exposure)
    if outcome not in CallOutcome.values:
        raise DomainError(_("Choose one of the listed values."), field="outcome")
    note = clean_text(note, field="note", max_length=MAX_CALL_NOTE, required=False)
    activity = ExposureActivity.objects.create(
        exposure=exposure, at=clock.now(), actor=actor, kind=ExposureActivity.Kind.CALL, outcome=outcome, note=note
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="contact",
        object_id=exposure.pk,
        jurisdiction_id=exposure.jurisdiction_id,
        fields=["call_attempt"],
        detail=f"call {outcome}",
    )
    if outcome == CallOutcome.REACHED and exposure.status == ExposureStatus.NEW:
        exposure_change_status(
            actor=actor, exposure=exposure, to_status=ExposureStatus.NOTIFIED, reason=_("Reached by phone and notified.")
        )
    return activity


@transaction.atomic
def exposure_attempt_record(
    *, actor: User, exposure: Exposure, outcome: str, number: int, unreachable_after: int | None = None
) -> ExposureActivity:
    """A routed attempt to reach the contact: its call log entry, and, when it uses up
    `unreachable_after` attempts without reaching them, the contact becomes unreachable."""
    activity = exposure_call_record(actor=actor, exposure=exposure, outcome=outcome)
    if (
        outcome in NOT_REACHED
        and unreachable_after is not None
        and number >= unreachable_after
        and exposure.status == ExposureStatus.NEW
    ):
        exposure_change_status(
            actor=actor,
            exposure=exposure,
            to_status=ExposureStatus.UNREACHABLE,
            reason=_("Not reached after %(n)d attempts.") % {"n": number},
        )
    return activity


@transaction.atomic
def exposure_take_routed(*, actor: User, exposure: Exposure) -> bool:
    """The tracer who accepts routed work on a contact that has no owner becomes its owner (routing's
    queues are the supervisors' rules; audited and announced as an assignment). False when nothing changed."""
    if (
        exposure.owner_id is not None
        or not policy.may_own_work(actor)
        or not policy.covers(actor.jurisdiction, exposure.jurisdiction)
    ):
        return False
    exposure.owner = actor
    exposure.save(update_fields=["owner", "updated_at"])
    _activity(exposure, actor, ExposureActivity.Kind.ASSIGNED, summary=f"owner - -> {actor.pk} (routed)")
    audit_record(
        actor=actor,
        action=Action.ASSIGN,
        object_type="contact",
        object_id=exposure.pk,
        jurisdiction_id=exposure.jurisdiction_id,
        fields=["owner"],
        detail="routed",
    )
    events.publish(
        ExposureAssigned(
            exposure_id=exposure.pk, jurisdiction_id=exposure.jurisdiction_id, owner_id=actor.pk, previous_owner_id=None
        )
    )
    return True


def exposure_call_attempts(exposure: Exposure) -> int:
    return exposure.activities.filter(kind=ExposureActivity.Kind.CALL).count()


_CLOSED_EXPOSURE = (ExposureStatus.RELEASED, ExposureStatus.BECAME_CASE)


@transaction.atomic
def exposure_update_dates(
    *, actor: User, exposure: Exposure, last_exposure_date: dt.date, first_exposure_date: dt.date | None, reason: str
) -> Exposure:
    """Correct when the contact was exposed. The quarantine end follows the rules in force on the new
    last exposure (a later exposure moves it later), as when the contact was first recorded."""
    _require(actor, policy.Act.EDIT, exposure)
    reason = clean_text(reason, field="reason", max_length=MAX_REASON)
    if exposure.status in _CLOSED_EXPOSURE:
        raise DomainError(_("This contact is closed; its exposure can no longer change."), field="last_exposure_date")
    start: dt.date | None = None
    end: dt.date | None = None
    if exposure.case is not None:
        start, end = exposure.case.infectious_start, exposure.case.infectious_end
    elif exposure.parent_exposure is not None:
        # As when it was recorded: from the day the parent contact could first be infectious.
        start, end = exposure.parent_exposure.last_exposure_date, exposure.parent_exposure.quarantine_end
    try:
        engine.check_exposure(
            last_exposure=last_exposure_date,
            first_exposure=first_exposure_date,
            infectious_start=start,
            infectious_end=end,
            today=clock.today(),
        )
    except engine.RuleViolation as exc:
        raise rule_error(exc) from None
    before = (exposure.last_exposure_date, exposure.quarantine_end)
    quarantine_end, rule_set = _quarantine(exposure.jurisdiction, last_exposure_date)
    exposure.last_exposure_date = last_exposure_date
    exposure.first_exposure_date = first_exposure_date
    exposure.quarantine_end = quarantine_end
    exposure.rules = rule_set
    exposure.save(update_fields=["last_exposure_date", "first_exposure_date", "quarantine_end", "rules", "updated_at"])
    summary = (
        f"last exposure {before[0].isoformat()} -> {last_exposure_date.isoformat()}, "
        f"quarantine end {before[1].isoformat()} -> {quarantine_end.isoformat()}"
    )
    _activity(exposure, actor, ExposureActivity.Kind.EXPOSURE, summary=summary, note=reason)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="contact",
        object_id=exposure.pk,
        jurisdiction_id=exposure.jurisdiction_id,
        fields=["first_exposure_date", "last_exposure_date", "quarantine_end"],
    )
    return exposure


def exposure_assignees(exposure: Exposure) -> QuerySet[User]:
    """Who may be given this contact: active workers of its jurisdiction or one above it."""
    return User.objects.filter(
        is_active=True, role__in=ASSIGNABLE_ROLES, jurisdiction_id__in=exposure.jurisdiction.ancestors_and_self()
    ).order_by("last_name", "first_name")


@transaction.atomic
def exposure_assign(*, actor: User, exposure: Exposure, assignee: User | None) -> Exposure:
    """Give a contact an owner (or take it back); only someone who may assign it (policy, per record) can."""
    if not policy.may_assign_in(actor, exposure.jurisdiction):
        raise PermissionDenied
    _require(actor, policy.Act.ASSIGN, exposure)
    if assignee is not None and not (
        policy.may_own_work(assignee) and policy.covers(assignee.jurisdiction, exposure.jurisdiction)
    ):
        raise DomainError(_("This user cannot be given this contact."), field="assignee")
    previous_owner_id = exposure.owner_id
    exposure.owner = assignee
    exposure.save(update_fields=["owner", "updated_at"])
    _activity(
        exposure, actor, ExposureActivity.Kind.ASSIGNED, summary=f"owner {previous_owner_id or '-'} -> {exposure.owner_id or '-'}"
    )
    audit_record(
        actor=actor,
        action=Action.ASSIGN,
        object_type="contact",
        object_id=exposure.pk,
        jurisdiction_id=exposure.jurisdiction_id,
        fields=["owner"],
    )
    events.publish(
        ExposureAssigned(
            exposure_id=exposure.pk,
            jurisdiction_id=exposure.jurisdiction_id,
            owner_id=exposure.owner_id,
            previous_owner_id=previous_owner_id,
        )
    )
    return exposure


@transaction.atomic
def link_new_case_to_exposures(*, case_id: int) -> list[int]:
    """A contact who became a case keeps the link: the exposure, pointing at the case it led to, is an
    edge of the transmission chain (kept here in contacts, so cases knows nothing of exposures).

    Idempotent: called again for the same case it changes nothing.
    """
    case = Case.objects.select_related("person").get(pk=case_id)
    reference = case.symptom_onset or case.specimen_collection_date or clock.today()
    candidates = (
        Exposure.objects.select_for_update()
        .filter(person_id=case.person_id, last_exposure_date__lte=reference)
        .exclude(status=ExposureStatus.BECAME_CASE)
        .order_by("-last_exposure_date")
    )
    linked: list[int] = []
    for exposure in candidates:
        # Only an exposure recent enough to explain this infection counts: within the quarantine window.
        if exposure.quarantine_end < reference:
            continue
        from_status = exposure.status
        exposure.status = ExposureStatus.BECAME_CASE
        exposure.resulting_case = case
        exposure.save(update_fields=["status", "resulting_case", "updated_at"])
        linked.append(exposure.pk)
        events.publish(ContactBecameCase(exposure_id=exposure.pk, case_id=case.pk))
        events.publish(
            ExposureStatusChanged(
                exposure_id=exposure.pk,
                jurisdiction_id=exposure.jurisdiction_id,
                from_status=from_status,
                to_status=ExposureStatus.BECAME_CASE,
            )
        )
    return linked


@transaction.atomic
def link_new_cases_to_exposures(*, case_ids: Sequence[int]) -> None:
    """`link_new_case_to_exposures` for many new cases: one query when, as in most surges, none of them was a contact."""
    person_of = dict(Case.objects.filter(pk__in=list(case_ids)).values_list("pk", "person_id"))
    contacts = set(
        Exposure.objects.filter(person_id__in=set(person_of.values()))
        .exclude(status=ExposureStatus.BECAME_CASE)
        .values_list("person_id", flat=True)
    )
    for case_id, person_id in sorted(person_of.items()):
        if person_id in contacts:
            link_new_case_to_exposures(case_id=case_id)


def exposure_identity_check(*, exposure_id: int) -> MatchReview | None:
    """A contact entered by hand may be someone already known: a review, for a supervisor who may see both.

    Delivered from `ContactElicited` after the entry committed. The case's own person and its other
    contacts (or the parent contact's) are not offered: the user who entered the contact already
    sees them, and they could not be merged with it (see `exposures_move`).
    """
    exposure = Exposure.objects.select_related("case", "parent_exposure").filter(pk=exposure_id).first()
    if exposure is None:
        return None
    related: set[int] = set()
    if exposure.case is not None:
        siblings = Exposure.objects.filter(case=exposure.case)
        related = {exposure.case.person_id, *siblings.values_list("person_id", flat=True)}
    elif exposure.parent_exposure is not None:
        siblings = Exposure.objects.filter(parent_exposure=exposure.parent_exposure)
        related = {exposure.parent_exposure.person_id, *siblings.values_list("person_id", flat=True)}
    return match_review_for_entered(person=exposure.person, exclude=related, source=f"contact {exposure.pk}")


_EXPOSURES = fk_mover(Exposure, "person")


def exposures_move(merged_id: int, survivor_id: int) -> list[int]:
    """The merge mover of exposures: the merged record's go to the kept one.

    Unless that would make one person twice a contact of one case (or of one contact), or a case
    (or contact) its own contact: then the merge is refused, and nothing moves.
    """
    pair = [merged_id, survivor_id]
    mine = Exposure.objects.filter(person_id=merged_id)
    theirs = Exposure.objects.filter(person_id=survivor_id)
    clash = (
        mine.filter(case__isnull=False, case__in=theirs.values("case")).exists()
        or mine.filter(parent_exposure__isnull=False, parent_exposure__in=theirs.values("parent_exposure")).exists()
        # Cases move before exposures: a case of either record may already be the kept one's.
        or Exposure.objects.filter(person_id__in=pair)
        .filter(Q(case__person_id__in=pair) | Q(parent_exposure__person_id__in=pair))
        .exists()
    )
    if clash:
        raise DomainError(
            _(
                "These records are on one case together (two of its contacts, or the case and its contact): "
                "they cannot be merged. Keep them apart, or correct the case's contacts first."
            )
        )
    return _EXPOSURES.move(merged_id, survivor_id)


def exposures_move_back(ids: list[int], survivor_id: int, merged_id: int) -> None:
    _EXPOSURES.move_back(ids, survivor_id, merged_id)


def source_exposure_of(case: Case) -> Exposure | None:
    """The exposure that made this person a case (the most recent one linked), if any."""
    return Exposure.objects.filter(resulting_case=case).order_by("-last_exposure_date", "-pk").first()


@dataclasses.dataclass
class PlaceInput:
    name: str
    kind: str = PlaceKind.OTHER
    street: str = ""
    city: str = ""
    postal_code: str = ""


def place_find_or_create(*, actor: User | None, jurisdiction: Any, data: PlaceInput) -> Place:
    """The place of that name and street in the jurisdiction, created if new.

    A public place is matched in clear (case and spaces aside), so every case that went there
    meets on one row; a residence is kept encrypted and matched by its blind index only.
    """
    name = " ".join(data.name.split())
    if not name:
        raise DomainError(_("Name the place."), field="place_name")
    if len(name) > 200:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": 200}, field="place_name")
    if data.kind not in PlaceKind.values:
        raise DomainError(_("Choose one of the listed values."), field="place_kind")
    # Refused, not cut: a pasted address cut short is a wrong address nobody knows about.
    street = _within(" ".join(data.street.split()), 200, "street")
    city = _within(" ".join(data.city.split()), 100, "city")
    postal_code = _within(data.postal_code.strip(), 10, "postal_code")
    if data.kind in RESIDENTIAL_KINDS:
        key = home_index(name, street)
        existing = Place.objects.filter(jurisdiction=jurisdiction, kind__in=RESIDENTIAL_KINDS, home_bidx=key).first()
        if existing:
            return existing
        place = Place.objects.create(
            jurisdiction=jurisdiction,
            kind=data.kind,
            home_name=name,
            home_street=street,
            home_city=city,
            home_postal_code=postal_code,
            home_bidx=key,
        )
        fields = ["home_name", "home_street", "kind"]
    else:
        existing = (
            Place.objects.filter(jurisdiction=jurisdiction, name__iexact=name, street__iexact=street)
            .exclude(kind__in=RESIDENTIAL_KINDS)
            .first()
        )
        if existing:
            return existing
        place = Place.objects.create(
            jurisdiction=jurisdiction, name=name, kind=data.kind, street=street, city=city, postal_code=postal_code
        )
        fields = ["name", "kind"]
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="place",
        object_id=place.pk,
        jurisdiction_id=jurisdiction.pk,
        fields=fields,
    )
    return place


def _within(text: str, limit: int, field: str) -> str:
    if len(text) > limit:
        raise DomainError(
            _("This is too long: at most %(n)d characters (it has %(length)d). Nothing was cut: shorten it.")
            % {"n": limit, "length": len(text)},
            field=field,
        )
    return text


def event_find_or_create(*, place: Place, name: str, starts_at: dt.datetime, ends_at: dt.datetime) -> Event:
    name = _within(" ".join(name.split()), 200, "event_name")
    if ends_at < starts_at:
        raise DomainError(_("The event ends before it starts."), field="ends_at")
    key = event_name_index(name)
    existing = Event.objects.filter(place=place, name_bidx=key, starts_at=starts_at).first()
    if existing:
        return existing
    return Event.objects.create(place=place, name=name, name_bidx=key, starts_at=starts_at, ends_at=ends_at)


@transaction.atomic
def attendance_record(
    *, actor: User | None, case: Case, place: Place, arrived_at: dt.datetime, left_at: dt.datetime, event: Event | None = None
) -> Attendance:
    """The case was at `place` (or `event`) from arrival to departure, inside its infectious period."""
    if left_at < arrived_at:
        raise DomainError(_("The time of leaving is before the time of arriving."), field="left_at")
    if left_at - arrived_at > dt.timedelta(days=14):
        raise DomainError(_("A visit longer than 14 days: record it as separate visits."), field="left_at")
    if arrived_at > clock.now():
        raise DomainError(_("The visit cannot be in the future."), field="arrived_at")
    local_day = timezone.localdate(arrived_at)
    if (
        case.infectious_start
        and case.infectious_end
        and not (case.infectious_start - dt.timedelta(days=1) <= local_day <= case.infectious_end)
    ):
        raise DomainError(
            _("This visit is outside the case's infectious period (%(start)s to %(end)s).")
            % {"start": case.infectious_start.isoformat(), "end": case.infectious_end.isoformat()},
            field="arrived_at",
        )
    attendance = Attendance.objects.create(
        person=case.person,
        case=case,
        place=place,
        event=event,
        arrived_at=arrived_at,
        left_at=left_at,
        jurisdiction=case.jurisdiction,
        created_by=acting_user(actor),
    )
    case_activity_add(
        case=case,
        actor=actor,
        kind=CaseActivity.Kind.PLACE,
        code="place_visited",
        place=place.display_name,
        date=f"{arrived_at:%Y-%m-%d}",
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="attendance",
        object_id=attendance.pk,
        jurisdiction_id=case.jurisdiction_id,
        fields=["place", "arrived_at", "left_at"],
    )
    return attendance


def exposures_assign_bulk(*, actor: User, exposure_ids: Sequence[int], assignee: User | None) -> BulkOutcome:
    """`exposure_assign` for each contact ticked on a list, each on its own, as `cases_assign_bulk` does for cases."""
    return assign_each(
        actor=actor,
        permitted=policy.permitted(Exposure.objects.select_related("jurisdiction"), actor, policy.Act.ASSIGN),
        ids=exposure_ids,
        object_type="contact",
        assign=lambda exposure: exposure_assign(actor=actor, exposure=exposure, assignee=assignee),
    )

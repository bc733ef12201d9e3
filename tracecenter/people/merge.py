"""Merging two records of the same person, and undoing it.

A merge moves every row that points at the merged person and writes down the ids it
moved; undoing moves exactly those rows back. Nothing is deleted. People moves its own
rows (contact points); every app above it that keeps rows pointing at a person moves its
own, told through the movers it registers when it starts (intake its lab results, cases its
cases, contacts its exposures and attendances), in the merge's transaction. People never
reaches into another app's tables, and a test fails when a model points at Person with no
mover registered for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, events
from tracecenter.core.actors import acting_user
from tracecenter.core.errors import DomainError
from tracecenter.people.events import PersonsMerged
from tracecenter.people.identity import refresh_match_keys
from tracecenter.people.models import ContactPoint, MatchReview, Person, PersonMatchKey, PersonMerge


@dataclasses.dataclass(frozen=True)
class Mover:
    """How an app moves its own rows from one person to another, and back."""

    label: str  # "intake.labresult.person": names the rows in PersonMerge.moved
    move: Callable[[int, int], list[int]]  # (from person, to person) -> ids of the rows moved
    move_back: Callable[[list[int], int, int], None]  # (those ids, from person, to person)


_MOVERS: dict[str, Mover] = {}


def register_mover(mover: Mover) -> None:
    _MOVERS[mover.label] = mover


def movers() -> dict[str, Mover]:
    return dict(_MOVERS)


def fk_mover(model: type[models.Model], field: str) -> Mover:
    """The mover of an app whose rows point at a person through one foreign key (most of them)."""

    def move(merged_id: int, survivor_id: int) -> list[int]:
        ids = list(model._base_manager.filter(**{field: merged_id}).values_list("pk", flat=True))
        if ids:
            model._base_manager.filter(pk__in=ids).update(**{field: survivor_id})
        return ids

    def move_back(ids: list[int], survivor_id: int, merged_id: int) -> None:
        # Rows re-pointed elsewhere since the merge are left where they are.
        model._base_manager.filter(pk__in=ids, **{field: survivor_id}).update(**{field: merged_id})

    return Mover(label=f"{model._meta.label_lower}.{field}", move=move, move_back=move_back)


def _move_contact_points(merged: Person, survivor: Person) -> list[int]:
    # A phone both records have stays with the merged record (the unique constraint): nothing is lost.
    have = set(ContactPoint.objects.filter(person=survivor).values_list("kind", "value_bidx"))
    rows = ContactPoint.objects.filter(person=merged).values_list("pk", "kind", "value_bidx")
    ids = [pk for pk, kind, bidx in rows if (kind, bidx) not in have]
    if ids:
        ContactPoint.objects.filter(pk__in=ids).update(person=survivor)
    return ids


register_mover(
    Mover(
        label="people.contactpoint.person",
        move=lambda merged_id, survivor_id: _move_contact_points(
            Person.objects.get(pk=merged_id), Person.objects.get(pk=survivor_id)
        ),
        move_back=fk_mover(ContactPoint, "person").move_back,
    )
)


MAX_REASON = 200  # PersonMerge.reason


@transaction.atomic
def person_merge(*, actor: User | None, survivor: Person, merged: Person, reason: str = "") -> PersonMerge:
    """Move everything of `merged` onto `survivor`; `merged` stays, marked as merged, for undo."""
    if survivor.pk == merged.pk:
        raise DomainError(_("A person cannot be merged into themselves."))
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        # Said, never cut: a reason cut short may say the opposite of what was meant.
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_REASON}, field="reason")
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])}
    if locked[survivor.pk].merged_into_id or locked[merged.pk].merged_into_id:
        raise DomainError(_("One of these records was already merged into another."))
    if survivor.jurisdiction.ancestors_and_self()[0] != merged.jurisdiction.ancestors_and_self()[0]:
        raise PermissionDenied  # different states: a transfer, not a merge
    moved: dict[str, list[int]] = {}
    for label, mover in sorted(_MOVERS.items()):
        ids = mover.move(merged.pk, survivor.pk)
        if ids:
            moved[label] = ids
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])
    PersonMatchKey.objects.filter(person=merged).delete()
    refresh_match_keys(survivor)
    record = PersonMerge.objects.create(
        survivor=survivor, merged=merged, moved=moved, reason=reason, merged_by=acting_user(actor)
    )
    # Cases listens: two open cases may now belong to one person.
    events.publish(PersonsMerged(merge_id=record.pk, survivor_id=survivor.pk, merged_id=merged.pk))
    for person, role in ((survivor, "survivor"), (merged, "merged")):
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="person",
            object_id=person.pk,
            jurisdiction_id=person.jurisdiction_id,
            fields=sorted(moved) if role == "survivor" else ["merged_into"],
            detail=f"merge {record.pk}: {role}",
        )
    return record


@transaction.atomic
def person_merge_undo(*, actor: User | None, merge: PersonMerge) -> PersonMerge:
    """Move back exactly what the merge moved (rows since re-pointed elsewhere are left where they are).

    Only someone who may see both records may undo it (`policy.may_decide_identity`).
    """
    merge = PersonMerge.objects.select_for_update().get(pk=merge.pk)
    if not policy.may_decide_identity(actor, merge.survivor.jurisdiction, merge.merged.jurisdiction):
        raise PermissionDenied
    if merge.undone_at is not None:
        raise DomainError(_("This merge was already undone."))
    if Person.objects.filter(merged_into_id=merge.merged_id).exists():
        raise DomainError(_("Another record was merged into this one since: undo that merge first."))
    for label, ids in merge.moved.items():
        mover = _MOVERS.get(label)
        if mover is not None:  # an app removed since: nothing to move back
            mover.move_back(ids, merge.survivor_id, merge.merged_id)
    merged = Person.objects.get(pk=merge.merged_id)
    merged.merged_into = None
    merged.save(update_fields=["merged_into", "updated_at"])
    refresh_match_keys(merged)
    survivor = Person.objects.get(pk=merge.survivor_id)
    refresh_match_keys(survivor)
    merge.undone_at = clock.now()
    merge.undone_by = acting_user(actor)
    merge.save(update_fields=["undone_at", "undone_by"])
    MatchReview.objects.filter(incoming=merged, candidate=survivor, status=MatchReview.Status.MERGED).update(
        status=MatchReview.Status.OPEN, decided_by=None, decided_at=None
    )
    for person in (survivor, merged):
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="person",
            object_id=person.pk,
            jurisdiction_id=person.jurisdiction_id,
            fields=sorted(merge.moved),
            detail=f"merge {merge.pk} undone",
        )
    return merge


@transaction.atomic
def match_review_decide(*, actor: User | None, review: MatchReview, same_person: bool) -> MatchReview:
    """A supervisor's answer: the same person (merge the incoming record into the candidate) or not.

    Only someone who may see both records may give it (`policy.may_decide_identity`).
    """
    review = MatchReview.objects.select_for_update().get(pk=review.pk)
    if not policy.may_decide_identity(actor, review.incoming.jurisdiction, review.candidate.jurisdiction):
        raise PermissionDenied
    if review.status != MatchReview.Status.OPEN:
        raise DomainError(_("This review was already decided."))
    if same_person:
        person_merge(actor=actor, survivor=review.candidate, merged=review.incoming, reason=f"match review {review.pk}")
        review.status = MatchReview.Status.MERGED
    else:
        review.status = MatchReview.Status.DISTINCT
    review.decided_by = acting_user(actor)
    review.decided_at = clock.now()
    review.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="match_review",
        object_id=review.pk,
        jurisdiction_id=review.jurisdiction_id,
        fields=["status"],
        detail=review.status,
    )
    return review

"""Merging two records of the same person, and undoing it.

A merge moves every row that points at the merged person (lab results, cases,
exposures, attendances, contact points: whatever model has a foreign key to Person,
found through Django's relations, so a new app's records move too) and writes down
the ids it moved. Undoing moves exactly those rows back. Nothing is deleted.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext as _

from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, events
from tracecenter.core.actors import acting_user
from tracecenter.core.errors import DomainError
from tracecenter.people.events import PersonsMerged
from tracecenter.people.identity import refresh_match_keys
from tracecenter.people.models import ContactPoint, MatchReview, Person, PersonMatchKey, PersonMerge

# Relations that are bookkeeping of identity itself, not the person's records.
_NOT_MOVED = {PersonMatchKey, MatchReview, PersonMerge, Person}


def _relations() -> list[tuple[type[models.Model], str]]:
    found = []
    for rel in Person._meta.related_objects:
        if rel.one_to_many and rel.related_model not in _NOT_MOVED and rel.field.concrete:
            found.append((rel.related_model, rel.field.name))
    return sorted(found, key=lambda pair: (pair[0]._meta.label, pair[1]))


def _label(model: type[models.Model], field: str) -> str:
    return f"{model._meta.label_lower}.{field}"


@transaction.atomic
def person_merge(*, actor: Any, survivor: Person, merged: Person, reason: str = "") -> PersonMerge:
    """Move everything of `merged` onto `survivor`; `merged` stays, marked as merged, for undo."""
    if survivor.pk == merged.pk:
        raise DomainError(_("A person cannot be merged into themselves."))
    locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk])}
    if locked[survivor.pk].merged_into_id or locked[merged.pk].merged_into_id:
        raise DomainError(_("One of these records was already merged into another."))
    if survivor.jurisdiction.ancestors_and_self()[0] != merged.jurisdiction.ancestors_and_self()[0]:
        raise PermissionDenied  # different states: a transfer, not a merge
    moved: dict[str, list[int]] = {}
    for model, field in _relations():
        qs = model._base_manager.filter(**{field: merged.pk})
        if model is ContactPoint:
            # A phone both records have stays with the merged record (the unique constraint), nothing is lost.
            have = set(ContactPoint.objects.filter(person=survivor).values_list("kind", "value_bidx"))
            ids = [pk for pk, kind, bidx in qs.values_list("pk", "kind", "value_bidx") if (kind, bidx) not in have]
        else:
            ids = list(qs.values_list("pk", flat=True))
        if ids:
            model._base_manager.filter(pk__in=ids).update(**{field: survivor.pk})
            moved[_label(model, field)] = ids
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])
    PersonMatchKey.objects.filter(person=merged).delete()
    refresh_match_keys(survivor)
    record = PersonMerge.objects.create(
        survivor=survivor, merged=merged, moved=moved, reason=reason.strip()[:200], merged_by=acting_user(actor)
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
def person_merge_undo(*, actor: Any, merge: PersonMerge) -> PersonMerge:
    """Move back exactly what the merge moved (rows since re-pointed elsewhere are left where they are)."""
    merge = PersonMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise DomainError(_("This merge was already undone."))
    if Person.objects.filter(merged_into_id=merge.merged_id).exists():
        raise DomainError(_("Another record was merged into this one since: undo that merge first."))
    relations = {_label(m, f): (m, f) for m, f in _relations()}
    for label, ids in merge.moved.items():
        if label not in relations:
            continue  # a model removed since: nothing to move back
        model, field = relations[label]
        model._base_manager.filter(pk__in=ids, **{field: merge.survivor_id}).update(**{field: merge.merged_id})
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
def match_review_decide(*, actor: Any, review: MatchReview, same_person: bool) -> MatchReview:
    """A supervisor's answer: the same person (merge the incoming record into the candidate) or not."""
    review = MatchReview.objects.select_for_update().get(pk=review.pk)
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

"""Identity resolution against the database: blocking keys as blind indexes, candidates, bulk creation.

The scoring itself is people.matching (plain Python). Here: the keys of each person are
stored as keyed hashes (PersonMatchKey), candidates for a batch of incoming identities
are fetched with one query, decrypted once, and scored; persons created earlier in the
same batch are candidates too, so one new person arriving twice in a file is one person.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from tracecenter.accounts.models import Jurisdiction
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record_many
from tracecenter.core import crypto
from tracecenter.core.actors import acting_user
from tracecenter.people import matching
from tracecenter.people.models import ContactPoint, MatchReview, Person, PersonMatchKey

KEY_PURPOSE = "match_key"


def key_hash(key: str) -> str:
    return crypto.blind_index(key, purpose=KEY_PURPOSE)


def identity_of(person: Person, phones: Iterable[str] = (), emails: Iterable[str] = ()) -> matching.Identity:
    return matching.identity_from(
        first_name=person.first_name,
        middle_name=person.middle_name,
        last_name=person.last_name,
        date_of_birth=person.date_of_birth,
        sex=person.sex,
        street=person.street,
        city=person.city,
        postal_code=person.postal_code,
        phones=list(phones),
        emails=list(emails),
    )


def _contact_values(person_ids: Iterable[int]) -> dict[int, tuple[list[str], list[str]]]:
    found: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for point in ContactPoint.objects.filter(person_id__in=list(person_ids)):
        found[point.person_id][0 if point.kind == ContactPoint.Kind.PHONE else 1].append(point.value)
    return found


def refresh_match_keys(person: Person) -> None:
    """Recompute a person's blocking keys (after a create, an edit or a merge)."""
    phones, emails = _contact_values([person.pk]).get(person.pk, ([], []))
    wanted = {key_hash(k) for k in matching.blocking_keys(identity_of(person, phones, emails))}
    have = set(PersonMatchKey.objects.filter(person=person).values_list("key", flat=True))
    PersonMatchKey.objects.filter(person=person, key__in=have - wanted).delete()
    PersonMatchKey.objects.bulk_create([PersonMatchKey(person=person, key=k) for k in wanted - have], ignore_conflicts=True)


@dataclasses.dataclass
class Resolution:
    """What the matcher made of one incoming identity."""

    decision: str  # "match", "review" or "new"
    person_id: int | None  # the matched person ("match"), else None: the caller creates one
    candidate_id: int | None  # best candidate (for "review": the one to compare with)
    score: float | None
    comparison: list[dict[str, Any]]


def comparison_summary(score: matching.MatchScore) -> list[dict[str, Any]]:
    """Field outcomes and weights, never values: what a reviewer sees beside the two records."""
    return [{"field": f.field, "outcome": f.outcome, "weight": round(f.weight, 2)} for f in score.fields]


class Resolver:
    """Resolves a batch of incoming identities within one state (the root of a jurisdiction tree).

    Use: prefetch(all identities of a chunk) once, then resolve() each, and remember()
    every person created so later records of the same chunk find them.
    """

    def __init__(self, root: Jurisdiction, thresholds: matching.Thresholds | None = None) -> None:
        self.root_path = f"/{root.ancestors_and_self()[0]}/"
        self.thresholds = thresholds or matching.Thresholds()
        self._by_key: dict[str, set[int]] = defaultdict(set)
        self._identities: dict[int, matching.Identity] = {}
        self._keys_of: dict[int, frozenset[str]] = {}

    def prefetch(self, identities: Iterable[matching.Identity]) -> None:
        hashes: set[str] = set()
        for identity in identities:
            hashes.update(key_hash(k) for k in matching.blocking_keys(identity))
        hashes -= set(self._by_key)
        if not hashes:
            return
        pairs = list(
            PersonMatchKey.objects.filter(
                key__in=hashes, person__merged_into__isnull=True, person__jurisdiction__path__startswith=self.root_path
            ).values_list("key", "person_id")
        )
        for key, person_id in pairs:
            self._by_key[key].add(person_id)
        new_ids = {pid for _k, pid in pairs} - set(self._identities)
        if new_ids:
            contacts = _contact_values(new_ids)
            for person in Person.objects.filter(pk__in=new_ids).only(
                "pk", "first_name", "middle_name", "last_name", "date_of_birth", "sex", "street", "city", "postal_code"
            ):
                phones, emails = contacts.get(person.pk, ([], []))
                self._identities[person.pk] = identity_of(person, phones, emails)

    def candidates(self, identity: matching.Identity) -> list[tuple[int, matching.Identity]]:
        ids: set[int] = set()
        for key in matching.blocking_keys(identity):
            ids |= self._by_key.get(key_hash(key), set())
        return [(pid, self._identities[pid]) for pid in sorted(ids) if pid in self._identities]

    def resolve(self, identity: matching.Identity) -> Resolution:
        self.prefetch([identity])
        found = matching.best_candidate(identity, self.candidates(identity), self.thresholds)
        if found.key is None or found.score is None:
            return Resolution("new", None, None, None, [])
        summary = comparison_summary(found.score)
        if found.decision == "match":
            return Resolution("match", int(found.key), int(found.key), found.score.total, summary)
        if found.decision == "review":
            return Resolution("review", None, int(found.key), found.score.total, summary)
        return Resolution("new", None, None, found.score.total, summary)

    def rename(self, old_id: int, new_id: int) -> None:
        """A person remembered under a provisional id was created: index them under their real one."""
        identity = self._identities.pop(old_id, None)
        keys = self._keys_of.pop(old_id, frozenset())
        for key in keys:
            self._by_key[key].discard(old_id)
            self._by_key[key].add(new_id)
        if identity is not None:
            self._identities[new_id] = identity
            self._keys_of[new_id] = keys

    def remember(self, person_id: int, identity: matching.Identity) -> list[str]:
        """Index a person (created or updated in this batch); returns its key hashes for storage."""
        hashes = [key_hash(k) for k in matching.blocking_keys(identity)]
        for old in self._keys_of.get(person_id, frozenset()):
            self._by_key[old].discard(person_id)
        for h in hashes:
            self._by_key[h].add(person_id)
        self._identities[person_id] = identity
        self._keys_of[person_id] = frozenset(hashes)
        return hashes


@dataclasses.dataclass
class NewPerson:
    jurisdiction_id: int
    values: dict[str, Any]  # Person field values, already cleaned
    phones: list[str]  # E.164
    emails: list[str]  # normalized
    identity: matching.Identity


@transaction.atomic
def persons_create_bulk(*, actor: Any, rows: list[NewPerson], resolver: Resolver | None = None) -> list[Person]:
    """Create many persons with their contact points and match keys in a few statements, audited."""
    user = acting_user(actor)
    persons = [Person(jurisdiction_id=r.jurisdiction_id, created_by=user, **r.values) for r in rows]
    for person in persons:
        person.set_blind_indexes()
    Person.objects.bulk_create(persons)
    points: list[ContactPoint] = []
    keys: list[PersonMatchKey] = []
    for person, row in zip(persons, rows, strict=True):
        for kind, values in ((ContactPoint.Kind.PHONE, row.phones), (ContactPoint.Kind.EMAIL, row.emails)):
            for rank, value in enumerate(values):
                point = ContactPoint(person=person, kind=kind, value=value, rank=rank)
                point.value_bidx = ContactPoint.index_of(kind, value)
                points.append(point)
        hashes = (
            resolver.remember(person.pk, row.identity)
            if resolver is not None
            else [key_hash(k) for k in matching.blocking_keys(row.identity)]
        )
        keys.extend(PersonMatchKey(person=person, key=h) for h in set(hashes))
    ContactPoint.objects.bulk_create(points, ignore_conflicts=True)
    PersonMatchKey.objects.bulk_create(keys, ignore_conflicts=True)
    audit_record_many(
        actor=actor,
        action=Action.CREATE,
        object_type="person",
        items=[(p.pk, p.jurisdiction_id) for p in persons],
        detail="created by lab intake",
    )
    return persons


def contact_points_add(*, person_id: int, phones: list[str], emails: list[str]) -> list[str]:
    """Add phones and e-mails a person does not have yet (a result came with a new number); returns the kinds added."""
    existing = set(ContactPoint.objects.filter(person_id=person_id).values_list("kind", "value_bidx"))
    ranks: defaultdict[str, int] = defaultdict(int)
    for kind, _bidx in existing:
        ranks[kind] += 1
    added: list[ContactPoint] = []
    for kind, values in ((ContactPoint.Kind.PHONE, phones), (ContactPoint.Kind.EMAIL, emails)):
        for value in values:
            bidx = ContactPoint.index_of(kind, value)
            if (kind, bidx) in existing:
                continue
            point = ContactPoint(person_id=person_id, kind=kind, value=value, rank=ranks[kind])
            point.value_bidx = bidx
            ranks[kind] += 1
            existing.add((kind, bidx))
            added.append(point)
    ContactPoint.objects.bulk_create(added, ignore_conflicts=True)
    return sorted({p.kind for p in added})


def match_review_open(
    *, jurisdiction_id: int, incoming_id: int, candidate_id: int, score: float, comparison: list[dict[str, Any]], source: str
) -> MatchReview:
    review, _created = MatchReview.objects.get_or_create(
        incoming_id=incoming_id,
        candidate_id=candidate_id,
        defaults={"jurisdiction_id": jurisdiction_id, "score": score, "comparison": comparison, "source": source[:120]},
    )
    return review

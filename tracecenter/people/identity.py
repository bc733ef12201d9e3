"""Identity resolution against the database: blocking keys as blind indexes, candidates, bulk creation.

The scoring itself is people.matching (plain Python). Here: the keys of each person are
stored as keyed hashes (PersonMatchKey), candidates for a batch of incoming identities
are fetched with one query, decrypted once, and scored; persons created earlier in the
same batch are candidates too, so one new person arriving twice in a file is one person.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record, audit_record_many
from tracecenter.core import crypto
from tracecenter.core.actors import acting_user
from tracecenter.core.bulk import insert_rows
from tracecenter.people import fellegi_sunter as fs
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
        date_of_birth_text=person.date_of_birth_as_written,
        sex=person.sex,
        street=person.street,
        city=person.city,
        postal_code=person.postal_code,
        phones=list(phones),
        emails=list(emails),
    )


def match_keys_of(**values: Any) -> frozenset[str]:
    """The blocking keys of raw identity values (as matching.identity_from takes them)."""
    return matching.blocking_keys(matching.identity_from(**values))


def search_keys_of(**values: Any) -> frozenset[str]:
    """The search-only keys of raw identity values (matching.search_keys)."""
    return matching.search_keys(matching.identity_from(**values))


def contact_values(person_ids: Iterable[int]) -> dict[int, tuple[list[str], list[str]]]:
    found: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for person_id, kind, value in ContactPoint.objects.filter(person_id__in=list(person_ids)).values_list(
        "person_id", "kind", "value"
    ):
        found[person_id][0 if kind == ContactPoint.Kind.PHONE else 1].append(value)
    return found


def refresh_match_keys(person: Person) -> None:
    """Recompute a person's blocking keys (after a create, an edit or a merge)."""
    phones, emails = contact_values([person.pk]).get(person.pk, ([], []))
    wanted = {key_hash(k) for k in matching.stored_keys(identity_of(person, phones, emails))}
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


def current_model() -> fs.Model:
    """The weights intake uses (people.weights.current_model)."""
    from tracecenter.people import weights  # weights reads persons through this module

    return weights.current_model()


def refresh_all_match_keys(batch: int = 2000) -> int:
    """Recompute every person's stored keys (after BLOCKING_KEYS_VERSION changed); returns persons done."""
    done = 0
    ids = list(Person.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        contacts = contact_values(chunk)
        wanted: dict[int, set[str]] = {}
        for person in Person.objects.filter(pk__in=chunk):
            phones, emails = contacts.get(person.pk, ([], []))
            wanted[person.pk] = {key_hash(k) for k in matching.stored_keys(identity_of(person, phones, emails))}
        have: dict[int, set[str]] = defaultdict(set)
        for person_id, key in PersonMatchKey.objects.filter(person_id__in=chunk).values_list("person_id", "key"):
            have[person_id].add(key)
        with transaction.atomic():
            stale = [(pid, k) for pid, keys in have.items() for k in keys - wanted.get(pid, set())]
            for pid in {pid for pid, _k in stale}:
                PersonMatchKey.objects.filter(person_id=pid, key__in=[k for p, k in stale if p == pid]).delete()
            PersonMatchKey.objects.bulk_create(
                [PersonMatchKey(person_id=pid, key=k) for pid, keys in wanted.items() for k in keys - have[pid]],
                ignore_conflicts=True,
            )
        done += len(wanted)
    return done


_THRESHOLDS_TTL_SECONDS = 600.0
_thresholds_cache: dict[str, tuple[float, matching.Thresholds]] = {}


def thresholds_for(root_path: str) -> matching.Thresholds:
    """Thresholds for the size of the state's registry: the more persons, the more chance a stranger
    scores high, so the bar rises a bit per doubling (matching.Thresholds.for_population).

    The count is cached for a few minutes per process: it moves slowly and costs a scan.
    """
    now = time.monotonic()
    cached = _thresholds_cache.get(root_path)
    if cached is not None and cached[0] > now:
        return cached[1]
    persons = Person.objects.filter(jurisdiction__path__startswith=root_path, merged_into__isnull=True).count()
    thresholds = matching.Thresholds.for_population(persons)
    _thresholds_cache[root_path] = (now + _THRESHOLDS_TTL_SECONDS, thresholds)
    return thresholds


# Candidates scored per incoming record, ranked by how many blocking keys they share with it. A
# common surname block holds hundreds of persons; decrypting them all would cost more than the rest
# of intake, and a true match shares more keys than a namesake does.
MAX_CANDIDATES = 8
MIN_CANDIDATES = 4
SMALL_BLOCK = 12
_KEY_QUERY_SIZE = 5000


# A key shared by more persons than this (a clinic's phone, the sound of a very common name) is not
# read at all: its members are found through their other keys or not at all.
MAX_BLOCK = 300


def _block_members(keys: list[str]) -> list[tuple[str, int]]:
    """(key, person id) for each key, leaving out keys of blocks over MAX_BLOCK.

    Keys only: the state is checked when candidates are loaded (a join here costs more than
    the rest of matching), and a merged person's keys are deleted when it is merged.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # key = ANY(array): one parameter, not thousands; the (key, person) index answers alone.
            cursor.execute(
                "SELECT key, person_id FROM (SELECT key, person_id, count(*) OVER (PARTITION BY key) AS n "
                "FROM people_personmatchkey WHERE key = ANY(%s)) AS blocks WHERE n <= %s",
                [keys, MAX_BLOCK],
            )
            return [(str(k), int(p)) for k, p in cursor.fetchall()]
    pairs = list(PersonMatchKey.objects.filter(key__in=keys).values_list("key", "person_id"))
    sizes: dict[str, int] = defaultdict(int)
    for key, _pid in pairs:
        sizes[key] += 1
    return [(k, p) for k, p in pairs if sizes[k] <= MAX_BLOCK]


class Resolver:
    """Resolves a batch of incoming identities against one state (the root of `root`'s tree).

    Candidates are sought in the whole state, so a person known in the next county is not made
    twice without anyone knowing; but a person outside `root` (the batch's jurisdiction: a
    county's upload, the state for feeds) is never linked automatically: whoever sent the
    batch may not see them. Such a match is a review instead, routed to a jurisdiction that
    covers both records (`policy.review_route`).

    Use: prefetch(all identities of a chunk) once, then resolve() each, and remember()
    every person created so later records of the same chunk find them. Keys and decrypted
    candidates are cached for the life of the resolver (one intake run).
    """

    def __init__(self, root: Jurisdiction, thresholds: matching.Thresholds | None = None, model: fs.Model | None = None) -> None:
        self.root_path = f"/{root.ancestors_and_self()[0]}/"
        self.scope_path = root.path
        self._paths: dict[int, str] = {}  # jurisdiction path of each person loaded or remembered
        self.thresholds = thresholds or thresholds_for(self.root_path)
        # The weights estimated from the registry (match_weights_refresh), else the priors.
        self.model = model or current_model()
        self._by_key: dict[str, set[int]] = defaultdict(set)
        self._fetched: set[str] = set()
        self._identities: dict[int, matching.Identity] = {}
        self._keys_of: dict[int, frozenset[str]] = {}
        self._hashes: dict[matching.Identity, tuple[str, ...]] = {}
        self._elsewhere: set[int] = set()  # persons of another state (or merged): never candidates here

    def hashes(self, identity: matching.Identity) -> tuple[str, ...]:
        found = self._hashes.get(identity)
        if found is None:
            found = self._hashes[identity] = tuple(sorted(key_hash(k) for k in matching.blocking_keys(identity)))
        return found

    def prefetch(self, identities: Iterable[matching.Identity]) -> None:
        identities = list(identities)
        wanted: set[str] = set()
        for identity in identities:
            wanted.update(self.hashes(identity))
        wanted -= self._fetched
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _KEY_QUERY_SIZE):
            for key, person_id in _block_members(ordered[start : start + _KEY_QUERY_SIZE]):
                self._by_key[key].add(person_id)
        self._fetched |= wanted
        need: set[int] = set()
        for identity in identities:
            need.update(pid for pid in self._ranked(identity) if pid not in self._identities and pid not in self._elsewhere)
        self._load(need)

    def _load(self, person_ids: set[int]) -> None:
        if not person_ids:
            return
        found = list(
            Person.objects.filter(pk__in=person_ids, jurisdiction__path__startswith=self.root_path, merged_into__isnull=True)
            .select_related("jurisdiction")
            .only(
                "pk",
                "first_name",
                "middle_name",
                "last_name",
                "date_of_birth",
                "sex",
                "street",
                "city",
                "postal_code",
                "jurisdiction__path",
            )
        )
        contacts = contact_values(p.pk for p in found)
        for person in found:
            phones, emails = contacts.get(person.pk, ([], []))
            self._identities[person.pk] = identity_of(person, phones, emails)
            self._paths[person.pk] = person.jurisdiction.path
        self._elsewhere.update(person_ids - {p.pk for p in found})

    def _ranked(self, identity: matching.Identity) -> list[int]:
        """Candidates worth decrypting: those sharing two or more keys, or one key of a small block.

        A key shared by hundreds (the sound of "Maria Garcia") says nothing alone; its members
        are considered only when another key (birth date, phone) points at them too.
        """
        counts: dict[int, int] = defaultdict(int)
        in_small_block: set[int] = set()
        for key in self.hashes(identity):
            block = self._by_key.get(key, ())
            small = len(block) <= SMALL_BLOCK
            for person_id in block:
                counts[person_id] += 1
                if small:
                    in_small_block.add(person_id)
        strong = sorted(
            ((pid, n) for pid, n in counts.items() if n >= 2 and pid not in self._elsewhere), key=lambda item: (-item[1], item[0])
        )
        ranked = [pid for pid, _n in strong[:MAX_CANDIDATES]]
        if len(ranked) < MIN_CANDIDATES:
            # Few persons share two keys: look at those sharing one key of a small block too (a birth date
            # typo leaves only the name key; a new name leaves only the phone).
            weak = sorted(pid for pid in in_small_block if counts[pid] == 1 and pid not in self._elsewhere)
            ranked += weak[: MIN_CANDIDATES - len(ranked)]
        return ranked

    def candidates(self, identity: matching.Identity) -> list[tuple[int, matching.Identity]]:
        return [(pid, self._identities[pid]) for pid in self._ranked(identity) if pid in self._identities]

    def resolve(self, identity: matching.Identity) -> Resolution:
        self.prefetch([identity])
        found = matching.best_candidate(identity, self.candidates(identity), self.thresholds, self.model)
        if found.key is None or found.score is None:
            return Resolution("new", None, None, None, [])
        summary = comparison_summary(found.score)
        if found.decision == "match":
            if self.path_of(int(found.key)).startswith(self.scope_path):
                return Resolution("match", int(found.key), int(found.key), found.score.total, summary)
            # Surely the same person, but outside what the sender may see: a reviewer who sees both decides.
            return Resolution("review", None, int(found.key), found.score.total, summary)
        if found.decision == "review":
            return Resolution("review", None, int(found.key), found.score.total, summary)
        return Resolution("new", None, None, found.score.total, summary)

    def rename(self, old_id: int, new_id: int) -> None:
        """A person remembered under a provisional id was created: index them under their real one."""
        identity = self._identities.pop(old_id, None)
        keys = self._keys_of.pop(old_id, frozenset())
        if old_id in self._paths:
            self._paths[new_id] = self._paths.pop(old_id)
        for key in keys:
            self._by_key[key].discard(old_id)
            self._by_key[key].add(new_id)
        if identity is not None:
            self._identities[new_id] = identity
            self._keys_of[new_id] = keys

    def path_of(self, person_id: int) -> str:
        """The jurisdiction path of a candidate (loaded or remembered); the batch's own when not known."""
        return self._paths.get(person_id, self.scope_path)

    def ignore(self, person_ids: Iterable[int]) -> None:
        """Never offer these persons as candidates (the record being checked, records it may not be merged with)."""
        self._elsewhere.update(person_ids)

    def remember(self, person_id: int, identity: matching.Identity, *, path: str | None = None) -> list[str]:
        """Index a person (created or updated in this batch); returns its key hashes for storage.

        `path` is the jurisdiction path of the person (by default the batch's own).
        """
        if path is not None:
            self._paths[person_id] = path
        hashes = list(self.hashes(identity))
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
def persons_create_bulk(*, actor: User | None, rows: list[NewPerson], resolver: Resolver | None = None) -> list[Person]:
    """Create many persons with their contact points and match keys in a few statements, audited."""
    user = acting_user(actor)
    persons = [Person(jurisdiction_id=r.jurisdiction_id, created_by=user, **r.values) for r in rows]
    for person in persons:
        person.set_blind_indexes()
    insert_rows(Person, persons)
    points: list[ContactPoint] = []
    keys: list[PersonMatchKey] = []
    for person, row in zip(persons, rows, strict=True):
        for kind, values in ((ContactPoint.Kind.PHONE, row.phones), (ContactPoint.Kind.EMAIL, row.emails)):
            for rank, value in enumerate(values):
                point = ContactPoint(person=person, kind=kind, value=value, rank=rank)
                point.value_bidx = ContactPoint.index_of(kind, value)
                points.append(point)
        hashes = set(
            resolver.remember(person.pk, row.identity)
            if resolver is not None
            else [key_hash(k) for k in matching.blocking_keys(row.identity)]
        )
        hashes.update(key_hash(k) for k in matching.search_keys(row.identity))
        keys.extend(PersonMatchKey(person=person, key=h) for h in hashes)
    # New persons: their contact points and keys cannot exist yet, so no conflict handling is needed.
    insert_rows(ContactPoint, points)
    insert_rows(PersonMatchKey, keys)
    audit_record_many(
        actor=actor,
        action=Action.CREATE,
        object_type="person",
        items=[(p.pk, p.jurisdiction_id) for p in persons],
        detail="created by lab intake",
    )
    return persons


def contact_points_add(updates: Iterable[tuple[int, list[str], list[str]]]) -> int:
    """Add the phones and e-mails persons do not have yet (results came with new numbers); returns how many.

    `updates` holds (person id, E.164 phones, normalized e-mails); one query reads what
    all of them have, one insert adds the rest.
    """
    wanted = [(pid, phones, emails) for pid, phones, emails in updates if phones or emails]
    if not wanted:
        return 0
    existing: set[tuple[int, str, str]] = set()
    ranks: defaultdict[tuple[int, str], int] = defaultdict(int)
    for person_id, kind, bidx in ContactPoint.objects.filter(person_id__in={pid for pid, _p, _e in wanted}).values_list(
        "person_id", "kind", "value_bidx"
    ):
        existing.add((person_id, kind, bidx))
        ranks[person_id, kind] += 1
    added: list[ContactPoint] = []
    for person_id, phones, emails in wanted:
        for kind, values in ((ContactPoint.Kind.PHONE, phones), (ContactPoint.Kind.EMAIL, emails)):
            for value in values:
                bidx = ContactPoint.index_of(kind, value)
                if (person_id, kind, bidx) in existing:
                    continue
                point = ContactPoint(person_id=person_id, kind=kind, value=value, rank=ranks[person_id, kind])
                point.value_bidx = bidx
                ranks[person_id, kind] += 1
                existing.add((person_id, kind, bidx))
                added.append(point)
    ContactPoint.objects.bulk_create(added, ignore_conflicts=True)
    return len(added)


def match_reviews_open(reviews: list[MatchReview]) -> None:
    """Queue reviews of possible matches (a pair already queued is left as it is)."""
    MatchReview.objects.bulk_create(reviews, ignore_conflicts=True)


def match_review_open(
    *, jurisdiction_id: int, incoming_id: int, candidate_id: int, score: float, comparison: list[dict[str, Any]], source: str
) -> MatchReview:
    review, _created = MatchReview.objects.get_or_create(
        incoming_id=incoming_id,
        candidate_id=candidate_id,
        defaults={"jurisdiction_id": jurisdiction_id, "score": score, "comparison": comparison, "source": source[:120]},
    )
    return review


def match_review_for_entered(*, person: Person, exclude: Iterable[int] = (), source: str) -> MatchReview | None:
    """A person entered by hand (a contact a case named) may be someone already known: queue a review.

    Never a link: the record stays as it was entered, and the user who entered it sees only that,
    until a reviewer who may see both records decides (the review is routed to a jurisdiction that
    covers both, `policy.review_route`). The same matcher as intake's, against the whole state;
    sure and doubtful matches alike are reviewed. `exclude`: persons never to offer (records the
    entered one could not be merged with). Runs after the entry committed (a worker), so nothing
    about other persons reaches the user who entered it, not even as a delay.
    """
    person = Person.objects.select_related("jurisdiction").get(pk=person.pk)
    if person.merged_into_id is not None:
        return None
    resolver = Resolver(person.jurisdiction)
    resolver.ignore([person.pk, *exclude])
    phones, emails = contact_values([person.pk]).get(person.pk, ([], []))
    resolution = resolver.resolve(identity_of(person, phones, emails))
    if resolution.decision == "new" or resolution.candidate_id is None:
        return None
    route = policy.review_route(person.jurisdiction.path, resolver.path_of(resolution.candidate_id))
    review = match_review_open(
        jurisdiction_id=route,
        incoming_id=person.pk,
        candidate_id=resolution.candidate_id,
        score=resolution.score or 0.0,
        comparison=resolution.comparison,
        source=source,
    )
    audit_record(
        actor=None,
        action=Action.CREATE,
        object_type="match_review",
        object_id=review.pk,
        jurisdiction_id=route,
        fields=["incoming", "candidate"],
        detail=source,
    )
    return review

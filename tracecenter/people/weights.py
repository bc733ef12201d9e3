"""The matching weights intake uses: estimated from the registry, stored, and read back.

`match_weights_refresh` estimates them (people.linkage.estimate: u from random pairs of
persons, m by EM over the pairs the blocking keys bring together, term frequencies of
names) and stores them as a MatchWeights row; `current_model` returns the newest, or the
priors of people.matching while the registry is too small to learn from.
"""

from __future__ import annotations

import random
import time

from django.db import transaction

from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.people import fellegi_sunter as fs
from tracecenter.people import linkage, matching
from tracecenter.people.identity import contact_values, identity_of
from tracecenter.people.models import MatchWeights, Person

# Below this many persons, u and the term frequencies would rest on too few records:
# the priors are used (and stored weights estimated on so few are ignored).
MIN_PERSONS = 1000
# Persons sampled for an estimate: enough for every level's m and u to a few per cent,
# and a refresh of a registry of millions in minutes.
DEFAULT_SAMPLE = 200_000

_TTL_SECONDS = 600.0
_cache: dict[str, tuple[float, fs.Model]] = {}


def current_model(*, min_persons: int = MIN_PERSONS) -> fs.Model:
    """The newest stored weights, or the priors when none were estimated on `min_persons` persons or more.

    Cached for a few minutes per process: weights change when someone refreshes them, rarely.
    """
    now = time.monotonic()
    cached = _cache.get("model")
    if cached is not None and cached[0] > now and min_persons == MIN_PERSONS:
        return cached[1]
    model = matching.PRIORS
    row = MatchWeights.objects.filter(persons__gte=min_persons).first()
    if row is not None:
        try:
            model = fs.Model.from_json(row.weights)
        except ValueError:
            model = matching.PRIORS  # a damaged row must not stop intake; the next refresh replaces it
    if min_persons == MIN_PERSONS:
        _cache["model"] = (now + _TTL_SECONDS, model)
    return model


def forget_cached_model() -> None:
    _cache.clear()


def estimate_from_registry(
    *, sample: int = DEFAULT_SAMPLE, seed: int = 1, min_persons: int = MIN_PERSONS
) -> tuple[fs.Model, int]:
    """Weights estimated on (a sample of) the persons in the registry: (model, persons used)."""
    ids = list(Person.objects.filter(merged_into__isnull=True).values_list("pk", flat=True))
    if len(ids) > sample:
        ids = sorted(random.Random(seed).sample(ids, sample))  # noqa: S311 (a sample, not a secret)
    identities: list[matching.Identity] = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        contacts = contact_values(chunk)
        for person in Person.objects.filter(pk__in=chunk).only(
            "pk", "first_name", "middle_name", "last_name", "date_of_birth", "sex", "street", "city", "postal_code"
        ):
            phones, emails = contacts.get(person.pk, ([], []))
            identities.append(identity_of(person, phones, emails))
    if len(identities) < min_persons:
        return matching.PRIORS, len(identities)
    pairs = linkage.candidate_pairs(identities)
    return linkage.estimate(identities, None, pairs, seed=seed, source="registry"), len(identities)


@transaction.atomic
def refresh_weights(*, sample: int = DEFAULT_SAMPLE, seed: int = 1, min_persons: int = MIN_PERSONS) -> MatchWeights | None:
    """Estimate and store the registry's weights; None (nothing stored) while the registry is too small.

    `min_persons` below MIN_PERSONS stores weights that current_model still ignores (tests use it).
    """
    model, persons = estimate_from_registry(sample=sample, seed=seed, min_persons=min_persons)
    if persons < min_persons:
        return None
    row = MatchWeights.objects.create(persons=persons, weights=model.to_json())
    audit_record(actor=None, action=Action.CREATE, object_type="match_weights", object_id=row.pk, detail="estimated")
    forget_cached_model()
    return row

"""Linking and deduplicating lists of identities in memory, pure Python (no Django).

What `manage.py match_pairs` and bench/matcher.py run, and what `match_weights_refresh`
estimates weights with: the same blocking keys, comparisons and weights as intake
(people.matching), on records held in memory instead of the registry.

    pairs = candidate_pairs(left, right)          # blocking: every pass, union of the pairs
    model = estimate(left, right, pairs)          # u from random pairs, m and lambda by EM
    for i, j in pairs: score(left[i], right[j], model) ...
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence

from tracecenter.people import fellegi_sunter as fs
from tracecenter.people import matching

# A key shared by more records than this (a clinic's phone, a postal code's newborns of
# one year in a big city) is skipped: its members meet through their other keys.
MAX_BLOCK = 1000
RANDOM_PAIRS = 100_000


def candidate_pairs(
    left: Sequence[matching.Identity], right: Sequence[matching.Identity] | None = None, *, max_block: int = MAX_BLOCK
) -> list[tuple[int, int]]:
    """Pairs (i, j) sharing at least one blocking key, sorted; i < j when deduplicating `left` alone,
    else i indexes `left` and j `right`."""
    left_blocks: dict[str, list[int]] = defaultdict(list)
    for i, identity in enumerate(left):
        for key in matching.blocking_keys(identity):
            left_blocks[key].append(i)
    pairs: set[tuple[int, int]] = set()
    if right is None:
        for members in left_blocks.values():
            if 1 < len(members) <= max_block:
                for x, i in enumerate(members):
                    for j in members[x + 1 :]:
                        pairs.add((i, j))
    else:
        right_blocks: dict[str, list[int]] = defaultdict(list)
        for j, identity in enumerate(right):
            for key in matching.blocking_keys(identity):
                right_blocks[key].append(j)
        for key, members in left_blocks.items():
            others = right_blocks.get(key)
            if others and len(members) <= max_block and len(others) <= max_block:
                pairs.update((i, j) for i in members for j in others)
    return sorted(pairs)


def term_frequencies(records: Iterable[matching.Identity]) -> tuple[dict[str, dict[str, float]], dict[str, float], int]:
    firsts: list[str] = []
    lasts: list[str] = []
    for identity in records:
        firsts.append(identity.first_name.replace(" ", ""))
        lasts.append(identity.last_name.replace(" ", ""))
    n = len(firsts)
    first_tf, first_default = fs.term_frequencies(firsts, n)
    last_tf, last_default = fs.term_frequencies(lasts, n)
    return {"first_name": first_tf, "last_name": last_tf}, {"first_name": first_default, "last_name": last_default}, n


def estimate(
    left: Sequence[matching.Identity],
    right: Sequence[matching.Identity] | None,
    pairs: Sequence[tuple[int, int]],
    *,
    prior: fs.Model | None = None,
    seed: int = 1,
    source: str = "input",
) -> fs.Model:
    """Weights for these records: u from random pairs, m and lambda by EM over the candidate pairs."""
    prior = prior or matching.PRIORS
    other = left if right is None else right
    rng = random.Random(seed)  # noqa: S311 (sampling pairs, not secrets)
    random_vectors: list[fs.Vector] = []
    if len(left) > 1 and len(other) > 0:
        for _ in range(min(RANDOM_PAIRS, len(left) * len(other))):
            i, j = rng.randrange(len(left)), rng.randrange(len(other))
            if right is None and i == j:
                continue
            random_vectors.append(matching.score(left[i], other[j], prior).vector())
    candidate_vectors = [matching.score(left[i], other[j], prior).vector() for i, j in pairs]
    possible = len(left) * (len(left) - 1) // 2 if right is None else len(left) * len(other)
    tf, tf_default, _n = term_frequencies([*left, *(right or ())])
    return fs.fit(
        candidate_vectors=candidate_vectors,
        random_vectors=random_vectors,
        possible_pairs=possible,
        tf=tf,
        tf_default=tf_default,
        prior=prior,
        records=len(left) + (len(right) if right is not None else 0),
        source=source,
    )

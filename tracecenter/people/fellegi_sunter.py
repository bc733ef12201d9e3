"""Fellegi-Sunter weights learned from the data: EM for m, random pairs for u, pure Python (no Django).

A pair of records is compared field by field (people.matching.compare); each field
gives one *level* ("exact", "nickname", "typo", ..., or None when either side has no
value). A level's weight is log2(m/u), with

    m = P(level | the two records are one person)
    u = P(level | they are two persons),

and a pair's match weight is the sum over its fields (absent fields add 0: they are
no evidence either way, so a record without phone or e-mail is judged on what it
has, on the same probability scale). With lambda, the probability that two records
drawn at random are one person, the match probability is

    P(match | levels) = 1 / (1 + 2 ** -(log2(lambda / (1 - lambda)) + weight)).

Where the numbers come from (`estimate`):

- u from pairs drawn at random: almost all are two persons, so counting their levels
  is u, without any labelled data.
- m from EM (expectation-maximisation, Winkler's unsupervised method) over the
  candidate pairs that blocking yields: a mixture of matches and non-matches whose
  proportions and per-level probabilities are fitted to the observed level patterns.
  The hand-set values of PRIORS start EM and act as a Dirichlet prior (a few pairs'
  worth of pseudo-counts), so a level seldom seen keeps a sensible value and a tiny
  registry falls back to the priors.
- lambda from the same EM: the expected number of matches among the candidates over
  the number of all possible pairs.
- Term frequencies for names: an exact agreement on "Smith" is weaker evidence than
  one on "Zawadzki". For an exact name agreement, u is the value's own share of the
  records (`tf`), not the average over all values. Only values carried by at least
  TF_MIN_COUNT records are kept, so the stored table names no rare (identifying) name.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Level = str | None  # None: the field is absent on either side
Vector = tuple[Level, ...]

# The fields compared, in the order of a comparison vector, and the levels each can take.
FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "street",
    "city",
    "postal_code",
)
LEVELS: dict[str, tuple[str, ...]] = {
    "first_name": (
        "exact",
        "nickname",
        "partial",
        "similar",
        "phonetic",
        "fuzzy",
        "initial",
        "as_middle",
        "transposed",
        "different",
    ),
    "middle_name": ("exact", "initial", "similar", "different"),
    "last_name": ("exact", "partial", "similar", "phonetic", "fuzzy", "transposed", "different"),
    "date_of_birth": ("exact", "transposed", "typo", "decade", "year", "same_year", "different"),
    "sex": ("exact", "different"),
    "phone": ("exact", "similar", "different"),
    "email": ("exact", "similar", "different"),
    "street": ("exact", "similar", "fuzzy", "same_number", "different"),
    "city": ("exact", "similar", "different"),
    "postal_code": ("exact", "similar", "different"),
}
# Fields whose exact agreement is weighed by how common the value is.
TF_FIELDS: tuple[str, ...] = ("first_name", "last_name")
# A value kept in a stored term-frequency table is shared by at least this many records.
TF_MIN_COUNT = 20
# Pseudo-counts the priors are worth in EM: enough to keep a level never observed away
# from 0 (an infinite weight), few enough that a few hundred pairs outweigh them.
PRIOR_STRENGTH = 20.0
_FLOOR = 1e-6  # no probability is ever exactly 0 (a weight of minus infinity)


@dataclasses.dataclass(frozen=True)
class Model:
    """m and u per (field, level), lambda, and term frequencies: everything a match probability needs."""

    m: Mapping[tuple[str, str], float]
    u: Mapping[tuple[str, str], float]
    lambda_: float  # probability that two records drawn at random are one person
    tf: Mapping[str, Mapping[str, float]]  # field -> value -> share of records carrying it
    tf_default: Mapping[str, float]  # field -> share assumed for a value not in tf (a rare one)
    source: str = "priors"  # "priors", or what the weights were estimated on
    records: int = 0
    candidate_pairs: int = 0
    em_iterations: int = 0

    # Weights computed once per model: score() asks for them for every field of every pair.
    _weights: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)
    _exact: dict[tuple[str, str], float] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

    def weight(self, field: str, level: str) -> float:
        found = self._weights.get((field, level))
        if found is None:
            found = self._weights[field, level] = math.log2(self.m[field, level] / self.u[field, level])
        return found

    def exact_weight(self, field: str, value: str) -> float:
        """Weight of an exact agreement on `value`, adjusted for how common it is."""
        found = self._exact.get((field, value))
        if found is None:
            share = self.tf.get(field, {}).get(value)
            if share is None:
                share = self.tf_default.get(field, self.u[field, "exact"])
            found = math.log2(self.m[field, "exact"] / max(share, _FLOOR))
            if len(self._exact) < 200_000:  # names repeat; a cache of every name ever seen would not
                self._exact[field, value] = found
        return found

    @property
    def prior_bits(self) -> float:
        """log2 of the prior odds that two records drawn at random are one person."""
        return log_odds(self.lambda_)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "source": self.source,
            "records": self.records,
            "candidate_pairs": self.candidate_pairs,
            "em_iterations": self.em_iterations,
            "lambda": self.lambda_,
            "m": {f"{f}:{lv}": p for (f, lv), p in sorted(self.m.items())},
            "u": {f"{f}:{lv}": p for (f, lv), p in sorted(self.u.items())},
            "tf": {f: dict(sorted(v.items())) for f, v in self.tf.items()},
            "tf_default": dict(self.tf_default),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        """A model from to_json's output; ValueError naming what is wrong otherwise."""
        if not isinstance(data, Mapping) or data.get("version") != 1:
            raise ValueError("Not a match weights file (version 1 expected).")
        try:
            m = _probabilities(data["m"], "m")
            u = _probabilities(data["u"], "u")
            lam = float(data["lambda"])
            tf = {str(f): {str(k): float(v) for k, v in values.items()} for f, values in data.get("tf", {}).items()}
            tf_default = {str(f): float(v) for f, v in data.get("tf_default", {}).items()}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"Match weights file: {exc}") from None
        if not 0 < lam < 1:
            raise ValueError("Match weights file: lambda must be between 0 and 1.")
        for values in [*tf.values(), tf_default]:
            if any(not 0 < v <= 1 for v in values.values()):
                raise ValueError("Match weights file: term frequencies must be between 0 and 1.")
        return cls(
            m=m,
            u=u,
            lambda_=lam,
            tf=tf,
            tf_default=tf_default,
            source=str(data.get("source", "file")),
            records=int(data.get("records", 0)),
            candidate_pairs=int(data.get("candidate_pairs", 0)),
            em_iterations=int(data.get("em_iterations", 0)),
        )

    @classmethod
    def loads(cls, text: str) -> Model:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Match weights file is not JSON: {exc.msg} at line {exc.lineno}.") from None
        return cls.from_json(data)


def _probabilities(raw: Mapping[str, Any], name: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for field, levels in LEVELS.items():
        for level in levels:
            value = float(raw[f"{field}:{level}"])
            if not 0 < value <= 1 or math.isnan(value):
                raise ValueError(f"{name} of {field}:{level} must be a probability above 0.")
            out[field, level] = value
    return out


def log_odds(p: float) -> float:
    p = min(max(p, 1e-300), 1 - 1e-16)
    return math.log2(p / (1 - p))


def probability(bits: float) -> float:
    """The probability whose log2 odds are `bits`."""
    if bits >= 0:
        return 1.0 / (1.0 + 2.0**-bits)
    odds = 2.0**bits
    return odds / (1.0 + odds)


# Estimation ------------------------------------------------------------------------


def _normalized(counts: Mapping[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for field, levels in LEVELS.items():
        total = sum(counts.get((field, lv), 0.0) for lv in levels)
        for lv in levels:
            out[field, lv] = max(counts.get((field, lv), 0.0) / total, _FLOOR) if total > 0 else _FLOOR
    return out


def u_from_random_pairs(vectors: Iterable[Vector], prior: Model) -> dict[tuple[str, str], float]:
    """u: the level frequencies of pairs drawn at random (nearly all non-matches), smoothed by the prior."""
    counts: Counter[tuple[str, str]] = Counter()
    for vector in vectors:
        for field, level in zip(FIELDS, vector, strict=True):
            if level is not None:
                counts[field, level] += 1
    smoothed = {key: counts.get(key, 0) + PRIOR_STRENGTH * prior.u[key] for key in prior.u}
    return _normalized(smoothed)


def em(
    vectors: Iterable[Vector], prior: Model, *, max_iterations: int = 60, tolerance: float = 1e-5
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float], float, float, int]:
    """Fit the two-class mixture to candidate pairs' vectors: (m, u among candidates, lambda among
    candidates, expected matches, iterations). The prior starts the fit and smooths it (MAP EM)."""
    patterns = Counter(vectors)
    total = sum(patterns.values())
    m = dict(prior.m)
    u = dict(prior.u)
    lam = 0.1
    iterations = 0
    expected = 0.0
    items = list(patterns.items())
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (the count is returned)
        m_counts: dict[tuple[str, str], float] = {key: PRIOR_STRENGTH * p for key, p in prior.m.items()}
        u_counts: dict[tuple[str, str], float] = {key: PRIOR_STRENGTH * p for key, p in prior.u.items()}
        expected = 0.0
        base = log_odds(lam)
        for vector, n in items:
            bits = base
            for field, level in zip(FIELDS, vector, strict=True):
                if level is not None:
                    bits += math.log2(m[field, level] / u[field, level])
            g = probability(bits)
            expected += n * g
            for field, level in zip(FIELDS, vector, strict=True):
                if level is not None:
                    m_counts[field, level] += n * g
                    u_counts[field, level] += n * (1 - g)
        new_m, new_u = _normalized(m_counts), _normalized(u_counts)
        new_lam = min(max(expected / total, 1e-9), 1 - 1e-9) if total else lam
        change = max(max(abs(new_m[k] - m[k]) for k in m), max(abs(new_u[k] - u[k]) for k in u), abs(new_lam - lam))
        m, u, lam = new_m, new_u, new_lam
        if change < tolerance:
            break
    return m, u, lam, expected, iterations


def term_frequencies(values: Iterable[str], records: int) -> tuple[dict[str, float], float]:
    """(share of records per value carried by at least TF_MIN_COUNT, share assumed for the others)."""
    counts = Counter(v for v in values if v)
    if records <= 0:
        return {}, 1.0
    table = {v: n / records for v, n in counts.items() if n >= TF_MIN_COUNT}
    # A value left out is carried by fewer than TF_MIN_COUNT records: weigh it as one of
    # the most common of those, the cautious side.
    return table, min(1.0, TF_MIN_COUNT / records)


_NAME_AGREES = frozenset({"exact", "nickname", "partial", "similar"})
_NAME_FIELDS = frozenset({"first_name", "middle_name", "last_name"})
_FIRST, _LAST, _DOB = FIELDS.index("first_name"), FIELDS.index("last_name"), FIELDS.index("date_of_birth")


def expected_matches(vectors: Sequence[Vector], m: Mapping[tuple[str, str], float], u: Mapping[tuple[str, str], float]) -> float:
    """Expected number of matches among `vectors` under m and u, with their share fitted (EM on lambda alone)."""
    patterns = Counter(vectors)
    bits_of = {}
    for vector in patterns:
        bits_of[vector] = sum(math.log2(m[f, lv] / u[f, lv]) for f, lv in zip(FIELDS, vector, strict=True) if lv is not None)
    total = sum(patterns.values())
    lam = 0.1
    expected = 0.0
    for _ in range(100):
        base = log_odds(lam)
        expected = sum(n * probability(base + bits_of[v]) for v, n in patterns.items())
        new = min(max(expected / total, 1e-12), 1 - 1e-9) if total else lam
        if abs(new - lam) < 1e-9:
            break
        lam = new
    return expected


def fit(
    *,
    candidate_vectors: Sequence[Vector],
    random_vectors: Sequence[Vector],
    possible_pairs: int,
    tf: Mapping[str, Mapping[str, float]],
    tf_default: Mapping[str, float],
    prior: Model,
    records: int,
    source: str,
    min_expected_matches: float = 50.0,
) -> Model:
    """The model of one data set: u from random pairs, m by EM in two sessions, lambda from the candidates.

    EM over all candidate pairs at once would find households, not persons: blocking on
    street and phone brings siblings together by the thousand, and the mixture would call
    "one household" a match (a different birth date would then cost nothing). So, as
    splink trains, m comes from two sessions whose pairs are chosen by a field whose own
    m is then not taken from that session: the birth date and the other fields from pairs
    whose first and last names agree, the names from pairs born the same day. A session
    expecting fewer than `min_expected_matches` matches (a small or already deduplicated
    registry) leaves the prior's m for its fields.
    """
    u = u_from_random_pairs(random_vectors, prior) if random_vectors else dict(prior.u)
    m = dict(prior.m)
    iterations = 0
    same_names = [v for v in candidate_vectors if v[_FIRST] in _NAME_AGREES and v[_LAST] in _NAME_AGREES]
    same_birth_date = [v for v in candidate_vectors if v[_DOB] == "exact"]
    for session, learns in ((same_names, lambda f: f not in _NAME_FIELDS), (same_birth_date, lambda f: f in _NAME_FIELDS)):
        m_session, _u, _lam, expected, n = em(session, prior)
        iterations += n
        if expected >= min_expected_matches:
            m.update({key: p for key, p in m_session.items() if learns(key[0])})
    expected = expected_matches(candidate_vectors, m, u)
    if possible_pairs > 0 and expected >= min_expected_matches:
        lam = min(max(expected / possible_pairs, 1e-12), 0.5)
    else:
        lam = prior.lambda_
    return Model(
        m=m,
        u=u,
        lambda_=lam,
        tf={f: dict(v) for f, v in tf.items()},
        tf_default=dict(tf_default),
        source=source,
        records=records,
        candidate_pairs=len(candidate_vectors),
        em_iterations=iterations,
    )

"""Linking and deduplicating lists of identities in memory, pure Python (no Django).

What `manage.py match_pairs` and bench/matcher.py run, and what `match_weights_refresh`
estimates weights with: the same blocking keys, comparisons and weights as intake
(people.matching), on records held in memory instead of the registry.

    pairs = candidate_pairs(left, right)          # blocking: every pass, union of the pairs
    model = estimate(left, right, pairs)          # u from random pairs, m and lambda by EM
    for i, j in pairs: score(left[i], right[j], model) ...
"""

from __future__ import annotations

import csv
import dataclasses
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


# Reading person rows -------------------------------------------------------------

COLUMNS = (
    "id",
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "sex",
    "street",
    "city",
    "state",
    "postal_code",
    "phone",
    "email",
)
MAX_ROWS = 1_000_000
MAX_FIELD = 1000  # characters in one value: a name or street longer than this is not one


class InputError(ValueError):
    """A row that cannot be read; the message names the file and line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    id: str
    line: int
    identity: matching.Identity


def read_rows(lines: Iterable[str], source: str, *, default_region: str = "US") -> list[Row]:
    """Person rows of a CSV file with a header (COLUMNS; any but id may be absent or empty).

    A date of birth is kept as written when it is not a real date (compared as a typo).
    InputError names the file and line of the first row that cannot be read.
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{source}: the file is empty (a header line with at least 'id' is expected).") from None
    except csv.Error as exc:
        raise InputError(f"{source}, line 1: {exc}.") from None
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    if "id" not in names:
        raise InputError(f"{source}, line 1: no 'id' column (columns: {', '.join(COLUMNS)}).")
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise InputError(f"{source}, line 1: column {duplicates[0]!r} appears more than once.")
    position = {n: i for i, n in enumerate(names) if n in COLUMNS}
    rows: list[Row] = []
    seen: set[str] = set()
    try:
        for record in reader:
            line = reader.line_num
            if not any(v.strip() for v in record):
                continue
            if len(rows) >= MAX_ROWS:
                raise InputError(f"{source}, line {line}: more than {MAX_ROWS:,} rows.")
            if len(record) > len(names):
                raise InputError(f"{source}, line {line}: {len(record)} values for {len(names)} columns.")

            def value(column: str, record: list[str] = record, line: int = line) -> str:
                i = position.get(column)
                text = record[i].strip() if i is not None and i < len(record) else ""
                if len(text) > MAX_FIELD:
                    raise InputError(f"{source}, line {line}: {column} is longer than {MAX_FIELD} characters.")
                if any(ord(ch) < 32 for ch in text):
                    raise InputError(f"{source}, line {line}: {column} contains a control character.")
                return text

            row_id = value("id")
            if not row_id:
                raise InputError(f"{source}, line {line}: the id is empty.")
            if row_id in seen:
                raise InputError(f"{source}, line {line}: id {row_id!r} appears twice.")
            seen.add(row_id)
            born, born_text = matching.parse_date_of_birth(value("date_of_birth"))
            identity = matching.identity_from(
                first_name=value("first_name"),
                middle_name=value("middle_name"),
                last_name=value("last_name"),
                date_of_birth=born,
                date_of_birth_text=born_text,
                sex=value("sex") or "U",
                street=value("street"),
                city=value("city"),
                postal_code=value("postal_code"),
                phones=[p for p in value("phone").split(";") if p.strip()],
                emails=[e for e in value("email").split(";") if e.strip()],
                default_region=default_region,
            )
            rows.append(Row(row_id, line, identity))
    except csv.Error as exc:
        raise InputError(f"{source}, line {reader.line_num}: {exc}.") from None
    return rows


def evidence(score: matching.MatchScore) -> dict[str, dict[str, object]]:
    """What each present field contributed: its level and weight in bits (values never)."""
    return {f.field: {"level": f.outcome, "weight": round(f.weight, 2)} for f in score.fields if f.outcome != "missing"}

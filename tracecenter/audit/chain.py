"""The audit chain: pure hashing, no Django, so it is tested and reasoned about alone.

Every entry is keyed from the moment it is written: its `entry_hash` is an HMAC of its content under
the chain key, so someone who can write the database but lacks the key cannot write an entry that
verifies, sealed or not. The sealer then links each entry to the one before it (`link`, an HMAC too)
and refuses an entry whose HMAC does not hold.

Entries sealed before this keying (before the chain's recorded cut-over, `keyed_from`) carry the
plain SHA-256 of their content that was used then; they are verified that way and counted apart.
Their chain links were keyed all along, so a changed one still breaks its link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64

CONTENT_FIELDS = (
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "jurisdiction_id",
    "ip_address",
    "channel",
    "fields",
    "detail",
)
# What the HMAC of an entry is over starts with this, so no other message under the key can pass for one.
_ENTRY_DOMAIN = b"tracecenter-audit-entry-v2\n"


def _canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps({k: content[k] for k in CONTENT_FIELDS}, sort_keys=True, separators=(",", ":"), default=str).encode()


def entry_hmac(key: bytes, content: Mapping[str, Any]) -> str:
    """The keyed hash of an entry's content: what every entry carries from the moment it is written."""
    return hmac.new(key, _ENTRY_DOMAIN + _canonical(content), hashlib.sha256).hexdigest()


def legacy_entry_hash(content: Mapping[str, Any]) -> str:
    """The unkeyed hash entries carried before the cut-over; only ever used to verify those."""
    return hashlib.sha256(_canonical(content)).hexdigest()


def entry_holds(key: bytes, content: Mapping[str, Any], stored: str) -> bool:
    return hmac.compare_digest(stored, entry_hmac(key, content))


def link(key: bytes, prev_hash: str, seq: int, this_entry_hash: str) -> str:
    return hmac.new(key, f"{seq}|{prev_hash}|{this_entry_hash}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SealedEntry:
    pk: int
    seq: int
    content: Mapping[str, Any]
    stored_entry_hash: str
    prev_hash: str
    chain_hash: str


@dataclass(frozen=True)
class UnsealedEntry:
    pk: int
    content: Mapping[str, Any]
    stored_entry_hash: str
    refused: bool  # the sealer found its HMAC wrong and left it out of the chain


@dataclass(frozen=True)
class Problem:
    pk: int | None
    seq: int | None
    reason: str

    def where(self) -> str:
        if self.seq is not None:
            return f"seq {self.seq} (entry id {self.pk})" if self.pk is not None else f"seq {self.seq}"
        return f"entry id {self.pk} (not sealed)"


@dataclass(frozen=True)
class Verdict:
    checked: int  # sealed entries that verified
    legacy: int = 0  # of those, sealed before the cut-over and verified by their unkeyed hash
    pending: int = 0  # written, HMAC sound, not sealed yet
    problems: tuple[Problem, ...] = field(default=())
    checked_before_first_problem: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    # The first broken entry, as the verdict always named it.
    @property
    def first_broken_pk(self) -> int | None:
        return self.first.pk if self.first else None

    @property
    def first_broken_seq(self) -> int | None:
        return self.first.seq if self.first else None

    @property
    def reason(self) -> str:
        return self.first.reason if self.first else ""


def verify(
    key: bytes,
    entries: Iterable[SealedEntry],
    *,
    keyed_from: int = 1,
    head_seq: int | None = None,
    unsealed: Iterable[UnsealedEntry] = (),
) -> Verdict:
    """Walk the sealed entries in `seq` order, then the unsealed ones; name every entry that does not hold.

    A sealed entry at `keyed_from` or after must carry the HMAC of its content; one before it, the
    HMAC or the plain hash of its content (the chain link over it is keyed either way). Each entry
    must link to the one before it and carry its chain HMAC; a gap in `seq` names the missing
    numbers; `head_seq` (the chain head) shows entries cut off the end.
    An unsealed entry whose HMAC does not hold is forged (or was changed before it was sealed).
    """
    problems: list[Problem] = []
    expected_prev = GENESIS
    expected_seq = 1
    checked = legacy = 0
    checked_before_first = 0
    last_seq = 0
    for entry in entries:
        broken = False
        if entry.seq != expected_seq:
            missing = f"#{expected_seq}" if entry.seq == expected_seq + 1 else f"#{expected_seq} to #{entry.seq - 1}"
            if entry.seq > expected_seq:
                problems.append(Problem(entry.pk, entry.seq, f"entry {missing} of the chain is missing"))
            else:
                problems.append(Problem(entry.pk, entry.seq, f"its place in the chain was changed (expected #{expected_seq})"))
            broken = True
        unkeyed = entry.seq < keyed_from and hmac.compare_digest(entry.stored_entry_hash, legacy_entry_hash(entry.content))
        # Before the cut-over an entry may carry either hash (one keyed there was written by this release and the
        # cut-over recorded again after the migrations were undone and redone); from it on, only the keyed one.
        content_holds = unkeyed or entry_holds(key, entry.content, entry.stored_entry_hash)
        if not content_holds:
            problems.append(
                Problem(entry.pk, entry.seq, "its content was changed after it was written (its HMAC does not match)")
            )
            broken = True
        elif entry.prev_hash != expected_prev and not broken:
            problems.append(Problem(entry.pk, entry.seq, "it does not link to the entry before it"))
            broken = True
        elif not hmac.compare_digest(entry.chain_hash, link(key, entry.prev_hash, entry.seq, entry.stored_entry_hash)):
            problems.append(Problem(entry.pk, entry.seq, "its chain hash does not match"))
            broken = True
        if not broken:
            checked += 1
            legacy += unkeyed
            if not problems:
                checked_before_first += 1
        # Carry on from this entry, so that one break is reported once and the entries after it are still checked.
        expected_prev = entry.chain_hash
        expected_seq = entry.seq + 1
        last_seq = max(last_seq, entry.seq)
    if head_seq is not None and head_seq > last_seq:
        problems.append(
            Problem(None, last_seq + 1, f"entries at the end of the chain are missing (#{last_seq + 1} to #{head_seq})")
        )
    pending = 0
    for loose in unsealed:
        holds = entry_holds(key, loose.content, loose.stored_entry_hash)
        if not holds:
            problems.append(
                Problem(
                    loose.pk,
                    None,
                    "forged: its HMAC does not match (not written by TraceCenter, or changed before it was sealed); "
                    "the sealer left it out of the chain",
                )
            )
        elif loose.refused:
            problems.append(
                Problem(loose.pk, None, "marked as refused by the sealer, yet its HMAC holds: the mark was set by hand")
            )
        else:
            pending += 1
    return Verdict(
        checked=checked,
        legacy=legacy,
        pending=pending,
        problems=tuple(problems),
        checked_before_first_problem=checked_before_first,
    )

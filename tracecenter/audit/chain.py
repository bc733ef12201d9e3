"""The audit chain: pure hashing, no Django, so it is tested and reasoned about alone.

Every entry is keyed from the moment it is written: its `entry_hash` is an HMAC of its content under
the chain key, so someone who can write the database but lacks the key cannot write an entry that
verifies, sealed or not. The sealer then links each entry to the one before it (`link`, an HMAC too)
and refuses an entry whose HMAC does not hold.

Entries sealed before this keying (before the chain's recorded cut-over, `keyed_from`) carry the
plain SHA-256 of their content that was used then; they are verified that way and counted apart.
Their chain links were keyed all along, so a changed one still breaks its link.

The oldest entries may leave the trail after its retention period, only as a whole prefix and only
behind a checkpoint (`Checkpoint`): signed under the same key, over what was removed and the
previous checkpoint's signature. Verification then starts from the latest checkpoint: the
checkpoints' signatures first, then the first remaining entry must be the next one and link to the
checkpoint's chain value, then the chain as before.
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


CHECKPOINT_FIELDS = (
    "from_seq",
    "up_to_seq",
    "last_hash",
    "removed",
    "first_at",
    "last_at",
    "keep_days",
    "cutoff",
    "written_at",
    "written_by",
    "key_id",
)
_CHECKPOINT_DOMAIN = b"tracecenter-audit-checkpoint-v1\n"
_KEY_ID_DOMAIN = b"tracecenter-audit-key-id"


def key_id(key: bytes) -> str:
    """A name for the key, derived from it and revealing nothing of it: which key signed a checkpoint."""
    return hmac.new(key, _KEY_ID_DOMAIN, hashlib.sha256).hexdigest()[:16]


def checkpoint_signature(key: bytes, fields: Mapping[str, Any], prev_signature: str) -> str:
    """The HMAC of a checkpoint: over everything it records and the signature of the checkpoint before it."""
    body = {k: fields[k] for k in CHECKPOINT_FIELDS} | {"prev_signature": prev_signature}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(key, _CHECKPOINT_DOMAIN + canonical, hashlib.sha256).hexdigest()


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
class Checkpoint:
    """A checkpoint as stored: `fields` holds the values of CHECKPOINT_FIELDS (times as ISO text in UTC)."""

    pk: int
    fields: Mapping[str, Any]
    prev_signature: str
    signature: str

    @property
    def from_seq(self) -> int:
        return int(self.fields["from_seq"])

    @property
    def up_to_seq(self) -> int:
        return int(self.fields["up_to_seq"])

    @property
    def last_hash(self) -> str:
        return str(self.fields["last_hash"])


@dataclass(frozen=True)
class Problem:
    pk: int | None
    seq: int | None
    reason: str
    checkpoint: int | None = None  # the checkpoint at fault, when it is one

    def where(self) -> str:
        if self.checkpoint is not None:
            return f"checkpoint {self.checkpoint} (entries up to #{self.seq})"
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
    checkpoints: int = 0  # checkpoints whose signature held
    resumed_after: int = 0  # the entries up to this one were removed behind the latest checkpoint (0: none)

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


def verify_checkpoints(key: bytes, checkpoints: Iterable[Checkpoint]) -> tuple[list[Problem], int, Checkpoint | None]:
    """Walk the checkpoints in order; returns the problems, how many held, and the latest (where entries resume).

    Each must carry the signature of what it records and of the checkpoint before it, under this key;
    and each must start where the one before it ended, its count matching its range.
    """
    problems: list[Problem] = []
    this_key = key_id(key)
    prev_signature = GENESIS
    expected_from = 1
    held = 0
    latest: Checkpoint | None = None
    for checkpoint in checkpoints:
        at_fault = len(problems)

        def fault(reason: str, checkpoint: Checkpoint = checkpoint) -> None:
            problems.append(Problem(None, checkpoint.up_to_seq, reason, checkpoint=checkpoint.pk))

        if checkpoint.fields["key_id"] != this_key:
            fault(
                f"signed under another key (key id {checkpoint.fields['key_id']}, this key is {this_key}): "
                "verify with the key it was written under"
            )
        elif not hmac.compare_digest(
            checkpoint.signature, checkpoint_signature(key, checkpoint.fields, checkpoint.prev_signature)
        ):
            fault("forged or edited: its signature does not match what it records")
        if checkpoint.prev_signature != prev_signature:
            fault("it does not follow the checkpoint before it: a checkpoint was removed, replaced or reordered")
        if checkpoint.from_seq != expected_from:
            fault(f"it starts at entry #{checkpoint.from_seq}, not at #{expected_from} where the one before it ended")
        if checkpoint.up_to_seq < checkpoint.from_seq or int(checkpoint.fields["removed"]) != (
            checkpoint.up_to_seq - checkpoint.from_seq + 1
        ):
            fault(f"its count ({checkpoint.fields['removed']}) does not match the entries it says were removed")
        held += len(problems) == at_fault
        # Carry on from what it says, so that one bad checkpoint is reported once.
        prev_signature = checkpoint.signature
        expected_from = checkpoint.up_to_seq + 1
        latest = checkpoint
    return problems, held, latest


def verify(
    key: bytes,
    entries: Iterable[SealedEntry],
    *,
    keyed_from: int = 1,
    head_seq: int | None = None,
    unsealed: Iterable[UnsealedEntry] = (),
    checkpoints: Iterable[Checkpoint] = (),
) -> Verdict:
    """Walk the sealed entries in `seq` order, then the unsealed ones; name every entry that does not hold.

    A sealed entry at `keyed_from` or after must carry the HMAC of its content; one before it, the
    HMAC or the plain hash of its content (the chain link over it is keyed either way). Each entry
    must link to the one before it and carry its chain HMAC; a gap in `seq` names the missing
    numbers; `head_seq` (the chain head) shows entries cut off the end.
    An unsealed entry whose HMAC does not hold is forged (or was changed before it was sealed).
    With `checkpoints` (in order), the entries start after the latest one: the first must be the
    next in sequence and link to its chain value; entries missing before it, or still there below
    it, are named with the checkpoint.
    """
    problems, held, latest = verify_checkpoints(key, checkpoints)
    expected_prev = latest.last_hash if latest is not None else GENESIS
    expected_seq = latest.up_to_seq + 1 if latest is not None else 1
    checked = legacy = 0
    checked_before_first = 0
    last_seq = expected_seq - 1
    first = True
    for entry in entries:
        if latest is not None and entry.seq <= latest.up_to_seq:
            problems.append(
                Problem(
                    entry.pk,
                    entry.seq,
                    f"it is still here, yet checkpoint {latest.pk} says the entries up to #{latest.up_to_seq} were removed",
                )
            )
            continue  # not part of the chain that resumes after the checkpoint
        broken = False
        if entry.seq != expected_seq:
            single = entry.seq == expected_seq + 1
            span = f"entry #{expected_seq}" if single else f"entries #{expected_seq} to #{entry.seq - 1}"
            if first and entry.seq > expected_seq and latest is not None:
                reason = (
                    f"{span} {'was' if single else 'were'} removed beyond checkpoint {latest.pk}, which covers the "
                    f"entries up to #{latest.up_to_seq}: removed without a checkpoint"
                )
            elif first and entry.seq > expected_seq:
                reason = (
                    f"{span} {'is' if single else 'are'} missing at the start of the chain, "
                    f"and no checkpoint covers {'it' if single else 'them'}"
                )
            elif entry.seq > expected_seq:
                reason = f"{span} of the chain {'is' if single else 'are'} missing"
            else:
                reason = f"its place in the chain was changed (expected #{expected_seq})"
            problems.append(Problem(entry.pk, entry.seq, reason))
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
            follows = f"checkpoint {latest.pk}'s chain value" if first and latest is not None else "the entry before it"
            problems.append(Problem(entry.pk, entry.seq, f"it does not link to {follows}"))
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
        first = False
    if head_seq is not None and latest is not None and latest.up_to_seq > head_seq:
        problems.append(
            Problem(
                None,
                latest.up_to_seq,
                f"it covers entries up to #{latest.up_to_seq}, beyond the chain's head at #{head_seq}",
                checkpoint=latest.pk,
            )
        )
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
        checkpoints=held,
        resumed_after=latest.up_to_seq if latest is not None else 0,
    )

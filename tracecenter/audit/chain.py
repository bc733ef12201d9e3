"""The audit chain: pure hashing, no Django, so it is tested and reasoned about alone."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def entry_hash(content: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: content[k] for k in CONTENT_FIELDS}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
class Verdict:
    ok: bool
    checked: int
    first_broken_pk: int | None = None
    first_broken_seq: int | None = None
    reason: str = ""


def verify(key: bytes, entries: Iterable[SealedEntry]) -> Verdict:
    """Walk entries in `seq` order; name the first one whose content or link does not hold."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for entry in entries:
        if entry.seq != expected_seq:
            return Verdict(False, checked, entry.pk, entry.seq, f"entry #{expected_seq} of the chain is missing")
        recomputed = entry_hash(entry.content)
        if recomputed != entry.stored_entry_hash:
            return Verdict(False, checked, entry.pk, entry.seq, "its content was changed after it was written")
        if entry.prev_hash != expected_prev:
            return Verdict(False, checked, entry.pk, entry.seq, "it does not link to the entry before it")
        if not hmac.compare_digest(entry.chain_hash, link(key, entry.prev_hash, entry.seq, recomputed)):
            return Verdict(False, checked, entry.pk, entry.seq, "its chain hash does not match")
        expected_prev = entry.chain_hash
        expected_seq += 1
        checked += 1
    return Verdict(True, checked)

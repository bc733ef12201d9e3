"""Writing to the audit trail, sealing it into the chain, and verifying it."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction

from tracecenter.audit import chain
from tracecenter.audit.models import Action, AuditChainHead, AuditCheck, AuditCheckpoint, AuditEntry
from tracecenter.core import clock, request_context
from tracecenter.core.actors import Actor, acting_user
from tracecenter.core.bulk import insert_rows, update_rows

logger = logging.getLogger(__name__)

# Entries sealed per commit: more than a chunk of lab intake writes (about 1.3 per message), so no backlog builds up.
SEAL_BATCH = 2000


class AuditChainBroken(Exception):
    """The scheduled verification found the trail broken (`audit_verify` names each fault)."""


class AuditEntriesRefused(Exception):
    """The sealer found entries whose HMAC does not hold and left them out of the chain (`audit_verify` names them)."""


def _instant(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _content(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": _instant(entry.at),
        "actor_id": entry.actor_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "jurisdiction_id": entry.jurisdiction_id,
        "ip_address": entry.ip_address,
        "channel": entry.channel,
        "fields": list(entry.fields),
        "detail": entry.detail,
    }


def audit_record(
    *,
    actor: Actor | None,
    action: Action | str,
    object_type: str = "",
    object_id: object = "",
    jurisdiction_id: int | None = None,
    fields: Iterable[str] = (),
    detail: str = "",
) -> AuditEntry:
    """Append one entry. `fields` are names of fields touched, never their values."""
    context = request_context.current()
    user = acting_user(actor)
    entry = AuditEntry(
        at=clock.now(),
        actor_id=user.pk if user else None,
        actor_username=user.get_username() if user else "",
        actor_role=getattr(user, "role", "") if user else "",
        action=str(action),
        object_type=object_type,
        object_id=str(object_id) if object_id not in (None, "") else "",
        jurisdiction_id=jurisdiction_id,
        ip_address=(context.ip_address or "")[:45],
        channel=context.channel,
        fields=sorted(set(fields)),
        detail=detail[:200],
    )
    entry.entry_hash = chain.entry_hmac(_key(), _content(entry))
    entry.save()
    return entry


def audit_record_many(
    *,
    actor: Actor | None,
    action: Action | str,
    object_type: str,
    items: Iterable[tuple[object, int | None]],
    fields: Iterable[str] = (),
    detail: str = "",
) -> int:
    """One entry per (object id, jurisdiction id), inserted together: for bulk work such as lab intake."""
    context = request_context.current()
    user = acting_user(actor)
    at = clock.now()
    names = sorted(set(fields))
    key = _key()
    entries = []
    for object_id, jurisdiction_id in items:
        entry = AuditEntry(
            at=at,
            actor_id=user.pk if user else None,
            actor_username=user.get_username() if user else "",
            actor_role=getattr(user, "role", "") if user else "",
            action=str(action),
            object_type=object_type,
            object_id=str(object_id),
            jurisdiction_id=jurisdiction_id,
            ip_address=(context.ip_address or "")[:45],
            channel=context.channel,
            fields=names,
            detail=detail[:200],
        )
        entry.entry_hash = chain.entry_hmac(key, _content(entry))
        entries.append(entry)
    insert_rows(AuditEntry, entries)
    return len(entries)


def _key() -> bytes:
    return _decoded(settings.AUDIT_CHAIN_KEY)


@functools.lru_cache(maxsize=4)
def _decoded(setting: str) -> bytes:
    return base64.b64decode(setting)


def seal_pending(limit: int = SEAL_BATCH) -> tuple[int, int]:
    """Give unsealed entries their place in the chain; returns how many were sealed and how many refused.

    Run by the workers (the periodic job `audit.seal`), never in a request: writing an entry
    takes no lock, and only the sealer takes the chain's.

    An entry whose HMAC does not hold (written by someone without the key, or changed since) is not
    sealed: it is marked refused, stays out of the chain, and `audit_verify` names it.

    Only one sealer works at a time: the head row is locked with SKIP LOCKED, so a
    second sealer returns at once and leaves the work to the first (on SQLite the
    database's own write lock serializes writers).
    """
    sealed: list[AuditEntry] = []
    refused: list[AuditEntry] = []
    with transaction.atomic():
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if head is None:
            return 0, 0
        key = _key()
        pending = AuditEntry.objects.filter(seq__isnull=True, seal_refused=False).order_by("pk")[:limit]
        for entry in pending:
            if not chain.entry_holds(key, _content(entry), entry.entry_hash):
                entry.seal_refused = True
                refused.append(entry)
                continue
            seq = head.last_seq + 1
            chain_hash = chain.link(key, head.last_hash, seq, entry.entry_hash)
            entry.seq, entry.prev_hash, entry.chain_hash = seq, head.last_hash, chain_hash
            head.last_seq, head.last_hash = seq, chain_hash
            sealed.append(entry)
        # One statement for the whole batch; the head lock means no other sealer touches these rows.
        update_rows(AuditEntry, sealed, ["seq", "prev_hash", "chain_hash"], where_null="seq")
        update_rows(AuditEntry, refused, ["seal_refused"], where_null="seq")
        if sealed:
            head.save(update_fields=["last_seq", "last_hash"])
    if refused:
        logger.warning(
            "audit sealer refused %d entries whose HMAC does not hold (ids %s)", len(refused), [e.pk for e in refused[:20]]
        )
    return len(sealed), len(refused)


def seal_all() -> int:
    """Seal everything pending; returns how many were sealed (refusals are counted by `seal_all_reporting`)."""
    return seal_all_reporting()[0]


def seal_all_reporting() -> tuple[int, int]:
    sealed = refused = 0
    while True:
        done, turned_away = seal_pending()
        sealed, refused = sealed + done, refused + turned_away
        if not done and not turned_away:
            return sealed, refused


def _unsealed_entries() -> Iterator[chain.UnsealedEntry]:
    for entry in AuditEntry.objects.filter(seq__isnull=True).order_by("pk").iterator(chunk_size=2000):
        yield chain.UnsealedEntry(
            pk=entry.pk, content=_content(entry), stored_entry_hash=entry.entry_hash, refused=entry.seal_refused
        )


def checkpoint_fields(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """What a checkpoint's signature is over (chain.CHECKPOINT_FIELDS), as it is signed."""
    return {
        "from_seq": checkpoint.from_seq,
        "up_to_seq": checkpoint.up_to_seq,
        "last_hash": checkpoint.last_hash,
        "removed": checkpoint.removed,
        "first_at": _instant(checkpoint.first_at),
        "last_at": _instant(checkpoint.last_at),
        "keep_days": checkpoint.keep_days,
        "cutoff": _instant(checkpoint.cutoff),
        "written_at": _instant(checkpoint.written_at),
        "written_by": checkpoint.written_by,
        "key_id": checkpoint.key_id,
    }


def checkpoint_sign(checkpoint: AuditCheckpoint) -> None:
    """Name the key and sign the checkpoint, chained to `prev_signature` (set by the caller)."""
    key = _key()
    checkpoint.key_id = chain.key_id(key)
    checkpoint.signature = chain.checkpoint_signature(key, checkpoint_fields(checkpoint), checkpoint.prev_signature)


def _checkpoints() -> Iterator[chain.Checkpoint]:
    for checkpoint in AuditCheckpoint.objects.order_by("up_to_seq", "pk"):
        yield chain.Checkpoint(
            pk=checkpoint.pk,
            fields=checkpoint_fields(checkpoint),
            prev_signature=checkpoint.prev_signature,
            signature=checkpoint.signature,
        )


def sealed_entries(from_seq: int = 1, up_to_seq: int | None = None) -> Iterator[chain.SealedEntry]:
    """The sealed entries in `seq` order, as verification reads them (from `from_seq`, up to `up_to_seq`)."""
    entries = AuditEntry.objects.filter(seq__gte=from_seq)
    if up_to_seq is not None:
        entries = entries.filter(seq__lte=up_to_seq)
    for entry in entries.order_by("seq").iterator(chunk_size=2000):
        if entry.seq is None:  # filtered out by the query
            raise RuntimeError(f"audit entry {entry.pk} has no sequence number")
        yield chain.SealedEntry(
            pk=entry.pk,
            seq=entry.seq,
            content=_content(entry),
            stored_entry_hash=entry.entry_hash,
            prev_hash=entry.prev_hash,
            chain_hash=entry.chain_hash,
        )


def verify_chain() -> chain.Verdict:
    """The checkpoints left by the trail's retention, then every sealed entry in order from the latest of them
    (entries before the head's cut-over by their unkeyed hash), the head, and every entry not sealed yet; the
    verdict names each checkpoint and each entry that does not hold."""
    head = AuditChainHead.objects.filter(pk=1).first()
    return chain.verify(
        _key(),
        sealed_entries(),
        keyed_from=head.keyed_from_seq if head is not None else 1,
        head_seq=head.last_seq if head is not None else None,
        unsealed=_unsealed_entries(),
        checkpoints=_checkpoints(),
    )


def verify_before_removal(from_seq: int, up_to_seq: int) -> chain.Verdict:
    """The checkpoints, then the sealed entries `from_seq` to `up_to_seq` as the next part of the chain: what the
    trail's retention checks before it writes a checkpoint over them (a broken part is never signed over)."""
    head = AuditChainHead.objects.filter(pk=1).first()
    return chain.verify(
        _key(),
        sealed_entries(from_seq, up_to_seq),
        keyed_from=head.keyed_from_seq if head is not None else 1,
        head_seq=up_to_seq,
        checkpoints=_checkpoints(),
    )


def audit_check_run() -> AuditCheck:
    """Verify the whole trail now and keep the finding; a break is also an audit entry, seen by auditors."""
    verdict = verify_chain()
    first = verdict.first
    check = AuditCheck.objects.create(
        ok=verdict.ok,
        checked=verdict.checked,
        problems=len(verdict.problems),
        first_problem=f"{first.where()}: {first.reason}"[:300] if first is not None else "",
    )
    if not verdict.ok:
        audit_record(
            actor=None,
            action=Action.INTEGRITY,
            object_type="audit_check",
            object_id=check.pk,
            detail=f"audit trail broken: {len(verdict.problems)} problem(s), first {check.first_problem}"[:200],
        )
    return check


def audit_check_latest() -> AuditCheck | None:
    return AuditCheck.objects.order_by("-at", "-pk").first()

"""Writing to the audit trail, sealing it into the chain, and verifying it."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction

from tracecenter.audit import chain
from tracecenter.audit.models import Action, AuditChainHead, AuditEntry
from tracecenter.core import clock, request_context
from tracecenter.core.actors import Actor, acting_user
from tracecenter.core.bulk import insert_rows, update_rows

# Entries sealed per commit: more than a chunk of lab intake writes (about 1.3 per message), so no backlog builds up.
SEAL_BATCH = 2000


def _content(entry: AuditEntry) -> dict[str, Any]:
    at = entry.at.astimezone(dt.UTC)
    return {
        "at": at.isoformat(timespec="microseconds"),
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
    entry.entry_hash = chain.entry_hash(_content(entry))
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
        entry.entry_hash = chain.entry_hash(_content(entry))
        entries.append(entry)
    insert_rows(AuditEntry, entries)
    return len(entries)


def _key() -> bytes:
    return base64.b64decode(settings.AUDIT_CHAIN_KEY)


def seal_pending(limit: int = SEAL_BATCH) -> int:
    """Give unsealed entries their place in the chain; returns how many were sealed.

    Run by the workers (the periodic job `audit.seal`), never in a request: writing an entry
    takes no lock, and only the sealer takes the chain's.

    Only one sealer works at a time: the head row is locked with SKIP LOCKED, so a
    second sealer returns at once and leaves the work to the first (on SQLite the
    database's own write lock serializes writers).
    """
    sealed = 0
    with transaction.atomic():
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if head is None:
            return 0
        key = _key()
        pending = list(AuditEntry.objects.filter(seq__isnull=True).order_by("pk").only("pk", "entry_hash")[:limit])
        for entry in pending:
            seq = head.last_seq + 1
            chain_hash = chain.link(key, head.last_hash, seq, entry.entry_hash)
            entry.seq, entry.prev_hash, entry.chain_hash = seq, head.last_hash, chain_hash
            head.last_seq, head.last_hash = seq, chain_hash
            sealed += 1
        # One statement for the whole batch; the head lock means no other sealer touches these rows.
        update_rows(AuditEntry, pending, ["seq", "prev_hash", "chain_hash"], where_null="seq")
        if sealed:
            head.save(update_fields=["last_seq", "last_hash"])
    return sealed


def seal_all() -> int:
    total = 0
    while batch := seal_pending():
        total += batch
    return total


def _sealed_entries() -> Iterator[chain.SealedEntry]:
    for entry in AuditEntry.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=2000):
        assert entry.seq is not None
        yield chain.SealedEntry(
            pk=entry.pk,
            seq=entry.seq,
            content=_content(entry),
            stored_entry_hash=entry.entry_hash,
            prev_hash=entry.prev_hash,
            chain_hash=entry.chain_hash,
        )


def verify_chain() -> chain.Verdict:
    verdict = chain.verify(_key(), _sealed_entries())
    if verdict.ok:
        head = AuditChainHead.objects.filter(pk=1).first()
        if head is not None and head.last_seq != verdict.checked:
            # Entries cut off the end of the chain leave a head that points past them.
            return chain.Verdict(False, verdict.checked, None, verdict.checked + 1, "entries at the end of the chain are missing")
    return verdict

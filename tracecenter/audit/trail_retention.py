"""The audit trail's own retention: its oldest entries leave only behind a signed checkpoint.

The trail keeps an entry for AUDIT_RETENTION_DAYS (by default 2,190 days: the six years HIPAA asks
documentation to be kept, 45 CFR 164.316(b)(2)), and never less than the longest period any record is
kept: who accessed a record must be answerable for as long as the record exists. A configuration
that says otherwise is refused here, by the retention command and by `rule_set`.

Only a whole prefix of the chain goes, never a hole: from the entry after the latest checkpoint up
to the last one before the first entry that must stay (written inside the period, or about something
a legal hold keeps). Before anything goes, those entries and the checkpoints are verified: a broken
trail is not laundered into a checkpoint that verifies. Then, in one transaction: the checkpoint is
written (what was removed, the chain HMAC of the last entry removed, signed and chained to the
previous checkpoint), the entries are deleted (the database lets them go only at or below a
checkpoint of the same transaction: audit/migrations/0008), and a new entry says what was removed.
A large backlog goes in batches, one checkpoint per batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils.translation import gettext as _

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit import chain, retention, selectors
from tracecenter.audit.models import Action, AuditChainHead, AuditCheckpoint, AuditEntry, LegalHold
from tracecenter.audit.services import audit_record, checkpoint_sign, verify_before_removal
from tracecenter.core import clock
from tracecenter.core.errors import DomainError

# How the retention command names the audit trail beside the record types.
AUDIT_TRAIL = "audit.trail"
# Entries per checkpoint (and per transaction): a six-year backlog of a busy state goes in bounded steps.
PURGE_BATCH = 50_000


class AuditPeriodTooShort(DomainError):
    """AUDIT_RETENTION_DAYS is shorter than the longest period a record is kept."""


class AuditPurgeRefused(DomainError):
    """The entries that would go, or the checkpoints before them, do not verify: nothing was removed."""


def keep_days() -> int:
    """The audit trail's period, once checked against every record's: refused when shorter than any of them."""
    days = settings.AUDIT_RETENTION_DAYS
    if days < 1:
        raise AuditPeriodTooShort(_("AUDIT_RETENTION_DAYS must be at least 1 day, not %(days)s.") % {"days": days})
    longest, what = retention.longest_period()
    if days < longest:
        raise AuditPeriodTooShort(
            _(
                "AUDIT_RETENTION_DAYS is %(days)s days, shorter than the %(longest)s days %(what)s is kept: the audit "
                "trail must outlive every record it is about. Raise AUDIT_RETENTION_DAYS or shorten that period."
            )
            % {"days": days, "longest": longest, "what": what}
        )
    return days


@dataclasses.dataclass(frozen=True)
class TrailPlan:
    """What the trail's retention would remove now: entries `from_seq` to `up_to_seq` (none when `count` is 0)."""

    keep_days: int
    cutoff: dt.datetime
    from_seq: int
    up_to_seq: int
    count: int
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    held_from: int | None  # a legal hold keeps this entry, so the removal stops before it
    latest: AuditCheckpoint | None  # where the previous removal ended


def _held() -> Q | None:
    """The entries about what a legal hold in force keeps: a jurisdiction (and below), a person, one record."""
    held: list[Q] = []
    types = retention.record_types()
    for hold in LegalHold.objects.filter(lifted_at__isnull=True).select_related("jurisdiction"):
        if hold.jurisdiction is not None and hold.person_id is None and not hold.object_id:
            below = Jurisdiction.objects.filter(path__startswith=hold.jurisdiction.path).values("pk")
            held.append(Q(jurisdiction_id__in=below))
        if hold.person_id is not None:
            about = selectors.about_person_q(hold.person_id)
            held.append(about if about is not None else Q(object_type="person", object_id=str(hold.person_id)))
        if hold.object_id and hold.record_type in types:
            held.append(Q(object_type=types[hold.record_type].object_type, object_id=hold.object_id))
    return functools.reduce(operator.or_, held) if held else None


def plan(*, days: int | None = None, now: dt.datetime | None = None, limit: int | None = None) -> TrailPlan:
    """The dry run for the trail: how many entries are past the period and would go, and up to which one."""
    days = keep_days() if days is None else days
    cutoff = (now or clock.now()) - dt.timedelta(days=days)
    latest = AuditCheckpoint.objects.order_by("-up_to_seq").first()
    start = latest.up_to_seq + 1 if latest is not None else 1
    after = AuditEntry.objects.filter(seq__gte=start)
    # The prefix ends before the first entry that must stay; seq follows the sealing order, and `at` the
    # writing, so an entry of the period may be sealed just before an older one: the older one then stays.
    # Walked in seq order from the start (the unique index), so only the prefix is read, not six years of entries.
    first_recent = after.filter(at__gte=cutoff).order_by("seq").values_list("seq", flat=True).first()
    held_q = _held()
    first_held = after.filter(held_q).order_by("seq").values_list("seq", flat=True).first() if held_q is not None else None
    stops = [seq for seq in (first_recent, first_held) if seq is not None]
    end = min(stops) - 1 if stops else (after.aggregate(last=Max("seq"))["last"] or start - 1)
    if limit is not None:
        end = min(end, start + limit - 1)
    held_from = first_held if first_held is not None and (first_recent is None or first_held < first_recent) else None
    gone = after.filter(seq__lte=end)
    span = gone.aggregate(first_at=Min("at"), last_at=Max("at"))
    count = gone.count() if end >= start else 0
    return TrailPlan(
        keep_days=days,
        cutoff=cutoff,
        from_seq=start,
        up_to_seq=max(end, start - 1),
        count=count,
        first_at=span["first_at"] if count else None,
        last_at=span["last_at"] if count else None,
        held_from=held_from,
        latest=latest,
    )


def purge(*, actor: User | None, by: str, batch: int = PURGE_BATCH) -> list[AuditCheckpoint]:
    """Remove the entries past the trail's period, each batch behind its checkpoint; returns the checkpoints written.

    Refuses (AuditPeriodTooShort) a period shorter than a record's, and (AuditPurgeRefused) entries or
    checkpoints that do not verify: then nothing of that batch is removed.
    """
    if not 1 <= batch <= 1_000_000:
        raise DomainError(_("A batch is between 1 and 1,000,000 entries."), field="batch")
    days = keep_days()
    now = clock.now()  # one cutoff for the whole run
    written: list[AuditCheckpoint] = []
    while True:
        with transaction.atomic():
            AuditChainHead.objects.get_or_create(pk=1)
            # The sealer's lock: no entry is sealed, and no other purge runs, while this one decides and removes.
            AuditChainHead.objects.select_for_update().get(pk=1)
            step = plan(days=days, now=now, limit=batch)
            if not step.count:
                return written
            checkpoint = _checkpoint_and_remove(step, actor=actor, by=by)
        written.append(checkpoint)


def _checkpoint_and_remove(step: TrailPlan, *, actor: User | None, by: str) -> AuditCheckpoint:
    verdict = verify_before_removal(step.from_seq, step.up_to_seq)
    if not verdict.ok:
        first = verdict.first
        if first is None:  # a verdict that is not ok names its first fault
            raise RuntimeError("a failed verification named no fault")
        raise AuditPurgeRefused(
            _(
                "The audit trail does not verify at %(where)s (%(reason)s): nothing was removed. "
                "Run manage.py audit_verify, which names each fault."
            )
            % {"where": first.where(), "reason": first.reason}
        )
    last = AuditEntry.objects.get(seq=step.up_to_seq)
    if step.first_at is None or step.last_at is None:  # a step with entries to remove has their dates
        raise RuntimeError(f"the purge step to #{step.up_to_seq} has no dates")
    checkpoint = AuditCheckpoint(
        from_seq=step.from_seq,
        up_to_seq=step.up_to_seq,
        last_hash=last.chain_hash,
        removed=step.count,
        first_at=step.first_at,
        last_at=step.last_at,
        keep_days=step.keep_days,
        cutoff=step.cutoff,
        written_at=clock.now(),
        written_by=by[:100],
        prev_signature=step.latest.signature if step.latest is not None else chain.GENESIS,
    )
    checkpoint_sign(checkpoint)
    # The checkpoint first, then the entries, nothing in between: the database's guard lets an entry go only
    # within a checkpoint this transaction wrote (on SQLite: the row this connection inserted last).
    checkpoint.save()
    retention.lift_guards()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(AuditEntry._meta.db_table)} WHERE seq >= %s AND seq <= %s",  # noqa: S608 (our table's name)
            [step.from_seq, step.up_to_seq],
        )
        removed = cursor.rowcount
    if removed != step.count:
        raise AuditPurgeRefused(_("The entries changed while they were being removed: nothing was removed."))
    audit_record(
        actor=actor,
        action=Action.PURGE,
        object_type="audit_checkpoint",
        object_id=checkpoint.pk,
        detail=(
            f"audit trail: entries #{step.from_seq} to #{step.up_to_seq} removed ({step.count}, written "
            f"{step.first_at:%Y-%m-%d} to {step.last_at:%Y-%m-%d}), kept {step.keep_days} days, by {by}"
        ),
    )
    return checkpoint

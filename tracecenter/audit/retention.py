"""Retention: what is past its period is purged, or stops saying whom it was about.

The apps that keep records say what of theirs can go and how (a `RecordType`, registered
when they start): intake its rejected raw messages (purged), people its persons with nothing
recent left anywhere (de-identified: names, birth date, address, phones, e-mails and notes
erased, and every app erases its own free text about them). This module decides when: a
period per record type and jurisdiction (`RetentionRule`, inherited down the tree like the
isolation rules, else the type's default), minus anything under a legal hold (a person, a
jurisdiction and everything below it, or one record).

`plan` is the dry run: what would go, counted per type and jurisdiction, nothing touched.
`carry_out` does it in batches, each batch in its own transaction with one audit entry per
record (purged or de-identified, by whom, under which period). The database's append-only
guards (PostgreSQL triggers) let records change or go only inside such a transaction: it
says so with `SET LOCAL tracecenter.retention = 'on'`.

The audit trail has its own, longer period, never shorter than any of these: its oldest entries
leave only behind a signed checkpoint (audit/trail_retention.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.models import Action, LegalHold, RetentionRule
from tracecenter.audit.services import audit_record, audit_record_many
from tracecenter.core import clock
from tracecenter.core.errors import DomainError

PURGE, DEIDENTIFY = "purge", "deidentify"


@dataclasses.dataclass(frozen=True)
class RecordType:
    name: str  # "people.person"
    label: str  # what the privacy officer reads
    default_days: int
    action: str  # PURGE or DEIDENTIFY
    object_type: str  # as the audit trail names these records ("person", "inbound_message")
    # Rows of this type in exactly this jurisdiction (not below) whose period ended before `cutoff`,
    # not yet purged or de-identified.
    expired: Callable[[int, dt.datetime], QuerySet[Any]]
    # Purge or de-identify these rows (called inside the retention transaction); returns how many.
    carry: Callable[[list[int]], int]
    person_field: str | None = None  # the field naming the person, for holds on a person ("pk" for persons)


_TYPES: dict[str, RecordType] = {}


def register(record_type: RecordType) -> None:
    if record_type.action not in (PURGE, DEIDENTIFY):
        raise ValueError(f"{record_type.name}: a record type is purged or de-identified")
    _TYPES[record_type.name] = record_type


def record_types() -> dict[str, RecordType]:
    return dict(sorted(_TYPES.items()))


@dataclasses.dataclass(frozen=True)
class Step:
    """One record type in one jurisdiction: its period, and how much of it is past it."""

    record_type: RecordType
    jurisdiction: Jurisdiction
    keep_days: int
    inherited_from: Jurisdiction | None  # None: the type's built-in default
    cutoff: dt.datetime
    count: int


def keep_days_for(record_type: RecordType, jurisdiction: Jurisdiction) -> tuple[int, Jurisdiction | None]:
    """The period in force for `jurisdiction`: its own rule, else the nearest above, else the default."""
    chain = list(reversed(jurisdiction.ancestors_and_self()))
    rules = {r.jurisdiction_id: r for r in RetentionRule.objects.filter(record_type=record_type.name, jurisdiction_id__in=chain)}
    for j_id in chain:
        if j_id in rules:
            return rules[j_id].keep_days, rules[j_id].jurisdiction
    return record_type.default_days, None


def _held(record_type: RecordType, jurisdiction: Jurisdiction, rows: QuerySet[Any]) -> QuerySet[Any]:
    """`rows` without what a legal hold in force keeps."""
    holds = LegalHold.objects.filter(lifted_at__isnull=True)
    if holds.filter(jurisdiction_id__in=jurisdiction.ancestors_and_self(), person_id__isnull=True, object_id="").exists():
        return rows.none()  # the whole jurisdiction (or one above it) is held
    if record_type.person_field is not None:
        persons = holds.filter(person_id__isnull=False).values("person_id")
        rows = rows.exclude(**{f"{record_type.person_field}__in": persons})
    records = holds.filter(record_type=record_type.name).exclude(object_id="").values_list("object_id", flat=True)
    ids = [int(v) for v in records if v.isdigit()]
    return rows.exclude(pk__in=ids) if ids else rows


def _jurisdictions(root: Jurisdiction) -> Iterator[Jurisdiction]:
    yield from Jurisdiction.objects.filter(path__startswith=root.path).order_by("path")


def expired_rows(
    record_type: RecordType, jurisdiction: Jurisdiction
) -> tuple[QuerySet[Any], int, Jurisdiction | None, dt.datetime]:
    keep_days, source = keep_days_for(record_type, jurisdiction)
    cutoff = clock.now() - dt.timedelta(days=keep_days)
    rows = _held(record_type, jurisdiction, record_type.expired(jurisdiction.pk, cutoff))
    return rows, keep_days, source, cutoff


def plan(root: Jurisdiction, *, types: Sequence[str] = ()) -> list[Step]:
    """The dry run: per record type and jurisdiction, the period and how many records are past it."""
    steps = []
    for record_type in record_types().values():
        if types and record_type.name not in types:
            continue
        for jurisdiction in _jurisdictions(root):
            rows, keep_days, source, cutoff = expired_rows(record_type, jurisdiction)
            steps.append(Step(record_type, jurisdiction, keep_days, source, cutoff, rows.count()))
    return steps


def lift_guards() -> None:
    """Inside the current transaction, let the append-only triggers see that retention is at work.

    On PostgreSQL a session setting, gone with the transaction. SQLite has none: its guard on the
    audit trail asks for a checkpoint just written instead (audit/migrations/0008).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL tracecenter.retention = 'on'")


def carry_out(root: Jurisdiction, *, actor: User | None, types: Sequence[str] = (), batch: int = 500) -> list[tuple[Step, int]]:
    """Purge or de-identify everything past its period under `root`; returns each step with how many went."""
    done = []
    for step in plan(root, types=types):
        if not step.count:
            continue
        gone = 0
        while True:
            with transaction.atomic():
                lift_guards()
                rows, _keep, _source, _cutoff = expired_rows(step.record_type, step.jurisdiction)
                ids = list(rows.order_by("pk").values_list("pk", flat=True)[:batch])
                if not ids:
                    break
                changed = step.record_type.carry(ids)
                audit_record_many(
                    actor=actor,
                    action=Action.PURGE if step.record_type.action == PURGE else Action.DEIDENTIFY,
                    object_type=step.record_type.object_type,
                    items=[(pk, step.jurisdiction.pk) for pk in ids],
                    detail=f"retention: {step.record_type.name} kept {step.keep_days} days",
                )
                gone += changed
            if len(ids) < batch:
                break
        done.append((step, gone))
    return done


def legal_hold_place(
    *,
    actor: User,
    reason: str,
    jurisdiction: Jurisdiction | None = None,
    person_id: int | None = None,
    record_type: str = "",
    object_id: str = "",
) -> LegalHold:

    if not policy.has(actor, Capability.RETENTION):
        raise PermissionDenied
    reason = " ".join(reason.split())
    if not reason or len(reason) > 500:
        raise DomainError(_("Give the reason for the hold (at most 500 characters)."), field="reason")
    if jurisdiction is not None and not policy.covers(actor.jurisdiction, jurisdiction):
        raise PermissionDenied
    if record_type and record_type not in _TYPES:
        raise DomainError(_("Choose one of the listed values."), field="record_type")
    if object_id and (not record_type or not object_id.isdigit()):
        raise DomainError(_("A record is named by its type and its number."), field="object_id")
    if jurisdiction is None and person_id is None and not object_id:
        raise DomainError(_("Say what the hold keeps: a jurisdiction, a person or a record."), field="reason")
    with transaction.atomic():
        hold = LegalHold.objects.create(
            jurisdiction=jurisdiction,
            person_id=person_id,
            record_type=record_type,
            object_id=object_id,
            reason=reason,
            placed_by=actor,
        )
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="legal_hold",
            object_id=hold.pk,
            jurisdiction_id=actor.jurisdiction_id,
            fields=[f for f, v in (("jurisdiction", jurisdiction), ("person", person_id), ("record", object_id)) if v],
        )
    return hold


def legal_hold_lift(*, actor: User, hold: LegalHold) -> LegalHold:

    if not policy.has(actor, Capability.RETENTION):
        raise PermissionDenied
    with transaction.atomic():
        if LegalHold.objects.filter(pk=hold.pk, lifted_at__isnull=True).update(lifted_at=clock.now(), lifted_by=actor):
            audit_record(
                actor=actor,
                action=Action.UPDATE,
                object_type="legal_hold",
                object_id=hold.pk,
                jurisdiction_id=actor.jurisdiction_id,
            )
    hold.refresh_from_db()
    return hold


def longest_period() -> tuple[int, str]:
    """The longest any record is kept, anywhere: every type's default and every period set; and what it is."""
    days, what = 0, ""
    for record_type in record_types().values():
        if record_type.default_days > days:
            days, what = record_type.default_days, f"{record_type.name} (its default)"
    rule = RetentionRule.objects.select_related("jurisdiction").order_by("-keep_days", "pk").first()
    if rule is not None and rule.keep_days > days:
        days, what = rule.keep_days, f"{rule.record_type} in {rule.jurisdiction.code}"
    return days, what


def rule_set(*, actor: User, jurisdiction: Jurisdiction, record_type: str, keep_days: int) -> RetentionRule:

    if not policy.has(actor, Capability.RETENTION) or not policy.covers(actor.jurisdiction, jurisdiction):
        raise PermissionDenied
    if record_type not in _TYPES:
        raise DomainError(_("Choose one of the listed values."), field="record_type")
    if not 1 <= keep_days <= 100 * 365:
        raise DomainError(_("Give a period between 1 day and 100 years."), field="keep_days")
    if keep_days > settings.AUDIT_RETENTION_DAYS:
        # Who accessed a record must be answerable for as long as the record is kept.
        raise DomainError(
            _("Records cannot be kept longer than the audit trail (%(days)s days, AUDIT_RETENTION_DAYS).")
            % {"days": settings.AUDIT_RETENTION_DAYS},
            field="keep_days",
        )
    with transaction.atomic():
        rule, _created = RetentionRule.objects.update_or_create(
            jurisdiction=jurisdiction, record_type=record_type, defaults={"keep_days": keep_days, "set_by": actor}
        )
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="retention_rule",
            object_id=rule.pk,
            jurisdiction_id=jurisdiction.pk,
            fields=["keep_days"],
        )
    return rule

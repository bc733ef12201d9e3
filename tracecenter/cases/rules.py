"""Writes to the dated rule versions of a jurisdiction (RuleSet), by its administrators.

A version that judged a case or a contact is the record of why their dates are what they are: it is
never changed or deleted (cases and contacts PROTECT it), only superseded by a version in force from
a later date. A version nobody was judged by yet can still be corrected or removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.validation import clean_text
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases.models import RuleSet
from tracecenter.cases.selectors import rule_set_in_use
from tracecenter.core.errors import DomainError
from tracecenter.intake import conditions

MAX_DAYS = 60  # the bound engine.Rules enforces
NOTE_MAX = 200
# Guidance older than the pandemic's would be a typing error, not a version.
EARLIEST = dt.date(2019, 1, 1)
IN_USE = gettext_lazy(
    "Cases or contacts were judged by this version: it can no longer be changed or deleted, "
    "only superseded by a version in force from a later date."
)
DAY_FIELDS = ("days_before_onset", "days_before_specimen", "isolation_days", "quarantine_days", "monitoring_days")


@dataclasses.dataclass(frozen=True)
class RuleSetInput:
    effective_from: dt.date
    days_before_onset: int = 2
    days_before_specimen: int = 2
    isolation_days: int = 10
    quarantine_days: int = 14
    test_based_release: bool = False
    note: str = ""
    condition: str = ""  # "" for every condition without a version of its own; else a code of intake/conditions.py
    monitoring_days: int = 14


def _clean(jurisdiction: Jurisdiction, data: RuleSetInput, but: RuleSet | None = None) -> dict[str, object]:
    if not EARLIEST <= data.effective_from <= dt.date(2100, 1, 1):
        raise DomainError(_("Give a date from %(date)s on.") % {"date": EARLIEST.isoformat()}, field="effective_from")
    if data.condition and data.condition not in conditions.CATALOGUE:
        raise DomainError(_("Choose a condition from the list."), field="condition")
    taken = RuleSet.objects.filter(jurisdiction=jurisdiction, condition=data.condition, effective_from=data.effective_from)
    if (taken.exclude(pk=but.pk) if but is not None else taken).exists():
        raise DomainError(
            _("%(name)s already has a version for this condition in force from this date.") % {"name": jurisdiction.name},
            field="effective_from",
        )
    values: dict[str, object] = {
        "effective_from": data.effective_from,
        "condition": data.condition,
        "test_based_release": bool(data.test_based_release),
    }
    for name in DAY_FIELDS:
        days = getattr(data, name)
        if not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
            raise DomainError(_("Give a number of days from 0 to %(n)d.") % {"n": MAX_DAYS}, field=name)
        values[name] = days
    values["note"] = clean_text(data.note, field="note", max_length=NOTE_MAX, required=False)
    return values


def _audit(actor: User, action: Action, rule_set: RuleSet, fields: list[str]) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="rule_set",
        object_id=rule_set.pk,
        jurisdiction_id=rule_set.jurisdiction_id,
        fields=fields,
    )


def _require_administers(actor: User, jurisdiction: Jurisdiction) -> None:
    if not policy.may_administer(actor, jurisdiction):
        raise PermissionDenied


@transaction.atomic
def rule_set_create(*, actor: User, jurisdiction: Jurisdiction, data: RuleSetInput) -> RuleSet:
    """A new version of `jurisdiction`'s rules. Cases already judged keep the version they were judged by."""
    _require_administers(actor, jurisdiction)
    values = _clean(jurisdiction, data)
    rule_set = RuleSet.objects.create(jurisdiction=jurisdiction, **values)  # type: ignore[arg-type]
    _audit(actor, Action.CREATE, rule_set, list(values))
    return rule_set


def _lock_unused(rule_set: RuleSet) -> RuleSet:
    rule_set = RuleSet.objects.select_for_update().get(pk=rule_set.pk)
    if rule_set_in_use(rule_set):
        raise DomainError(str(IN_USE))
    return rule_set


@transaction.atomic
def rule_set_update(*, actor: User, rule_set: RuleSet, data: RuleSetInput) -> RuleSet:
    """Correct a version that nobody was judged by yet."""
    _require_administers(actor, rule_set.jurisdiction)
    rule_set = _lock_unused(rule_set)
    values = _clean(rule_set.jurisdiction, data, but=rule_set)
    changed = [name for name, value in values.items() if getattr(rule_set, name) != value]
    if changed:
        for name in changed:
            setattr(rule_set, name, values[name])
        rule_set.save(update_fields=changed)
        _audit(actor, Action.UPDATE, rule_set, changed)
    return rule_set


@transaction.atomic
def rule_set_delete(*, actor: User, rule_set: RuleSet) -> None:
    """Remove a version that nobody was judged by yet (entered by mistake)."""
    _require_administers(actor, rule_set.jurisdiction)
    rule_set = _lock_unused(rule_set)
    _audit(actor, Action.DELETE, rule_set, [])
    try:
        rule_set.delete()
    except models.ProtectedError:  # judged by a case between the check and the delete
        raise DomainError(str(IN_USE)) from None

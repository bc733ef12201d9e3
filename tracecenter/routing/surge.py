"""Surge mode: when cases outrun the staff, a state's work is ordered the way CDC prioritises.

CDC's prioritisation of case investigation and contact tracing in high-burden jurisdictions reaches
first the people for whom a call still changes something:

- cases whose symptoms began, or whose specimen was collected, in the last 6 days (later, most of
  their contacts were exposed long ago and isolation has little left to prevent);
- household contacts (the most exposed, and reached through the case's own call);
- people in high-risk settings: congregate living (long-term care, corrections, shelters) and
  healthcare, where one infection becomes many.

`surge_priority` is that rule as a pure function of a piece of work's facts; each part can be turned
off and the number of recent days set per state (`SurgeSetting`). Surge points are large enough to
put surge work ahead of any ordinary priority (45 at most) and of the default aging (20): within a tier,
the ordinary priority and aging still decide.

`surge_switch` turns it on or off for a state (an administrator, or a supervisor of the state, with a
reason), audited and announced, and recomputes the priority of the state's open waiting work in a few
UPDATE statements; `surge_reprioritise` does the same again periodically while a state is in surge, as
"the last 6 days" moves with the calendar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models import When as _When
from django.db.models.expressions import Case as _Case
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Greatest, Least
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure, Relationship, Setting
from tracecenter.core import clock, events
from tracecenter.core.errors import DomainError
from tracecenter.core.schedule import periodic
from tracecenter.routing.events import SurgeSwitched
from tracecenter.routing.models import SurgeSetting, WorkItem, WorkKind, WorkStatus
from tracecenter.routing.reasons import clean_reason

RECENT_POINTS = 200  # a case with onset or specimen in the last days
HOUSEHOLD_POINTS = 200  # a household contact
HIGH_RISK_POINTS = 100  # a case or contact of congregate living or healthcare
RECENT_EXPOSURE_POINTS = 50  # a contact exposed in the last days: quarantine still prevents something
HOUSEHOLD = frozenset({Relationship.HOUSEHOLD_MEMBER.value, Relationship.PARTNER.value})
HIGH_RISK_SETTINGS = frozenset({Setting.CONGREGATE.value, Setting.HEALTHCARE.value})
MAX_RECENT_DAYS = 14
# Work whose priority a surge changes: waiting, or offered (it waits again if the offer is refused).
SURGE_STATUSES = (WorkStatus.QUEUED, WorkStatus.OFFERED)


@dataclasses.dataclass(frozen=True)
class SurgeRules:
    recent_first: bool = True
    recent_days: int = 6
    household_first: bool = True
    high_risk_first: bool = True


@dataclasses.dataclass(frozen=True)
class WorkFacts:
    """What surge ordering reads of a piece of work's record (a case's, or a contact's)."""

    kind: str
    onset: dt.date | None = None  # the case's symptom onset (None when asymptomatic)
    specimen: dt.date | None = None  # the case's specimen collection
    congregate: bool = False  # the case lives or works in a congregate setting
    relationship: str = ""  # the contact's relationship to the case
    setting: str = ""  # where the contact was exposed
    last_exposure: dt.date | None = None


def _recent(day: dt.date | None, today: dt.date, days: int) -> bool:
    return day is not None and 0 <= (today - day).days <= days


def surge_priority(base: int, facts: WorkFacts, rules: SurgeRules | None, today: dt.date) -> int:
    """The priority of a piece of work (higher first) in surge under `rules`; `base` when not in surge.

    `base` is its ordinary priority (routing.work: the case's urgency, household contacts a little ahead).
    """
    if rules is None:
        return base
    points = 0
    if facts.kind == WorkKind.CONTACT_NOTIFICATION:
        if rules.household_first and facts.relationship in HOUSEHOLD:
            points += HOUSEHOLD_POINTS
        if rules.high_risk_first and facts.setting in HIGH_RISK_SETTINGS:
            points += HIGH_RISK_POINTS
        if rules.recent_first and _recent(facts.last_exposure, today, rules.recent_days):
            points += RECENT_EXPOSURE_POINTS
    else:
        if rules.recent_first and (
            _recent(facts.onset, today, rules.recent_days) or _recent(facts.specimen, today, rules.recent_days)
        ):
            points += RECENT_POINTS
        if rules.high_risk_first and facts.congregate:
            points += HIGH_RISK_POINTS
    return base + points


def rules_of(setting: SurgeSetting | None) -> SurgeRules | None:
    if setting is None or not setting.active:
        return None
    return SurgeRules(
        recent_first=setting.recent_first,
        recent_days=setting.recent_days,
        household_first=setting.household_first,
        high_risk_first=setting.high_risk_first,
    )


def rules_for(jurisdiction_id: int) -> SurgeRules | None:
    """The surge rules in force where `jurisdiction_id` lies (its state's), None when not in surge: one query."""
    inside = Jurisdiction.objects.filter(pk=jurisdiction_id, path__startswith=OuterRef("jurisdiction__path"))
    return rules_of(SurgeSetting.objects.filter(active=True).filter(Exists(inside)).first())


def rules_by_jurisdiction(jurisdiction_ids: Iterable[int]) -> dict[int, SurgeRules | None]:
    """`rules_for` of many jurisdictions at once (a surge's batch of new work): two queries."""
    paths = dict(Jurisdiction.objects.filter(pk__in=set(jurisdiction_ids)).values_list("pk", "path"))
    roots = {pk: int(path.strip("/").split("/")[0]) for pk, path in paths.items()}
    active = {
        s.jurisdiction_id: rules_of(s) for s in SurgeSetting.objects.filter(active=True, jurisdiction_id__in=set(roots.values()))
    }
    return {pk: active.get(root) for pk, root in roots.items()}


def case_facts(case: Case, kind: str = WorkKind.CASE_INTERVIEW) -> WorkFacts:
    """Needs the case's symptom_onset, asymptomatic, specimen_collection_date and congregate_setting loaded."""
    return WorkFacts(
        kind=kind,
        onset=None if case.asymptomatic else case.symptom_onset,
        specimen=case.specimen_collection_date,
        congregate=case.congregate_setting,
    )


def exposure_facts(exposure: Exposure) -> WorkFacts:
    """Needs the exposure's relationship, setting and last_exposure_date loaded."""
    return WorkFacts(
        kind=WorkKind.CONTACT_NOTIFICATION,
        relationship=exposure.relationship,
        setting=exposure.setting,
        last_exposure=exposure.last_exposure_date,
    )


# --- the same rule in SQL, for the bulk re-prioritisation -------------------------------------------------


def _points(condition: Q, points: int) -> _Case:
    return _Case(_When(condition, then=Value(points)), default=Value(0), output_field=IntegerField())


def _urgency(priority: str) -> CombinedExpression:
    """routing.work.routing_priority in SQL: (5 - the case's priority, held to 1..4) * 10."""
    held = Greatest(Value(1), Least(Value(4), F(priority), output_field=IntegerField()), output_field=IntegerField())
    return (Value(5) - held) * Value(10)


def _window(field: str, today: dt.date, days: int) -> Q:
    return Q(**{f"{field}__gte": today - dt.timedelta(days=days), f"{field}__lte": today})


def _case_priority_sql(rules: SurgeRules | None, today: dt.date) -> Subquery:
    expression = _urgency("priority")
    if rules is not None:
        if rules.recent_first:
            recent = _window("specimen_collection_date", today, rules.recent_days) | (
                Q(asymptomatic=False) & _window("symptom_onset", today, rules.recent_days)
            )
            expression = expression + _points(recent, RECENT_POINTS)
        if rules.high_risk_first:
            expression = expression + _points(Q(congregate_setting=True), HIGH_RISK_POINTS)
    rows = Case.objects.filter(pk=OuterRef("case_id")).annotate(surge_priority=expression).values("surge_priority")[:1]
    return Subquery(rows, output_field=IntegerField())


def _exposure_priority_sql(rules: SurgeRules | None, today: dt.date) -> Subquery:
    # routing.work's ordinary priority of a notification: its case's urgency (10 without a case), 5 more for a household member.
    base = _Case(_When(case__isnull=True, then=Value(10)), default=_urgency("case__priority"), output_field=IntegerField())
    expression = base + _points(Q(relationship__in=HOUSEHOLD), 5)
    if rules is not None:
        if rules.household_first:
            expression = expression + _points(Q(relationship__in=HOUSEHOLD), HOUSEHOLD_POINTS)
        if rules.high_risk_first:
            expression = expression + _points(Q(setting__in=HIGH_RISK_SETTINGS), HIGH_RISK_POINTS)
        if rules.recent_first:
            expression = expression + _points(_window("last_exposure_date", today, rules.recent_days), RECENT_EXPOSURE_POINTS)
    rows = Exposure.objects.filter(pk=OuterRef("exposure_id")).annotate(surge_priority=expression).values("surge_priority")[:1]
    return Subquery(rows, output_field=IntegerField())


def _open_work(state: Jurisdiction) -> QuerySet[WorkItem]:
    return WorkItem.objects.filter(status__in=SURGE_STATUSES, jurisdiction__path__startswith=state.path)


def surge_reprioritise(*, state: Jurisdiction, rules: SurgeRules | None, today: dt.date | None = None) -> int:
    """Give the state's open waiting work the priority `rules` say (None: the ordinary one): one UPDATE per kind.

    Case interviews and contact notifications (the kinds whose priority comes from their record); only
    the items whose priority changes are written. Returns how many changed; the caller audits the run
    (one entry: a surge re-prioritises thousands of items, and the switch is what someone decided).
    """
    today = today or clock.today()
    changed = 0
    parts = (
        (Q(kind=WorkKind.CASE_INTERVIEW, case__isnull=False, exposure__isnull=True), _case_priority_sql(rules, today)),
        (Q(kind=WorkKind.CONTACT_NOTIFICATION, exposure__isnull=False), _exposure_priority_sql(rules, today)),
    )
    for which, priority in parts:
        changed += _open_work(state).filter(which).alias(target=priority).exclude(priority=F("target")).update(priority=priority)
    return changed


# --- switching -------------------------------------------------------------------------------------------


def may_switch(user: User, state: Jurisdiction) -> bool:
    """An administrator of the state or a supervisor of the state (who assigns its work) switches its surge mode."""
    return state.parent_id is None and (policy.may_administer(user, state) or policy.may_assign_in(user, state))


def surge_setting(state: Jurisdiction) -> SurgeSetting:
    """The state's setting (unsaved, off, CDC's defaults, when it never had one)."""
    found = SurgeSetting.objects.filter(jurisdiction=state).first()
    return found if found is not None else SurgeSetting(jurisdiction=state, changed_at=clock.now())


def surge_switch(*, actor: User, state: Jurisdiction, active: bool, reason: str, rules: SurgeRules | None = None) -> SurgeSetting:
    """Turn the state's surge mode on or off (and set its rules), with a reason: audited, announced, and its
    open waiting work re-prioritised at once."""
    if not may_switch(actor, state):
        raise PermissionDenied
    reason = clean_reason(reason, required=_("Say why surge mode changes."))
    rules = rules or SurgeRules()
    if not 1 <= rules.recent_days <= MAX_RECENT_DAYS:
        raise DomainError(_("Between %(low)d and %(high)d.") % {"low": 1, "high": MAX_RECENT_DAYS}, field="recent_days")
    with transaction.atomic():
        now = clock.now()
        setting, created = SurgeSetting.objects.select_for_update().get_or_create(
            jurisdiction=state, defaults={"changed_at": now}
        )
        values = {
            "active": active,
            "recent_first": rules.recent_first,
            "recent_days": rules.recent_days,
            "household_first": rules.household_first,
            "high_risk_first": rules.high_risk_first,
        }
        fields = [name for name, value in values.items() if created or getattr(setting, name) != value]
        for name, value in values.items():
            setattr(setting, name, value)
        setting.reason, setting.changed_by, setting.changed_at = reason, actor, now
        setting.save()
        changed = surge_reprioritise(state=state, rules=rules_of(setting))
        _audit_run(actor, setting, f"surge {'on' if active else 'off'}: {changed} work items re-prioritised", [*fields, "reason"])
        events.publish(SurgeSwitched(jurisdiction_id=state.pk, active=active, by_user_id=actor.pk, reprioritised=changed))
    return setting


@periodic(
    "routing.surge",
    every=dt.timedelta(minutes=10),
    description="States in surge: waiting work re-prioritised as the calendar moves",
)
def surge_refresh() -> int:
    """While a state is in surge, "the last 6 days" moves with the calendar and new work may have been created
    while the switch was being made: the state's waiting work is brought back to what the rules say. A state
    switched off in the last hour is brought back to the ordinary priorities the same way."""
    changed = 0
    lately = clock.now() - dt.timedelta(hours=1)
    for setting in SurgeSetting.objects.filter(Q(active=True) | Q(changed_at__gte=lately)).select_related("jurisdiction"):
        with transaction.atomic():
            count = surge_reprioritise(state=setting.jurisdiction, rules=rules_of(setting))
            if count:
                _audit_run(None, setting, f"surge {'on' if setting.active else 'off'}: {count} work items re-prioritised")
        changed += count
    return changed


def _audit_run(actor: User | None, setting: SurgeSetting, detail: str, fields: Iterable[str] = ("priority",)) -> None:
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="surge_setting",
        object_id=setting.pk,
        jurisdiction_id=setting.jurisdiction_id,
        fields=fields,
        detail=detail,
    )

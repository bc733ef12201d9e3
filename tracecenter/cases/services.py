"""Writes to cases: open, change status, assign, transfer, record the interview's case facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.audit.access import audit_denied
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record, audit_record_many
from tracecenter.cases import engine, timeline
from tracecenter.cases.events import CaseAssigned, CaseOpened, CasePriorityChanged, CaseStatusChanged, CaseTransferred
from tracecenter.cases.models import OPEN_STATUSES, Case, CaseActivity, CaseStatus, CaseStatusChange, RuleSet, Symptom
from tracecenter.cases.rule_messages import rule_error
from tracecenter.cases.selectors import CaseTriggers, case_triggers, rules_for
from tracecenter.core import clock, events
from tracecenter.core.actors import acting_user
from tracecenter.core.bulk import insert_rows
from tracecenter.core.errors import DomainError
from tracecenter.core.outcomes import NOT_REACHED, CallOutcome
from tracecenter.intake import conditions
from tracecenter.intake.classify import case_condition
from tracecenter.intake.models import LabResult, ResultClass
from tracecenter.people.models import Person

# A positive within this many days of an open case's specimen belongs to that case, not a new one.
SAME_EPISODE_DAYS = 90
MAX_REASON = 300


def case_activity_add(*, case: Case, actor: User | None, kind: str, code: str = "", **params: Any) -> CaseActivity:
    """One line of the case's timeline: a code of cases/timeline.py and its parameters, worded when shown.

    The parameters are stored encrypted (they may quote a reason or name a place).
    """
    summary = timeline.stored(code, **params) if code else ""
    return CaseActivity.objects.create(case=case, at=clock.now(), actor=acting_user(actor), kind=kind, code=code, summary=summary)


def _clean_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError(_("Give the reason for the change."), field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_REASON}, field="reason")
    return reason


def _age(person: Person, today: dt.date) -> int | None:
    dob = person.date_of_birth
    if dob is None:
        return None
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


RulesCache = dict[tuple[int, dt.date, str], tuple[engine.Rules, RuleSet | None]]


def _case_dates(case: Case, onset: dt.date | None, cache: RulesCache | None = None) -> tuple[engine.CaseDates, RuleSet | None]:
    """The case's dates under the rules in force on its reference date; RuleViolation if it has none."""
    ref = engine.reference_date(symptom_onset=onset, specimen_collection=case.specimen_collection_date)
    key = (case.jurisdiction_id, ref, case.condition)
    if cache is not None and key in cache:
        rules, rule_set = cache[key]
    else:
        rules, rule_set = rules_for(case.jurisdiction, ref, case.condition)
        if cache is not None:
            cache[key] = (rules, rule_set)
    dates = engine.case_dates(rules, symptom_onset=onset, specimen_collection=case.specimen_collection_date, today=clock.today())
    return dates, rule_set


def _recompute(case: Case, cache: RulesCache | None = None) -> None:
    """Derive infectious period, isolation end and priority from the case's facts and rules."""
    today = clock.today()
    onset = None if case.asymptomatic else case.symptom_onset
    if onset is None and case.specimen_collection_date is None:
        # Nothing to count from yet (a case opened by hand before its result): no dates rather than wrong ones.
        case.infectious_start = case.infectious_end = case.isolation_end = None
        case.rules = None
        return
    try:
        dates, rule_set = _case_dates(case, onset, cache)
    except engine.RuleViolation as exc:
        raise rule_error(exc) from None
    case.infectious_start, case.infectious_end, case.isolation_end = (
        dates.infectious_start,
        dates.infectious_end,
        dates.isolation_end,
    )
    case.rules = rule_set
    previous = case.priority
    case.priority = engine.priority(
        specimen_collection=case.specimen_collection_date,
        today=today,
        age_years=_age(case.person, today),
        hospitalized=case.hospitalized,
        congregate_setting=case.congregate_setting,
    )
    if case.pk is not None and case.priority != previous:
        # Published before the caller saves, in the same transaction: both commit or neither does.
        events.publish(
            CasePriorityChanged(
                case_id=case.pk, jurisdiction_id=case.jurisdiction_id, from_priority=previous, to_priority=case.priority
            )
        )


@transaction.atomic
def case_open(
    *,
    actor: User | None,
    person: Person,
    lab_result: LabResult | None = None,
    specimen_collection_date: dt.date | None = None,
    condition: str = "covid-19",
) -> Case:
    """A new case of `condition` (a code of intake/conditions.py) for `person`, in the person's jurisdiction."""
    if condition not in conditions.CATALOGUE:
        raise DomainError(_("“%(code)s” is not a condition TraceCenter knows.") % {"code": condition[:40]}, field="condition")
    specimen = lab_result.specimen_collection_date if lab_result else specimen_collection_date
    case = Case(
        person=person,
        condition=condition,
        jurisdiction_id=person.jurisdiction_id,
        specimen_collection_date=specimen,
    )
    case.jurisdiction = person.jurisdiction
    _recompute(case)
    case.save()
    if lab_result is not None:
        case.lab_results.add(lab_result)
    if lab_result is not None:
        case_activity_add(case=case, actor=actor, kind=CaseActivity.Kind.OPENED, code="opened_from_lab", id=lab_result.pk)
    else:
        case_activity_add(case=case, actor=actor, kind=CaseActivity.Kind.OPENED)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="case",
        object_id=case.pk,
        jurisdiction_id=case.jurisdiction_id,
        fields=["person", "condition", "specimen_collection_date"],
    )
    events.publish(CaseOpened(case_id=case.pk, person_id=person.pk, jurisdiction_id=case.jurisdiction_id))
    return case


@transaction.atomic
def case_open_for_positive(*, lab_result_id: int) -> Case | None:
    """Open a case for a positive result, or attach it to the person's current case.

    Idempotent: delivering the same LabResultReceived twice opens one case.
    """
    lab = LabResult.objects.select_related("person__jurisdiction").get(pk=lab_result_id)
    _lock_persons({lab.person_id})
    if lab.status == LabResult.Status.RETRACTED or lab.cases.exists():
        return None
    condition = _case_condition(lab, case_triggers(lab.person.jurisdiction))
    if condition is None:
        return None  # a negative, a test that opens no case here (antibodies, by default), an untraced condition

    # Within 90 days either way: a late-reported result from an earlier episode must not rewrite the current case's dates.
    window_start = lab.specimen_collection_date - dt.timedelta(days=SAME_EPISODE_DAYS)
    window_end = lab.specimen_collection_date + dt.timedelta(days=SAME_EPISODE_DAYS)
    current = (
        Case.objects.select_for_update()
        .filter(
            person=lab.person,
            condition=condition,
            status__in=OPEN_STATUSES,
            specimen_collection_date__gte=window_start,
            specimen_collection_date__lte=window_end,
        )
        .order_by("-opened_at")
        .first()
    )
    if current is not None:
        current.lab_results.add(lab)
        if current.specimen_collection_date is None or lab.specimen_collection_date < current.specimen_collection_date:
            current.specimen_collection_date = lab.specimen_collection_date
            _recompute(current)
            current.save()
        case_activity_add(case=current, actor=None, kind=CaseActivity.Kind.LAB_RESULT, code="lab_added", id=lab.pk)
        return current
    return case_open(actor=None, person=lab.person, lab_result=lab, condition=condition)


def _case_condition(lab: LabResult, triggers: CaseTriggers) -> str | None:
    return case_condition(
        loinc=lab.test_loinc,
        reported_condition=lab.condition,
        classification=lab.result,
        kinds=triggers.kinds,
        local_tests=triggers.local_tests,
    )


def _lock_persons(person_ids: set[int]) -> None:
    """One opener at a time per person (in id order, so two workers never deadlock): never two cases for one person."""
    list(Person.objects.select_for_update().filter(pk__in=sorted(person_ids)).order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def cases_open_for_positives(*, lab_result_ids: Sequence[int]) -> list[Case]:
    """`case_open_for_positive` for many results at once (a surge of positives): the same outcome, in a few statements.

    Results of persons who have an open case already, or several results in this batch, go
    through the one-by-one path after the new cases exist, so each joins the right case.
    Returns the cases opened.
    """
    labs = list(
        LabResult.objects.filter(pk__in=list(lab_result_ids))
        .select_related("person", "person__jurisdiction")
        .only(
            *("id", "person_id", "status", "condition", "test_loinc", "result", "specimen_collection_date"),
            *("person__id", "person__date_of_birth", "person__jurisdiction_id", "person__jurisdiction__path"),
        )
        .order_by("pk")
    )
    if not labs:
        return []
    _lock_persons({lab.person_id for lab in labs})
    through = Case.lab_results.through
    attached = set(through.objects.filter(labresult_id__in=[lab.pk for lab in labs]).values_list("labresult_id", flat=True))
    triggers: dict[int, CaseTriggers] = {}  # per jurisdiction: a surge comes from a few
    condition_of: dict[int, str] = {}
    for lab in labs:
        if lab.pk in attached or lab.status == LabResult.Status.RETRACTED:
            continue
        jurisdiction = lab.person.jurisdiction
        if jurisdiction.pk not in triggers:
            triggers[jurisdiction.pk] = case_triggers(jurisdiction)
        condition = _case_condition(lab, triggers[jurisdiction.pk])
        if condition is not None:
            condition_of[lab.pk] = condition
    wanted = [lab for lab in labs if lab.pk in condition_of]
    with_open_case = set(
        Case.objects.filter(person_id__in={lab.person_id for lab in wanted}, status__in=OPEN_STATUSES).values_list(
            "person_id", flat=True
        )
    )
    fresh: dict[int, LabResult] = {}
    joining: list[LabResult] = []
    for lab in wanted:
        if lab.person_id in with_open_case or lab.person_id in fresh:
            joining.append(lab)
        else:
            fresh[lab.person_id] = lab
    cache: RulesCache = {}
    cases = []
    for lab in fresh.values():
        case = Case(
            person=lab.person,
            condition=condition_of[lab.pk],
            jurisdiction=lab.person.jurisdiction,
            specimen_collection_date=lab.specimen_collection_date,
        )
        _recompute(case, cache)
        cases.append(case)
    insert_rows(Case, cases)
    labs_of = list(fresh.values())
    through.objects.bulk_create([through(case_id=c.pk, labresult_id=lab.pk) for c, lab in zip(cases, labs_of, strict=True)])
    now = clock.now()
    CaseActivity.objects.bulk_create(
        [
            CaseActivity(
                case=c,
                at=now,
                kind=CaseActivity.Kind.OPENED,
                code="opened_from_lab",
                summary=timeline.stored("opened_from_lab", id=lab.pk),
            )
            for c, lab in zip(cases, labs_of, strict=True)
        ]
    )
    audit_record_many(
        actor=None,
        action=Action.CREATE,
        object_type="case",
        items=[(c.pk, c.jurisdiction_id) for c in cases],
        fields=["person", "condition", "specimen_collection_date"],
    )
    events.publish_many([CaseOpened(case_id=c.pk, person_id=c.person_id, jurisdiction_id=c.jurisdiction_id) for c in cases])
    for lab in joining:
        case_open_for_positive(lab_result_id=lab.pk)
    return cases


@transaction.atomic
def case_lab_result_corrected(*, lab_result_id: int, previous: str, classification: str) -> None:
    """A lab changed a result after the fact: tell every case it supports, and open one if it became positive.

    A case is never closed automatically: whether it stands without that result is a
    person's decision (there may be symptoms, an epi link, another test).
    """
    lab = LabResult.objects.get(pk=lab_result_id)
    cases = list(lab.cases.all())
    for case in cases:
        if classification == "retracted":
            code = "lab_retracted"
        elif previous == ResultClass.POSITIVE and classification != ResultClass.POSITIVE:
            code = "lab_no_longer_positive"
        else:
            code = "lab_corrected"
        case_activity_add(
            case=case,
            actor=None,
            kind=CaseActivity.Kind.LAB_RESULT,
            code=code,
            id=lab.pk,
            previous=previous,
            result=classification,
        )
    if not cases and classification == ResultClass.POSITIVE:
        case_open_for_positive(lab_result_id=lab.pk)


@transaction.atomic
def case_flag_duplicates_after_merge(*, person_id: int, merge_id: int) -> int:
    """After a merge, tell each open case of the person about the others: one person, one case to work.

    Nothing is closed automatically (the cases may hold different interviews); the timeline
    says which other case to compare with. Returns how many cases were told.
    """
    open_cases = list(Case.objects.filter(person_id=person_id, status__in=OPEN_STATUSES).order_by("opened_at", "pk"))
    if len(open_cases) < 2:
        return 0
    for case in open_cases:
        others = ", ".join(f"#{other.pk}" for other in open_cases if other.pk != case.pk)
        case_activity_add(
            case=case,
            actor=None,
            kind=CaseActivity.Kind.STATUS,
            code="merged_duplicate",
            merge=merge_id,
            others=others,
        )
    return len(open_cases)


@transaction.atomic
def case_change_status(*, actor: User | None, case: Case, to_status: str, reason: str, on: dt.date | None = None) -> Case:
    reason = _clean_reason(reason)
    if (
        to_status == CaseStatus.ASSIGNED
        and case.status == CaseStatus.CLOSED
        and not policy.may_assign_in(actor, case.jurisdiction)
    ):
        raise PermissionDenied  # reopening a closed case is a supervisor's act
    try:
        engine.check_transition(case.status, to_status)
    except engine.RuleViolation as exc:
        raise rule_error(exc, field="status") from None
    released = case.released_on
    if to_status == CaseStatus.RELEASED:
        released = on or clock.today()
        try:
            engine.check_onset_against_release(symptom_onset=case.symptom_onset, released_on=released)
        except engine.RuleViolation as exc:
            raise rule_error(exc, field="status") from None
    # Checked before anything changes: a refused change leaves the caller's object as it was.
    from_status = case.status
    case.status = to_status
    case.released_on = released
    case.save(update_fields=["status", "released_on", "updated_at"])
    CaseStatusChange.objects.create(
        case=case, from_status=from_status, to_status=to_status, reason=reason, changed_by=actor, changed_at=clock.now()
    )
    case_activity_add(
        case=case,
        actor=actor,
        kind=CaseActivity.Kind.STATUS,
        code="status",
        **{"from": from_status, "to": to_status},
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="case",
        object_id=case.pk,
        jurisdiction_id=case.jurisdiction_id,
        fields=["status"],
    )
    events.publish(
        CaseStatusChanged(case_id=case.pk, from_status=from_status, to_status=to_status, jurisdiction_id=case.jurisdiction_id)
    )
    return case


@transaction.atomic
def case_assign(*, actor: User, case: Case, assignee: User | None, team: Team | None = None) -> Case:
    """Give a case an owner (or take it back); only someone who may assign in its jurisdiction can."""
    if not policy.may_assign_in(actor, case.jurisdiction):
        raise PermissionDenied
    if assignee is not None:
        if not policy.may_own_work(assignee):
            raise DomainError(_("This user cannot be given cases."), field="assignee")
        if not policy.covers(assignee.jurisdiction, case.jurisdiction):
            raise DomainError(_("This user works in another jurisdiction."), field="assignee")
    if team is not None and not policy.covers(team.jurisdiction, case.jurisdiction):
        raise DomainError(_("This team works in another jurisdiction."), field="team")
    _set_owner(actor, case, assignee, team if team is not None else (assignee.team if assignee is not None else case.team))
    return case


def _set_owner(actor: User, case: Case, owner: User | None, team: Team | None, *, detail: str = "") -> None:
    """Give `case` its owner and team: the status, the timeline, the trail and the event that follow an assignment."""
    previous_owner_id, previous_team_id = case.owner_id, case.team_id
    case.owner, case.team = owner, team
    case.save(update_fields=["owner", "team", "updated_at"])
    if owner is not None and case.status == CaseStatus.NEW:
        case_change_status(actor=actor, case=case, to_status=CaseStatus.ASSIGNED, reason=_("Assigned"))
    case_activity_add(
        case=case,
        actor=actor,
        kind=CaseActivity.Kind.ASSIGNED,
        **({"code": "assigned", "assignee": owner.display_name} if owner else {"code": "unassigned"}),
    )
    audit_record(
        actor=actor,
        action=Action.ASSIGN,
        object_type="case",
        object_id=case.pk,
        jurisdiction_id=case.jurisdiction_id,
        fields=["owner", "team"],
        detail=detail,
    )
    events.publish(
        CaseAssigned(
            case_id=case.pk,
            jurisdiction_id=case.jurisdiction_id,
            team_id=case.team_id,
            owner_id=case.owner_id,
            previous_owner_id=previous_owner_id,
            previous_team_id=previous_team_id,
        )
    )


@transaction.atomic
def case_take_routed(*, actor: User, case: Case) -> bool:
    """The tracer who accepts routed work on a case that has no owner becomes its owner.

    Routing's queues are the supervisors' rules for who takes which case, so this is an assignment by
    those rules (audited and announced like one); a case that has an owner keeps them. False when
    nothing changed.
    """
    if case.owner_id is not None or not policy.may_own_work(actor) or not policy.covers(actor.jurisdiction, case.jurisdiction):
        return False
    _set_owner(actor, case, actor, case.team if case.team_id is not None else actor.team, detail="routed")
    return True


@transaction.atomic
def case_attempt_record(*, actor: User, case: Case, outcome: str, number: int, unreachable_after: int | None = None) -> Case:
    """One attempt to reach the case's person, on its timeline; the case's status follows.

    A first attempt that does not reach them makes a new or assigned case "attempting"; the attempt
    that uses up `unreachable_after` makes it unreachable; a refusal makes it refused.
    """
    if outcome not in CallOutcome.values:
        raise DomainError(_("Choose one of the listed values."), field="outcome")
    case_activity_add(case=case, actor=actor, kind=CaseActivity.Kind.ATTEMPT, code="attempt", number=number, outcome=outcome)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="case",
        object_id=case.pk,
        jurisdiction_id=case.jurisdiction_id,
        fields=["attempt"],
        detail=f"attempt {number} {outcome}",
    )
    if outcome in NOT_REACHED:
        if (
            unreachable_after is not None
            and number >= unreachable_after
            and case.status
            in (
                CaseStatus.NEW,
                CaseStatus.ASSIGNED,
                CaseStatus.ATTEMPTING,
            )
        ):
            if case.status == CaseStatus.NEW:
                case_change_status(actor=actor, case=case, to_status=CaseStatus.ATTEMPTING, reason=_("Attempting contact"))
            reason = _("Not reached after %(n)d attempts.") % {"n": number}
            return case_change_status(actor=actor, case=case, to_status=CaseStatus.UNREACHABLE, reason=reason)
        if case.status in (CaseStatus.NEW, CaseStatus.ASSIGNED):
            return case_change_status(actor=actor, case=case, to_status=CaseStatus.ATTEMPTING, reason=_("Attempting contact"))
    elif outcome == CallOutcome.DECLINED and case.status in (CaseStatus.ASSIGNED, CaseStatus.ATTEMPTING):
        return case_change_status(actor=actor, case=case, to_status=CaseStatus.REFUSED, reason=_("Declined to talk"))
    return case


@transaction.atomic
def case_transfer(*, actor: User, case: Case, to: Jurisdiction, reason: str) -> Case:
    """Move a case (and its person) to another jurisdiction; the timeline keeps where it was."""
    if not policy.may_assign_in(actor, case.jurisdiction):
        raise PermissionDenied
    reason = _clean_reason(reason)
    if to.pk == case.jurisdiction_id:
        raise DomainError(_("The case is already in this jurisdiction."), field="jurisdiction")
    origin = case.jurisdiction
    previous_owner_id = case.owner_id
    case.jurisdiction = to
    case.owner = None
    case.team = None
    case.save(update_fields=["jurisdiction", "owner", "team", "updated_at"])
    case.person.jurisdiction = to
    case.person.save(update_fields=["jurisdiction", "updated_at"])
    case_activity_add(
        case=case, actor=actor, kind=CaseActivity.Kind.TRANSFER, code="transferred", origin=origin.name, to=to.name, reason=reason
    )
    audit_record(
        actor=actor,
        action=Action.TRANSFER,
        object_type="case",
        object_id=case.pk,
        jurisdiction_id=to.pk,
        fields=["jurisdiction"],
        detail=f"from jurisdiction {origin.pk} to {to.pk}",
    )
    events.publish(
        CaseTransferred(
            case_id=case.pk, from_jurisdiction_id=origin.pk, to_jurisdiction_id=to.pk, previous_owner_id=previous_owner_id
        )
    )
    return case


@dataclasses.dataclass
class CaseFacts:
    """What the interview establishes about the case itself."""

    symptom_onset: dt.date | None
    asymptomatic: bool
    symptoms: list[str]
    hospitalized: bool
    congregate_setting: bool
    notes: str = ""


def clean_case_facts(case: Case, facts: CaseFacts) -> None:
    today = clock.today()
    if facts.asymptomatic and (facts.symptom_onset or facts.symptoms):
        raise DomainError(_("A case without symptoms has no onset date or symptoms."), field="asymptomatic")
    if not facts.asymptomatic and facts.symptom_onset is None:
        raise DomainError(_("Give the symptom onset date, or tick 'no symptoms'."), field="symptom_onset")
    if facts.symptom_onset is not None:
        if facts.symptom_onset > today:
            raise DomainError(_("Symptom onset cannot be in the future."), field="symptom_onset")
        if case.person.date_of_birth and facts.symptom_onset < case.person.date_of_birth:
            raise DomainError(_("Symptom onset is before the date of birth."), field="symptom_onset")
        if case.specimen_collection_date and facts.symptom_onset < case.specimen_collection_date - dt.timedelta(days=60):
            raise DomainError(_("Symptom onset is more than 60 days before the specimen: check the date."), field="symptom_onset")
        if case.released_on and facts.symptom_onset > case.released_on:
            raise DomainError(_("Symptom onset cannot be after the case was released from isolation."), field="symptom_onset")
    unknown = [s for s in facts.symptoms if s not in Symptom.values]
    if unknown:
        raise DomainError(_("Unknown symptom: %(name)s") % {"name": unknown[0][:40]}, field="symptoms")
    if len(facts.notes) > 20_000:
        raise DomainError(_("Notes are limited to %(n)d characters.") % {"n": 20_000}, field="notes")


@transaction.atomic
def case_record_facts(*, actor: User | None, case: Case, facts: CaseFacts) -> Case:
    clean_case_facts(case, facts)
    before = {
        f: getattr(case, f)
        for f in ("symptom_onset", "asymptomatic", "symptoms", "hospitalized", "congregate_setting", "interview_notes")
    }
    case.symptom_onset = None if facts.asymptomatic else facts.symptom_onset
    case.asymptomatic = facts.asymptomatic
    case.symptoms = sorted(set(facts.symptoms))
    case.hospitalized = facts.hospitalized
    case.congregate_setting = facts.congregate_setting
    case.interview_notes = facts.notes
    _recompute(case)
    case.save()
    changed = [f for f, v in before.items() if getattr(case, f) != v]
    if changed:
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="case",
            object_id=case.pk,
            jurisdiction_id=case.jurisdiction_id,
            fields=changed,
        )
    return case


@transaction.atomic
def case_mark_interviewed(*, actor: User | None, case: Case, contacts: int, places: int) -> Case:
    """The interview is recorded: the case says when, moves to "interviewed" the first time, and tells its timeline."""
    first_interview = case.interviewed_at is None
    case.interviewed_at = clock.now()
    case.save(update_fields=["interviewed_at", "updated_at"])
    if first_interview and case.status in {
        CaseStatus.NEW,
        CaseStatus.ASSIGNED,
        CaseStatus.ATTEMPTING,
        CaseStatus.UNREACHABLE,
        CaseStatus.REFUSED,
    }:
        case_change_status(actor=actor, case=case, to_status=CaseStatus.INTERVIEWED, reason=_("Interview recorded"))
    case_activity_add(
        case=case, actor=actor, kind=CaseActivity.Kind.INTERVIEW, code="interview", contacts=contacts, places=places
    )
    return case


def case_preview_dates(*, case: Case, symptom_onset: dt.date | None, asymptomatic: bool) -> engine.CaseDates:
    """The dates the interview would give, without saving: shown while the tracer types."""
    dates, _rule_set = _case_dates(case, None if asymptomatic else symptom_onset)
    return dates


@dataclasses.dataclass
class BulkOutcome:
    """What a bulk action did: the records done, the ones refused, and why (the first reason of each kind)."""

    done: list[int] = dataclasses.field(default_factory=list)
    refused: list[int] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)

    def refuse(self, pk: int, reason: str) -> None:
        self.refused.append(pk)
        if reason not in self.reasons:
            self.reasons.append(reason)


def assign_each[R: Model](
    *, actor: User, permitted: QuerySet[R], ids: Sequence[int], object_type: str, assign: Callable[[R], object]
) -> BulkOutcome:
    """Assign each record ticked on a list on its own, in its own transaction: one that `permitted` (the records
    the actor may assign) lacks is refused with a `denied` entry, one the assignment refuses keeps its reason."""
    outcome = BulkOutcome()
    records = {record.pk: record for record in permitted.filter(pk__in=list(ids))}
    for pk in ids:
        record = records.get(pk)
        if record is None:
            audit_denied(actor, policy.needs(policy.Act.ASSIGN), object_type=object_type, object_id=pk)
            outcome.refuse(pk, _("not yours to assign"))
            continue
        try:
            with transaction.atomic():
                assign(record)
        except DomainError as exc:
            outcome.refuse(pk, exc.message)
        except PermissionDenied:
            outcome.refuse(pk, _("not yours to assign"))
        else:
            outcome.done.append(pk)
    return outcome


def cases_assign_bulk(*, actor: User, case_ids: Sequence[int], assignee: User | None) -> BulkOutcome:
    """`case_assign` for each case ticked on a list, each on its own: the policy asked of each record, one
    audit entry per record assigned, and per record refused (one the supervisor may not assign)."""
    return assign_each(
        actor=actor,
        permitted=policy.permitted(Case.objects.select_related("jurisdiction", "person"), actor, policy.Act.ASSIGN),
        ids=case_ids,
        object_type="case",
        assign=lambda case: case_assign(actor=actor, case=case, assignee=assignee),
    )

"""Reads of cases, always through the access policy."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator

from django.conf import settings
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User, Viewer
from tracecenter.accounts.roles import ASSIGNABLE_ROLES
from tracecenter.cases import engine
from tracecenter.cases.models import OPEN_STATUSES, Case, RuleSet, TracedCondition
from tracecenter.intake import conditions
from tracecenter.intake.models import ConditionTest


def case_assigned_to(user: User) -> Q:
    """A case is its owner's (registered with the policy; whoever holds open work on it is added there)."""
    return Q(owner=user.pk)


def cases_permitted(user: Viewer, act: policy.Act) -> QuerySet[Case]:
    """The cases on which `user` may `act` (`policy.permitted`)."""
    return policy.permitted(Case.objects.all(), user, act)


def cases_visible_to(user: Viewer) -> QuerySet[Case]:
    """The cases `user` may read in full.

    A tracer who follows a contact of a case sees that case only in part (`Act.SEE_LINKED`: its
    dates and their own contacts of it), so it is not among these.
    """
    return cases_permitted(user, policy.Act.READ)


def my_open_cases(user: Viewer) -> QuerySet[Case]:
    return (
        Case.objects.filter(owner=user.pk, status__in=OPEN_STATUSES)
        .filter(policy.jurisdiction_q(user))
        .select_related("person")
        .order_by("priority", "opened_at")
    )


def rule_set_in_force(jurisdiction: Jurisdiction, on: dt.date, condition: str = "") -> RuleSet | None:
    """The version in force on `on` for `condition`: the nearest jurisdiction (itself, then up the tree) with a
    version of that condition's own; where none has one, the nearest with a version for every condition.

    A condition's own version wins over a general one of a nearer jurisdiction: a county's general rules were
    written for what it mostly traces, the state's measles rules for measles.
    """
    chain = list(reversed(jurisdiction.ancestors_and_self()))
    rows = list(
        RuleSet.objects.filter(jurisdiction_id__in=chain, effective_from__lte=on, condition__in={condition, ""}).order_by(
            "-effective_from"
        )
    )
    for wanted in dict.fromkeys([condition, ""]):
        for j_id in chain:
            for rule_set in rows:
                if rule_set.jurisdiction_id == j_id and rule_set.condition == wanted:
                    return rule_set
    return None


def rules_for(jurisdiction: Jurisdiction, on: dt.date, condition: str = "") -> tuple[engine.Rules, RuleSet | None]:
    rule_set = rule_set_in_force(jurisdiction, on, condition)
    return (rule_set.as_rules() if rule_set else engine.DEFAULT_RULES), rule_set


@dataclasses.dataclass(frozen=True)
class CaseTriggers:
    """What opens a case in one jurisdiction: condition -> the kinds of test that do, and the jurisdiction's own
    tests (LOINC code -> (condition, kind)); read by intake.classify.case_condition."""

    kinds: dict[str, frozenset[str]]
    local_tests: dict[str, tuple[str, str]]


def _nearest_first[R: TracedCondition | ConditionTest](jurisdiction: Jurisdiction, rows: QuerySet[R]) -> list[R]:
    """`rows` of the jurisdiction and those above it, the root's first: read in order, the nearest wins."""
    chain = jurisdiction.ancestors_and_self()
    depth = {j_id: i for i, j_id in enumerate(chain)}
    return sorted(rows.filter(jurisdiction_id__in=chain), key=lambda row: depth[row.jurisdiction_id])


def traced_conditions_nearest(jurisdiction: Jurisdiction) -> dict[str, TracedCondition]:
    """Per condition, the setting of the nearest jurisdiction (itself, then up the tree) that has one."""
    rows = _nearest_first(jurisdiction, TracedCondition.objects.select_related("jurisdiction"))
    return {row.condition: row for row in rows}


def condition_kinds(code: str, nearest: TracedCondition | None) -> frozenset[str]:
    """The kinds of positive test that open a case of `code` under its nearest setting; with none, the installation's
    default (DEFAULT_CASE_CONDITIONS, through molecular and antigen tests). Empty: it opens no case."""
    if nearest is None:
        return frozenset(conditions.DEFAULT_KINDS) if code in settings.DEFAULT_CASE_CONDITIONS else frozenset()
    return frozenset(nearest.test_kinds) if nearest.opens_cases else frozenset()


def case_triggers(jurisdiction: Jurisdiction) -> CaseTriggers:
    """The nearest configuration per condition and per test (itself, then up the tree), over the defaults."""
    nearest = traced_conditions_nearest(jurisdiction)
    codes = set(settings.DEFAULT_CASE_CONDITIONS) | set(nearest)
    kinds = {code: found for code in codes if (found := condition_kinds(code, nearest.get(code)))}
    tests = _nearest_first(jurisdiction, ConditionTest.objects.all())
    return CaseTriggers(kinds=kinds, local_tests={row.loinc: (row.condition, row.kind) for row in tests})


def _judged_relations() -> list[tuple[type[Model], str]]:
    """The record types that keep the rule version they were judged by (cases, contacts), with their field.

    Found through RuleSet's relations: contacts sit above cases in the layers and are not imported here.
    """
    found = []
    for relation in RuleSet._meta.get_fields(include_hidden=True):
        if relation.auto_created and not relation.concrete and relation.one_to_many:
            model = relation.related_model
            if model is None or isinstance(model, str):  # resolved by the time models are loaded
                raise RuntimeError(f"unresolved relation {relation.name} of RuleSet")
            found.append((model, relation.field.name))  # type: ignore[union-attr]
    return found


def rule_sets_with_use(qs: QuerySet[RuleSet]) -> QuerySet[RuleSet]:
    """`qs` with `in_use`: whether any case or contact was judged by the version."""
    judged = [Exists(model._base_manager.filter(**{field: OuterRef("pk")})) for model, field in _judged_relations()]
    return qs.annotate(in_use=functools.reduce(operator.or_, judged))


def rule_set_in_use(rule_set: RuleSet) -> bool:
    row = rule_sets_with_use(RuleSet.objects.filter(pk=rule_set.pk)).first()
    return bool(getattr(row, "in_use", False))


@dataclasses.dataclass(frozen=True)
class RuleVersion:
    rule_set: RuleSet
    inherited: bool  # a version of a jurisdiction above, which applies here where this one has none of its own
    in_force: bool  # the version a case of this jurisdiction would be judged by today
    in_use: bool


def rule_versions(jurisdiction: Jurisdiction, on: dt.date) -> list[RuleVersion]:
    """The versions that can apply to `jurisdiction`: its own and those of the jurisdictions above it, newest first."""
    chain = jurisdiction.ancestors_and_self()
    kinds = {"", *RuleSet.objects.filter(jurisdiction_id__in=chain).values_list("condition", flat=True)}
    in_force = {condition: rule_set_in_force(jurisdiction, on, condition) for condition in kinds}
    rows = rule_sets_with_use(
        RuleSet.objects.filter(jurisdiction_id__in=jurisdiction.ancestors_and_self()).select_related("jurisdiction")
    ).order_by("-effective_from", "-jurisdiction__path")
    return [
        RuleVersion(
            rule_set=r,
            inherited=r.jurisdiction_id != jurisdiction.pk,
            in_force=(found := in_force.get(r.condition)) is not None and r.pk == found.pk,
            in_use=bool(r.in_use),  # type: ignore[attr-defined]
        )
        for r in rows
    ]


def case_assignees(case: Case) -> QuerySet[User]:
    """Who may be given `case`: active workers of its jurisdiction or one above it."""
    return User.objects.filter(
        is_active=True, role__in=ASSIGNABLE_ROLES, jurisdiction_id__in=case.jurisdiction.ancestors_and_self()
    ).order_by("last_name", "first_name")


def case_transfer_targets(case: Case) -> QuerySet[Jurisdiction]:
    """Where `case` may be transferred: any jurisdiction of the same state, where residents move."""
    root = case.jurisdiction.ancestors_and_self()[0]
    return Jurisdiction.objects.filter(path__startswith=f"/{root}/").exclude(pk=case.jurisdiction_id)


def cases_from_intake_batch(batch_id: int) -> QuerySet[Case]:
    """Cases that the results of one intake delivery opened or joined (whoever may see the batch may count them)."""
    return Case.objects.filter(lab_results__message__batch_id=batch_id).distinct()

"""Reads of cases, always through the access policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import ASSIGNABLE_ROLES
from tracecenter.cases import engine
from tracecenter.cases.models import OPEN_STATUSES, Case, RuleSet


def cases_visible_to(user: Any) -> QuerySet[Case]:
    assigned = Q()
    if getattr(user, "is_authenticated", False):
        # An investigator sees the cases assigned to them, and a tracer the cases whose contacts they follow.
        assigned = Q(owner=user.pk) | Q(exposures__owner=user.pk)
    return policy.scope(Case.objects.all(), user, assigned=assigned)


def my_open_cases(user: Any) -> QuerySet[Case]:
    return (
        Case.objects.filter(owner=user.pk, status__in=OPEN_STATUSES)
        .filter(policy.jurisdiction_q(user))
        .select_related("person")
        .order_by("priority", "opened_at")
    )


def rule_set_in_force(jurisdiction: Jurisdiction, on: dt.date) -> RuleSet | None:
    """The nearest jurisdiction (itself, then up the tree) with a version in force on `on`."""
    chain = list(reversed(jurisdiction.ancestors_and_self()))
    rows = list(RuleSet.objects.filter(jurisdiction_id__in=chain, effective_from__lte=on).order_by("-effective_from"))
    for j_id in chain:
        for rule_set in rows:
            if rule_set.jurisdiction_id == j_id:
                return rule_set
    return None


def rules_for(jurisdiction: Jurisdiction, on: dt.date) -> tuple[engine.Rules, RuleSet | None]:
    rule_set = rule_set_in_force(jurisdiction, on)
    return (rule_set.as_rules() if rule_set else engine.DEFAULT_RULES), rule_set


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

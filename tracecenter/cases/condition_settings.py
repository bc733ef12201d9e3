"""Which conditions open cases in a jurisdiction, through which tests: read and written by its administrators.

A jurisdiction's own setting for a condition (TracedCondition) decides for it and those below it,
until one below says otherwise; tests it adds (ConditionTest: a LOINC code the built-in catalogue does
not know) apply the same way. Every change is audited under the jurisdiction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases.models import TracedCondition
from tracecenter.cases.selectors import condition_kinds, traced_conditions_nearest
from tracecenter.core.errors import DomainError
from tracecenter.intake import conditions
from tracecenter.intake.classify import TEST_CONDITIONS, loinc_is_valid
from tracecenter.intake.models import ConditionTest

MAX_LOCAL_TESTS = 500  # per jurisdiction: a lab menu, not a terminology server


@dataclasses.dataclass(frozen=True)
class ConditionState:
    """How one condition stands in a jurisdiction: the kinds of test that open a case (none: it opens none),
    and who decided (this jurisdiction, one above it by name, or the installation's default)."""

    code: str
    name: str
    kinds: frozenset[str]
    own: TracedCondition | None
    decided_by: str  # "" when the installation's default applies


def condition_states(jurisdiction: Jurisdiction) -> list[ConditionState]:
    nearest = traced_conditions_nearest(jurisdiction)
    states = []
    for code in conditions.CATALOGUE:
        row = nearest.get(code)
        own = row if row is not None and row.jurisdiction_id == jurisdiction.pk else None
        decided_by = row.jurisdiction.name if row is not None else ""
        states.append(ConditionState(code, conditions.name_of(code), condition_kinds(code, row), own, decided_by))
    return states


def local_tests(jurisdiction: Jurisdiction) -> list[ConditionTest]:
    """The tests configured here and above (the nearest wins for a code)."""
    chain = jurisdiction.ancestors_and_self()
    return list(ConditionTest.objects.filter(jurisdiction_id__in=chain).select_related("jurisdiction").order_by("loinc"))


def _require_administers(actor: User, jurisdiction: Jurisdiction) -> None:
    if not policy.may_administer(actor, jurisdiction):
        raise PermissionDenied


def _condition(code: str) -> str:
    if code not in conditions.CATALOGUE:
        raise DomainError(_("Choose a condition from the list."), field="condition")
    return code


def _audit(actor: User, object_type: str, object_id: object, jurisdiction: Jurisdiction, detail: str) -> None:
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type=object_type,
        object_id=object_id,
        jurisdiction_id=jurisdiction.pk,
        detail=detail,
    )


@transaction.atomic
def traced_condition_set(*, actor: User, jurisdiction: Jurisdiction, condition: str, kinds: Iterable[str]) -> TracedCondition:
    """The jurisdiction's own setting: positive results of these kinds of test open cases (none: no case opens)."""
    _require_administers(actor, jurisdiction)
    chosen = sorted(set(kinds))
    unknown = [kind for kind in chosen if kind not in conditions.TEST_KINDS]
    if unknown:
        raise DomainError(_("“%(kind)s” is not a kind of test.") % {"kind": unknown[0][:20]}, field="kinds")
    row, _created = TracedCondition.objects.update_or_create(
        jurisdiction=jurisdiction,
        condition=_condition(condition),
        defaults={"opens_cases": bool(chosen), "test_kinds": chosen},
    )
    opens = ", ".join(chosen) if chosen else "no case"
    _audit(actor, "traced_condition", row.pk, jurisdiction, f"{condition}: {opens}")
    return row


@transaction.atomic
def traced_condition_inherit(*, actor: User, jurisdiction: Jurisdiction, condition: str) -> None:
    """Drop the jurisdiction's own setting: what applies above applies here again."""
    _require_administers(actor, jurisdiction)
    deleted, _rows = TracedCondition.objects.filter(jurisdiction=jurisdiction, condition=_condition(condition)).delete()
    if deleted:
        _audit(actor, "traced_condition", condition, jurisdiction, f"{condition}: as above")


@transaction.atomic
def condition_test_add(*, actor: User, jurisdiction: Jurisdiction, loinc: str, condition: str, kind: str) -> ConditionTest:
    _require_administers(actor, jurisdiction)
    code = loinc.strip()
    if not loinc_is_valid(code):
        raise DomainError(
            _("“%(code)s” is not a LOINC code (digits, a dash and the check digit, such as 94500-6).") % {"code": code[:20]},
            field="loinc",
        )
    if kind not in conditions.TEST_KINDS:
        raise DomainError(_("Choose a kind of test."), field="kind")
    known = TEST_CONDITIONS.get(code)
    if known is not None and known != (condition, kind):
        raise DomainError(
            _("TraceCenter already knows %(code)s as a %(kind)s test for %(condition)s.")
            % {"code": code, "kind": known[1], "condition": conditions.name_of(known[0])},
            field="loinc",
        )
    if ConditionTest.objects.filter(jurisdiction=jurisdiction, loinc=code).exists():
        raise DomainError(_("%(code)s is configured here already: remove it first.") % {"code": code}, field="loinc")
    if ConditionTest.objects.filter(jurisdiction=jurisdiction).count() >= MAX_LOCAL_TESTS:
        raise DomainError(_("At most %(n)d tests per jurisdiction.") % {"n": MAX_LOCAL_TESTS}, field="loinc")
    test = ConditionTest.objects.create(jurisdiction=jurisdiction, loinc=code, condition=_condition(condition), kind=kind)
    _audit(actor, "condition_test", test.pk, jurisdiction, f"{code}: {condition} {kind}")
    return test


@transaction.atomic
def condition_test_remove(*, actor: User, test: ConditionTest) -> None:
    _require_administers(actor, test.jurisdiction)
    _audit(actor, "condition_test", test.pk, test.jurisdiction, f"{test.loinc} removed")
    test.delete()

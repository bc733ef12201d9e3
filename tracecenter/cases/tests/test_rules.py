"""Rule versions written by administrators: scope, validation, audit, and versions that judged records stay as they are."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import RuleSet
from tracecenter.cases.rules import RuleSetInput, rule_set_create, rule_set_delete, rule_set_update
from tracecenter.cases.selectors import rule_set_in_use, rule_versions
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.people.services import PersonInput

FIVE_DAYS = RuleSetInput(effective_from=dt.date(2022, 1, 1), isolation_days=5, quarantine_days=10, note="CDC, December 2021")


@pytest.fixture
def admin(make_user, county):
    return make_user(Role.ADMINISTRATOR, county)


def test_an_administrator_adds_a_version_for_their_jurisdiction_audited_without_values(admin, county):
    rule_set = rule_set_create(actor=admin, jurisdiction=county, data=FIVE_DAYS)
    assert (rule_set.jurisdiction, rule_set.isolation_days, rule_set.note) == (county, 5, "CDC, December 2021")
    entry = AuditEntry.objects.latest("pk")
    assert (entry.action, entry.object_type, entry.object_id, entry.jurisdiction_id) == (
        "create",
        "rule_set",
        str(rule_set.pk),
        county.pk,
    )
    assert "CDC" not in str(entry.__dict__)


def test_a_county_administrator_cannot_write_the_rules_of_the_state_or_another_county(admin, state, other_county, users):
    for place in (state, other_county):
        with pytest.raises(PermissionDenied):
            rule_set_create(actor=admin, jurisdiction=place, data=FIVE_DAYS)
    with pytest.raises(PermissionDenied):
        rule_set_create(actor=users[Role.SUPERVISOR], jurisdiction=users[Role.SUPERVISOR].jurisdiction, data=FIVE_DAYS)
    assert not RuleSet.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"isolation_days": 61}, "isolation_days"),
        ({"quarantine_days": -1}, "quarantine_days"),
        ({"effective_from": dt.date(1900, 1, 1)}, "effective_from"),
        ({"note": "x" * 10_000}, "note"),
        ({"note": "bad\x1bnote"}, "note"),
    ],
)
def test_bad_values_are_refused_on_their_field(admin, county, change, field):
    with pytest.raises(DomainError) as caught:
        rule_set_create(actor=admin, jurisdiction=county, data=RuleSetInput(**{**FIVE_DAYS.__dict__, **change}))
    assert caught.value.field == field
    assert not RuleSet.objects.exists()


def test_two_versions_cannot_start_the_same_day(admin, county):
    rule_set_create(actor=admin, jurisdiction=county, data=FIVE_DAYS)
    with pytest.raises(DomainError) as caught:
        rule_set_create(actor=admin, jurisdiction=county, data=FIVE_DAYS)
    assert caught.value.field == "effective_from"


def test_a_version_that_judged_a_case_or_a_contact_is_only_superseded(admin, county, make_case, users):
    rule_set = rule_set_create(actor=admin, jurisdiction=county, data=FIVE_DAYS)
    unused = rule_set_create(actor=admin, jurisdiction=county, data=RuleSetInput(effective_from=dt.date(2021, 1, 1)))
    case = make_case(county, owner=users[Role.CASE_INVESTIGATOR])
    assert case.rules == rule_set and rule_set_in_use(rule_set) and not rule_set_in_use(unused)

    with pytest.raises(DomainError):
        rule_set_update(actor=admin, rule_set=rule_set, data=RuleSetInput(effective_from=dt.date(2022, 1, 1), isolation_days=7))
    with pytest.raises(DomainError):
        rule_set_delete(actor=admin, rule_set=rule_set)
    rule_set.refresh_from_db()
    assert rule_set.isolation_days == 5

    later = rule_set_create(actor=admin, jurisdiction=county, data=RuleSetInput(effective_from=clock.today(), isolation_days=7))
    case.refresh_from_db()
    assert case.rules == rule_set  # a case keeps the version it was judged by
    versions = {v.rule_set: v for v in rule_versions(county, clock.today())}
    assert versions[later].in_force and not versions[rule_set].in_force and versions[rule_set].in_use


def test_a_version_that_judged_only_a_contact_is_in_use_too(admin, county, state, make_case, users):
    case = make_case(county, owner=users[Role.CASE_INVESTIGATOR])
    # A county version made after the case: only the contact added now is judged by it.
    rule_set = rule_set_create(actor=admin, jurisdiction=county, data=RuleSetInput(effective_from=dt.date(2020, 6, 1)))
    exposure_add(
        actor=users[Role.CASE_INVESTIGATOR],
        case=case,
        person=PersonInput(first_name="Luis", last_name="Pérez"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    assert rule_set_in_use(rule_set)


def test_a_version_nobody_was_judged_by_can_be_corrected_and_deleted(admin, county):
    rule_set = rule_set_create(actor=admin, jurisdiction=county, data=FIVE_DAYS)
    rule_set_update(actor=admin, rule_set=rule_set, data=RuleSetInput(**{**FIVE_DAYS.__dict__, "quarantine_days": 7}))
    rule_set.refresh_from_db()
    assert rule_set.quarantine_days == 7
    assert AuditEntry.objects.latest("pk").fields == ["quarantine_days"]
    pk = rule_set.pk
    rule_set_delete(actor=admin, rule_set=rule_set)
    assert not RuleSet.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.latest("pk").action == "delete"


def test_the_list_marks_inherited_versions_and_the_one_in_force(admin, state, county):
    state_version = RuleSet.objects.create(jurisdiction=state, effective_from=dt.date(2020, 1, 1))
    versions = rule_versions(county, clock.today())
    assert [(v.rule_set, v.inherited, v.in_force) for v in versions] == [(state_version, True, True)]

    own = rule_set_create(actor=admin, jurisdiction=county, data=FIVE_DAYS)
    versions = rule_versions(county, clock.today())
    assert [(v.rule_set, v.inherited, v.in_force) for v in versions] == [(own, False, True), (state_version, True, False)]

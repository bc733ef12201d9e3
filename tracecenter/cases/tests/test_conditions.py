"""More than one disease: which conditions and tests open cases, configured per jurisdiction; rules per condition."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases import condition_settings
from tracecenter.cases.models import Case, RuleSet
from tracecenter.cases.selectors import rules_for
from tracecenter.cases.services import cases_open_for_positives
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.intake.classify import loinc_is_valid
from tracecenter.intake.models import ConditionTest
from tracecenter.intake.services import LabResultInput, lab_result_record

COVID_PCR = "94500-6"
FLU_PCR = "34487-9"
COVID_ANTIBODY = "94505-5"


def local_loinc(body: str) -> str:
    """`body` with its check digit: a well-formed LOINC code the built-in catalogue does not know."""
    code = next(f"{body}-{digit}" for digit in range(10) if loinc_is_valid(f"{body}-{digit}"))
    return code


@pytest.fixture
def positive(make_person: Any, django_capture_on_commit_callbacks: Any) -> Any:
    def record(jurisdiction: Any, loinc: str, *, person: Any = None, days_ago: int = 2) -> tuple[Any, Case | None]:
        person = person or make_person(jurisdiction)
        with django_capture_on_commit_callbacks(execute=True):
            lab = lab_result_record(
                actor=None,
                person=person,
                data=LabResultInput(
                    specimen_collection_date=clock.today() - dt.timedelta(days=days_ago), test_loinc=loinc, result="positive"
                ),
            )
        run_background_work()
        return person, Case.objects.filter(lab_results=lab).first()

    return record


def test_by_default_covid_opens_cases_and_influenza_does_not(county, positive):
    _person, case = positive(county, COVID_PCR)
    assert case is not None and case.condition == "covid-19"
    _person, flu = positive(county, FLU_PCR)
    assert flu is None


def test_a_state_traces_influenza_and_a_county_turns_it_off(users, state, county, other_county, make_user, positive):
    state_admin = make_user(Role.ADMINISTRATOR, state)
    condition_settings.traced_condition_set(actor=state_admin, jurisdiction=state, condition="influenza", kinds=["molecular"])
    _person, flu = positive(county, FLU_PCR)
    assert flu is not None and flu.condition == "influenza"

    condition_settings.traced_condition_set(actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="influenza", kinds=[])
    assert positive(county, FLU_PCR)[1] is None  # North County opens no influenza case now
    assert positive(other_county, FLU_PCR)[1] is not None  # South County still follows the state
    condition_settings.traced_condition_inherit(actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="influenza")
    assert positive(county, FLU_PCR)[1] is not None
    details = set(AuditEntry.objects.filter(object_type="traced_condition").values_list("detail", flat=True))
    assert details == {"influenza: molecular", "influenza: no case", "influenza: as above"}


def test_antibodies_open_a_case_only_where_a_jurisdiction_says_so(users, county, positive):
    assert positive(county, COVID_ANTIBODY)[1] is None
    condition_settings.traced_condition_set(
        actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="covid-19", kinds=["molecular", "antigen", "antibody"]
    )
    assert positive(county, COVID_ANTIBODY)[1] is not None


def test_a_test_added_by_a_jurisdiction_opens_cases_of_its_condition(users, state, county, make_user, positive):
    measles_pcr = local_loinc("99990")
    state_admin = make_user(Role.ADMINISTRATOR, state)
    assert positive(county, measles_pcr)[1] is None  # unknown test: kept, no case
    condition_settings.condition_test_add(
        actor=state_admin, jurisdiction=state, loinc=measles_pcr, condition="measles", kind="molecular"
    )
    assert positive(county, measles_pcr)[1] is None  # measles is not traced yet
    condition_settings.traced_condition_set(actor=state_admin, jurisdiction=state, condition="measles", kinds=["molecular"])
    _person, case = positive(county, measles_pcr)
    assert case is not None and case.condition == "measles"


def test_a_person_with_a_covid_case_gets_an_influenza_case_of_its_own(users, county, positive):
    condition_settings.traced_condition_set(
        actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="influenza", kinds=["molecular"]
    )
    person, covid = positive(county, COVID_PCR)
    _same, flu = positive(county, FLU_PCR, person=person)
    assert covid is not None and flu is not None and covid.pk != flu.pk
    assert {covid.condition, flu.condition} == {"covid-19", "influenza"}
    _again, covid_again = positive(county, COVID_PCR, person=person, days_ago=1)
    assert covid_again is not None and covid_again.pk == covid.pk  # the same COVID-19 episode


def test_a_surge_opens_each_result_a_case_of_its_own_condition(users, county, make_person, django_capture_on_commit_callbacks):
    condition_settings.traced_condition_set(
        actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="influenza", kinds=["molecular"]
    )
    labs = []
    for loinc in (COVID_PCR, FLU_PCR, COVID_ANTIBODY):
        labs.append(
            lab_result_record(
                actor=None,
                person=make_person(county),
                data=LabResultInput(specimen_collection_date=clock.today(), test_loinc=loinc, result="positive"),
            )
        )
    opened = cases_open_for_positives(lab_result_ids=[lab.pk for lab in labs])
    assert sorted(case.condition for case in opened) == ["covid-19", "influenza"]


def test_a_conditions_own_rules_win_over_the_general_ones_even_of_a_nearer_jurisdiction(state, county):
    RuleSet.objects.create(jurisdiction=state, condition="measles", effective_from=dt.date(2020, 1, 1), quarantine_days=21)
    RuleSet.objects.create(jurisdiction=county, effective_from=dt.date(2020, 1, 1), quarantine_days=5, monitoring_days=7)
    on = dt.date(2024, 5, 1)
    assert rules_for(county, on, "measles")[0].quarantine_days == 21
    covid = rules_for(county, on, "covid-19")[0]
    assert (covid.quarantine_days, covid.monitoring_days) == (5, 7)
    assert rules_for(county, on)[0].quarantine_days == 5


def test_the_case_dates_follow_the_rules_of_its_condition(users, state, county, positive):
    RuleSet.objects.create(jurisdiction=state, condition="influenza", effective_from=dt.date(2020, 1, 1), isolation_days=3)
    condition_settings.traced_condition_set(
        actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="influenza", kinds=["molecular"]
    )
    _person, flu = positive(county, FLU_PCR, days_ago=1)
    _person, covid = positive(county, COVID_PCR, days_ago=1)
    assert flu is not None and covid is not None
    assert flu.isolation_end == clock.today() - dt.timedelta(days=1) + dt.timedelta(days=3)
    assert covid.isolation_end == clock.today() - dt.timedelta(days=1) + dt.timedelta(days=10)


@pytest.mark.parametrize(
    ("loinc", "condition", "kind", "field"),
    [
        ("94500-5", "measles", "molecular", "loinc"),  # wrong check digit
        ("abc", "measles", "molecular", "loinc"),
        ("9" * 5000, "measles", "molecular", "loinc"),
        ("94500-6", "measles", "molecular", "loinc"),  # a COVID-19 test TraceCenter knows
        (local_loinc("99991"), "plague", "molecular", "condition"),
        (local_loinc("99991"), "measles", "urine", "kind"),
    ],
)
def test_bad_tests_are_refused_naming_the_field(users, county, loinc, condition, kind, field):
    with pytest.raises(DomainError) as refused:
        condition_settings.condition_test_add(
            actor=users[Role.ADMINISTRATOR], jurisdiction=county, loinc=loinc, condition=condition, kind=kind
        )
    assert refused.value.field == field
    assert not ConditionTest.objects.exists()


def test_only_an_administrator_of_the_jurisdiction_configures_it(users, county, other_county, make_user):
    with pytest.raises(PermissionDenied):
        condition_settings.traced_condition_set(
            actor=make_user(Role.ADMINISTRATOR, other_county), jurisdiction=county, condition="measles", kinds=["molecular"]
        )
    with pytest.raises(PermissionDenied):
        condition_settings.traced_condition_set(
            actor=users[Role.SUPERVISOR], jurisdiction=county, condition="measles", kinds=["molecular"]
        )
    with pytest.raises(DomainError):
        condition_settings.traced_condition_set(
            actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="measles", kinds=["x-ray"]
        )


def test_the_conditions_page_shows_and_saves_the_settings(users, county, other_county, make_user):
    admin = Client()
    admin.force_login(users[Role.ADMINISTRATOR])
    page = admin.get(f"/administration/jurisdictions/{county.pk}/conditions/").content.decode()
    assert "Measles" in page and "the installation" in page and "default" in page
    admin.post(f"/administration/jurisdictions/{county.pk}/conditions/", {"condition": "measles", "kinds": ["molecular"]})
    assert "this jurisdiction" in admin.get(f"/administration/jurisdictions/{county.pk}/conditions/").content.decode()
    bad = admin.post(
        f"/administration/jurisdictions/{county.pk}/conditions/tests/",
        {"loinc": "12-3", "condition": "measles", "kind": "molecular"},
    )
    assert bad.status_code == 422 and "is not a LOINC code" in bad.content.decode()
    hostile = admin.post(
        f"/administration/jurisdictions/{county.pk}/conditions/", {"condition": "<script>", "kinds": ["molecular"]}
    )
    assert hostile.status_code == 302
    outsider = Client()
    outsider.force_login(make_user(Role.ADMINISTRATOR, other_county))
    assert outsider.get(f"/administration/jurisdictions/{county.pk}/conditions/").status_code == 404


def test_cases_opened_before_conditions_take_the_condition_of_their_results(users, county, positive):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("tracecenter.cases.migrations.0009_case_condition_from_results")
    condition_settings.traced_condition_set(
        actor=users[Role.ADMINISTRATOR], jurisdiction=county, condition="influenza", kinds=["molecular"]
    )
    _person, flu = positive(county, FLU_PCR)
    _person, covid = positive(county, COVID_PCR)
    assert flu is not None and covid is not None
    Case.objects.filter(pk=flu.pk).update(condition="covid-19")  # as the column's default gave it
    migration.forwards(apps, None)
    flu.refresh_from_db()
    covid.refresh_from_db()
    assert (flu.condition, covid.condition) == ("influenza", "covid-19")

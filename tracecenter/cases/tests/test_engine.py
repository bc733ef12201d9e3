"""The case rules engine alone: plain dates in, dates and verdicts out, no database."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracecenter.cases import engine
from tracecenter.cases.engine import DEFAULT_RULES, Rules, RuleViolation

TODAY = dt.date(2021, 6, 15)
DAY = dt.timedelta(days=1)

day_counts = st.integers(min_value=0, max_value=60)
rules_strategy = st.builds(
    Rules,
    effective_from=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2023, 12, 31)),
    days_before_onset=day_counts,
    days_before_specimen=day_counts,
    isolation_days=day_counts,
    quarantine_days=day_counts,
    test_based_release=st.booleans(),
)
past_dates = st.dates(min_value=dt.date(2020, 1, 1), max_value=TODAY)


# Rules


def test_rules_accept_day_counts_between_0_and_60():
    rules = Rules(effective_from=TODAY, days_before_onset=0, isolation_days=60, quarantine_days=5)
    assert rules.isolation_days == 60


@pytest.mark.parametrize("field", ["days_before_onset", "days_before_specimen", "isolation_days", "quarantine_days"])
@pytest.mark.parametrize("value", [-1, 61, 365])
def test_rules_refuse_day_counts_outside_0_to_60(field, value):
    with pytest.raises(ValueError, match=field):
        Rules(effective_from=TODAY, **{field: value})


def test_rules_in_force_picks_the_newest_version_already_in_force():
    v2020 = Rules(effective_from=dt.date(2020, 1, 1), isolation_days=10)
    v2021 = Rules(effective_from=dt.date(2021, 1, 1), isolation_days=5)
    v2022 = Rules(effective_from=dt.date(2022, 1, 1), isolation_days=3)
    versions = [v2022, v2020, v2021]  # order of the list does not matter
    assert engine.rules_in_force(versions, dt.date(2020, 6, 1)) is v2020
    assert engine.rules_in_force(versions, dt.date(2021, 1, 1)) is v2021  # in force on its first day
    assert engine.rules_in_force(versions, dt.date(2021, 12, 31)) is v2021
    assert engine.rules_in_force(versions, dt.date(2030, 1, 1)) is v2022


def test_rules_in_force_falls_back_to_the_default_before_any_version():
    versions = [Rules(effective_from=dt.date(2021, 1, 1), isolation_days=5)]
    assert engine.rules_in_force(versions, dt.date(2020, 12, 31)) is DEFAULT_RULES
    assert engine.rules_in_force([], TODAY) is DEFAULT_RULES


@given(versions=st.lists(rules_strategy, max_size=6), on=st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2025, 1, 1)))
def test_the_rules_in_force_are_never_from_the_future(versions, on):
    chosen = engine.rules_in_force(versions, on)
    if chosen is DEFAULT_RULES:
        assert all(v.effective_from > on for v in versions)
    else:
        assert chosen.effective_from <= on
        assert all(v.effective_from <= chosen.effective_from for v in versions if v.effective_from <= on)


# Case dates


def test_a_case_with_symptoms_is_counted_from_onset():
    rules = Rules(effective_from=dt.date(2020, 1, 1), days_before_onset=2, days_before_specimen=3, isolation_days=10)
    onset = dt.date(2021, 6, 1)
    dates = engine.case_dates(rules, symptom_onset=onset, specimen_collection=dt.date(2021, 6, 3), today=TODAY)
    assert dates.reference_date == onset
    assert dates.infectious_start == dt.date(2021, 5, 30)
    assert dates.isolation_end == dt.date(2021, 6, 11)
    assert dates.infectious_end == dates.isolation_end


def test_an_asymptomatic_case_is_counted_from_specimen_collection():
    rules = Rules(effective_from=dt.date(2020, 1, 1), days_before_onset=2, days_before_specimen=3, isolation_days=5)
    specimen = dt.date(2021, 6, 3)
    dates = engine.case_dates(rules, symptom_onset=None, specimen_collection=specimen, today=TODAY)
    assert dates.reference_date == specimen
    assert dates.infectious_start == dt.date(2021, 5, 31)  # days_before_specimen, not days_before_onset
    assert dates.isolation_end == dt.date(2021, 6, 8)


def test_a_future_onset_is_refused_on_the_onset_field():
    with pytest.raises(RuleViolation) as caught:
        engine.case_dates(DEFAULT_RULES, symptom_onset=TODAY + DAY, specimen_collection=TODAY, today=TODAY)
    assert caught.value.field == "symptom_onset"


def test_a_future_specimen_is_refused_on_the_specimen_field():
    with pytest.raises(RuleViolation) as caught:
        engine.case_dates(DEFAULT_RULES, symptom_onset=None, specimen_collection=TODAY + DAY, today=TODAY)
    assert caught.value.field == "specimen_collection_date"


def test_a_case_without_onset_or_specimen_has_no_dates():
    with pytest.raises(RuleViolation) as caught:
        engine.case_dates(DEFAULT_RULES, symptom_onset=None, specimen_collection=None, today=TODAY)
    assert caught.value.field == "symptom_onset"


def test_onset_today_is_accepted():
    dates = engine.case_dates(DEFAULT_RULES, symptom_onset=TODAY, specimen_collection=None, today=TODAY)
    assert dates.reference_date == TODAY


@given(rules=rules_strategy, onset=st.none() | past_dates, specimen=st.none() | past_dates)
def test_infectious_start_reference_and_isolation_end_are_always_in_order(rules, onset, specimen):
    if onset is None and specimen is None:
        return
    dates = engine.case_dates(rules, symptom_onset=onset, specimen_collection=specimen, today=TODAY)
    assert dates.infectious_start <= dates.reference_date <= dates.isolation_end
    assert dates.infectious_end == dates.isolation_end
    assert dates.reference_date == (onset if onset is not None else specimen)


def test_onset_after_release_is_refused():
    with pytest.raises(RuleViolation) as caught:
        engine.check_onset_against_release(symptom_onset=dt.date(2021, 6, 10), released_on=dt.date(2021, 6, 9))
    assert caught.value.field == "symptom_onset"
    engine.check_onset_against_release(symptom_onset=dt.date(2021, 6, 9), released_on=dt.date(2021, 6, 9))
    engine.check_onset_against_release(symptom_onset=None, released_on=dt.date(2021, 6, 9))


# Quarantine and exposures


def test_quarantine_ends_the_configured_days_after_the_last_exposure():
    assert engine.quarantine_end(Rules(effective_from=TODAY, quarantine_days=14), last_exposure=dt.date(2021, 6, 1)) == dt.date(
        2021, 6, 15
    )
    assert engine.quarantine_end(Rules(effective_from=TODAY, quarantine_days=5), last_exposure=dt.date(2021, 6, 30)) == dt.date(
        2021, 7, 5
    )


@given(rules=rules_strategy, last=past_dates)
def test_quarantine_never_ends_before_the_last_exposure(rules, last):
    assert engine.quarantine_end(rules, last_exposure=last) >= last


def _exposure(last, first=None, start=dt.date(2021, 6, 1), end=dt.date(2021, 6, 12)):
    engine.check_exposure(last_exposure=last, first_exposure=first, infectious_start=start, infectious_end=end, today=TODAY)


def test_an_exposure_inside_the_infectious_period_is_accepted_including_both_ends():
    _exposure(dt.date(2021, 6, 1))
    _exposure(dt.date(2021, 6, 5), first=dt.date(2021, 5, 20))  # only the last exposure has to fall inside
    _exposure(dt.date(2021, 6, 12))


@pytest.mark.parametrize(
    ("last", "first", "field", "words"),
    [
        (dt.date(2021, 5, 31), None, "last_exposure_date", "before the case's infectious period"),
        (dt.date(2021, 6, 13), None, "last_exposure_date", "after the case's infectious period"),
        (TODAY + DAY, None, "last_exposure_date", "future"),
        (dt.date(2021, 6, 5), dt.date(2021, 6, 6), "first_exposure_date", "after the last exposure"),
    ],
)
def test_an_exposure_outside_the_infectious_period_or_in_the_future_is_refused(last, first, field, words):
    with pytest.raises(RuleViolation, match=words) as caught:
        _exposure(last, first=first)
    assert caught.value.field == field


def test_an_exposure_to_a_case_without_known_period_is_only_checked_against_today():
    engine.check_exposure(
        last_exposure=dt.date(2020, 1, 1), first_exposure=None, infectious_start=None, infectious_end=None, today=TODAY
    )


# Transitions


def test_every_listed_transition_is_allowed():
    for from_status, targets in engine.TRANSITIONS.items():
        for to_status in targets:
            engine.check_transition(from_status, to_status)


def test_every_unlisted_transition_is_refused_on_the_status_field():
    for from_status in engine.STATUSES:
        for to_status in engine.STATUSES:
            if to_status in engine.TRANSITIONS[from_status]:
                continue
            with pytest.raises(RuleViolation) as caught:
                engine.check_transition(from_status, to_status)
            assert caught.value.field == "status"


def test_a_closed_case_can_only_be_reopened_as_assigned():
    assert engine.TRANSITIONS["closed"] == frozenset({"assigned"})
    with pytest.raises(RuleViolation):
        engine.check_transition("closed", "new")


def test_an_unknown_status_is_refused():
    with pytest.raises(RuleViolation, match="not a case status"):
        engine.check_transition("new", "vanished")


def test_every_status_has_its_transitions_and_every_target_is_a_status():
    assert set(engine.TRANSITIONS) == set(engine.STATUSES)
    for targets in engine.TRANSITIONS.values():
        assert targets <= set(engine.STATUSES)


# Priority


@pytest.mark.parametrize(
    ("specimen_days_ago", "age", "hospitalized", "congregate", "expected"),
    [
        (1, 30, False, True, 1),  # fresh and congregate: 2 + 2
        (1, 70, False, False, 2),  # fresh and old: 2 + 1
        (3, None, True, False, 2),  # day 3 still counts as fresh
        (1, 30, False, False, 3),  # fresh only
        (5, 30, False, False, 3),  # 4 to 6 days: 1
        (10, 30, False, False, 4),  # stale, low risk
        (10, 80, False, False, 3),  # stale but at high risk
        (None, None, False, False, 4),
    ],
)
def test_priority_puts_fresh_and_high_risk_cases_first(specimen_days_ago, age, hospitalized, congregate, expected):
    specimen = None if specimen_days_ago is None else TODAY - specimen_days_ago * DAY
    assert (
        engine.priority(
            specimen_collection=specimen, today=TODAY, age_years=age, hospitalized=hospitalized, congregate_setting=congregate
        )
        == expected
    )


@given(
    days_ago=st.integers(min_value=0, max_value=400),
    age=st.none() | st.integers(min_value=0, max_value=120),
    hospitalized=st.booleans(),
    congregate=st.booleans(),
)
def test_priority_is_always_between_1_and_4_and_a_fresher_specimen_is_never_less_urgent(days_ago, age, hospitalized, congregate):
    def p(ago):
        return engine.priority(
            specimen_collection=TODAY - ago * DAY,
            today=TODAY,
            age_years=age,
            hospitalized=hospitalized,
            congregate_setting=congregate,
        )

    assert 1 <= p(days_ago) <= 4
    if days_ago > 0:
        assert p(days_ago - 1) <= p(days_ago)

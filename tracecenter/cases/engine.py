"""The public-health rules of a case, in plain Python: no Django, no database.

Guidance changed several times during the pandemic (isolation went from 10 days to
5, quarantine from 14 to 10 to 5), so rules come as dated versions, and a case is
judged by the version in force on its reference date (onset, or specimen
collection when there are no symptoms).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Rules:
    effective_from: dt.date
    days_before_onset: int = 2  # infectious from this many days before symptom onset
    days_before_specimen: int = 2  # ... or before specimen collection when asymptomatic
    isolation_days: int = 10  # isolation ends this many days after onset (or specimen)
    quarantine_days: int = 14  # quarantine ends this many days after last exposure
    test_based_release: bool = False  # release needs negative tests, not only the date
    monitoring_days: int = 14  # daily symptom monitoring of a contact lasts this many days after last exposure

    def __post_init__(self) -> None:
        for name in ("days_before_onset", "days_before_specimen", "isolation_days", "quarantine_days", "monitoring_days"):
            value = getattr(self, name)
            if not 0 <= value <= 60:
                raise ValueError(f"{name} must be between 0 and 60 days, not {value}.")


# What applies where a jurisdiction has configured nothing (CDC guidance of 2020).
DEFAULT_RULES = Rules(effective_from=dt.date(2020, 1, 1))


def rules_in_force(versions: Sequence[Rules], on: dt.date) -> Rules:
    """The newest version whose effective date is on or before `on`."""
    applicable = [v for v in versions if v.effective_from <= on]
    return max(applicable, key=lambda v: v.effective_from) if applicable else DEFAULT_RULES


@dataclasses.dataclass(frozen=True)
class CaseDates:
    reference_date: dt.date
    infectious_start: dt.date
    infectious_end: dt.date
    isolation_end: dt.date


class RuleViolation(ValueError):
    """A broken rule: `code` says which (callers translate it), `field` names the input at fault.

    The message is plain English for logs and tests; `params` fills the translated one.
    """

    def __init__(self, message: str, field: str, *, code: str, params: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.params = params or {}


def reference_date(*, symptom_onset: dt.date | None, specimen_collection: dt.date | None) -> dt.date:
    if symptom_onset is not None:
        return symptom_onset
    if specimen_collection is not None:
        return specimen_collection
    raise RuleViolation(
        "A case needs a symptom onset date or a specimen collection date.", "symptom_onset", code="no_reference_date"
    )


def case_dates(rules: Rules, *, symptom_onset: dt.date | None, specimen_collection: dt.date | None, today: dt.date) -> CaseDates:
    """Infectious period and isolation end of a case.

    With symptoms, counted from onset; without, from specimen collection. The
    infectious period runs to the end of isolation.
    """
    if symptom_onset is not None and symptom_onset > today:
        raise RuleViolation("Symptom onset cannot be in the future.", "symptom_onset", code="onset_in_future")
    if specimen_collection is not None and specimen_collection > today:
        raise RuleViolation("Specimen collection cannot be in the future.", "specimen_collection_date", code="specimen_in_future")
    ref = reference_date(symptom_onset=symptom_onset, specimen_collection=specimen_collection)
    before = rules.days_before_onset if symptom_onset is not None else rules.days_before_specimen
    isolation_end = ref + rules.isolation_days * DAY
    return CaseDates(
        reference_date=ref,
        infectious_start=ref - before * DAY,
        infectious_end=isolation_end,
        isolation_end=isolation_end,
    )


def check_onset_against_release(*, symptom_onset: dt.date | None, released_on: dt.date | None) -> None:
    if symptom_onset is not None and released_on is not None and symptom_onset > released_on:
        raise RuleViolation(
            "Symptom onset cannot be after the case was released from isolation.", "symptom_onset", code="onset_after_release"
        )


def quarantine_end(rules: Rules, *, last_exposure: dt.date) -> dt.date:
    return last_exposure + rules.quarantine_days * DAY


def check_exposure(
    *,
    last_exposure: dt.date,
    first_exposure: dt.date | None,
    infectious_start: dt.date | None,
    infectious_end: dt.date | None,
    today: dt.date,
) -> None:
    """An exposure to a case must be a real date inside the case's infectious period."""
    if last_exposure > today:
        raise RuleViolation("The last exposure cannot be in the future.", "last_exposure_date", code="exposure_in_future")
    if first_exposure is not None and first_exposure > last_exposure:
        raise RuleViolation("The first exposure is after the last exposure.", "first_exposure_date", code="first_after_last")
    if infectious_start is not None and last_exposure < infectious_start:
        raise RuleViolation(
            f"The last exposure is before the case's infectious period (which starts {infectious_start.isoformat()}).",
            "last_exposure_date",
            code="exposure_before_infectious",
            params={"date": infectious_start.isoformat()},
        )
    if infectious_end is not None and last_exposure > infectious_end:
        raise RuleViolation(
            f"The last exposure is after the case's infectious period (which ends {infectious_end.isoformat()}).",
            "last_exposure_date",
            code="exposure_after_infectious",
            params={"date": infectious_end.isoformat()},
        )


# The case lifecycle. A transition not listed is refused, with the reason recorded for every one that is.
STATUSES = (
    "new",
    "assigned",
    "attempting",
    "interviewed",
    "unreachable",
    "refused",
    "in_isolation",
    "released",
    "closed",
)
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "attempting", "interviewed", "closed"}),
    # Not back to "new": "new" is a case nobody has taken yet, which a case with an owner is not.
    "assigned": frozenset({"attempting", "interviewed", "unreachable", "refused", "closed"}),
    "attempting": frozenset({"assigned", "interviewed", "unreachable", "refused", "closed"}),
    "interviewed": frozenset({"in_isolation", "released", "closed"}),
    "unreachable": frozenset({"attempting", "interviewed", "closed"}),
    "refused": frozenset({"attempting", "interviewed", "closed"}),
    "in_isolation": frozenset({"released", "closed"}),
    "released": frozenset({"closed", "in_isolation"}),
    "closed": frozenset({"assigned"}),  # reopened by a supervisor, with a reason
}


def next_statuses(from_status: str) -> list[str]:
    """The statuses a case in `from_status` may move to, in the lifecycle's order: what a status selector offers."""
    allowed = TRANSITIONS.get(from_status, frozenset())
    return [status for status in STATUSES if status in allowed]


def check_transition(from_status: str, to_status: str) -> None:
    if to_status not in STATUSES:
        raise RuleViolation(f"{to_status!r} is not a case status.", "status", code="unknown_status", params={"status": to_status})
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        raise RuleViolation(
            f"A case cannot go from {from_status} to {to_status}.",
            "status",
            code="transition_refused",
            params={"from": from_status, "to": to_status},
        )


def priority(
    *,
    specimen_collection: dt.date | None,
    today: dt.date,
    age_years: int | None,
    hospitalized: bool,
    congregate_setting: bool = False,
) -> int:
    """1 (most urgent) to 4. Fresh cases first: a case reached late has already exposed others.

    Follows the CDC's prioritization for case investigation when staff are short:
    recent specimens, people in congregate settings and those at high risk first.
    """
    score = 0
    if specimen_collection is not None:
        age_days = (today - specimen_collection).days
        score += 2 if age_days <= 3 else 1 if age_days <= 6 else 0
    if congregate_setting:
        score += 2
    if hospitalized or (age_years is not None and age_years >= 65):
        score += 1
    return 1 if score >= 4 else 2 if score >= 3 else 3 if score >= 1 else 4

"""The demo jurisdiction: a state, two counties, their staff, and three weeks of an outbreak.

Everything is created through the services the application itself uses, so demo data
obeys the same rules as real data and is audited like it. Randomness comes from one
random.Random(seed): the same seed gives the same people, cases and contacts. The
story's dates are relative to today: specimens were collected in the last three weeks.

Cases are opened the way real ones are: a positive lab result is recorded, and the
cases app opens the case when the LabResultReceived event is delivered. The demo does
what the workers would, in its own process (core.relay.drain) after each commit; so each
case is built in transactions of its own, and the run as a whole is not wrapped in one.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tracecenter.accounts.models import Jurisdiction, Proficiency, Team, User, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases import engine
from tracecenter.cases.models import Case, CaseStatus, RuleSet, Symptom
from tracecenter.cases.services import CaseFacts, case_assign, case_change_status, case_record_facts
from tracecenter.contacts.models import (
    Attendance,
    Event,
    Exposure,
    ExposureStatus,
    Place,
    PlaceKind,
    Proximity,
    Relationship,
    Setting,
)
from tracecenter.contacts.services import (
    ExposureInput,
    PlaceInput,
    attendance_record,
    event_find_or_create,
    exposure_add,
    exposure_add_secondary,
    exposure_assign,
    exposure_change_status,
    place_find_or_create,
)
from tracecenter.core import clock, relay
from tracecenter.demo import names
from tracecenter.intake.models import LabResult, ResultClass
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.people.models import Household, Person, Sex
from tracecenter.people.normalize import name_key
from tracecenter.people.services import PersonInput, person_create

DEMO_STATE_CODE = "demo-state"
# The demo logins' shared password, printed by `make run`; demo_data refuses to run in production.
DEMO_PASSWORD = "tracecenter-demo"  # noqa: S105
DEFAULT_SEED = 2020
DEFAULT_CASES = 40
MAX_CASES = 2000

DAY = dt.timedelta(days=1)
VALLEY_SHARE = 0.25  # the rest of the people live in Harbor County, where most demo users work
T = TypeVar("T")


class DemoError(Exception):
    """The demo cannot be built here (names taken, hooks not running, ...)."""


# --- The jurisdiction and its staff -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CountySpec:
    key: str
    name: str
    code: str
    team: str


COUNTIES = (
    CountySpec("harbor", "Harbor County", "demo-harbor", "Harbor Response Team"),
    CountySpec("valley", "Valley County", "demo-valley", "Valley Response Team"),
)


@dataclasses.dataclass(frozen=True)
class RuleVersion:
    effective_from: dt.date
    isolation_days: int
    quarantine_days: int
    note: str

    def as_rules(self) -> engine.Rules:
        return engine.Rules(
            effective_from=self.effective_from, isolation_days=self.isolation_days, quarantine_days=self.quarantine_days
        )


RULE_VERSIONS = (
    RuleVersion(dt.date(2020, 1, 1), 10, 14, "CDC guidance of 2020: isolation 10 days, quarantine 14 days"),
    RuleVersion(dt.date(2022, 1, 1), 5, 10, "CDC guidance of December 2021: isolation 5 days, quarantine 10 days"),
)


STATE = "state"  # a DemoUser of the whole state rather than of one county


@dataclasses.dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    county: str
    first_name: str
    last_name: str
    # (ISO 639 code, proficiency), best spoken first: routing offers work in these languages.
    languages: tuple[tuple[str, str], ...] = (("en", Proficiency.NATIVE),)
    on_team: bool = False


ES_EN = (("es", Proficiency.NATIVE), ("en", Proficiency.FLUENT))
VI_EN = (("vi", Proficiency.NATIVE), ("en", Proficiency.FLUENT))
EN_ES = (("en", Proficiency.NATIVE), ("es", Proficiency.CONVERSATIONAL))

DEMO_USERS = (
    DemoUser("investigator", Role.CASE_INVESTIGATOR, "harbor", "Rosa", "Delgado", ES_EN, on_team=True),
    DemoUser("tracer", Role.CONTACT_TRACER, "harbor", "Kevin", "Tran", VI_EN, on_team=True),
    DemoUser("supervisor", Role.SUPERVISOR, "harbor", "Patricia", "Okafor", on_team=True),
    DemoUser("epidemiologist", Role.EPIDEMIOLOGIST, "harbor", "Daniel", "Kim"),
    DemoUser("planner", Role.WORKFORCE_PLANNER, "harbor", "Linda", "Moreau"),
    DemoUser("quality", Role.QUALITY_ANALYST, "harbor", "Samuel", "Reyes", EN_ES),
    DemoUser("admin", Role.ADMINISTRATOR, "harbor", "Grace", "Holloway"),
    DemoUser("auditor", Role.AUDITOR, "harbor", "Martin", "Feld"),
    DemoUser("privacy", Role.PRIVACY_OFFICER, STATE, "Ines", "Varga"),
    DemoUser("tracer.valley", Role.CONTACT_TRACER, "valley", "Lucía", "Herrera", ES_EN, on_team=True),
    DemoUser("supervisor.valley", Role.SUPERVISOR, "valley", "Thomas", "Byrne", on_team=True),
    # The state's feeds (MLLP, files) arrive at state level: someone there reads their reports and reviews matches.
    DemoUser("supervisor.state", Role.SUPERVISOR, STATE, "Nadia", "Rahman"),
    # The state's auditor reads the state-level trail (the feeds, the state's reviews and exports) and the counties'.
    DemoUser("auditor.state", Role.AUDITOR, STATE, "Walter", "Osei"),
)


# --- Places where cases met -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Venue:
    """A public place several cases went to; `shared` venues get one common day so clusters show."""

    key: str
    place: PlaceInput
    county: str
    weekdays: tuple[int, ...]  # Monday is 0
    start: dt.time
    minutes: int
    jitter: int  # minutes of spread around arrival and departure
    share: float  # fraction of interviewed cases that went there
    shared: bool
    min_age: int = 0
    max_age: int = 120
    extra_days: int = 0  # further visits besides the common day
    event_name: str = ""
    contact_chance: float = 0.0  # chance that a case names someone met there
    contact_setting: str = Setting.OTHER
    contact_relationship: str = Relationship.OTHER
    contact_proximity: str = Proximity.WITHIN_6_FEET
    contact_note: str = ""


EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
VENUES = (
    Venue(
        key="choir",
        county="harbor",
        shared=True,
        share=0.3,
        min_age=12,
        place=PlaceInput(
            name="St. Brendan's Church",
            kind=PlaceKind.WORSHIP,
            street="45 Chapel Street",
            city="Port Harbor",
            postal_code="02150",
        ),
        weekdays=(1,),
        start=dt.time(18, 0),
        minutes=120,
        jitter=5,
        event_name="Choir rehearsal",
        contact_chance=0.6,
        contact_setting=Setting.RELIGIOUS,
        contact_proximity=Proximity.SAME_ROOM,
        contact_note="Sings in the same choir",
    ),
    Venue(
        key="warehouse",
        county="valley",
        shared=True,
        share=0.3,
        min_age=18,
        max_age=66,
        place=PlaceInput(
            name="Valley Logistics Warehouse",
            kind=PlaceKind.WORKPLACE,
            street="1200 Industrial Parkway",
            city="Millbrook",
            postal_code="01041",
        ),
        weekdays=(0, 1, 2, 3, 4),
        start=dt.time(7, 0),
        minutes=510,
        jitter=20,
        extra_days=2,
        contact_chance=0.9,
        contact_setting=Setting.WORK,
        contact_relationship=Relationship.COWORKER,
        contact_note="Works the same shift",
    ),
    Venue(
        key="restaurant",
        county="harbor",
        shared=True,
        share=0.25,
        place=PlaceInput(
            name="La Palma Restaurant",
            kind=PlaceKind.RESTAURANT,
            street="310 Harbor Avenue",
            city="Port Harbor",
            postal_code="02150",
        ),
        weekdays=(4, 5),
        start=dt.time(19, 0),
        minutes=90,
        jitter=30,
        contact_chance=0.7,
        contact_setting=Setting.SOCIAL,
        contact_relationship=Relationship.FRIEND,
        contact_note="Had dinner together",
    ),
    Venue(
        key="gym",
        county="harbor",
        shared=True,
        share=0.25,
        min_age=16,
        max_age=75,
        place=PlaceInput(
            name="Harborside Fitness", kind=PlaceKind.GYM, street="88 Water Street", city="Bayview", postal_code="02151"
        ),
        weekdays=EVERY_DAY,
        start=dt.time(17, 30),
        minutes=75,
        jitter=45,
        extra_days=1,
        contact_chance=0.3,
        contact_note="Works out at the same time",
    ),
    Venue(
        key="store",
        county="valley",
        shared=False,
        share=0.2,
        min_age=16,
        place=PlaceInput(
            name="Valley Foods Market", kind=PlaceKind.STORE, street="15 Main Street", city="Valley Springs", postal_code="01040"
        ),
        weekdays=EVERY_DAY,
        start=dt.time(11, 0),
        minutes=40,
        jitter=180,
    ),
)

# --- The plan: what will happen, decided before anything is written ---------------------------

# How many days before today each kind of case had its specimen collected.
SPECIMEN_DAYS_AGO: dict[str, tuple[int, int]] = {
    CaseStatus.NEW: (0, 2),
    CaseStatus.ASSIGNED: (0, 3),
    CaseStatus.ATTEMPTING: (1, 4),
    CaseStatus.UNREACHABLE: (3, 9),
    CaseStatus.REFUSED: (2, 8),
    CaseStatus.INTERVIEWED: (0, 3),
    CaseStatus.IN_ISOLATION: (1, 4),
    CaseStatus.RELEASED: (6, 12),
    CaseStatus.CLOSED: (11, 20),
}
# Share of each status beyond the first one of each.
STATUS_WEIGHTS: dict[str, int] = {
    CaseStatus.NEW: 3,
    CaseStatus.ASSIGNED: 3,
    CaseStatus.ATTEMPTING: 3,
    CaseStatus.UNREACHABLE: 1,
    CaseStatus.REFUSED: 1,
    CaseStatus.INTERVIEWED: 2,
    CaseStatus.IN_ISOLATION: 5,
    CaseStatus.RELEASED: 4,
    CaseStatus.CLOSED: 4,
}
INTERVIEWED_STAGE = (CaseStatus.INTERVIEWED, CaseStatus.IN_ISOLATION, CaseStatus.RELEASED, CaseStatus.CLOSED)
# A contact who later tests positive opens one of these (recent) kinds of case.
FROM_CONTACT_STATUSES = (
    CaseStatus.NEW,
    CaseStatus.ASSIGNED,
    CaseStatus.ATTEMPTING,
    CaseStatus.INTERVIEWED,
    CaseStatus.IN_ISOLATION,
)

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "vi": "Vietnamese",
    "ht": "Haitian Creole",
    "zh": "Chinese",
}

PCR = ("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection")
ANTIGEN = ("94558-4", "SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay")

ATTEMPT_REASONS = (
    "First call: left a voicemail",
    "Called twice, no answer; sent a text message",
    "Number busy; will call again this afternoon",
)


@dataclasses.dataclass
class PersonPlan:
    data: PersonInput
    age: int


@dataclasses.dataclass
class HouseholdPlan:
    county: str
    language: str
    members: list[PersonPlan]
    index: int  # the member who tests positive

    @property
    def index_age(self) -> int:
        return self.members[self.index].age


@dataclasses.dataclass
class Visit:
    venue: Venue
    day: dt.date
    arrived: dt.time
    left: dt.time


@dataclasses.dataclass
class CasePlan:
    number: int
    status: str
    household: HouseholdPlan
    specimen: dt.date
    onset: dt.date | None
    symptoms: list[str]
    hospitalized: bool
    congregate: bool
    antigen_first: bool
    entered_by_staff: bool
    from_contact: bool = False
    visits: list[Visit] = dataclasses.field(default_factory=list)

    def infectious_period(self) -> tuple[dt.date, dt.date]:
        reference = self.onset or self.specimen
        rules = engine.rules_in_force([v.as_rules() for v in RULE_VERSIONS], reference)
        dates = engine.case_dates(
            rules, symptom_onset=self.onset, specimen_collection=self.specimen, today=max(reference, self.specimen)
        )
        return dates.infectious_start, dates.infectious_end

    def visit_days(self, yesterday: dt.date) -> list[dt.date]:
        """Days of the infectious period on which the case can have been out (not today: the day is not over)."""
        start, end = self.infectious_period()
        return [start + k * DAY for k in range((min(end, yesterday) - start).days + 1)]

    def venues(self) -> list[Venue]:
        seen: list[Venue] = []
        for visit in self.visits:
            if visit.venue not in seen:
                seen.append(visit.venue)
        return seen


@dataclasses.dataclass(frozen=True)
class ExposureNote:
    """What the builder remembers of a contact, to make a later case of them."""

    exposure_id: int
    person_id: int
    last_exposure: dt.date
    quarantine_end: dt.date
    status: str


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalpha())


def _clamp(day: dt.date, low: dt.date, high: dt.date) -> dt.date:
    return max(low, min(day, high))


class DemoBuilder:
    def __init__(self, *, cases: int, seed: int, log: Callable[[str], None] | None = None) -> None:
        if not 1 <= cases <= MAX_CASES:
            raise DemoError(f"The number of cases must be between 1 and {MAX_CASES}.")
        self.n = cases
        # Seeded, so that a seed gives the same demo data again; it draws made-up people, never a secret.
        self.rng = random.Random(seed)  # noqa: S311
        self.log = log or (lambda _message: None)
        self.today = clock.today()
        self.yesterday = self.today - DAY
        local = list(names.AREA_CODES[:9])
        self.phones = [f"({area}) 555-01{k:02d}" for area in local for k in range(100)]
        self.rng.shuffle(self.phones)
        others = [f"({area}) 555-01{k:02d}" for area in names.AREA_CODES[9:] for k in range(100)]
        self.rng.shuffle(others)
        self.phones += others
        self.phone_next = 0
        self.emails: set[str] = set()
        self.identities: set[tuple[str, ...]] = set()
        self.case_person_ids: set[int] = set()
        self.pools: dict[str, list[int]] = {venue.key: [] for venue in VENUES}
        self.exposure_log: list[ExposureNote] = []
        self.investigator_open = 0

    # -- small random helpers ------------------------------------------------------------------

    def _pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def _weighted(self, pairs: Sequence[tuple[T, int]]) -> T:
        return self.rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]

    def _phone(self) -> str:
        # Cycles through the fictional range; identity checks keep a reused number from merging two people.
        phone = self.phones[self.phone_next % len(self.phones)]
        self.phone_next += 1
        return phone

    def _email(self, first: str, last: str) -> str:
        base = f"{_ascii(first)}.{_ascii(last)}"
        address = f"{base}@example.org"
        while address in self.emails:
            address = f"{base}{self.rng.randint(2, 999)}@example.org"
        self.emails.add(address)
        return address

    def _sex(self) -> str:
        return self._weighted(((Sex.FEMALE, 49), (Sex.MALE, 49), (Sex.OTHER, 1), (Sex.UNKNOWN, 1)))

    def _first_name(self, language: str, sex: str) -> str:
        if sex == Sex.FEMALE or (sex not in (Sex.FEMALE, Sex.MALE) and self.rng.random() < 0.5):
            return self._pick(names.FEMALE_FIRST[language])
        return self._pick(names.MALE_FIRST[language])

    def _last_name(self, language: str) -> str:
        if language == "en" and self.rng.random() < 0.2:
            return self._pick(names.LAST["es"])
        return self._pick(names.LAST[language])

    def _birth_date(self, age: int) -> dt.date:
        return self.today - dt.timedelta(days=age * 365 + age // 4 + self.rng.randint(0, 364))

    def _is_new_identity(self, first: str, last: str, dob: dt.date | None, phones: list[str]) -> bool:
        """Two demo people never share name and birth date, or name and phone: that would make them one person."""
        keys = [(name_key(first), name_key(last), dob.isoformat())] if dob else []
        keys += [(name_key(first), name_key(last), phone) for phone in phones]
        if any(key in self.identities for key in keys):
            return False
        self.identities.update(keys)
        return True

    # -- planning ------------------------------------------------------------------------------

    def _resident(self, household: dict[str, Any], family: str, age: int, sex: str) -> PersonPlan:
        language = household["language"]
        phones = [self._phone()] if age >= 14 and self.rng.random() < 0.9 else []
        for attempt in range(50):
            first = self._first_name(language, sex)
            dob = self._birth_date(age)
            if first in household["first_names"]:
                continue  # two Lucas Barbosas under one roof confuse everyone
            if self._is_new_identity(first, family, dob, phones):
                break
            if attempt >= 10:
                family = self._last_name(language)
        household["first_names"].append(first)
        emails = [self._email(first, family)] if age >= 16 and self.rng.random() < 0.7 else []
        data = PersonInput(
            first_name=first,
            last_name=family,
            date_of_birth=dob,
            sex=sex,
            preferred_language=language,
            street=household["street"],
            city=household["city"],
            state="MA",
            postal_code=household["postal_code"],
            phones=phones,
            emails=emails,
        )
        return PersonPlan(data=data, age=age)

    def _household_plan(self, county: str) -> HouseholdPlan:
        language = self._weighted(names.LANGUAGE_WEIGHTS)
        size = self._weighted(((1, 25), (2, 30), (3, 20), (4, 15), (5, 10)))
        city, postal_code = self._pick(names.TOWNS[county])
        street = f"{self.rng.randint(2, 980)} {self._pick(names.STREETS)}"
        if self.rng.random() < 0.3:
            street += f", Apt {self.rng.randint(1, 12)}"
        home: dict[str, Any] = {
            "language": language,
            "street": street,
            "city": city,
            "postal_code": postal_code,
            "first_names": [],
        }
        family = self._last_name(language)
        head_age = self.rng.randint(22, 78)
        head_sex = self._weighted(((Sex.FEMALE, 50), (Sex.MALE, 50)))
        members = [self._resident(home, family, head_age, head_sex)]
        if size >= 2:
            partner_age = max(19, min(95, head_age + self.rng.randint(-6, 6)))
            partner_sex = Sex.MALE if head_sex == Sex.FEMALE else Sex.FEMALE
            if self.rng.random() < 0.1:
                partner_sex = head_sex
            partner_family = family if self.rng.random() < 0.7 else self._last_name(language)
            members.append(self._resident(home, partner_family, partner_age, partner_sex))
        while len(members) < size:
            if head_age < 50:
                age = self.rng.randint(1, max(1, min(17, head_age - 18)))
            elif head_age < 65 or self.rng.random() < 0.5:
                age = self.rng.randint(18, head_age - 20)
            else:
                age = self.rng.randint(1, 17)  # a grandchild
            members.append(self._resident(home, family, age, self._sex()))
        index = 0 if self.rng.random() < 0.75 else self.rng.randrange(len(members))
        return HouseholdPlan(county=county, language=language, members=members, index=index)

    def _plan_case(self, number: int, status: str) -> CasePlan:
        county = "valley" if self.rng.random() < VALLEY_SHARE else "harbor"
        household = self._household_plan(county)
        low, high = SPECIMEN_DAYS_AGO[status]
        days_ago = self.rng.randint(low, high)
        specimen = self.today - days_ago * DAY
        onset: dt.date | None = None
        symptoms: list[str] = []
        if self.rng.random() < 0.85:
            max_lag = 3
            if status == CaseStatus.IN_ISOLATION:
                max_lag = min(3, 5 - days_ago)  # still isolating today
            elif status == CaseStatus.INTERVIEWED:
                max_lag = 2
            onset = specimen - self.rng.randint(0, max_lag) * DAY
            symptoms = self.rng.sample(list(Symptom.values), k=self.rng.randint(2, 5))
        age = household.index_age
        hospitalized = onset is not None and self.rng.random() < (0.3 if age >= 65 else 0.04)
        return CasePlan(
            number=number,
            status=status,
            household=household,
            specimen=specimen,
            onset=onset,
            symptoms=symptoms,
            hospitalized=hospitalized,
            congregate=self.rng.random() < 0.06,
            antigen_first=self.rng.random() < 0.2,
            entered_by_staff=self.rng.random() < 0.2,
        )

    def _visit(self, venue: Venue, day: dt.date) -> Visit:
        start = dt.datetime.combine(day, venue.start)
        arrived = start + dt.timedelta(minutes=5 * round(self.rng.randint(-venue.jitter, venue.jitter) / 5))
        stay = venue.minutes + 5 * round(self.rng.randint(-venue.jitter // 2, venue.jitter // 2) / 5)
        left = arrived + dt.timedelta(minutes=max(15, stay))
        return Visit(venue=venue, day=day, arrived=arrived.time(), left=left.time())

    def _plan_visits(self, plans: list[CasePlan]) -> None:
        interviewed = [p for p in plans if p.status in INTERVIEWED_STAGE and not p.from_contact]
        for venue in VENUES:
            eligible = [p for p in interviewed if len(p.venues()) < 2 and venue.min_age <= p.household.index_age <= venue.max_age]
            if not eligible:
                continue
            if not venue.shared:
                for plan in eligible:
                    days = plan.visit_days(self.yesterday)
                    if self.rng.random() < venue.share and days:
                        plan.visits.append(self._visit(venue, self._pick(days)))
                continue
            # The common day: the one inside the most infectious periods (the latest of equals).
            candidates = [self.yesterday - k * DAY for k in range(28)]
            candidates = [d for d in candidates if d.weekday() in venue.weekdays]
            days_of = {p.number: p.visit_days(self.yesterday) for p in eligible}
            anchor = max(candidates, key=lambda d: (sum(1 for p in eligible if d in days_of[p.number]), d))
            members = [p for p in eligible if anchor in days_of[p.number]]
            target = max(2, round(len(interviewed) * venue.share))
            chosen = self.rng.sample(members, min(target, len(members)))
            for plan in sorted(chosen, key=lambda p: p.number):
                plan.visits.append(self._visit(venue, anchor))
                others = [d for d in days_of[plan.number] if d != anchor and d.weekday() in venue.weekdays]
                for day in sorted(self.rng.sample(others, min(venue.extra_days, len(others)))):
                    plan.visits.append(self._visit(venue, day))

    def plan(self) -> list[CasePlan]:
        statuses = list(CaseStatus.values)
        self.rng.shuffle(statuses)
        if self.n < len(statuses):
            statuses = statuses[: self.n]
        else:
            weights = list(STATUS_WEIGHTS.items())
            statuses += [self._weighted(weights) for _ in range(self.n - len(statuses))]
        plans = [self._plan_case(number, status) for number, status in enumerate(statuses)]
        plans.sort(key=lambda p: (p.specimen, p.number))  # oldest first: contacts exist before they fall ill
        recent = [p for p in plans if p.status in FROM_CONTACT_STATUSES and (self.today - p.specimen).days <= 4]
        for plan in self.rng.sample(recent, min(self.n // 8, len(recent))):
            plan.from_contact = True
        self._plan_visits(plans)
        return plans

    # -- the jurisdiction ----------------------------------------------------------------------

    def setup(self) -> None:
        with transaction.atomic():
            usernames = [u.username for u in DEMO_USERS]
            taken = sorted(User.objects.filter(username__in=usernames).values_list("username", flat=True))
            if taken:
                raise DemoError(f"These user names are already taken: {', '.join(taken)}. Run the demo on an empty database.")
            codes = [DEMO_STATE_CODE] + [c.code for c in COUNTIES]
            if Jurisdiction.objects.filter(code__in=codes).exists():
                raise DemoError("A demo jurisdiction code is already taken. Run the demo on an empty database.")
            # The demo calls at any hour, so that routing can be tried whenever someone runs it; a real
            # jurisdiction sets its calling hours on its page (default 09:00-21:00, the person's local time).
            hours = {"calling_from": dt.time(0, 0), "calling_until": dt.time(23, 59, 59)}
            self.state = Jurisdiction.objects.create(name="Demo State", code=DEMO_STATE_CODE, **hours)
            self.counties = {
                c.key: Jurisdiction.objects.create(name=c.name, code=c.code, parent=self.state, **hours) for c in COUNTIES
            }
            self.county_key = {j.pk: key for key, j in self.counties.items()}
            teams = {c.key: Team.objects.create(name=c.team, jurisdiction=self.counties[c.key]) for c in COUNTIES}
            for version in RULE_VERSIONS:
                RuleSet.objects.create(
                    jurisdiction=self.state,
                    effective_from=version.effective_from,
                    isolation_days=version.isolation_days,
                    quarantine_days=version.quarantine_days,
                    note=version.note,
                )
            self.users: dict[str, User] = {}
            # One hash for the one published password (Argon2 takes a good part of a second per hash);
            # make_password, like set_password, does not apply the password validators.
            password = make_password(DEMO_PASSWORD)
            for spec in DEMO_USERS:
                user = User(
                    username=spec.username,
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    email=f"{spec.username}@example.org",
                    role=spec.role,
                    jurisdiction=self.state if spec.county == STATE else self.counties[spec.county],
                    team=teams[spec.county] if spec.on_team else None,
                    password=password,
                )
                user.save()
                demo_authenticator(user)
                UserLanguage.objects.bulk_create(
                    UserLanguage(user=user, language=code, proficiency=proficiency) for code, proficiency in spec.languages
                )
                audit_record(
                    actor=None,
                    action=Action.CREATE,
                    object_type="user",
                    object_id=user.pk,
                    jurisdiction_id=user.jurisdiction_id,
                    fields=["username", "role", "jurisdiction", "password", "languages", "authenticator"],
                    detail="demo data",
                )
                self.users[spec.username] = user

    # -- building cases ------------------------------------------------------------------------

    def _supervisor(self, county: str) -> User:
        return self.users["supervisor" if county == "harbor" else "supervisor.valley"]

    def _assignee(self, county: str, status: str) -> User:
        if county == "valley":
            return self.users["tracer.valley"]
        stays_open = status != CaseStatus.CLOSED
        if (stays_open and self.investigator_open < 3) or self.rng.random() < 0.75:
            self.investigator_open += int(stays_open)
            return self.users["investigator"]
        return self.users["tracer"]

    def _lab_actor(self, plan: CasePlan, county: str) -> User | None:
        if not plan.entered_by_staff:
            return None  # an electronic lab report
        return self.users["investigator" if county == "harbor" else "tracer.valley"]

    def _lab(
        self, person: Person, actor: User | None, *, result: str, specimen: dt.date, test: tuple[str, str], result_days: int = 1
    ) -> LabResult:
        return lab_result_record(
            actor=actor,
            person=person,
            source=LabResult.Source.MANUAL if actor else LabResult.Source.API,
            data=LabResultInput(
                specimen_collection_date=specimen,
                test_loinc=test[0],
                test_name=test[1],
                result=result,
                result_date=min(self.today, specimen + result_days * DAY),
                performing_lab=self._pick(names.PERFORMING_LABS),
                ordering_provider=self._pick(names.ORDERING_PROVIDERS),
                ordering_facility=self._pick(names.ORDERING_FACILITIES),
            ),
        )

    def _create_household(self, plan: HouseholdPlan, actor: User | None) -> list[Person]:
        county = self.counties[plan.county]
        household = Household.objects.create(jurisdiction=county)
        return [person_create(actor=actor, jurisdiction=county, data=m.data, household=household) for m in plan.members]

    def _source_exposure(self, plan: CasePlan) -> ExposureNote | None:
        """A contact of an earlier case whose quarantine this positive falls in."""
        eligible = [
            e
            for e in self.exposure_log
            if e.person_id not in self.case_person_ids
            and e.status != ExposureStatus.RELEASED
            and e.last_exposure <= plan.specimen - 2 * DAY
            and e.quarantine_end >= plan.specimen
        ]
        return self._pick(eligible) if eligible else None

    def build_case(self, plan: CasePlan) -> Case:
        source = self._source_exposure(plan) if plan.from_contact else None
        with transaction.atomic():
            if source is not None:
                person = Person.objects.select_related("household").get(pk=source.person_id)
                members = list(person.household.members.order_by("pk")) if person.household else [person]
                county = self.county_key[person.jurisdiction_id]
            else:
                county = plan.household.county
                members = self._create_household(plan.household, self._lab_actor(plan, county))
                person = members[plan.household.index]
            actor = self._lab_actor(plan, county)
            first = self._lab(
                person,
                actor,
                result=ResultClass.POSITIVE,
                specimen=plan.specimen,
                test=ANTIGEN if plan.antigen_first else PCR,
                result_days=0 if plan.antigen_first else 1,
            )
            if plan.antigen_first:  # confirmed by PCR the next day: the same case, a second result
                self._lab(person, actor, result=ResultClass.POSITIVE, specimen=min(self.today, plan.specimen + DAY), test=PCR)
        # Committed: what a worker does next (open the case, link it to the exposure) is done here and now.
        relay.drain()
        case = Case.objects.select_related("person", "jurisdiction").filter(lab_results=first).first()
        if case is None:
            raise DemoError("No case was opened for a positive lab result: its event was not delivered.")
        if (
            source is not None
            and not Exposure.objects.filter(
                pk=source.exposure_id, status=ExposureStatus.BECAME_CASE, resulting_case=case
            ).exists()
        ):
            raise DemoError(f"Case {case.pk} was not linked to the exposure {source.exposure_id} of its person.")
        self.case_person_ids.add(person.pk)
        with transaction.atomic():
            self._work(case, plan, members, source, county)
        return case

    def _work(self, case: Case, plan: CasePlan, members: list[Person], source: ExposureNote | None, county: str) -> None:
        status = plan.status
        if status == CaseStatus.NEW:
            return
        supervisor = self._supervisor(county)
        worker = self._assignee(county, status)
        case_assign(actor=supervisor, case=case, assignee=worker)
        if status == CaseStatus.ASSIGNED:
            return
        if status in (CaseStatus.ATTEMPTING, CaseStatus.UNREACHABLE, CaseStatus.REFUSED) or self.rng.random() < 0.6:
            case_change_status(actor=worker, case=case, to_status=CaseStatus.ATTEMPTING, reason=self._pick(ATTEMPT_REASONS))
        if status == CaseStatus.UNREACHABLE:
            case_change_status(
                actor=worker,
                case=case,
                to_status=CaseStatus.UNREACHABLE,
                reason="No answer to three calls and a text over two days; no working e-mail",
            )
        if status == CaseStatus.REFUSED:
            case_change_status(
                actor=worker,
                case=case,
                to_status=CaseStatus.REFUSED,
                reason="Declined the interview; was given the isolation guidance",
            )
        if status not in INTERVIEWED_STAGE:
            return
        self._interview(case, plan, members, worker, supervisor, source)
        case_change_status(actor=worker, case=case, to_status=CaseStatus.INTERVIEWED, reason="Interview completed by phone")
        if status == CaseStatus.INTERVIEWED:
            return
        if case.isolation_end is None:  # an interviewed case has its dates
            raise RuntimeError(f"case {case.pk} was interviewed without an isolation end")
        case_change_status(
            actor=worker,
            case=case,
            to_status=CaseStatus.IN_ISOLATION,
            reason=f"Isolating at home until {case.isolation_end.isoformat()}",
        )
        if status == CaseStatus.IN_ISOLATION:
            return
        case_change_status(
            actor=worker,
            case=case,
            to_status=CaseStatus.RELEASED,
            on=min(case.isolation_end, self.today),
            reason="Isolation period over and symptoms improving",
        )
        if status == CaseStatus.RELEASED:
            return
        case_change_status(
            actor=supervisor, case=case, to_status=CaseStatus.CLOSED, reason="Released from isolation; contacts followed up"
        )

    def _interview(
        self, case: Case, plan: CasePlan, members: list[Person], worker: User, supervisor: User, source: ExposureNote | None
    ) -> None:
        onset = plan.onset
        if onset is not None and source is not None:
            onset = max(onset, source.last_exposure + 2 * DAY)  # fell ill after the exposure that infected them
        language = members[0].preferred_language if members else "en"
        notes = f"Interview in {LANGUAGE_NAMES.get(language, 'English')}. Household of {len(members)}."
        if plan.hospitalized:
            notes += " Admitted to hospital before the interview."
        case_record_facts(
            actor=worker,
            case=case,
            facts=CaseFacts(
                symptom_onset=onset,
                asymptomatic=onset is None,
                symptoms=plan.symptoms if onset else [],
                hospitalized=plan.hospitalized,
                congregate_setting=plan.congregate,
                notes=notes,
            ),
        )
        for visit in plan.visits:
            place = place_find_or_create(actor=worker, jurisdiction=self.counties[visit.venue.county], data=visit.venue.place)
            arrived = timezone.make_aware(dt.datetime.combine(visit.day, visit.arrived))
            left = timezone.make_aware(dt.datetime.combine(visit.day, visit.left))
            event = None
            if visit.venue.event_name:
                starts = timezone.make_aware(dt.datetime.combine(visit.day, visit.venue.start))
                event = event_find_or_create(
                    place=place,
                    name=visit.venue.event_name,
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(minutes=visit.venue.minutes),
                )
            attendance_record(actor=worker, case=case, place=place, event=event, arrived_at=arrived, left_at=left)
        exposures = self._name_contacts(case, plan, members, worker)
        case.interviewed_at = clock.now()
        case.save(update_fields=["interviewed_at", "updated_at"])
        tracer = self.users["tracer"]
        for exposure in exposures:
            if case.owner != tracer and self.county_key[case.jurisdiction_id] == "harbor" and self.rng.random() < 0.85:
                exposure_assign(actor=supervisor, exposure=exposure, assignee=tracer)
        secondary: list[Exposure] = []
        for exposure in exposures:
            if len(secondary) < 2 and self.rng.random() < 0.2:
                secondary.append(self._contact_of_contact(exposure, worker))
        for exposure in exposures + secondary:
            self._follow_up(exposure, plan.status, worker)
            self.exposure_log.append(
                ExposureNote(
                    exposure.pk, exposure.person_id, exposure.last_exposure_date, exposure.quarantine_end, exposure.status
                )
            )
        for exposure in exposures:  # household members were tested too; most were negative
            if exposure.setting == Setting.HOUSEHOLD and self.rng.random() < 0.4:
                specimen = min(self.today, plan.specimen + self.rng.randint(1, 3) * DAY)
                self._lab(exposure.person, None, result=ResultClass.NEGATIVE, specimen=specimen, test=PCR)

    def _acquaintance(self, language: str | None = None) -> PersonInput:
        """Someone a case names: a name and a phone number, rarely more."""
        language = language or self._weighted(names.LANGUAGE_WEIGHTS)
        sex = self._sex()
        phones = [self._phone()] if self.rng.random() < 0.85 else []
        dob = self._birth_date(self.rng.randint(18, 70)) if self.rng.random() < 0.3 else None
        for _attempt in range(50):
            first, last = self._first_name(language, sex), self._last_name(language)
            if self._is_new_identity(first, last, dob, phones):
                break
        emails = [self._email(first, last)] if self.rng.random() < 0.2 else []
        return PersonInput(
            first_name=first,
            last_name=last,
            date_of_birth=dob,
            sex=sex,
            preferred_language=language,
            phones=phones,
            emails=emails,
        )

    def _name_contacts(self, case: Case, plan: CasePlan, members: list[Person], worker: User) -> list[Exposure]:
        if case.infectious_start is None or case.infectious_end is None:  # an interviewed case has its dates
            raise RuntimeError(f"case {case.pk} has no infectious period")
        start, end = case.infectious_start, min(case.infectious_end, self.today)
        named: list[tuple[Person | PersonInput, ExposureInput, str]] = []
        chosen: list[int] = []
        for member in members:
            if member.pk == case.person_id or member.pk in self.case_person_ids:
                continue
            last = _clamp(plan.specimen + self.rng.randint(0, 2) * DAY, start, end)
            named.append(
                (
                    member,
                    ExposureInput(
                        last_exposure_date=last,
                        first_exposure_date=start,
                        setting=Setting.HOUSEHOLD,
                        proximity=self._pick([Proximity.PHYSICAL, Proximity.WITHIN_6_FEET]),
                        relationship=Relationship.HOUSEHOLD_MEMBER,
                    ),
                    "",
                )
            )
            chosen.append(member.pk)
        for venue in plan.venues():
            if not venue.contact_chance or self.rng.random() >= venue.contact_chance:
                continue
            days = sorted(v.day for v in plan.visits if v.venue == venue)
            for _ in range(2 if venue.key == "warehouse" and self.rng.random() < 0.5 else 1):
                pool = [
                    pid
                    for pid in self.pools[venue.key]
                    if pid not in self.case_person_ids and pid != case.person_id and pid not in chosen
                ]
                person: Person | PersonInput
                if pool and self.rng.random() < 0.5:
                    person = Person.objects.get(pk=self._pick(pool))  # someone another case named too
                    chosen.append(person.pk)
                else:
                    person = self._acquaintance()
                named.append(
                    (
                        person,
                        ExposureInput(
                            last_exposure_date=_clamp(days[-1], start, end),
                            first_exposure_date=_clamp(days[0], start, end) if venue.key == "warehouse" else None,
                            setting=venue.contact_setting,
                            proximity=venue.contact_proximity,
                            duration_minutes=venue.minutes,
                            relationship=venue.contact_relationship,
                            notes=venue.contact_note,
                        ),
                        venue.key,
                    )
                )
        friends = self._weighted(((0, 40), (1, 40), (2, 20)))
        for _ in range(max(friends, 0 if named else 1)):
            relationship = Relationship.FAMILY if self.rng.random() < 0.25 else Relationship.FRIEND
            named.append(
                (
                    self._acquaintance(plan.household.language),
                    ExposureInput(
                        last_exposure_date=start + self.rng.randint(0, (end - start).days) * DAY,
                        setting=Setting.SOCIAL,
                        proximity=Proximity.WITHIN_6_FEET,
                        duration_minutes=15 * self.rng.randint(2, 16),
                        relationship=relationship,
                    ),
                    "",
                )
            )
        exposures: list[Exposure] = []
        for person, data, pool_key in named[:5]:
            exposure = exposure_add(actor=worker, case=case, person=person, data=data)
            exposures.append(exposure)
            if pool_key and exposure.person_id not in self.pools[pool_key]:
                self.pools[pool_key].append(exposure.person_id)
        return exposures

    def _contact_of_contact(self, parent: Exposure, worker: User) -> Exposure:
        last = min(self.today, parent.last_exposure_date + self.rng.randint(1, 3) * DAY)
        if parent.setting == Setting.HOUSEHOLD:
            setting, relationship = Setting.WORK, Relationship.COWORKER
        else:
            setting, relationship = Setting.HOUSEHOLD, Relationship.HOUSEHOLD_MEMBER
        return exposure_add_secondary(
            actor=parent.owner or worker,
            parent=parent,
            person=self._acquaintance(),
            data=ExposureInput(
                last_exposure_date=last, setting=setting, relationship=relationship, proximity=Proximity.WITHIN_6_FEET
            ),
        )

    def _follow_up(self, exposure: Exposure, case_status: str, worker: User) -> None:
        """Contacts of older cases have been called, monitored, and some released from quarantine."""
        draw = self.rng.random()
        path: list[str]
        if case_status == CaseStatus.INTERVIEWED:
            path = [] if draw < 0.5 else [ExposureStatus.NOTIFIED]
        elif draw < 0.1:
            path = [ExposureStatus.UNREACHABLE]
        elif case_status == CaseStatus.IN_ISOLATION:
            path = [ExposureStatus.NOTIFIED] if draw < 0.35 else [ExposureStatus.NOTIFIED, ExposureStatus.MONITORING]
        elif exposure.quarantine_end <= self.today:
            path = [ExposureStatus.NOTIFIED, ExposureStatus.MONITORING, ExposureStatus.RELEASED]
        else:
            path = [ExposureStatus.NOTIFIED, ExposureStatus.MONITORING]
        for to_status in path:
            exposure_change_status(
                actor=exposure.owner or worker, exposure=exposure, to_status=to_status, reason="Follow-up call"
            )

    def build_negatives(self) -> None:
        """People tested in the same weeks who were negative: most tests are."""
        with transaction.atomic():
            for _ in range(max(2, self.n // 4)):
                county = "valley" if self.rng.random() < VALLEY_SHARE else "harbor"
                plan = self._household_plan(county)
                members = self._create_household(plan, None)
                specimen = self.today - self.rng.randint(0, 20) * DAY
                self._lab(members[plan.index], None, result=ResultClass.NEGATIVE, specimen=specimen, test=PCR)

    def run(self) -> None:
        if transaction.get_connection().in_atomic_block:
            raise DemoError("demo_data must run outside of a transaction: cases are opened once results are committed.")
        plans = self.plan()
        self.setup()
        for count, plan in enumerate(plans, start=1):
            case = self.build_case(plan)
            self.log(f"case {count}/{len(plans)}: {case.status}")
        self.build_negatives()


def demo_exists() -> bool:
    return Jurisdiction.objects.filter(code=DEMO_STATE_CODE).exists()


def build_demo(*, cases: int = DEFAULT_CASES, seed: int = DEFAULT_SEED, log: Callable[[str], None] | None = None) -> None:
    DemoBuilder(cases=cases, seed=seed, log=log).run()


def demo_authenticator(user: User) -> TOTPDevice:
    """The demo user's authenticator (TOTP) secret, made when missing: the demo accounts sign in with a password
    and a code like every account, and their secrets are printed beside the logins (demo_data) so that a new
    user needs nothing but `make run` and an authenticator app (or `manage.py demo_code`)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)


def totp_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed: base32, without padding."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def demo_logins() -> list[tuple[str, str, str, str, str]]:
    """(username, role, jurisdiction, password, TOTP secret) of the demo users that exist."""
    found = User.objects.filter(username__in=[d.username for d in DEMO_USERS]).select_related("jurisdiction")
    users = {u.username: u for u in found}
    return [
        (
            u.username,
            str(Role(u.role).label),
            u.jurisdiction.name if u.jurisdiction else "",
            DEMO_PASSWORD,
            totp_secret(demo_authenticator(u)),
        )
        for spec in DEMO_USERS
        if (u := users.get(spec.username)) is not None
    ]


def is_demo_user(username: str) -> bool:
    return any(spec.username == username for spec in DEMO_USERS)


def demo_summary() -> dict[str, Any]:
    """Counts of what the demo jurisdiction holds (empty when there is none)."""
    state = Jurisdiction.objects.filter(code=DEMO_STATE_CODE).first()
    if state is None:
        return {}
    within = {"jurisdiction__path__startswith": state.path}
    exposures = Exposure.objects.filter(**within)
    return {
        "counties": Jurisdiction.objects.filter(parent=state).count(),
        "teams": Team.objects.filter(**within).count(),
        "rule_sets": RuleSet.objects.filter(**within).count(),
        "users": User.objects.filter(**within).count(),
        "households": Household.objects.filter(**within).count(),
        "persons": Person.objects.filter(**within).count(),
        "lab_results": dict(sorted(Counter(LabResult.objects.filter(**within).values_list("result", flat=True)).items())),
        "cases": Case.objects.filter(**within).count(),
        "cases_by_status": {
            status: count for status in CaseStatus.values if (count := Case.objects.filter(**within, status=status).count())
        },
        "cases_from_contacts": Case.objects.filter(**within, source_exposures__isnull=False).distinct().count(),
        "contacts": exposures.filter(case__isnull=False).count(),
        "contacts_of_contacts": exposures.filter(parent_exposure__isnull=False).count(),
        "contacts_by_status": dict(sorted(Counter(exposures.values_list("status", flat=True)).items())),
        "places": Place.objects.filter(**within).count(),
        "events": Event.objects.filter(place__jurisdiction__path__startswith=state.path).count(),
        "attendances": Attendance.objects.filter(**within).count(),
    }

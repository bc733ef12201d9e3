"""What the API reads and writes.

Output schemas list their fields one by one: blind indexes, ciphertext and the
internals of a record never reach a response by accident. Input schemas refuse
unknown fields, control characters and oversized values before any service runs;
the services then apply the rules of the domain.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from tracecenter.cases.models import Case, CaseStatus
from tracecenter.contacts.models import ExposureStatus, Proximity, Relationship, Setting
from tracecenter.contacts.services import MAX_DURATION_MINUTES, source_exposure_of
from tracecenter.intake.models import ResultClass
from tracecenter.people.models import ContactPoint, Person, Sex

MAX_ID = 2**63 - 1
OLDEST_DATE = dt.date(1900, 1, 1)
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _no_control_characters(value: str) -> str:
    """Refuse NUL and other control characters, and lone surrogates (which cannot be stored)."""
    for ch in value:
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in {"Cc", "Cs"}:
            raise ValueError("Control characters are not allowed.")
    return value


def _iso_date_text(value: object) -> object:
    """A date in a body is the text YYYY-MM-DD, as the schema says, and nothing else.

    Left to itself pydantic also reads a number, or text of digits, as seconds since 1970: a date of birth
    sent as 0 or "0" was stored as 1 January 1970, a date nobody gave.
    """
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError("Give the date as YYYY-MM-DD.")


def _json_number(value: object) -> object:
    """A number in a body is a JSON number: pydantic would otherwise take true as 1 and "7" as 7."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Give a whole number.")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]
ShortText = Annotated[Text, Field(max_length=200)]
# In the path and the query string every value is text, so an id there is read from its digits.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# In a JSON body an id is a JSON number (7, or 7.0: JSON does not tell them apart).
BodyId = Annotated[int, BeforeValidator(_json_number), Field(ge=1, le=MAX_ID)]
PastDate = Annotated[dt.date, BeforeValidator(_iso_date_text), Field(ge=OLDEST_DATE)]


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


# Inputs ----------------------------------------------------------------------


class PersonIn(InputSchema):
    first_name: ShortText
    last_name: ShortText
    middle_name: ShortText = ""
    date_of_birth: PastDate | None = None
    sex: Sex = Sex.UNKNOWN
    preferred_language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,4})?$")] = "en"
    street: ShortText = ""
    city: ShortText = ""
    state: Annotated[Text, Field(max_length=2)] = ""
    postal_code: Annotated[Text, Field(max_length=10)] = ""
    phones: Annotated[list[Annotated[Text, Field(max_length=40)]], Field(max_length=10)] = []
    emails: Annotated[list[Annotated[Text, Field(max_length=254)]], Field(max_length=10)] = []
    notes: Annotated[Text, Field(max_length=10_000)] = ""


class PersonCreateIn(PersonIn):
    jurisdiction_id: BodyId | None = Field(None, description="Defaults to the jurisdiction of the user.")


class PersonSearchIn(InputSchema):
    """Search by name (and birth date): sent in the body, never in the address."""

    last_name: ShortText
    first_name: ShortText = ""
    date_of_birth: PastDate | None = None


class LabResultIn(InputSchema):
    specimen_collection_date: PastDate
    test_loinc: Annotated[Text, Field(max_length=10, description="LOINC code with its check digit, such as 94500-6.")]
    result: ResultClass
    test_name: ShortText = ""
    result_date: PastDate | None = None
    performing_lab: ShortText = ""
    ordering_provider: ShortText = ""
    ordering_facility: ShortText = ""


class ContactCreateIn(InputSchema):
    """A contact of a case: an existing person (`person_id`) or a new one (`person`), not both."""

    person_id: BodyId | None = None
    person: PersonIn | None = None
    last_exposure_date: PastDate
    first_exposure_date: PastDate | None = None
    setting: Setting = Setting.OTHER
    proximity: Proximity = Proximity.UNKNOWN
    duration_minutes: Annotated[int, BeforeValidator(_json_number), Field(ge=0, le=MAX_DURATION_MINUTES)] | None = None
    relationship: Relationship = Relationship.OTHER
    notes: Annotated[Text, Field(max_length=5000)] = ""


class CaseStatusIn(InputSchema):
    status: CaseStatus
    reason: Annotated[Text, Field(max_length=1000, description="Required; at most 300 characters once spaces are collapsed.")]


class CaseAssignIn(InputSchema):
    assignee_id: BodyId | None = Field(..., description="The worker to give the case to; null takes it back.")
    team_id: BodyId | None = None


# Outputs ---------------------------------------------------------------------


class PersonListItem(Schema):
    id: int
    jurisdiction_id: int
    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    sex: str


class PersonOut(PersonListItem):
    middle_name: str
    household_id: int | None
    preferred_language: str
    street: str
    city: str
    state: str
    postal_code: str
    notes: str
    phones: list[str]
    emails: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_phones(obj: Person) -> list[str]:
        return [cp.value for cp in obj.contact_points.all() if cp.kind == ContactPoint.Kind.PHONE]

    @staticmethod
    def resolve_emails(obj: Person) -> list[str]:
        return [cp.value for cp in obj.contact_points.all() if cp.kind == ContactPoint.Kind.EMAIL]


class LabResultOut(Schema):
    id: int
    person_id: int
    jurisdiction_id: int
    specimen_collection_date: dt.date
    result_date: dt.date | None
    test_loinc: str
    test_name: str
    result: str
    performing_lab: str
    ordering_provider: str
    ordering_facility: str
    source: str
    created_at: dt.datetime


class LabResultCreatedOut(LabResultOut):
    case_id: int | None = Field(None, description="The case this result opened or joined, once it is there.")


class CaseListItem(Schema):
    id: int
    person_id: int
    jurisdiction_id: int
    team_id: int | None
    owner_id: int | None
    condition: str = Field(description="The condition's code: covid-19, influenza, rsv, measles, mpox, tuberculosis, ...")
    status: str
    priority: int
    specimen_collection_date: dt.date | None
    isolation_end: dt.date | None
    opened_at: dt.datetime


class CaseOut(CaseListItem):
    symptom_onset: dt.date | None
    asymptomatic: bool
    symptoms: list[str]
    hospitalized: bool
    congregate_setting: bool
    infectious_start: dt.date | None
    infectious_end: dt.date | None
    released_on: dt.date | None
    interview_notes: str
    interviewed_at: dt.datetime | None
    source_exposure_id: int | None = Field(None, description="The exposure through which this person became a case, if any.")
    lab_result_ids: list[int]
    updated_at: dt.datetime

    @staticmethod
    def resolve_lab_result_ids(obj: Case) -> list[int]:
        return sorted(lab.pk for lab in obj.lab_results.all())

    @staticmethod
    def resolve_source_exposure_id(obj: Case) -> int | None:
        source = source_exposure_of(obj)
        return source.pk if source is not None else None


class ContactListItem(Schema):
    id: int
    case_id: int | None
    parent_exposure_id: int | None
    person_id: int
    jurisdiction_id: int
    team_id: int | None
    owner_id: int | None
    status: str
    last_exposure_date: dt.date
    quarantine_end: dt.date


class ContactOut(ContactListItem):
    first_exposure_date: dt.date | None
    setting: str
    proximity: str
    duration_minutes: int | None
    relationship: str
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime


class Page[T](Schema):
    items: list[T]
    count: int = Field(description="How many records match, on all pages.")
    page: int
    page_size: int


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(25, ge=1, le=100)


class CaseFilter(PageQuery):
    status: CaseStatus | None = None
    person_id: Id | None = None


class ContactFilter(PageQuery):
    case_id: Id | None = None
    status: ExposureStatus | None = None


class LabResultFilter(PageQuery):
    person_id: Id | None = None


class ErrorOut(Schema):
    detail: str
    field: str | None = None


# Lab intake ------------------------------------------------------------------


class IntakeFileQuery(Schema):
    filename: Annotated[Text, Field(max_length=255, description="The file's name, which helps tell its format.")] = ""


class IntakeRejectionOut(Schema):
    message: int = Field(description="Which message of the file (1 for the first).")
    location: str = Field(description="Where in it, such as PID-7 or line 2, column patient_dob.")
    code: str
    reason: str = Field(description="What is wrong; values quoted from the file are withheld.")


class IntakeBatchOut(Schema):
    """A delivered file and what became of it: counts and reasons, never the values it holds."""

    id: int
    status: str = Field(description="running, done, or failed (could not be read; kept and tried again).")
    format: str = Field(description="hl7v2, csv or fhir, once told.")
    units_total: int
    units_done: int
    finished: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    failed: int = 0
    results: dict[str, int] = {}
    rejections: list[IntakeRejectionOut] = []

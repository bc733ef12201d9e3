"""What every feed format is parsed into: plain dataclasses, no Django.

HL7 v2, CSV and FHIR parsers each turn one *unit* (an HL7 message, a CSV row, a FHIR
Bundle) into one LabReport, or into a list of Problems saying why they could not.
The pipeline (intake/pipeline.py) never looks at the original format again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Literal, Protocol

Format = Literal["hl7v2", "csv", "fhir"]
Classification = Literal["positive", "negative", "inconclusive", "unknown"]


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a unit (or part of it) was refused or needs review.

    `location` names the place an interface analyst would look: "PID-7", "OBX[3]-5.1",
    "line 14, column patient_dob", "Bundle.entry[2].resource(Patient).birthDate".
    `reason` is one English sentence saying what is wrong and, where it helps, what was
    expected. `code` is stable, for counting and for the translated UI.
    """

    location: str
    reason: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "reason": self.reason, "code": self.code}


class ParseError(Exception):
    """A unit that cannot become a LabReport; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.location}: {p.reason}" for p in problems))
        self.problems = problems


@dataclasses.dataclass
class PatientRecord:
    """The patient as the sender described them, cleaned but not yet matched to a Person."""

    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    date_of_birth: dt.date | None = None
    # A date of birth sent that is not a real date (19850631), as its digits; date_of_birth is then None.
    date_of_birth_as_written: str = ""
    sex: str = "U"  # F, M, O or U, as people.models.Sex
    street: str = ""
    city: str = ""
    state: str = ""  # two-letter USPS code when known
    postal_code: str = ""
    county: str = ""
    phones: list[str] = dataclasses.field(default_factory=list)  # as sent; the pipeline normalizes to E.164
    emails: list[str] = dataclasses.field(default_factory=list)
    preferred_language: str = ""  # as core.codes.normalize_language gives it ("es", "yue"), when the sender gave one
    source_id: str = ""  # the sender's patient id (PID-3.1, Patient.identifier, patient_id column)
    source_id_authority: str = ""


@dataclasses.dataclass
class ResultRecord:
    """One analyte's result. A multiplex panel gives one record per analyte."""

    test_loinc: str
    test_name: str
    classification: Classification
    condition: str  # e.g. "covid-19", "influenza", "rsv", or "" when the test maps to no known condition
    result_code: str = ""  # as sent: SNOMED code, or text
    result_code_system: str = ""  # "SCT", "LN", "HL70078", "" for free text
    result_text: str = ""
    # F final, C corrected, P preliminary, W entered in error (retracts), X cannot be obtained, D deleted.
    status: str = "F"
    specimen_collection_date: dt.date | None = None
    result_date: dt.date | None = None
    specimen_id: str = ""
    specimen_type: str = ""
    performing_lab: str = ""
    performing_lab_id: str = ""  # CLIA when sent
    # Stable identity of this result at the sender, so a correction finds what it corrects:
    # accession/filler order number + LOINC by default (see observation_key).
    accession: str = ""
    warnings: list[Problem] = dataclasses.field(default_factory=list)  # e.g. unknown result code: review

    @property
    def observation_key(self) -> str:
        return f"{self.accession}|{self.test_loinc}"


@dataclasses.dataclass
class LabReport:
    format: Format
    control_id: str  # MSH-10, Bundle.identifier / MessageHeader.id, or the CSV row's own id
    patient: PatientRecord
    results: list[ResultRecord]
    message_type: str = ""  # "ORU^R01"
    version: str = ""  # "2.5.1", "R4"
    sending_facility: str = ""
    sending_facility_id: str = ""
    ordering_provider: str = ""
    ordering_facility: str = ""
    sent_at: dt.datetime | None = None
    warnings: list[Problem] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class RawUnit:
    """One unit cut out of a file or stream, before any parsing: what is stored raw.

    `index` is 1-based within the file; `where` says where it starts ("line 12",
    "message 3", "entry 4") so a rejection can point at it.
    """

    index: int
    text: str
    where: str


class FormatParser(Protocol):
    format: Format

    def split(self, data: bytes) -> Iterable[RawUnit]:
        """Cut a whole file into units. A bad unit is still given (parse reports it); only a file
        with nothing usable in it at all (empty, no header, not this format) raises ParseError.

        A list when the units are cut at once; an iterator when they are cut as they are read
        (CSV: every unit repeats the header, so a whole file of them may be many times the file),
        which the pipeline reads twice, to count and check, then to ingest, a chunk at a time."""
        ...

    def parse(self, unit: RawUnit) -> list[LabReport]:
        """One unit to its LabReports (usually one; a FHIR transaction Bundle may carry several
        patients), or ParseError with every problem found. Never raises anything else."""
        ...

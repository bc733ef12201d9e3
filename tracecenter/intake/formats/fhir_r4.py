"""FHIR R4 lab results to LabReports: message Bundles from ReportStream and SimpleReport, and
transaction, collection and batch Bundles. Pure Python, no Django.

Which models
------------
fhir.resources 8 ships R5 as its default package, plus STU3 and R4B; there is no plain R4 package.
R4B (4.3.0) changed only the medication-regulation, evidence-based-medicine and subscription
resources; the rest is R4 (4.0.1) unchanged (hl7.org/fhir/R4B/r4b-explanation.html, diff.html).
Bundle, MessageHeader, Patient, Observation, DiagnosticReport, ServiceRequest, Specimen,
Organization, Practitioner and PractitionerRole are among the unchanged, so R4 content is validated
with the R4B models. The R5 models would be wrong: R5 renamed or removed elements R4 senders use.

How strict validation is
------------------------
Strict validation of the whole Bundle refuses every real Bundle we have. ReportStream writes a
Provenance without the required `target`, identifier extensions with a bare `value`, and a `device`
beside `resource` in an entry. None of that touches a result, so the parser validates one resource
at a time:

* The Bundle is validated without its entries' resources. Its problems are warnings.
* Each resource type this parser reads (_MODELS) is validated with its own R4B model the first time
  it is read. Resources it never reads (Provenance, Device...) are not validated, so their defects
  don't add a warning to every report.
* A value is read only from a path that validated cleanly (`_View.clean`). An invalid element is
  treated as absent, and its problem is kept as a warning.
* What attributes a result to a person blocks the whole unit (ParseError with every problem): the
  Observation's patient reference, its test code, its status, and the patient's name. One result
  that cannot be attributed refuses the unit, as an HL7 message with a bad OBX would be refused.
* An invalid result value never blocks. The result is kept as "unknown" with the problem on the
  result, for review. It is never counted as positive or negative.

parse() raises nothing but ParseError, whatever the input. Sizes, depth and entry counts are
bounded before any model sees the data, and an unexpected exception is turned into a ParseError
with code "internal" (the fuzz test checks this never happens).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.messageheader import MessageHeader
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.specimen import Specimen
from pydantic import BaseModel, ValidationError

from tracecenter.core.codes import normalize_clia, normalize_language, normalize_sex
from tracecenter.intake import classify
from tracecenter.intake.records import Format, LabReport, ParseError, PatientRecord, Problem, RawUnit, ResultRecord
from tracecenter.people.matching import date_of_birth_as_written

MAX_FILE_BYTES: Final = 50 * 1024 * 1024
MAX_UNIT_BYTES: Final = 5 * 1024 * 1024
# Real Bundles nest about a dozen levels (entry, resource, extension, valueCodeableConcept, coding...).
# Anything far deeper is aimed at the validators' recursion, not a lab result.
MAX_DEPTH: Final = 64
# Real FHIR JSON has one element (object, list or value) per 24 bytes or so: 250,000 covers any real
# 5 MB Bundle. Validation time grows with elements, and pydantic builds one error per bad element
# (a list of a million numbers takes minutes), so the count is bounded before validation.
MAX_ELEMENTS: Final = 250_000
# A message Bundle has about twenty entries; a transaction for many patients, a few thousand.
MAX_ENTRIES: Final = 10_000
# Enough for an analyst to see the pattern without a 10,000-line rejection.
MAX_PROBLEMS: Final = 100

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
CLIA_OID: Final = "urn:oid:2.16.840.1.113883.4.7"
# Some senders name the code systems by OID; the meaning is the same.
_LOINC_SYSTEMS: Final = frozenset({LOINC, "urn:oid:2.16.840.1.113883.6.1"})
_SNOMED_SYSTEMS: Final = frozenset({SNOMED, "urn:oid:2.16.840.1.113883.6.96"})

# The result code systems classify knows by their HL7 v2 names.
_SYSTEM_LABELS: Final = {
    SNOMED: "SCT",
    "urn:oid:2.16.840.1.113883.6.96": "SCT",
    LOINC: "LN",
    "http://terminology.hl7.org/CodeSystem/v2-0078": "HL70078",
    "http://terminology.hl7.org/CodeSystem/v3-NullFlavor": "NULLFL",
}

# Observation.status -> ResultRecord.status (OBX-11). Any other FHIR status is not a result yet or not
# actionable ("registered", "unknown"); a value that is not an R4 status at all is refused.
_STATUS: Final = {
    "final": "F",
    "amended": "C",
    "corrected": "C",
    "preliminary": "P",
    "entered-in-error": "W",
    "cancelled": "X",
}
_STATUS_NOT_RESULTED: Final = frozenset({"registered", "unknown"})

_R4_GENDERS: Final = frozenset({"female", "male", "other", "unknown"})
_SEX_WORDS: Final = {"F": "female", "M": "male", "O": "other", "U": "unknown"}

_BUNDLE_TYPES: Final = frozenset(
    {
        "document",
        "message",
        "transaction",
        "transaction-response",
        "batch",
        "batch-response",
        "history",
        "searchset",
        "collection",
    }
)

_MODELS: Final[dict[str, type[BaseModel]]] = {
    "DiagnosticReport": DiagnosticReport,
    "MessageHeader": MessageHeader,
    "Observation": Observation,
    "Organization": Organization,
    "Patient": Patient,
    "Practitioner": Practitioner,
    "PractitionerRole": PractitionerRole,
    "ServiceRequest": ServiceRequest,
    "Specimen": Specimen,
}

# A FHIR date or dateTime: the date part is read as the sender wrote it, in the sender's own offset,
# as HL7 v2 timestamps are: the collection *day* is what case rules count from.
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T.*)?", re.ASCII | re.DOTALL)
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?", re.ASCII)
_ABSOLUTE = re.compile(r"(https?://.+/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?", re.ASCII)
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}", re.ASCII)
_VALUE_KEY = re.compile(r"value[A-Z][A-Za-z]*", re.ASCII)
_FIELD = re.compile(r"_?[A-Za-z][A-Za-z0-9]*", re.ASCII)
_WS = re.compile(r"[ \t\n\r]*")
# Where an NDJSON line (or a pretty-printed Bundle in a concatenated file) can start again after a
# broken one: a line that opens a JSON object or array at its first column.
_NEXT_DOCUMENT = re.compile(r"\n(?=[\[{])")

Loc = tuple[str | int, ...]


class FhirR4Parser:
    """FHIR R4 JSON: one Bundle per file, NDJSON (one Bundle per line, or pretty-printed Bundles one
    after another), or a JSON array of Bundles."""

    format: Format = "fhir"

    def split(self, data: bytes) -> list[RawUnit]:
        if len(data) > MAX_FILE_BYTES:
            raise ParseError(
                [_file_problem(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; send it in parts.", "too_large")]
            )
        try:
            text = data.decode("utf-8-sig")  # FHIR JSON is UTF-8; a byte-order mark is harmless
        except UnicodeDecodeError as exc:
            raise ParseError(
                [_file_problem(f"The file is not UTF-8 text (byte {exc.start} cannot be read).", "not_json")]
            ) from None
        # Cut the whole file before returning, so that a file with no Bundle fails at once rather
        # than after the caller has started storing units (and the caller knows the count).
        return _cut(text)

    def parse(self, unit: RawUnit) -> list[LabReport]:
        try:
            return _BundleParse(unit).run()
        except ParseError:
            raise
        except Exception as exc:  # the contract is ParseError only; the fuzz test makes sure this stays unused
            problem = Problem(
                "Bundle", f"The Bundle could not be read because of an unexpected error ({type(exc).__name__}).", "internal"
            )
            raise ParseError([problem]) from exc


# --- Cutting a file into units ---------------------------------------------------------------------


def _file_problem(reason: str, code: str) -> Problem:
    return Problem("file", reason, code)


def _cut(text: str) -> list[RawUnit]:
    if not text.strip():
        raise ParseError([_file_problem("The file is empty.", "empty")])
    try:
        whole: Any = json.loads(text)
    except (ValueError, RecursionError):
        # Not one JSON document: NDJSON, or Bundles one after another. (A first line nested too
        # deeply also lands here, so it spoils only its own unit.)
        return _cut_sequence(text)
    if isinstance(whole, dict):
        if whole.get("resourceType") == "Bundle":
            return [RawUnit(1, text, "file")]
        raise ParseError([_file_problem(f"The file holds {_kind_of(whole)}, not a FHIR Bundle.", "not_bundle")])
    if isinstance(whole, list):
        if not any(_is_bundle(item) for item in whole):
            raise ParseError([_file_problem("The file is a JSON array with no FHIR Bundle in it.", "not_bundle")])
        return _cut_array(text)
    raise ParseError([_file_problem(f"The file holds {_kind_of(whole)}, not a FHIR Bundle.", "not_bundle")])


def _skip_space(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _cut_array(text: str) -> list[RawUnit]:
    """Each element of a JSON array already known to be valid, as its own text."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0) + 1  # past the "["
    units: list[RawUnit] = []
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text) or text[pos] == "]":
            return units
        _, end = decoder.raw_decode(text, pos)
        units.append(RawUnit(len(units) + 1, text[pos:end], f"item {len(units) + 1}"))
        pos = _skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1


def _cut_sequence(text: str) -> list[RawUnit]:
    """NDJSON, and also what SimpleReport calls .ndjson: pretty-printed Bundles one after another."""
    decoder = json.JSONDecoder()
    units: list[RawUnit] = []
    pos = counted = 0
    line = 1  # counted incrementally: counting from the start for every unit would be quadratic
    saw_object = saw_bundle = False
    first_error = ""
    while True:
        pos = _skip_space(text, pos)
        if pos >= len(text):
            break
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            # A broken document: keep it as one unit (parse says why) and start again at the next
            # line that opens an object, so one bad line does not swallow the rest of the file.
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            first_error = first_error or f"line {line}: {detail}"
            found = _NEXT_DOCUMENT.search(text, pos)
            end = found.start() + 1 if found else len(text)
        else:
            saw_object = saw_object or isinstance(value, dict)
            saw_bundle = saw_bundle or _is_bundle(value)
        units.append(RawUnit(len(units) + 1, text[pos:end], f"line {line}"))
        pos = end
    if not saw_object:
        raise ParseError([_file_problem(f"The file is neither JSON nor NDJSON ({first_error or 'no JSON object'}).", "not_json")])
    if not saw_bundle:
        raise ParseError([_file_problem("The file holds no FHIR Bundle: each line must be a Bundle.", "not_bundle")])
    return units


def _is_bundle(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "Bundle"


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        rtype = value.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            return "a JSON object without a resourceType"
        return f"{'an' if rtype[:1] in 'AEIOU' else 'a'} {rtype[:40]} resource"
    return {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean", type(None): "JSON null"}.get(
        type(value), "a JSON number"
    )


# --- Validation problems, in words ---------------------------------------------------------------


@dataclasses.dataclass
class _Issue:
    """One validation problem, at one or more element paths (relative to its resource)."""

    locs: tuple[Loc, ...]
    problem: Problem
    used: bool = False  # already reported as blocking or on a result, so not repeated as a warning


def _overlaps(loc: Loc, path: Loc) -> bool:
    # A problem at an element spoils everything under it, and what it sits in, read as a whole.
    n = min(len(loc), len(path))
    return loc[:n] == path[:n]


def _fhir_path(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        shown = str(value)
        return shown if len(shown) <= 40 else shown[:40] + "…"
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else "a value"


def _at(data: Any, path: Loc) -> Any:
    node = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


_TEMPORAL: Final = {
    "Date": "a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)",
    "DateTime": "a FHIR dateTime (a date, or a date and time with a time zone)",
    "Instant": "a FHIR instant (a date and time to the second, with a time zone)",
    "Time": "a FHIR time (hh:mm:ss)",
}


def _reason(kind: str, message: str, value: Any) -> str:
    shown = _show(value)
    if kind == "missing":
        return "This element is required in FHIR R4 but is missing."
    if kind == "extra_forbidden":
        return "This element is not part of FHIR R4 here, so it was not read."
    if kind == "string_type":
        return f"Expected text, got {shown}."
    if kind in {"list_type", "tuple_type"}:
        return f"Expected a list, got {shown}."
    if kind.startswith("bool_"):
        return f"Expected true or false, got {shown}."
    if kind.startswith(("int_", "float_", "decimal_")):
        return f"Expected a number, got {shown}."
    if kind in {"dict_type", "model_type", "model_attributes_type", "model_validation_format", "is_instance_of"}:
        return f"Expected a JSON object, got {shown}."
    if kind == "string_pattern_mismatch":
        if r"^[^\s]+(\s[^\s]+)*$" in message:
            return f"The code {shown} has leading, trailing or double spaces, or is empty, which FHIR codes may not have."
        return f"The value {shown} does not have the form FHIR R4 requires here."
    temporal = re.search(r"\b(Date|DateTime|Instant|Time) value string does not match", message)
    if temporal:
        return f"The value {shown} is not {_TEMPORAL[temporal.group(1)]}."
    if kind.startswith(("date", "datetime", "time")):
        detail = message.split(", ", 1)[-1]
        return f"The value {shown} is not a real date or time ({detail})."
    text = message.removeprefix("Value error, ").strip() or "The value is not valid FHIR R4"
    text = text[:1].upper() + text[1:]
    return f"{text.rstrip('.')} (got {shown})."


def _issue(error: Any, data: dict[str, Any], where: str) -> _Issue:
    # pydantic puts its own steps ("root", "function-after[...]") between FHIR element names.
    loc: Loc = tuple(
        part for part in error["loc"] if isinstance(part, int) or (_FIELD.fullmatch(part) is not None and part != "root")
    )
    kind, message = str(error["type"]), str(error["msg"])
    if kind == "value_error" and "but got multiple" in message:
        # fhir.resources reports two value[x] (or effective[x]...) at the element that holds them.
        names = re.findall(r"'([A-Za-z]+)'", message)
        node = _at(data, loc)
        present = [name for name in names if isinstance(node, dict) and name in node] or names[:1] or ["value"]
        stem = re.match(r"[a-z]+", present[0])
        choice = stem.group(0) if stem else "value"
        problem = Problem(
            where + _fhir_path(loc) + f".{choice}[x]",
            f"Only one {choice}[x] may be sent, but this element has {', '.join(present)}.",
            "invalid",
        )
        return _Issue(tuple((*loc, name) for name in present), problem)
    return _Issue((loc,), Problem(where + _fhir_path(loc), _reason(kind, message, error.get("input")), "invalid"))


def _validate(model: type[BaseModel], data: dict[str, Any], where: str) -> list[_Issue]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        issues = [_issue(error, data, where) for error in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            # The problems not listed would not gate what is read, so nothing in the resource is used.
            reason = f"This resource has {len(errors)} problems (the first {MAX_PROBLEMS} are listed), so nothing in it is used."
            issues.append(_Issue(((),), Problem(where, reason, "invalid")))
        return issues
    except Exception as exc:  # a validator that breaks on odd input spoils the resource, not the parser
        reason = f"This resource could not be validated ({type(exc).__name__}), so nothing in it is used."
        return [_Issue(((),), Problem(where, reason, "invalid"))]
    return []


class _View:
    """A resource after validation: reads only what validated cleanly."""

    def __init__(self, data: dict[str, Any], issues: list[_Issue], where: str) -> None:
        self.data = data
        self.issues = issues
        self.where_prefix = where
        self.owner: int | None = None  # the patient entry whose report gets this resource's warnings
        self.quiet = False  # read but not used (an ignored Observation): its defects do not matter

    def clean(self, *path: str | int) -> bool:
        return not any(_overlaps(loc, path) for issue in self.issues for loc in issue.locs)

    def get(self, *path: str | int) -> Any:
        return _at(self.data, path) if self.clean(*path) else None

    def s(self, *path: str | int) -> str:
        value = self.get(*path)
        return value.strip() if isinstance(value, str) else ""

    def items(self, *path: str | int) -> list[int]:
        """Indexes of a list; each item is checked when it is read."""
        node = _at(self.data, path)
        return list(range(len(node))) if isinstance(node, list) else []

    def has(self, *path: str | int) -> bool:
        return _at(self.data, path) is not None

    def where(self, *path: str | int) -> str:
        return self.where_prefix + _fhir_path(path)

    def take(self, *path: str | int) -> list[Problem]:
        """The problems at, under or above path, from now on reported where the caller puts them."""
        taken = []
        for issue in self.issues:
            if not issue.used and any(_overlaps(loc, path) for loc in issue.locs):
                issue.used = True
                taken.append(issue.problem)
        return taken

    def leftover(self) -> list[Problem]:
        return [issue.problem for issue in self.issues if not issue.used]


# --- One Bundle --------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Entry:
    index: int
    resource: dict[str, Any]
    rtype: str
    rid: str
    full_url: str
    where: str  # "Bundle.entry[3].resource(Observation)"


@dataclasses.dataclass(frozen=True)
class _Miss:
    """Why a reference led nowhere: where it is, and a sentence start saying why."""

    location: str
    why: str


@dataclasses.dataclass
class _Found:
    patient: _Entry
    result: ResultRecord
    ordering_provider: str
    ordering_facility: str


def _date(text: str) -> tuple[dt.date | None, bool]:
    """(date, partial): a date with only a year or a month is partial, not a day to count from."""
    match = _DATE.fullmatch(text)
    if not match:
        return None, False
    if match.group(3) is None:
        return None, True
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))), False
    except ValueError:
        return None, False


def _instant(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None  # an instant without its offset is not a moment


def _shape_problem(value: Any) -> Problem | None:
    """Too deep or too many elements for the validators to be given (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    elements = 1
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return Problem(
                "Bundle", f"The JSON is nested more than {MAX_DEPTH} levels deep, far more than FHIR needs.", "too_deep"
            )
        children = node.values() if isinstance(node, dict) else node
        elements += len(children)
        if elements > MAX_ELEMENTS:
            return Problem("Bundle", f"The Bundle has more than {MAX_ELEMENTS} JSON elements; send it in parts.", "too_large")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None


class _BundleParse:
    def __init__(self, unit: RawUnit) -> None:
        self.unit = unit
        self.entries: list[_Entry] = []
        self.by_url: dict[str, list[_Entry]] = {}
        self.by_type_id: dict[tuple[str, str], list[_Entry]] = {}
        self.by_type: dict[str, list[_Entry]] = {}
        self.views: dict[int, _View] = {}
        self.errors: list[Problem] = []  # blocking: the unit is refused
        self.warnings: list[tuple[int | None, Problem]] = []  # (patient entry index or None for all, problem)
        self.found: list[_Found] = []
        self._listing: dict[int, list[_Entry]] | None = None
        self.patients: dict[int, PatientRecord] = {}

    # --- the whole flow

    def run(self) -> list[LabReport]:
        data = self._load()
        shell = self._shell(data)
        self._index(data, shell)
        for entry in self._of_type("Observation"):
            self._observation(entry)
        for found in self.found:
            if found.patient.index not in self.patients:
                self.patients[found.patient.index] = self._patient(found.patient)
        header = self._header(data, shell)
        # Every validation problem not already reported as blocking or on a result is a warning,
        # on the report of the patient it concerns (or on every report, for shared resources).
        for view in self.views.values():
            if not view.quiet:
                self.warnings.extend((view.owner, problem) for problem in view.leftover())
        if self.errors:
            raise ParseError(self._capped(_unique(self.errors + [problem for _, problem in self.warnings])))
        if not self.found:
            problems = [problem for _, problem in self.warnings]
            problems.append(
                Problem(
                    "Bundle", "The Bundle holds no result TraceCenter can use (a test it traces, for a patient).", "no_result"
                )
            )
            raise ParseError(self._capped(_unique(problems)))
        return self._reports(header)

    def _load(self) -> dict[str, Any]:
        text = self.unit.text
        if len(text) > MAX_UNIT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_UNIT_BYTES:
            raise ParseError(
                [
                    Problem(
                        "Bundle",
                        f"The Bundle is larger than {MAX_UNIT_BYTES // (1024 * 1024)} MB; send it in parts.",
                        "too_large",
                    )
                ]
            )
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            raise ParseError([Problem("Bundle", reason, "not_json")]) from None
        except RecursionError:
            raise ParseError([Problem("Bundle", "The JSON is nested too deeply to be FHIR.", "too_deep")]) from None
        except ValueError as exc:  # e.g. an integer with thousands of digits
            raise ParseError([Problem("Bundle", f"This is not JSON that can be read: {str(exc)[:80]}.", "not_json")]) from None
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            location = "resourceType" if isinstance(data, dict) else "Bundle"
            raise ParseError([Problem(location, f"This is {_kind_of(data)}, not a FHIR Bundle.", "not_bundle")])
        shape = _shape_problem(data)
        if shape is not None:
            raise ParseError([shape])
        entries = data.get("entry")
        if isinstance(entries, list) and len(entries) > MAX_ENTRIES:
            raise ParseError(
                [Problem("Bundle.entry", f"The Bundle has {len(entries)} entries; at most {MAX_ENTRIES} are read.", "too_large")]
            )
        return data

    def _shell(self, data: dict[str, Any]) -> _View:
        """The Bundle without its entries' resources: each resource is validated on its own."""
        shell = {key: value for key, value in data.items() if key != "entry"}
        if "entry" in data:
            entries = data["entry"]
            shell["entry"] = (
                [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e for e in entries]
                if isinstance(entries, list)
                else entries
            )
        view = _View(shell, _validate(Bundle, shell, "Bundle"), "Bundle")
        self.views[-1] = view  # -1: no entry has that index, and its leftovers are collected with the rest
        btype = view.s("type")
        if btype and btype not in _BUNDLE_TYPES:
            self.warnings.append((None, Problem("Bundle.type", f"{_show(btype)} is not an R4 Bundle type.", "invalid")))
        return view

    def _index(self, data: dict[str, Any], shell: _View) -> None:
        for index in shell.items("entry"):
            raw = data["entry"][index]
            if not isinstance(raw, dict):
                continue  # the shell's validation says why
            resource = raw.get("resource")
            where = f"Bundle.entry[{index}]"
            if not isinstance(resource, dict):
                if not isinstance(raw.get("response"), dict):  # a transaction-response entry has none
                    self._warn(None, Problem(f"{where}.resource", "This entry has no resource, so it was skipped.", "invalid"))
                continue
            rtype = resource.get("resourceType")
            if not isinstance(rtype, str) or not _RESOURCE_TYPE.fullmatch(rtype):
                self._warn(
                    None,
                    Problem(
                        f"{where}.resource.resourceType", "This resource has no valid resourceType, so it was skipped.", "invalid"
                    ),
                )
                continue
            if rtype == "Bundle":
                self._warn(
                    None,
                    Problem(
                        f"{where}.resource(Bundle)",
                        "A Bundle inside a Bundle is not read: send each Bundle on its own line.",
                        "nested",
                    ),
                )
                continue
            if rtype not in _MODELS and not _is_resource_type(rtype):
                self._warn(
                    None,
                    Problem(f"{where}.resource", f"{_show(rtype)} is not a FHIR R4 resource type, so it was skipped.", "invalid"),
                )
                continue
            full_url = shell.s("entry", index, "fullUrl")
            rid = resource.get("id")
            entry = _Entry(index, resource, rtype, rid if isinstance(rid, str) else "", full_url, f"{where}.resource({rtype})")
            self.entries.append(entry)
            self.by_type.setdefault(rtype, []).append(entry)
            if full_url:
                self.by_url.setdefault(full_url, []).append(entry)
            if entry.rid:
                self.by_type_id.setdefault((rtype, entry.rid), []).append(entry)

    # --- validation and references

    def view(self, entry: _Entry) -> _View:
        view = self.views.get(entry.index)
        if view is None:
            model = _MODELS.get(entry.rtype)
            issues = _validate(model, entry.resource, entry.where) if model is not None else []
            view = self.views[entry.index] = _View(entry.resource, issues, entry.where)
        return view

    def resolve(self, ref: str, source: _Entry, types: tuple[str, ...]) -> tuple[_Entry | None, str]:
        """The entry a reference names, or None and why not (as the end of a sentence)."""
        if not ref:
            return None, "is empty"
        if ref.startswith("#"):
            return None, "points to a contained resource, which this parser does not read"
        found = self.by_url.get(ref, [])
        if not found:
            relative = _RELATIVE.fullmatch(ref)
            absolute = _ABSOLUTE.fullmatch(ref)
            if relative:
                # Relative to the referring entry's server base first, as FHIR resolves it; then any
                # entry of that type and id, since senders mix urn:uuid fullUrls with Type/id references.
                base = _ABSOLUTE.fullmatch(source.full_url)
                if base:
                    found = self.by_url.get(base.group(1) + ref, [])
                found = found or self.by_type_id.get((relative.group(1), relative.group(2)), [])
            elif absolute:
                # Another server's URL may only stand for an entry that has no server URL of its own.
                found = [
                    e
                    for e in self.by_type_id.get((absolute.group(2), absolute.group(3)), [])
                    if not e.full_url.startswith(("http://", "https://"))
                ]
        if not found:
            return None, "matches no entry in the Bundle"
        typed = [entry for entry in found if entry.rtype in types]
        if not typed:
            return None, f"names a {found[0].rtype}, not a {' or '.join(types)}"
        first = typed[0]
        if any(entry.resource != first.resource for entry in typed[1:]):
            return None, f"matches {len(typed)} different entries in the Bundle"
        return first, ""

    def _ref(self, view: _View, source: _Entry, path: Loc, types: tuple[str, ...]) -> tuple[_Entry | None, _Miss | None]:
        """Follow the Reference at path. No miss when there is no Reference there at all."""
        if not view.has(*path):
            return None, None
        ref = view.s(*path, "reference")
        if not ref:
            return None, _Miss(view.where(*path), "There is no readable reference to an entry in the Bundle here")
        target, why = self.resolve(ref, source, types)
        return target, None if target else _Miss(view.where(*path, "reference"), f"The reference {_show(ref)} {why}")

    def _warn(self, owner: int | None, problem: Problem) -> None:
        self.warnings.append((owner, problem))

    def _block(self, problems: list[Problem]) -> None:
        self.errors.extend(problems)

    def _capped(self, problems: list[Problem]) -> list[Problem]:
        if len(problems) <= MAX_PROBLEMS:
            return problems
        more = Problem("Bundle", f"…and {len(problems) - MAX_PROBLEMS} more problems.", "more")
        return [*problems[:MAX_PROBLEMS], more]

    def _of_type(self, rtype: str) -> list[_Entry]:
        return self.by_type.get(rtype, [])

    def _listing_reports(self, obs: _Entry) -> list[_Entry]:
        """The DiagnosticReports whose `result` names this Observation."""
        if self._listing is None:
            self._listing = {}
            for report in self._of_type("DiagnosticReport"):
                view = self.view(report)
                for i in view.items("result"):
                    target, _ = self.resolve(view.s("result", i, "reference"), report, ("Observation",))
                    if target is not None and report not in self._listing.setdefault(target.index, []):
                        self._listing[target.index].append(report)
        return self._listing.get(obs.index, [])

    def _about(self, entry: _Entry, patient: _Entry) -> bool:
        """Whether a report or order is about this patient (or names no one)."""
        view = self.view(entry)
        if not view.has("subject"):
            return True
        target, _ = self.resolve(view.s("subject", "reference"), entry, ("Patient",))
        return target is not None and target.resource == patient.resource

    def _reports_for(self, obs: _Entry, patient: _Entry) -> list[_Entry]:
        listing = self._listing_reports(obs)
        if listing:
            return listing
        # A message Bundle with one DiagnosticReport: the report every result in it belongs to.
        reports = self._of_type("DiagnosticReport")
        return reports if len(reports) == 1 and self._about(reports[0], patient) else []

    def _requests_for(self, obs: _Entry, view: _View, reports: list[_Entry], patient: _Entry) -> list[_Entry]:
        requests: list[_Entry] = []
        sources = [(obs, view), *((report, self.view(report)) for report in reports)]
        for source, source_view in sources:
            for i in source_view.items("basedOn"):
                target, _ = self._ref(source_view, source, ("basedOn", i), ("ServiceRequest",))
                if target is not None and target not in requests:
                    requests.append(target)
        if not requests:
            orders = self._of_type("ServiceRequest")
            if len(orders) == 1 and self._about(orders[0], patient):
                requests = orders
        return requests

    # --- Observations

    def _codes(self, view: _View, path: Loc) -> tuple[list[str], bool, list[str], bool]:
        """(traced LOINCs, has an ask-at-order-entry LOINC, other LOINCs, some coding unreadable)."""
        traced: list[str] = []
        others: list[str] = []
        aoe = unreadable = False
        if view.has(*path) and not view.clean(*path, "coding"):
            unreadable = not view.items(*path, "coding")  # the list itself is broken
        for i in view.items(*path, "coding"):
            if not (view.clean(*path, "coding", i, "system") and view.clean(*path, "coding", i, "code")):
                unreadable = True
                continue
            if view.s(*path, "coding", i, "system") not in _LOINC_SYSTEMS:
                continue
            code = view.s(*path, "coding", i, "code")
            if code in classify.TEST_CONDITIONS:
                traced.append(code)
            elif code in classify.AOE_QUESTIONS:
                aoe = True
            elif code:
                others.append(code)
        return traced, aoe, others, unreadable

    def _observation(self, obs: _Entry) -> None:
        if _plainly_an_answer(obs.resource):
            return  # an ask-at-order-entry answer is never read, so it is not validated either
        view = self.view(obs)
        traced, aoe, others, unreadable = self._codes(view, ("code",))
        has_value = any(_VALUE_KEY.fullmatch(key) for key in obs.resource)
        candidates: list[tuple[Loc, str]] = []
        if traced and (has_value or not view.has("component")):
            candidates = [((), traced[0])]
        else:
            # A panel may carry one analyte per component (e.g. Flu A, Flu B, SARS-CoV-2).
            for k in view.items("component"):
                component_traced, *_ = self._codes(view, ("component", k, "code"))
                if component_traced:
                    candidates.append((("component", k), component_traced[0]))
            if not candidates and traced:
                candidates = [((), traced[0])]  # no value anywhere: kept as unknown, below
        if not candidates:
            view.quiet = True
            if aoe or view.has("hasMember"):
                return  # an answer about the patient, or a panel whose members are results of their own
            # Blocking only when the code itself or a coding's system or code is broken: a bad display
            # or text beside a readable LOINC does not hide what the test is.
            if unreadable or not isinstance(obs.resource.get("code"), dict):
                problems = view.take("code") or [Problem(view.where("code"), "The test code cannot be read.", "invalid")]
                reason = "The test code of this Observation cannot be read, so it is not known whether it is a result to trace."
                self._block([*problems, Problem(view.where("code"), reason, "invalid")])
                return
            patient = self._subject(obs, view, strict=False)
            owner = patient.index if patient is not None else None
            if others:
                code = others[0]
                if classify.loinc_is_valid(code):
                    reason = f"LOINC {code[:20]} is not a test TraceCenter traces, so this Observation was ignored."
                else:
                    reason = (
                        f"{_show(code)} is not a valid LOINC code (wrong check digit or shape), so this Observation was ignored."
                    )
            else:
                reason = f"This Observation has no LOINC code ({LOINC}), so it was ignored."
            self._warn(owner, Problem(view.where("code"), reason, "ignored"))
            return
        status = self._status(obs, view)
        if view.quiet:
            return  # not resulted yet: _status said so
        patient = self._subject(obs, view, strict=True)  # even when the status blocks: every problem is listed
        if patient is None or status is None:
            return
        view.owner = patient.index
        for base, loinc in candidates:
            self.found.append(self._result(obs, view, base, loinc, status, patient))

    def _subject(self, obs: _Entry, view: _View, *, strict: bool) -> _Entry | None:
        """The Patient a result is about. strict: anything short of exactly one Patient blocks the unit."""
        own: _Entry | None = None
        target, miss = self._ref(view, obs, ("subject",), ("Patient",))
        if miss is not None:
            if strict:
                reason = f"{miss.why}, so the result cannot be attributed to a patient."
                self._block([*view.take("subject"), Problem(miss.location, reason, "no_patient")])
            return None
        own = target
        # The DiagnosticReports that list this result must agree on whom it is about.
        for report in self._listing_reports(obs):
            report_view = self.view(report)
            theirs, _ = self._ref(report_view, report, ("subject",), ("Patient",))
            if theirs is None:
                continue
            if own is None:
                own = theirs
            elif theirs.resource != own.resource:
                if strict:
                    reason = (
                        f"This DiagnosticReport is about a different patient from its result {obs.where}, "
                        "so the result cannot be attributed."
                    )
                    self._block([Problem(report_view.where("subject"), reason, "conflict")])
                return None
        if own is None and strict:
            reason = (
                "The result names no patient (Observation.subject, or the subject of a DiagnosticReport listing it), "
                "so it cannot be attributed."
            )
            self._block([*view.take("subject"), Problem(view.where("subject"), reason, "no_patient")])
        return own

    def _status(self, obs: _Entry, view: _View) -> str | None:
        """The v2 result status; None when there is no result to act on (ignored) or it is refused (blocking)."""
        status = view.s("status")
        if status in _STATUS:
            return _STATUS[status]
        if status in _STATUS_NOT_RESULTED:
            view.quiet = True
            patient = self._subject(obs, view, strict=False)
            reason = f"The result status is {status!r}: there is no result to act on yet, so this Observation was ignored."
            self._warn(patient.index if patient is not None else None, Problem(view.where("status"), reason, "status"))
            return None
        shown = _show(status) if status else "missing or unreadable"
        reason = (
            f"The result status is {shown}: it must be final, amended, corrected, preliminary, entered-in-error or "
            "cancelled, because a retraction must never be read as a result."
        )
        self._block([*view.take("status"), Problem(view.where("status"), reason, "status")])
        return None

    def _result(self, obs: _Entry, view: _View, base: Loc, loinc: str, status: str, patient: _Entry) -> _Found:
        condition, _ = classify.test_condition(loinc)
        warnings: list[Problem] = []
        interpretation, code, system, text = self._value(view, base, warnings)
        reports = self._reports_for(obs, patient)
        requests = self._requests_for(obs, view, reports, patient)
        for report in reports:
            if status not in {"W", "X"} and self.view(report).s("status") == "entered-in-error":
                status = "W"  # the whole report was withdrawn: its results with it
                reason = "The DiagnosticReport holding this result is entered-in-error, so the result is treated as retracted."
                warnings.append(Problem(self.view(report).where("status"), reason, "status"))
        specimen = self._specimen(obs, view, reports, requests)
        specimen_view = self.view(specimen) if specimen is not None else None
        # Collection: the Specimen says it best; else the Observation's clinically relevant time,
        # else its DiagnosticReport's (which for lab results is the collection time too).
        places: list[tuple[_View, Loc]] = []
        if specimen_view is not None:
            places += [
                (specimen_view, ("collection", "collectedDateTime")),
                (specimen_view, ("collection", "collectedPeriod", "start")),
            ]
        places += [(view, ("effectiveDateTime",)), (view, ("effectivePeriod", "start")), (view, ("effectiveInstant",))]
        for report in reports:
            places += [(self.view(report), ("effectiveDateTime",)), (self.view(report), ("effectivePeriod", "start"))]
        collected = self._first_date(places, warnings)
        issued = self._first_date([(view, ("issued",)), *((self.view(report), ("issued",)) for report in reports)], warnings)
        lab, lab_id = self._performer(obs, view, reports, patient)
        provider, facility = self._ordering(requests, patient)
        result = ResultRecord(
            test_loinc=loinc,
            test_name=self._test_name(view, (*base, "code"), loinc),
            classification=interpretation.classification,
            condition=condition,
            result_code=code,
            result_code_system=system,
            result_text=text,
            status=status,
            specimen_collection_date=collected,
            result_date=issued,
            specimen_id=self._specimen_id(specimen_view),
            specimen_type=self._specimen_type(specimen_view),
            performing_lab=lab,
            performing_lab_id=lab_id,
            accession=self._accession(reports, requests, specimen_view),
            warnings=warnings,
        )
        return _Found(patient, result, provider, facility)

    def _value(self, view: _View, base: Loc, warnings: list[Problem]) -> tuple[classify.Interpretation, str, str, str]:
        """(interpretation, code, code system, text). Every problem goes on the result."""
        node = _at(view.data, base)
        keys = [key for key in node if _VALUE_KEY.fullmatch(key)] if isinstance(node, dict) else []
        unknown = classify.Interpretation("unknown")
        bad = [problem for key in keys for problem in view.take(*base, key)]
        if bad:
            warnings.extend(bad)
            reason = "The result value is not valid FHIR, so the result is kept as unknown for review."
            warnings.append(Problem(view.where(*base, "value[x]"), reason, "invalid_value"))
            return unknown, "", "", ""
        if not keys:
            absent = view.s(*base, "dataAbsentReason", "text") or view.s(*base, "dataAbsentReason", "coding", 0, "code")
            reason = (
                "The result has no value"
                + (f" (data absent: {absent[:40]})" if absent else "")
                + ", so it is kept as unknown for review."
            )
            warnings.append(Problem(view.where(*base, "value[x]"), reason, "no_value"))
            return unknown, "", "", ""
        key = keys[0]
        if key == "valueCodeableConcept":
            codings = []
            for i in view.items(*base, key, "coding"):
                code = view.s(*base, key, "coding", i, "code")
                if code:
                    codings.append((view.s(*base, key, "coding", i, "system"), code, view.s(*base, key, "coding", i, "display")))
            text = view.s(*base, key, "text")
            # SNOMED CT is what ELR guides require, and what classify knows best; another coding of
            # the same value (a local code, a LOINC answer) does not override it.
            chosen = next((c for c in codings if c[0] in _SNOMED_SYSTEMS), codings[0] if codings else None)
            if chosen is not None:
                system, code, display = chosen
                label = _SYSTEM_LABELS.get(system, system)
                interpretation = classify.interpret_coded(code, label, display or text)
                result = (interpretation, code, label, display or text)
            else:
                interpretation = classify.interpret_text(text)
                result = (interpretation, "", "", text)
        elif key == "valueString":
            text = view.s(*base, key)
            interpretation = classify.interpret_text(text)
            result = (interpretation, "", "", text)
        else:
            reason = (
                f"The result is a {key}; only coded (valueCodeableConcept) or text (valueString) results are read, "
                "so it is kept as unknown for review."
            )
            warnings.append(Problem(view.where(*base, key), reason, "unsupported_value"))
            return unknown, "", "", ""
        if interpretation.warning:
            warnings.append(Problem(view.where(*base, key), interpretation.warning, interpretation.code or "unknown_code"))
        return result

    def _test_name(self, view: _View, path: Loc, loinc: str) -> str:
        text = view.s(*path, "text")
        if text:
            return text
        for i in view.items(*path, "coding"):
            if view.s(*path, "coding", i, "system") in _LOINC_SYSTEMS and view.s(*path, "coding", i, "code") == loinc:
                return view.s(*path, "coding", i, "display")
        return ""

    def _first_date(self, places: list[tuple[_View, Loc]], warnings: list[Problem]) -> dt.date | None:
        """The first full date among places in order; a partial one is only reported if nothing better comes."""
        partial: Problem | None = None
        for view, path in places:
            text = view.s(*path)
            if not text:
                continue
            day, is_partial = _date(text)
            if day is not None:
                return day
            if is_partial and partial is None:
                partial = Problem(view.where(*path), f"The date {_show(text)} has no day, so it was left empty.", "partial_date")
        if partial is not None:
            warnings.append(partial)
        return None

    def _specimen(self, obs: _Entry, view: _View, reports: list[_Entry], requests: list[_Entry]) -> _Entry | None:
        target, _ = self._ref(view, obs, ("specimen",), ("Specimen",))
        if target is not None:
            return target
        # A report or an order with exactly one specimen: the one its results were measured on.
        for source in [*reports, *requests]:
            source_view = self.view(source)
            refs = source_view.items("specimen")
            if len(refs) == 1:
                target, _ = self._ref(source_view, source, ("specimen", 0), ("Specimen",))
                if target is not None:
                    return target
        return None

    def _specimen_id(self, view: _View | None) -> str:
        if view is None:
            return ""
        return next((view.s("identifier", i, "value") for i in view.items("identifier") if view.s("identifier", i, "value")), "")

    def _specimen_type(self, view: _View | None) -> str:
        if view is None:
            return ""
        if view.s("type", "text"):
            return view.s("type", "text")
        for i in view.items("type", "coding"):
            label = view.s("type", "coding", i, "display") or view.s("type", "coding", i, "code")
            if label:
                return label
        return ""

    def _identifier(self, view: _View, preferred: tuple[str, ...]) -> str:
        """An identifier's value, preferring those whose type is one of `preferred` (v2 table 0203)."""
        first = ""
        for i in view.items("identifier"):
            value = view.s("identifier", i, "value")
            if not value:
                continue
            types = {
                view.s("identifier", i, "type", "coding", j, "code").upper()
                for j in view.items("identifier", i, "type", "coding")
            }
            if types & set(preferred):
                return value
            first = first or value
        return first

    def _accession(self, reports: list[_Entry], requests: list[_Entry], specimen: _View | None) -> str:
        # The filler order number (OBR-3 in v2, DiagnosticReport.identifier in FHIR) first: it is
        # what a correction repeats, and what the same message sent as HL7 v2 carries.
        for report in reports:
            value = self._identifier(self.view(report), ("FILL", "ACSN"))
            if value:
                return value
        for request in requests:
            value = self._identifier(self.view(request), ("FILL", "PLAC"))
            if value:
                return value
        return specimen.s("accessionIdentifier", "value") if specimen is not None else ""

    def _organization(self, entry: _Entry) -> tuple[str, str]:
        """(name, CLIA or another identifier)."""
        view = self.view(entry)
        typed = pattern = other = ""
        for i in view.items("identifier"):
            value = view.s("identifier", i, "value")
            if not value:
                continue
            codes = {
                view.s("identifier", i, "type", "coding", j, "code").upper()
                for j in view.items("identifier", i, "type", "coding")
            }
            if "CLIA" in codes or view.s("identifier", i, "system") == CLIA_OID:
                typed = typed or value
            elif normalize_clia(value):
                pattern = pattern or value
            else:
                other = other or value
        return view.s("name"), typed or pattern or other

    def _performer(self, obs: _Entry, view: _View, reports: list[_Entry], patient: _Entry) -> tuple[str, str]:
        """(name, CLIA) of the lab that performed the test: the Observation's performer, else its report's."""
        first_miss: _Miss | None = None
        for source, source_view in [(obs, view), *((report, self.view(report)) for report in reports)]:
            for i in source_view.items("performer"):
                target, miss = self._ref(source_view, source, ("performer", i), ("Organization", "PractitionerRole"))
                if target is not None and target.rtype == "PractitionerRole":
                    target, miss = self._ref(self.view(target), target, ("organization",), ("Organization",))
                if target is None:
                    first_miss = first_miss or miss
                    continue
                name, identifier = self._organization(target)
                if name or identifier:
                    return name, identifier
        if first_miss is not None:
            reason = f"{first_miss.why}, so the performing lab is left empty."
            self._warn(patient.index, Problem(first_miss.location, reason, "reference"))
        return "", ""

    def _ordering(self, requests: list[_Entry], patient: _Entry) -> tuple[str, str]:
        """(ordering provider, ordering facility) from the order's requester."""
        for request in requests:
            view = self.view(request)
            target, miss = self._ref(view, request, ("requester",), ("PractitionerRole", "Practitioner", "Organization"))
            if target is None:
                if miss is not None:
                    reason = f"{miss.why}, so the ordering provider is left empty."
                    self._warn(patient.index, Problem(miss.location, reason, "reference"))
                continue
            if target.rtype == "Organization":
                return "", self._organization(target)[0]
            if target.rtype == "Practitioner":
                return self._person_name(target), ""
            role = self.view(target)
            practitioner, _ = self._ref(role, target, ("practitioner",), ("Practitioner",))
            organization, _ = self._ref(role, target, ("organization",), ("Organization",))
            provider = self._person_name(practitioner) if practitioner is not None else ""
            facility = self._organization(organization)[0] if organization is not None else ""
            if provider or facility:
                return provider, facility
        return "", ""

    def _person_name(self, entry: _Entry) -> str:
        view = self.view(entry)
        index = self._pick_name(view)
        if index is None:
            return ""
        first, middle, last = self._name_parts(view, index)
        return " ".join(part for part in (first, middle, last) if part) or view.s("name", index, "text")

    # --- Patients

    def _pick_name(self, view: _View) -> int | None:
        """The official name, else the usual one, else the first current one that can be read."""
        rank = {"official": 0, "usual": 1, "": 2, "temp": 3, "nickname": 4, "anonymous": 5, "maiden": 6, "old": 7}
        usable = [
            i
            for i in view.items("name")
            if view.clean("name", i)
            and (view.s("name", i, "family") or view.items("name", i, "given") or view.s("name", i, "text"))
        ]
        return min(usable, key=lambda i: (rank.get(view.s("name", i, "use"), 8), i), default=None)

    def _name_parts(self, view: _View, index: int) -> tuple[str, str, str]:
        given = [view.s("name", index, "given", j) for j in view.items("name", index, "given")]
        given = [part for part in given if part]
        first, middle = (given[0], " ".join(given[1:])) if given else ("", "")
        return first, middle, view.s("name", index, "family")

    def _patient(self, entry: _Entry) -> PatientRecord:
        view = self.view(entry)
        view.owner = entry.index
        warnings: list[Problem] = []
        record = PatientRecord()
        index = self._pick_name(view)
        if index is not None:
            record.first_name, record.middle_name, record.last_name = self._name_parts(view, index)
            words = view.s("name", index, "text").split()
            if not (record.first_name or record.last_name) and words:
                # Only a display name: the last word is taken as the family name, as most senders write it.
                record.first_name = words[0]
                if len(words) > 1:
                    record.middle_name, record.last_name = " ".join(words[1:-1]), words[-1]
                reason = "The patient's name came only as text and was split into words; check which is the family name."
                warnings.append(Problem(view.where("name", index, "text"), reason, "name_text"))
        if not (record.first_name or record.last_name):
            reason = "The patient has no name that can be read, so the results cannot be attributed to a person."
            self._block([*view.take("name"), Problem(view.where("name"), reason, "no_patient")])
        birth = view.s("birthDate")
        if birth:
            record.date_of_birth, partial = _date(birth)
            if partial:
                warnings.append(
                    Problem(
                        view.where("birthDate"),
                        f"The birth date {_show(birth)} has no day, so it was left empty.",
                        "partial_date",
                    )
                )
        sent = _at(view.data, ("birthDate",))
        if record.date_of_birth is None and isinstance(sent, str) and len(sent) <= 40:
            # "1985-06-31" (refused by validation, with its warning): no real date, but one mistyped digit
            # from one. Left empty; its digits are kept for identity matching.
            record.date_of_birth_as_written = date_of_birth_as_written(sent)
        gender = view.s("gender")
        sex = normalize_sex(gender) if gender else None
        record.sex = sex or "U"
        if gender and gender not in _R4_GENDERS:
            read = _SEX_WORDS[sex or "U"]
            reason = f"The gender {_show(gender)} is not an R4 gender (female, male, other, unknown), so it was read as {read}."
            warnings.append(Problem(view.where("gender"), reason, "invalid"))
        self._address(view, record)
        self._telecom(view, record)
        record.preferred_language, problem = self._language(view)
        if problem is not None:
            warnings.append(problem)
        self._patient_id(view, record)
        self.warnings.extend((entry.index, problem) for problem in warnings)
        return record

    def _language(self, view: _View) -> tuple[str, Problem | None]:
        """The preferred communication's language, else the first readable one; a problem when none can be read."""
        preferred = [i for i in view.items("communication") if view.get("communication", i, "preferred") is True]
        unread: tuple[int, str] | None = None
        for i in preferred + view.items("communication"):
            concept = ("communication", i, "language")
            # BCP 47 codes, the ISO 639-2 codes some senders use instead, then the concept's text ("Spanish").
            values = [view.s(*concept, "coding", j, "code") for j in view.items(*concept, "coding")]
            for value in filter(None, [*values, view.s(*concept, "text")]):
                language = normalize_language(value)
                if language:
                    return language, None
                unread = unread or (i, value)
        if unread is None:
            return "", None
        i, value = unread
        reason = f"The language {_show(value)} is not one TraceCenter knows (a BCP 47 or ISO 639 code), so it was left empty."
        return "", Problem(view.where("communication", i, "language"), reason, "invalid")

    def _address(self, view: _View, record: PatientRecord) -> None:
        addresses = [i for i in view.items("address") if view.clean("address", i)]
        rank = {"home": 0, "": 1, "temp": 2, "work": 3, "billing": 4, "old": 5}
        if not addresses:
            return
        i = min(addresses, key=lambda i: (rank.get(view.s("address", i, "use"), 6), i))
        record.street = ", ".join(
            view.s("address", i, "line", j) for j in view.items("address", i, "line") if view.s("address", i, "line", j)
        )
        record.city = view.s("address", i, "city")
        state = view.s("address", i, "state")
        record.state = state.upper() if len(state) == 2 and state.isascii() and state.isalpha() else state
        record.postal_code = view.s("address", i, "postalCode")
        record.county = view.s("address", i, "district")

    def _telecom(self, view: _View, record: PatientRecord) -> None:
        for i in view.items("telecom"):
            value = view.s("telecom", i, "value")
            system = view.s("telecom", i, "system")
            if not value:
                continue
            if system in {"phone", "sms"} and value not in record.phones:
                record.phones.append(value)
            elif system == "email" and value not in record.emails:
                record.emails.append(value)

    def _patient_id(self, view: _View, record: PatientRecord) -> None:
        first: int | None = None
        for i in view.items("identifier"):
            if not view.s("identifier", i, "value"):
                continue
            codes = {
                view.s("identifier", i, "type", "coding", j, "code").upper()
                for j in view.items("identifier", i, "type", "coding")
            }
            if codes & {"MR", "PI", "PT"}:
                first = i
                break
            first = i if first is None else first
        if first is not None:
            record.source_id = view.s("identifier", first, "value")
            record.source_id_authority = (
                view.s("identifier", first, "system")
                or view.s("identifier", first, "assigner", "display")
                or view.s("identifier", first, "assigner", "identifier", "value")
            )

    # --- The reports

    def _header(self, data: dict[str, Any], shell: _View) -> LabReport:
        """What every report of this Bundle shares, as a LabReport template without patient or results."""
        header = next(iter(self._of_type("MessageHeader")), None)
        header_view = self.view(header) if header is not None else None
        facility, facility_id = self._sender(header, header_view)
        btype = shell.s("type")
        return LabReport(
            format="fhir",
            control_id=self._control_id(data, shell, header_view),
            patient=PatientRecord(),
            results=[],
            message_type=f"Bundle/{btype}" if btype in _BUNDLE_TYPES else "Bundle",
            version="R4",
            sending_facility=facility,
            sending_facility_id=facility_id,
            sent_at=_instant(shell.s("timestamp")) if shell.s("timestamp") else None,
        )

    def _reports(self, header: LabReport) -> list[LabReport]:
        by_patient: dict[int, list[_Found]] = {}
        for found in self.found:
            by_patient.setdefault(found.patient.index, []).append(found)
        shared = [problem for owner, problem in self.warnings if owner is None]
        own: dict[int, list[Problem]] = {}
        for owner, problem in self.warnings:
            if owner is not None:
                own.setdefault(owner, []).append(problem)
        reports = []
        for n, (index, mine) in enumerate(by_patient.items(), start=1):
            reports.append(
                dataclasses.replace(
                    header,
                    # One Bundle, several patients (a transaction): each report needs its own id.
                    control_id=header.control_id if len(by_patient) == 1 else f"{header.control_id}#{n}",
                    patient=self.patients[index],
                    results=[found.result for found in mine],
                    ordering_provider=next((found.ordering_provider for found in mine if found.ordering_provider), ""),
                    ordering_facility=next((found.ordering_facility for found in mine if found.ordering_facility), ""),
                    warnings=_unique(shared + own.get(index, []))[:MAX_PROBLEMS],
                )
            )
        return reports

    def _control_id(self, data: dict[str, Any], shell: _View, header: _View | None) -> str:
        # Bundle.identifier first: it is what ReportStream writes to MSH-10, so the same message sent
        # as FHIR and as HL7 v2 has one control id. MessageHeader.id is a resource id, which senders
        # reuse: SimpleReport's five test Bundles all share one.
        return (
            shell.s("identifier", "value")
            or (header.s("id") if header is not None else "")
            or shell.s("id")
            or hashlib.sha256(_canonical(data)).hexdigest()
        )

    def _sender(self, header: _Entry | None, view: _View | None) -> tuple[str, str]:
        if header is None or view is None:
            return "", ""
        target, _ = self._ref(view, header, ("sender",), ("Organization", "PractitionerRole", "Practitioner"))
        if target is not None and target.rtype == "Organization":
            name, identifier = self._organization(target)
            if name or identifier:
                return name, identifier
        return view.s("source", "name") or view.s("source", "software"), ""


def _plainly_an_answer(observation: dict[str, Any]) -> bool:
    """An ask-at-order-entry answer (about half the Observations ReportStream sends), told apart without
    validation: coded only with LOINC question codes, none of them a traced test, and no components."""
    code = observation.get("code")
    coding = code.get("coding") if isinstance(code, dict) else None
    if not isinstance(coding, list) or not coding or "component" in observation:
        return False
    loincs = [
        c.get("code")
        for c in coding
        if isinstance(c, dict) and isinstance(c.get("system"), str) and c["system"] in _LOINC_SYSTEMS
    ]
    return bool(loincs) and all(isinstance(loinc, str) and loinc in classify.AOE_QUESTIONS for loinc in loincs)


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _is_resource_type(rtype: str) -> bool:
    try:
        get_fhir_model_class(rtype)
    except Exception:  # fhir.resources raises ValueError for an unknown name; any failure means "not R4"
        return False
    return True


def _unique(problems: list[Problem]) -> list[Problem]:
    """The same problem reached twice (a shared Organization read for two results) is said once."""
    seen: set[Problem] = set()
    unique = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            unique.append(problem)
    return unique

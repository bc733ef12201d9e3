"""Test results uploaded as CSV: SimpleReport bulk upload, ReportStream standard CSV and PDI files.

Plain Python, no Django: the same code runs in the upload view, in a worker and in tests.

Dialects. Header names are matched case-insensitively, ignoring spaces, underscores and hyphens,
so "Patient_DOB", "patient_dob" and "Patient DOB" are one column. The header decides the dialect:

* ``reportstream-pdi``: ReportStream's "primedatainput/pdi-covid-19" flat file (the older
  SimpleReport export): Result_ID, Test_result_code, Ordered_test_code, Specimen_collection_date_time.
  Its schema makes Patient_DOB optional ([0..1]), so a missing date of birth is a warning here.
* ``reportstream-internal``: a CSV in ReportStream's internal covid-19 element names (message_id,
  test_performed_code, specimen_collection_date_time), as ReportStream itself writes them. Read with
  the PDI rules.
* ``reportstream-standard``: ReportStream's standard CSV upload ("upload-covid-19" schema). Its columns
  are SimpleReport's plus reporting_facility_name/_clia; patient_dob is required ([1..1]).
* ``simplereport``: SimpleReport's bulk test-result upload. patient_dob is required. An empty
  specimen_collection_date is replaced by order_test_date, as SimpleReport's own converter does
  (and as ReportStream's standard-CSV example file relies on).

Dates (``parse_date``) are accepted as YYYY-MM-DD, YYYYMMDD (HL7 style) or M/D/YYYY (US order: month
first, always), each optionally followed by a time (14:30, 2:30 PM, or HHMM[SS] after YYYYMMDD) and a
time zone (Z, UTC, -05:00, -0500, EST, PDT, ...). The zone is checked but the calendar date is kept as
written: the day at the place of collection is the epidemiological day, and converting to UTC would
move evening specimens to the next day. Two-digit years (M/D/YY) are read as 20YY for event dates
(collection, order, result), because a lab result from 19YY cannot arrive by CSV; they are refused for a
date of birth, where 1/5/22 could be 1922 or 2022. Day-first dates such as 31/01/2020 are refused
rather than guessed. A date before 1900, or more than one day after today (one day of slack for senders
east of us), is a problem.

Warnings go in two places: ResultRecord.warnings only when the *result* needs a person to look at it
(an unknown result code, "Detected in a pooled specimen"); everything else worth knowing (a value that
was dropped, a fallback that was used, training data) goes in LabReport.warnings.

control_id: "sha256:<hex>" of the row's non-empty cells keyed by normalized column name, whitespace
collapsed. The same row uploaded again (even re-exported with other quoting, column order or line
endings) gets the same id; two rows that differ in any value never share one. PDI's Result_ID is not
used as the id on its own: ReportStream's own example file reuses one Result_ID for three different
patients, and taking it at its word would drop two of them as duplicates. The sender's ids are kept
where they help: ResultRecord.accession is the accession number, else the Result_ID (for a correction,
the Corrected_result_ID), so a correction finds the result it corrects.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable, Iterator

from tracecenter.core.codes import normalize_clia, normalize_language, normalize_sex
from tracecenter.intake import classify
from tracecenter.intake.records import Format, LabReport, ParseError, PatientRecord, Problem, RawUnit, ResultRecord
from tracecenter.people.matching import date_of_birth_as_written

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 500
MAX_CELL_CHARS = 1000
# No valid row has a physical line longer than this (every column at its longest, quoted, with a comma);
# a longer line is not handed to csv, so a multi-megabyte line cannot become millions of cells, and it is
# not copied either: its record keeps the line's first MAX_LINE_CHARS + 1 characters (still too long, so
# the row is refused again if it is ever parsed again), which is all anyone needs to see what it was.
MAX_LINE_CHARS = MAX_COLUMNS * (MAX_CELL_CHARS + 3)
# Rows in one file. SimpleReport's bulk upload takes far fewer; a bigger file is split by its sender.
MAX_ROWS = 100_000
# Every unit repeats the header (a row must be readable alone): header length x rows is bounded too,
# so that a file of a wide header and many one-character rows cannot multiply into gigabytes.
MAX_REPEATED_HEADER_CHARS = 256 * 1024 * 1024

# --- Columns. Each logical field lists the normalized header names that carry it, preferred first:
# ReportStream's internal CSV has both ordered_test_code (the panel ordered) and test_performed_code
# (what was measured); PDI's Ordered_test_code *is* the performed test (its schema maps it there).
LAST_NAME = "last_name"
FIRST_NAME = "first_name"
MIDDLE_NAME = "middle_name"
DOB = "dob"
SEX = "sex"
STREET = "street"
STREET2 = "street2"
CITY = "city"
STATE = "state"
ZIP = "zip"
COUNTY = "county"
PHONE = "phone"
EMAIL = "email"
LANGUAGE = "language"
PATIENT_ID = "patient_id"
TEST_CODE = "test_code"
TEST_NAME = "test_name"
RESULT = "result"
COLLECTION_DATE = "collection_date"
ORDER_DATE = "order_date"
RESULT_DATE = "result_date"
STATUS = "status"
RESULT_ID = "result_id"
CORRECTED_ID = "corrected_id"
ACCESSION = "accession"
SPECIMEN_ID = "specimen_id"
SPECIMEN_TYPE = "specimen_type"
LAB_NAME = "lab_name"
LAB_CLIA = "lab_clia"
PROVIDER_FIRST = "provider_first"
PROVIDER_MIDDLE = "provider_middle"
PROVIDER_LAST = "provider_last"
PROVIDER_ID = "provider_id"
FACILITY_NAME = "facility_name"
REPORTER_NAME = "reporter_name"
REPORTER_CLIA = "reporter_clia"
PROCESSING_MODE = "processing_mode"

ALIASES: dict[str, tuple[str, ...]] = {
    LAST_NAME: ("patientlastname",),
    FIRST_NAME: ("patientfirstname",),
    MIDDLE_NAME: ("patientmiddlename",),
    DOB: ("patientdob", "patientdateofbirth", "dateofbirth"),
    SEX: ("patientgender", "patientsex"),
    STREET: ("patientstreet",),
    STREET2: ("patientstreet2",),
    CITY: ("patientcity",),
    STATE: ("patientstate",),
    ZIP: ("patientzipcode", "patientzip", "patientpostalcode"),
    COUNTY: ("patientcounty",),
    PHONE: ("patientphonenumber", "patientphone"),
    EMAIL: ("patientemail",),
    LANGUAGE: ("patientpreferredlanguage",),
    PATIENT_ID: ("patientid",),
    TEST_CODE: ("testperformedcode", "orderedtestcode"),
    TEST_NAME: ("testperformedname",),
    RESULT: ("testresult", "testresultcode"),
    COLLECTION_DATE: ("specimencollectiondate", "specimencollectiondatetime"),
    ORDER_DATE: ("ordertestdate",),
    RESULT_DATE: ("testresultdate", "testdate"),
    STATUS: ("testresultstatus", "observationresultstatus"),
    RESULT_ID: ("resultid", "messageid"),
    CORRECTED_ID: ("correctedresultid", "previousmessageid"),
    ACCESSION: ("accessionnumber", "testinglabaccessionnumber", "fillerorderid"),
    SPECIMEN_ID: ("testinglabspecimenid", "specimenid"),
    SPECIMEN_TYPE: ("specimentype", "specimentypecode", "specimentypename"),
    LAB_NAME: ("testinglabname",),
    LAB_CLIA: ("testinglabclia",),
    PROVIDER_FIRST: ("orderingproviderfirstname",),
    PROVIDER_MIDDLE: ("orderingprovidermiddlename",),
    PROVIDER_LAST: ("orderingproviderlastname",),
    PROVIDER_ID: ("orderingproviderid",),
    FACILITY_NAME: ("orderingfacilityname",),
    REPORTER_NAME: ("reportingfacilityname",),
    REPORTER_CLIA: ("reportingfacilityclia",),
    PROCESSING_MODE: ("processingmodecode",),
}
_KNOWN_KEYS = frozenset(key for keys in ALIASES.values() for key in keys)


@dataclasses.dataclass(frozen=True)
class Dialect:
    name: str
    # Fields without which no row can be a result; a header lacking one is refused as a whole.
    required: tuple[str, ...]
    # How the dialect's documentation spells each column, for messages about a column that is absent.
    spelling: dict[str, str]
    dob_required: bool
    # SimpleReport fills an empty specimen_collection_date from order_test_date.
    collection_from_order_date: bool


_SIMPLEREPORT_SPELLING = {
    LAST_NAME: "patient_last_name",
    FIRST_NAME: "patient_first_name",
    DOB: "patient_dob",
    SEX: "patient_gender",
    TEST_CODE: "test_performed_code",
    RESULT: "test_result",
    COLLECTION_DATE: "specimen_collection_date",
    ORDER_DATE: "order_test_date",
    RESULT_DATE: "test_result_date",
    STATUS: "test_result_status",
    LAB_CLIA: "testing_lab_clia",
}
_PDI_SPELLING = {
    LAST_NAME: "Patient_last_name",
    FIRST_NAME: "Patient_first_name",
    DOB: "Patient_DOB",
    SEX: "Patient_gender",
    TEST_CODE: "Ordered_test_code",
    RESULT: "Test_result_code",
    COLLECTION_DATE: "Specimen_collection_date_time",
    ORDER_DATE: "Order_test_date",
    RESULT_DATE: "Test_date",
    STATUS: "Test_result_status",
    LAB_CLIA: "Testing_lab_CLIA",
}
_INTERNAL_SPELLING = {**_SIMPLEREPORT_SPELLING, COLLECTION_DATE: "specimen_collection_date_time"}

SIMPLEREPORT = Dialect(
    "simplereport",
    (LAST_NAME, FIRST_NAME, DOB, TEST_CODE, RESULT, COLLECTION_DATE),
    _SIMPLEREPORT_SPELLING,
    dob_required=True,
    collection_from_order_date=True,
)
REPORTSTREAM_STANDARD = dataclasses.replace(SIMPLEREPORT, name="reportstream-standard")
REPORTSTREAM_PDI = Dialect(
    "reportstream-pdi",
    (LAST_NAME, FIRST_NAME, TEST_CODE, RESULT, COLLECTION_DATE),
    _PDI_SPELLING,
    dob_required=False,
    collection_from_order_date=False,
)
REPORTSTREAM_INTERNAL = dataclasses.replace(REPORTSTREAM_PDI, name="reportstream-internal", spelling=_INTERNAL_SPELLING)


def normalize_header(name: str) -> str:
    return "".join(ch for ch in name.strip().strip("\ufeff").casefold() if ch not in " _-\t\u00a0")


def _detect_dialect(keys: frozenset[str]) -> Dialect:
    if keys & {"resultid", "testresultcode"}:
        return REPORTSTREAM_PDI
    if keys & {"messageid", "specimencollectiondatetime"} and "specimencollectiondate" not in keys:
        return REPORTSTREAM_INTERNAL
    if keys & {"reportingfacilityname", "reportingfacilityclia"}:
        return REPORTSTREAM_STANDARD
    return SIMPLEREPORT


@dataclasses.dataclass(frozen=True)
class Header:
    names: tuple[str, ...]  # as written, for messages
    keys: tuple[str, ...]  # normalized
    columns: dict[str, int]  # logical field -> column index
    dialect: Dialect
    problems: tuple[Problem, ...]  # why no row of this header can be read

    def name_of(self, field: str) -> str:
        index = self.columns.get(field)
        if index is not None and self.names[index].strip():
            return _printable(self.names[index].strip(), 60)
        return self.dialect.spelling.get(field, field)


@functools.lru_cache(maxsize=64)
def analyse_header(cells: tuple[str, ...]) -> Header:
    """Map a header row to fields; cached because parse() meets the same header once per row."""
    keys = tuple(normalize_header(cell) for cell in cells)
    dialect = _detect_dialect(frozenset(keys))
    problems: list[Problem] = []
    if len(cells) > MAX_COLUMNS:
        problems.append(
            Problem(
                "line 1",
                f"The header has {len(cells):,} columns; a test-result file has at most {MAX_COLUMNS}. Is this the right file?",
                "too_many_columns",
            )
        )
        return Header(tuple(cells), keys, {}, dialect, tuple(problems))
    first_index: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in _KNOWN_KEYS and key in first_index:
            problems.append(
                Problem(
                    "line 1",
                    f"Column {_printable(cells[index].strip(), 60)} appears twice (columns {first_index[key] + 1} "
                    f"and {index + 1}); keep only one.",
                    "duplicate_column",
                )
            )
        first_index.setdefault(key, index)
    columns: dict[str, int] = {}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            if alias in first_index:
                columns[field] = first_index[alias]
                break
    missing = [field for field in dialect.required if field not in columns]
    if dialect.collection_from_order_date and COLLECTION_DATE in missing and ORDER_DATE in columns:
        missing.remove(COLLECTION_DATE)
    if missing:
        names = ", ".join(dialect.spelling[field] for field in missing)
        if dialect is SIMPLEREPORT and len(missing) == len(dialect.required):
            pdi = ", ".join(_PDI_SPELLING[field] for field in REPORTSTREAM_PDI.required)
            reason = (
                f"This is not a test-result CSV TraceCenter can read: the header has none of the required columns "
                f"({names} for a SimpleReport or ReportStream standard CSV; {pdi} for a ReportStream PDI file)."
            )
        else:
            reason = f"The header is missing required columns: {names}."
        if len(cells) == 1 and "," not in cells[0]:
            separator = next((name for sep, name in ((";", "semicolons"), ("\t", "tabs")) if sep in cells[0]), "")
            reason += (
                f" The first line separates values with {separator}; save the file with commas (CSV)."
                if separator
                else " The first line has no commas, so this does not look like a CSV file."
            )
        problems.append(Problem("line 1", reason, "missing_columns"))
    return Header(tuple(cells), keys, columns, dialect, tuple(problems))


# --- Reading the file.

_BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, which is what Excel on Windows saves as "CSV".

    The only copy of the file made here is its text: no stripped or sliced copy of the bytes.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ParseError(
            [
                Problem(
                    "file",
                    f"The file is {len(data) / 1024 / 1024:.1f} MB; the limit is {MAX_FILE_BYTES // 1024 // 1024} MB. "
                    "Split it into smaller files.",
                    "too_large",
                )
            ]
        )
    view = memoryview(data)
    if data.startswith(_UTF8_BOM):
        view = view[len(_UTF8_BOM) :]
    if _NOT_SPACE.search(view) is None:
        raise ParseError([Problem("file", "The file is empty.", "empty")])
    head = bytes(view[:8])
    for magic, what in _BINARY_SIGNATURES:
        if head.startswith(magic):
            raise ParseError([Problem("file", f"This is {what}, not a CSV file; export the results as CSV.", "not_text")])
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError([Problem("file", "The file is saved as UTF-16 text; save it as CSV UTF-8 instead.", "not_text")])
    try:
        return str(view, "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Windows-1252 leaves five byte values undefined; a file using them is not text in any encoding we take.
        return str(view, "cp1252")
    except UnicodeDecodeError:
        raise ParseError(
            [Problem("file", "The file is not text (neither UTF-8 nor Windows-1252); export it as CSV.", "not_text")]
        ) from None


_NOT_SPACE = re.compile(rb"[^ \t\r\n\x0b\x0c]")
_LINE_END = re.compile(r"\r\n|\r|\n")


class _LineFeed:
    """Lines for csv.reader, remembering which ones each record used, so a row's raw text and its
    first physical line are known even when a quoted value spans lines.

    Lines are cut from the text where they end (a line feed, CR LF or a lone CR, kept, as csv wants),
    one slice at a time: no copy of the whole text (io.StringIO would make one, four bytes a
    character), and none of a line over MAX_LINE_CHARS (only its start is kept; csv gets an empty
    line)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self.used: list[str] = []
        self.count = 0
        self.overlong = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        text, start = self._text, self._pos
        if start >= len(text):
            raise StopIteration
        found = _LINE_END.search(text, start)
        end = found.end() if found else len(text)
        self._pos = end
        self.count += 1
        if end - start > MAX_LINE_CHARS:
            # Keep the start of the line for the raw text, give csv an empty one; the record is refused.
            self.used.append(text[start : start + MAX_LINE_CHARS + 1])
            self.overlong = True
            return "\n"
        line = text[start:end]
        self.used.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.used)
        self.used = []
        return _strip_line_end(text)


def _strip_line_end(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


@dataclasses.dataclass(frozen=True)
class _Record:
    line: int  # physical line the record starts on
    raw: str
    cells: list[str] | None  # None: csv could not read it
    error: str = ""

    @property
    def blank(self) -> bool:
        return self.cells is not None and not any(cell.strip() for cell in self.cells)


def _read_record(reader: Iterator[list[str]], feed: _LineFeed) -> _Record | None:
    line = feed.count + 1
    try:
        cells = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        # The lines read so far are this record's; the reader starts afresh on the next line.
        feed.overlong = False
        return _Record(line, feed.take(), None, str(exc))
    if feed.overlong:
        feed.overlong = False
        return _Record(line, feed.take(), None, _OVERLONG)
    return _Record(line, feed.take(), cells)


_OVERLONG = "line too long"


def _too_many_rows(most: int, line: int, header_chars: int) -> Problem:
    if most == MAX_ROWS:
        reason = f"The file has more than {MAX_ROWS:,} rows (row {most + 1:,} is on line {line:,}); split it into smaller files."
    else:
        reason = (
            f"The header is {header_chars:,} characters long and is kept with every row: a file with such a header "
            f"may have at most {most:,} rows. Split it into smaller files, or leave out the columns you do not use."
        )
    return Problem("file", reason, "too_many_rows")


def _csv_error_reason(error: str) -> str:
    if error == _OVERLONG:
        return f"A line of this row is over {MAX_LINE_CHARS:,} characters long; no results row is that long."
    if "unexpected end of data" in error:
        return (
            'A quoted value starting in this row has no closing double quote ("), so the rest of the file was '
            "read as one value. Check the quotes in this row."
        )
    if "field larger than field limit" in error:
        return f"A value in this row is far longer than {MAX_CELL_CHARS:,} characters; check the quotes in this row."
    return f'This row is not valid CSV ({error[:80]}); a value containing a comma or a quote must be in double quotes (").'


# --- Cell and value cleaning.

# Control characters (except tab, CR and LF, which a quoted value may hold), bidirectional overrides
# and isolates (they make text display in a different order than it is stored), and a stray BOM.
_HOSTILE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


def _printable(text: str, limit: int) -> str:
    text = _HOSTILE.sub("?", " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(text: str) -> str:
    return " ".join(text.split())


# --- Dates.

_TZ = r"(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?|[ECMP][SD]?T|AK[SD]T|H[SD]T)"
_CLOCK = r"(?:(?:T|\s+)(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d{1,9})?)?\s*(?P<ampm>[AP]\.?M\.?)?)?"
_DATE_FORMATS = (
    re.compile(rf"(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_CLOCK}\s*{_TZ}?", re.ASCII | re.IGNORECASE),
    re.compile(
        r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:(?P<h>\d{2})(?:(?P<mi>\d{2})(?:(?P<s>\d{2})(?:\.\d{1,4})?)?)?)?"
        r"\s*(?P<tz>[+-]\d{4}|Z)?",
        re.ASCII | re.IGNORECASE,
    ),
    re.compile(rf"(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})/(?P<y>\d{{4}}|\d{{2}}){_CLOCK}\s*{_TZ}?", re.ASCII | re.IGNORECASE),
)
DATE_HINT = "use YYYY-MM-DD or MM/DD/YYYY"


class DateProblem(Exception):
    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def parse_date(text: str, *, today: dt.date, birth: bool = False) -> dt.date:
    """The calendar date in `text`, or DateProblem saying why not (see the module docstring for the rule)."""
    value = text.strip()
    shown = _printable(value, 40)
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(value)
        if match is not None:
            break
    else:
        raise DateProblem(f"{shown!r} is not a date; {DATE_HINT}.", "invalid_date")
    parts = match.groupdict()
    year = int(parts["y"])
    if len(parts["y"]) == 2:
        if birth:
            raise DateProblem(
                f"{shown!r} has a two-digit year, which could be 19{parts['y']} or 20{parts['y']}; "
                "write the year with four digits (MM/DD/YYYY).",
                "two_digit_year",
            )
        year += 2000
    try:
        date = dt.date(year, int(parts["m"]), int(parts["d"]))
    except ValueError:
        raise DateProblem(f"{shown!r} is not a date; {DATE_HINT}.", "invalid_date") from None
    if not _valid_clock(parts) or not _valid_zone(parts.get("tz")):
        raise DateProblem(f"{shown!r} has an impossible time or time zone; {DATE_HINT} and a time like 14:30.", "invalid_date")
    if date.year < 1900:
        raise DateProblem(f"{shown!r} is before 1900; check the year.", "date_before_1900")
    if date > today + dt.timedelta(days=1):
        raise DateProblem(f"{shown!r} is in the future.", "future_date")
    return date


def _valid_clock(parts: dict[str, str | None]) -> bool:
    if parts.get("h") is None:
        return True
    hour, minute, second = int(parts["h"] or 0), int(parts.get("mi") or 0), int(parts.get("s") or 0)
    if parts.get("ampm"):
        return 1 <= hour <= 12 and minute < 60 and second < 60
    return hour < 24 and minute < 60 and second < 60


def _valid_zone(zone: str | None) -> bool:
    if not zone or zone[0] not in "+-":
        return True
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    return hours <= 14 and minutes < 60


# --- Value tables.

_STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "AS": "American Samoa", "GU": "Guam",
    "MP": "Northern Mariana Islands", "PR": "Puerto Rico", "VI": "U.S. Virgin Islands",
}  # fmt: skip
_STATES = {**{code.casefold(): code for code in _STATE_NAMES}, **{name.casefold(): code for code, name in _STATE_NAMES.items()}}

# HL7 table 0085, as the CSV formats use it. U ("changed to final without retransmitting") is final;
# R and S (entered but not verified, partial) are preliminary.
_STATUS = {
    **dict.fromkeys(("", "f", "final", "u"), "F"),
    **dict.fromkeys(("c", "corrected", "correction"), "C"),
    **dict.fromkeys(("p", "preliminary", "r", "s"), "P"),
    **dict.fromkeys(("w", "wrong", "entered in error"), "W"),
    "x": "X",
    "d": "D",
}

_LOINC_SHAPE = re.compile(r"\d{1,7}-\d", re.ASCII)
_NPI = re.compile(r"\d{10}", re.ASCII)
_SNOMED_CODE = re.compile(r"\d{6,18}", re.ASCII)


def npi_is_valid(npi: str) -> bool:
    """NPIs carry a Luhn check digit computed with the 80840 prefix."""
    if not _NPI.fullmatch(npi):
        return False
    total = 0
    for position, char in enumerate(reversed("80840" + npi)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


# --- One row.


class _Row:
    """A row's cells by field, with every problem and warning found while reading them."""

    def __init__(self, header: Header, cells: list[str], prefix: str) -> None:
        self.header = header
        self.cells = cells
        self.prefix = prefix
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.bad: set[int] = set()
        self._screen()

    def _column_name(self, index: int) -> str:
        if index < len(self.header.names) and self.header.names[index].strip():
            return _printable(self.header.names[index].strip(), 60)
        return f"#{index + 1}"

    def _screen(self) -> None:
        """Refuse hostile cells before anything reads them; later checks skip a refused cell."""
        for index, cell in enumerate(self.cells):
            found = _HOSTILE.search(cell)
            if found is None and len(cell) <= MAX_CELL_CHARS:
                continue
            if found is None:
                reason, code = f"The value is {len(cell):,} characters long; at most {MAX_CELL_CHARS:,} are allowed.", "too_long"
            elif "\x00" in cell:
                reason, code = "The value contains a NUL byte; remove it.", "control_character"
            else:
                reason = f"The value contains an invisible control character (U+{ord(found.group()):04X}); retype it."
                code = "control_character"
            self.problems.append(Problem(f"{self.prefix}, column {self._column_name(index)}", reason, code))
            self.bad.add(index)

    def location(self, field: str) -> str:
        return f"{self.prefix}, column {self.header.name_of(field)}"

    def has_column(self, field: str) -> bool:
        return field in self.header.columns

    def raw(self, field: str) -> str:
        """The cell as sent (stripped), or "" when the column is absent, short, or refused."""
        index = self.header.columns.get(field)
        if index is None or index >= len(self.cells) or index in self.bad:
            return ""
        return self.cells[index].strip()

    def text(self, field: str) -> str:
        return _clean(self.raw(field))

    def refused(self, field: str) -> bool:
        return self.header.columns.get(field) in self.bad

    def problem(self, field: str, reason: str, code: str = "invalid") -> None:
        self.problems.append(Problem(self.location(field), reason, code))

    def warn(self, field: str, reason: str, code: str = "warning") -> None:
        self.warnings.append(Problem(self.location(field), reason, code))

    def required(self, field: str, what: str) -> str:
        value = self.text(field)
        if not value and not self.refused(field):
            self.problem(field, f"The {what} is required but empty.", "missing")
        return value

    def date(self, field: str, *, today: dt.date, required: bool, birth: bool = False) -> dt.date | None:
        """A date, or None. A bad date is a problem when the field is required, else a warning and dropped."""
        value = self.raw(field)
        if not value:
            return None
        try:
            return parse_date(value, today=today, birth=birth)
        except DateProblem as exc:
            if required:
                self.problem(field, exc.reason, exc.code)
            else:
                self.warn(field, f"{exc.reason} The value was left out.", exc.code)
            return None

    def canonical_text(self) -> str:
        """The row's content independent of quoting, column order, whitespace and line endings."""
        pairs = []
        seen: dict[str, int] = {}
        for index, cell in enumerate(self.cells):
            value = _clean(cell)
            if not value:
                continue
            key = self.header.keys[index] if index < len(self.header.keys) else ""
            count = seen.get(key, 0)
            seen[key] = count + 1
            # An unnamed or repeated column keeps its position, so values never merge into one key.
            pairs.append((f"{key}#{count}" if count or not key else key, value))
        return "\n".join(f"{key}\t{value}" for key, value in sorted(pairs))


class CsvResultsParser:
    """FormatParser for test-result CSV uploads. `today` is injectable so tests can fix the date."""

    format: Format = "csv"

    def __init__(self, today: Callable[[], dt.date] | None = None) -> None:
        self._today = today or (lambda: dt.datetime.now(dt.UTC).date())

    # --- split

    def split(self, data: bytes) -> Iterator[RawUnit]:
        """One RawUnit per non-blank data row: the header line, a newline, and the row as written.

        The header and the first row are read before returning, so a file that cannot be a results
        CSV at all raises ParseError here rather than on first iteration."""
        text = decode(data)
        feed = _LineFeed(text)
        reader = csv.reader(feed, strict=True)
        header_record = _read_record(reader, feed)
        while header_record is not None and header_record.blank:
            header_record = _read_record(reader, feed)
        if header_record is None:
            raise ParseError([Problem("file", "The file is empty.", "empty")])
        if header_record.cells is None:
            raise ParseError(
                [Problem("line 1", f"The header line cannot be read: {_csv_error_reason(header_record.error)}", "not_csv")]
            )
        if any(_HOSTILE.search(cell) for cell in header_record.cells):
            raise ParseError(
                [
                    Problem(
                        "line 1", "The header contains control characters or NUL bytes: this is not a CSV text file.", "not_text"
                    )
                ]
            )
        header = analyse_header(tuple(header_record.cells))
        problems = list(header.problems)
        first = _read_record(reader, feed)
        while first is not None and first.blank:
            first = _read_record(reader, feed)
        if first is None and not any(p.code == "too_many_columns" for p in problems):
            problems.append(Problem("file", "The file has a header but no rows.", "no_rows"))
        if problems or first is None:
            raise ParseError(problems)
        return self._units(header_record.raw, first, reader, feed)

    def _units(self, header_raw: str, first: _Record, reader: Iterator[list[str]], feed: _LineFeed) -> Iterator[RawUnit]:
        """The rows, one unit each, as they are read. Past MAX_ROWS rows (or MAX_REPEATED_HEADER_CHARS of
        repeated header), ParseError: the pipeline counts the units before it stores any, so the whole
        file is refused rather than its first part taken."""
        index = 0
        most = min(MAX_ROWS, MAX_REPEATED_HEADER_CHARS // max(len(header_raw), 1))
        record: _Record | None = first
        while record is not None:
            if not record.blank:
                index += 1
                if index > most:
                    raise ParseError([_too_many_rows(most, record.line, len(header_raw))])
                yield RawUnit(index=index, text=f"{header_raw}\n{record.raw}", where=f"line {record.line}")
            record = _read_record(reader, feed)

    # --- parse

    def parse(self, unit: RawUnit) -> list[LabReport]:
        try:
            return [self._parse(unit)]
        except ParseError:
            raise
        except Exception as exc:  # the contract: parse raises ParseError and nothing else
            raise ParseError(
                [
                    Problem(
                        _prefix(unit),
                        f"This row could not be read ({type(exc).__name__}); check it and upload it again.",
                        "unreadable",
                    )
                ]
            ) from exc

    def _parse(self, unit: RawUnit) -> LabReport:
        prefix = _prefix(unit)
        feed = _LineFeed(unit.text)
        reader = csv.reader(feed, strict=True)
        records = []
        for _ in range(3):
            record = _read_record(reader, feed)
            if record is None:
                break
            records.append(record)
        if any(record.cells is None for record in records):
            error = next(record.error for record in records if record.cells is None)
            raise ParseError([Problem(prefix, _csv_error_reason(error), "not_csv")])
        if len(records) != 2:
            raise ParseError([Problem(prefix, "A stored row must hold the header line and exactly one row.", "not_a_row")])
        header_cells, cells = records[0].cells or [], records[1].cells or []
        header = analyse_header(tuple(header_cells))
        if header.problems:
            raise ParseError(list(header.problems))
        if not any(cell.strip() for cell in cells):
            raise ParseError([Problem(prefix, "The row is empty.", "empty_row")])
        # Concatenated exports repeat the header mid-file; compare cheaply before normalizing every cell.
        first = header.columns[LAST_NAME]
        if (
            first < len(cells)
            and normalize_header(cells[first]) == header.keys[first]
            and [normalize_header(cell) for cell in cells] == list(header.keys)
        ):
            raise ParseError([Problem(prefix, "This row repeats the header; remove it.", "repeated_header")])
        return self._report(header, cells, prefix)

    def _report(self, header: Header, cells: list[str], prefix: str) -> LabReport:
        today = self._today()
        dialect = header.dialect
        row = _Row(header, cells, prefix)

        if len(cells) > len(header.names) and any(cell.strip() for cell in cells[len(header.names) :]):
            row.problems.append(
                Problem(
                    prefix,
                    f"The row has {len(cells)} values but the header has {len(header.names)} columns; "
                    'a value containing a comma must be in double quotes (").',
                    "extra_values",
                )
            )
        elif len(cells) < len(header.names):
            row.warnings.append(
                Problem(prefix, f"The row has {len(cells)} values but the header has {len(header.names)} columns; "
                        "the missing ones were read as empty.", "short_row")
            )  # fmt: skip

        # Patient.
        last_name = row.required(LAST_NAME, "patient's last name")
        first_name = row.required(FIRST_NAME, "patient's first name")
        dob = self._date_of_birth(row, today)

        # Test and result.
        loinc = self._test_code(row)
        condition = classify.test_condition(loinc)[0] if loinc else ""
        if loinc and not condition:
            row.problem(TEST_CODE, f"Test {loinc} is not a test for a condition TraceCenter traces.", "untraced_test")
        result_value = row.required(RESULT, "test result")
        collected = self._collection_date(row, today)
        if dob is not None and collected is not None and dob > collected:
            if dialect.dob_required:
                row.problem(DOB, "The date of birth is after the specimen was collected.", "dob_after_collection")
            else:
                row.warn(DOB, "The date of birth is after the specimen was collected; it was left out.", "dob_after_collection")
                dob = None
        result_date = row.date(RESULT_DATE, today=today, required=False)
        if result_date is not None and collected is not None and result_date < collected:
            row.warn(
                RESULT_DATE, "The result date is before the specimen was collected; it was left out.", "result_before_collection"
            )
            result_date = None
        status = self._status(row)

        if row.problems or collected is None:
            # Every path that leaves no collection date has already said why.
            raise ParseError(row.problems or [Problem(row.location(COLLECTION_DATE), "No specimen collection date.", "missing")])

        result = self._result(row, loinc, condition, result_value)
        result.status = status
        result.specimen_collection_date = collected
        result.result_date = result_date
        lab_clia = self._clia(row, LAB_CLIA)
        result.performing_lab = row.text(LAB_NAME)
        result.performing_lab_id = lab_clia
        result.specimen_id = row.text(SPECIMEN_ID)
        result.specimen_type = row.text(SPECIMEN_TYPE)
        result.accession = self._accession(row, status)

        mode = row.text(PROCESSING_MODE).upper()
        if mode in {"T", "D"}:
            kind = "training" if mode == "T" else "debugging"
            row.warn(
                PROCESSING_MODE, f"Processing mode {mode} marks this row as {kind} data, not a real result.", "not_production"
            )

        patient = PatientRecord(
            first_name=first_name,
            middle_name=row.text(MIDDLE_NAME),
            last_name=last_name,
            date_of_birth=dob,
            # A date of birth that is no real date was warned about and left out; its digits are kept for matching.
            date_of_birth_as_written="" if dob is not None else date_of_birth_as_written(row.raw(DOB)),
            sex=self._sex(row),
            street=", ".join(part for part in (row.text(STREET), row.text(STREET2)) if part),
            city=row.text(CITY),
            state=self._state(row),
            postal_code=row.text(ZIP),
            county=row.text(COUNTY),
            phones=[phone] if (phone := row.text(PHONE)) else [],
            emails=[email] if (email := row.text(EMAIL)) else [],
            preferred_language=self._language(row),
            source_id=row.text(PATIENT_ID),
            # ReportStream names the ordering facility as the patient id's assigner; the lab when there is none.
            source_id_authority=(row.text(FACILITY_NAME) or lab_clia) if row.text(PATIENT_ID) else "",
        )
        reporter_clia = self._clia(row, REPORTER_CLIA) if row.has_column(REPORTER_CLIA) else ""
        return LabReport(
            format="csv",
            control_id=self._control_id(row),
            patient=patient,
            results=[result],
            message_type=dialect.name,
            sending_facility=row.text(REPORTER_NAME) or result.performing_lab,
            sending_facility_id=reporter_clia or lab_clia,
            ordering_provider=self._provider(row),
            ordering_facility=row.text(FACILITY_NAME),
            warnings=row.warnings,
        )

    def _date_of_birth(self, row: _Row, today: dt.date) -> dt.date | None:
        required = row.header.dialect.dob_required
        if not row.raw(DOB):
            if row.refused(DOB):
                return None
            if required:
                row.problem(DOB, "The patient's date of birth is required but empty.", "missing")
            else:
                row.warn(DOB, "The date of birth is empty: matching this person relies on name and address.", "missing_dob")
            return None
        return row.date(DOB, today=today, required=required, birth=True)

    def _test_code(self, row: _Row) -> str:
        code = row.required(TEST_CODE, "test performed code (LOINC)")
        if not code:
            return ""
        if classify.loinc_is_valid(code):
            return code
        shown = _printable(code, 30)
        if _LOINC_SHAPE.fullmatch(code):
            row.problem(TEST_CODE, f"{shown!r} is not a valid LOINC code: its check digit is wrong.", "invalid_loinc")
        else:
            row.problem(
                TEST_CODE, f"{shown!r} is not a LOINC code (digits, a dash and a check digit, like 94500-6).", "invalid_loinc"
            )
        return ""

    def _collection_date(self, row: _Row, today: dt.date) -> dt.date | None:
        if row.raw(COLLECTION_DATE) or row.refused(COLLECTION_DATE):
            return row.date(COLLECTION_DATE, today=today, required=True)
        dialect = row.header.dialect
        if dialect.collection_from_order_date and row.raw(ORDER_DATE):
            collected = row.date(ORDER_DATE, today=today, required=True)
            if collected is not None:
                row.warn(
                    COLLECTION_DATE,
                    f"The specimen collection date is empty; the order date ({row.header.name_of(ORDER_DATE)}) was used, "
                    "as SimpleReport does.",
                    "collection_date_from_order",
                )
            return collected
        if not row.refused(ORDER_DATE):
            also = f" (or {dialect.spelling[ORDER_DATE]})" if dialect.collection_from_order_date else ""
            row.problem(COLLECTION_DATE, f"The specimen collection date{also} is required but empty.", "missing")
        return None

    def _status(self, row: _Row) -> str:
        value = row.text(STATUS)
        status = _STATUS.get(value.casefold())
        if status is None:
            row.problem(
                STATUS,
                f"{_printable(value, 20)!r} is not a result status; use F (final), C (corrected) or W (entered in error).",
                "invalid_status",
            )
            return "F"
        return status

    def _result(self, row: _Row, loinc: str, condition: str, value: str) -> ResultRecord:
        if _SNOMED_CODE.fullmatch(value):
            interpretation = classify.interpret_coded(value, "SCT")
            system, text = "SCT", ""
        else:
            interpretation = classify.interpret_text(value)
            system, text = "", value
        record = ResultRecord(
            test_loinc=loinc,
            test_name=row.text(TEST_NAME),
            classification=interpretation.classification,
            condition=condition,
            result_code=value,
            result_code_system=system,
            result_text=text,
        )
        if interpretation.warning:
            record.warnings.append(Problem(row.location(RESULT), interpretation.warning, interpretation.code or "review"))
        return record

    def _accession(self, row: _Row, status: str) -> str:
        accession = row.text(ACCESSION)
        if accession:
            return accession
        # PDI has no accession number: its Result_ID is the result's identity, and a correction carries
        # the id it corrects, so the correction and the original share an observation key.
        corrected = row.text(CORRECTED_ID)
        if status in {"C", "W"} and corrected:
            return corrected
        return row.text(RESULT_ID)

    def _clia(self, row: _Row, field: str) -> str:
        value = row.text(field)
        if not value:
            return ""
        clia = normalize_clia(value)
        if clia is None:
            row.warn(
                field,
                f"{_printable(value, 30)!r} is not a CLIA number (10 characters, like 05D2201580); left out.",
                "invalid_clia",
            )
            return ""
        return clia

    def _sex(self, row: _Row) -> str:
        value = row.text(SEX)
        if not value:
            return "U"
        sex = normalize_sex(value)
        if sex is None:
            row.warn(SEX, f"{_printable(value, 30)!r} is not a sex TraceCenter knows; recorded as unknown.", "unknown_sex")
            return "U"
        return sex

    def _language(self, row: _Row) -> str:
        value = row.text(LANGUAGE)
        if not value:
            return ""
        language = normalize_language(value)
        if language is None:
            # Said, not dropped silently: the person is then stored with the default language, English.
            row.warn(
                LANGUAGE,
                f"{_printable(value, 30)!r} is not a language TraceCenter knows (a name or an ISO 639 code); left empty.",
                "unknown_language",
            )
            return ""
        return language

    def _state(self, row: _Row) -> str:
        value = row.text(STATE)
        return _STATES.get(value.casefold().rstrip("."), value)

    def _provider(self, row: _Row) -> str:
        name = " ".join(part for part in (row.text(PROVIDER_FIRST), row.text(PROVIDER_MIDDLE), row.text(PROVIDER_LAST)) if part)
        provider_id = row.text(PROVIDER_ID)
        if not provider_id:
            return name
        label = "NPI" if npi_is_valid(provider_id) else "ID"
        return f"{name} ({label} {provider_id})" if name else f"{label} {provider_id}"

    def _control_id(self, row: _Row) -> str:
        # Content, not the sender's Result_ID: see the module docstring.
        return "sha256:" + hashlib.sha256(row.canonical_text().encode("utf-8")).hexdigest()


_WHERE = re.compile(r"line \d+", re.ASCII)


def _prefix(unit: RawUnit) -> str:
    """Where problems in this unit point: the unit's own "line N", else its row number."""
    match = _WHERE.fullmatch(unit.where.strip())
    return match.group() if match else f"row {unit.index}"

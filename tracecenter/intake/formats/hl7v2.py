"""HL7 v2 electronic lab reports (ORU^R01, versions 2.3 to 2.7) into LabReports: pure Python, no Django.

Public: Hl7v2Parser (the FormatParser for "hl7v2"), build_ack() for the acknowledgement of a
received message, message_control_id() for its MSH-10 when it could not be parsed.

A small tokenizer of its own rather than a general HL7 library: it reads only the fields a lab
report needs, honours whatever encoding characters MSH-1/MSH-2 declare, and turns every defect it
meets into a Problem, so a broken message can never raise anything but ParseError.

Reading rules that are not obvious from the field list:

* Problem locations use HL7 notation, "PID-7", "OBX[3]-5", where [3] is the segment's occurrence in
  the whole message (counted from 1) and is written only when the message has several of them.
* An OBX is a result only when its test is a LOINC code for a condition in classify.TEST_CONDITIONS.
  Answers to ask-at-order-entry questions (classify.AOE_QUESTIONS, or OBX-29 "QST") are skipped;
  other tests are skipped with a warning. A test code that is not a valid LOINC, or an unknown OBX-11
  status, costs that OBX only: the message is rejected when no result is left, else it is a warning.
  An OBX repeating an earlier one exactly is counted once.
* Dates TraceCenter acts on (PID-7 date of birth, SPM-17 / OBR-7 / OBX-14 specimen collection date)
  reject the message when they are not valid dates; informational ones (MSH-7, OBX-19, OBR-22) only
  warn. The date part is taken as the sender wrote it: a collection date is the sender's local day.
* One PID group gives one LabReport. A problem in any group rejects the whole message, so the
  acknowledgement and the lab's resend always concern the message as a whole.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import functools
import re

from tracecenter.core.codes import normalize_clia, normalize_language, normalize_sex
from tracecenter.intake import classify
from tracecenter.intake.records import (
    Format,
    LabReport,
    ParseError,
    PatientRecord,
    Problem,
    RawUnit,
    ResultRecord,
)
from tracecenter.people.matching import date_of_birth_as_written

# A larger message is not a lab report: refusing it bounds the work one unit can cause.
MAX_MESSAGE_BYTES = 1_048_576
# No field read here needs more repetitions (names, ids, phones); later ones are not read.
_MAX_REPETITIONS = 20
_MAX_PROBLEMS = 50

# Versions whose MSH, PID, ORC, OBR, OBX and SPM fields sit where this module reads them.
SUPPORTED_VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1"})
_ACK_DEFAULT_VERSION = "2.5.1"

_BATCH_SEGMENTS = frozenset({b"FHS", b"BHS", b"BTS", b"FTS"})
_READ_SEGMENTS = frozenset({"MSH", "PID", "ORC", "OBR", "OBX", "SPM"})
# Segments an ORU^R01 commonly carries that nothing here reads: known, so no need to check their names.
_IGNORED_SEGMENTS = frozenset({"SFT", "NTE", "PD1", "NK1", "PV1", "PV2", "TQ1", "TQ2", "CTD", "CTI", "FT1", "DSC", "PRT"})
_MLLP_BYTES = b"\x0b\x1c"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_NOT_SPACE = re.compile(rb"[^ \t\r\n\x0b\x0c]")

# Control characters a database text column or a screen should never get (NUL breaks PostgreSQL,
# a CR would end a segment when the value is sent on); tab and line feed stay, \.br\ becomes a line feed.
_CONTROL_CHARS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])

_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}", re.ASCII)
_DTM = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?",
    re.ASCII,
)
_VERSION_SHAPE = re.compile(r"\d\.\d{1,2}(?:\.\d{1,2})?", re.ASCII)
_LOCATION = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?(?:\.(\d+))?)?", re.ASCII)

_LOINC_SYSTEMS = frozenset({"LN", "LOINC", "2.16.840.1.113883.6.1", "HTTP://LOINC.ORG"})
_SNOMED_SYSTEMS = frozenset({"SCT", "SNM", "SNOMEDCT", "SNOMED", "HTTP://SNOMED.INFO/SCT", "2.16.840.1.113883.6.96"})
_CODED_TYPES = frozenset({"CWE", "CE", "CNE", "CF"})
_TEXT_TYPES = frozenset({"ST", "TX", "FT"})
_PLAIN_CODE_TYPES = frozenset({"IS", "ID"})

# OBX-11 (HL7 table 0085) to the statuses ResultRecord knows. Not yet final (R, S, I) counts as
# preliminary; amended (A, 2.7) replaces a result like a correction; no result (N, O) like X.
_STATUS = {
    "F": "F",
    "C": "C",
    "P": "P",
    "W": "W",
    "X": "X",
    "D": "D",
    "R": "P",
    "S": "P",
    "I": "P",
    "U": "F",
    "A": "C",
    "B": "F",
    "N": "X",
    "O": "X",
}

# PID-3 identifier types, most useful first. Social security numbers ("SS") are never used as the
# patient's id: they would end up stored and shown as an ordinary identifier.
_ID_TYPE_PREFERENCE = {"MR": 0, "PI": 1, "PT": 2, "PN": 3, "AN": 4}

# MSH-18 character sets (HL7 table 0211) that Python can decode; UTF-16/32 cannot be cut at ASCII
# segment boundaries and are left to the UTF-8 / Latin-1 fallback.
_CHARSETS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "ISO IR100": "latin-1",
    "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3",
    "ISO IR110": "iso8859-4",
    "ISO IR126": "iso8859-7",
    "ISO IR127": "iso8859-6",
    "ISO IR138": "iso8859-8",
    "ISO IR144": "iso8859-5",
    "ISO IR148": "iso8859-9",
    "BIG-5": "big5",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc-kr",
    **{f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
}

# HL7 table 0357, message error condition codes used in ERR-3.
_ERROR_TEXT = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    203: "Unsupported version id",
    207: "Application internal error",
}
_ERROR_CODE = {
    "required": 101,
    "invalid_date": 102,
    "invalid_value": 102,
    "invalid_loinc": 103,
    "not_loinc": 103,
    "not_traced": 103,
    "no_result": 103,
    "unknown_status": 103,
    "unsupported_type": 200,
    "unsupported_event": 201,
    "unsupported_version": 203,
    "not_hl7": 100,
    "invalid_encoding": 100,
    "structure": 100,
}


# --- Tokenizing --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Encoding:
    """The delimiters a message declares in MSH-1 and MSH-2; "" for one it does not use."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""

    @property
    def msh2(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


_DEFAULT_ENCODING = _Encoding()


def _encoding_from(field_sep: str, msh2: str) -> _Encoding | None:
    """The encoding MSH-1/MSH-2 declare, or None when they cannot be used to cut the message."""
    if len(field_sep) != 1 or not 1 <= len(msh2) <= 5:
        return None
    return _checked_encoding(field_sep, msh2)


@functools.lru_cache(maxsize=64)  # a handful of senders, each always declaring the same characters
def _checked_encoding(field_sep: str, msh2: str) -> _Encoding | None:
    if not _is_delimiter(field_sep) or len(set(msh2)) != len(msh2) or field_sep in msh2:
        return None
    if not all(_is_delimiter(ch) for ch in msh2):
        return None
    chars = [*msh2, "", "", "", ""]
    return _Encoding(field_sep, chars[0], chars[1], chars[2], chars[3], chars[4])


def _is_delimiter(ch: str) -> bool:
    return ch.isascii() and ch.isprintable() and not ch.isalnum() and not ch.isspace()


def _split(text: str, sep: str) -> list[str]:
    return text.split(sep) if sep and sep in text else [text]


@functools.lru_cache(maxsize=32)
def _escape_pattern(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    # Shortest run between two escape characters on one line: \F\, \X0D0A\, \.br\ ...
    return re.compile(f"{e}([^{e}\r\n]*){e}")


def _unescape(text: str, enc: _Encoding) -> str:
    """Replace HL7 escape sequences; an unknown or unbalanced one is left as written."""
    if not enc.escape or enc.escape not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        seq = match.group(1)
        if not seq:  # two escape characters in a row: no sequence, keep them as written
            return match.group(0)
        if len(seq) == 1:
            delimiter = {
                "F": enc.field,
                "S": enc.component,
                "T": enc.subcomponent,
                "R": enc.repetition,
                "E": enc.escape,
                "P": enc.truncation,
            }.get(seq)
            if delimiter:
                return delimiter
            if seq in "HN":  # highlighting on/off: no meaning in plain text
                return ""
            return match.group(0)
        head = seq[0]
        if head == "X":
            return _hex_text(seq[1:]) or match.group(0)
        if head == ".":  # formatted text commands: only line breaks carry meaning
            return "\n" if seq[1:3] in ("br", "sp") else ""
        if head in "CMZ":  # character set switches and locally defined escapes
            return ""
        return match.group(0)

    return _escape_pattern(enc.escape).sub(replace, text)


def _hex_text(digits: str) -> str:
    if not digits or len(digits) % 2 or len(digits) > 4096:
        return ""
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclasses.dataclass(slots=True)
class _Segment:
    name: str
    fields: list[str]  # fields[n] is field n; for MSH, fields[1] is MSH-1 (the field separator)
    loc: str  # "PID", or "OBX[3]" when the message has several OBX

    def get(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""


class _Reader:
    """Cuts raw field text into repetitions, components and subcomponents, and cleans values."""

    __slots__ = ("_components", "_escape", "_repetition", "_subcomponent", "enc")

    def __init__(self, enc: _Encoding) -> None:
        self.enc = enc
        self._escape, self._repetition, self._subcomponent = enc.escape, enc.repetition, enc.subcomponent
        # A field is read component by component (OBX-3.1, 3.2, 3.3 ...): split each raw text once.
        self._components: dict[str, list[str]] = {}

    def reps(self, raw: str) -> list[str]:
        sep = self._repetition
        return raw.split(sep, _MAX_REPETITIONS)[:_MAX_REPETITIONS] if sep and sep in raw else [raw]

    def comps(self, raw: str) -> list[str]:
        comps = self._components.get(raw)
        if comps is None:
            comps = self._components[raw] = _split(raw, self.enc.component)
        return comps

    def value(self, raw: str) -> str:
        """The text a raw leaf holds: escapes resolved, control characters dropped, trimmed."""
        if not raw:
            return ""
        if self._escape and self._escape in raw:
            raw = _unescape(raw, self.enc)
        if not raw.isprintable():  # cheap test first: translate() with a table is slow
            raw = raw.translate(_CONTROL_CHARS)
        return raw.strip()

    def part(self, raw: str, comp: int = 1, sub: int = 1) -> str:
        """Component `comp`, subcomponent `sub` (1-based) of one repetition, as text."""
        if not raw:
            return ""
        comps = self._components.get(raw)  # comps(), inlined: this is the hottest path of a parse
        if comps is None:
            comps = self._components[raw] = _split(raw, self.enc.component)
        if comp > len(comps):
            return ""
        piece = comps[comp - 1]
        sep = self._subcomponent
        if sep and sep in piece:
            subs = piece.split(sep)
            return self.value(subs[sub - 1]) if sub <= len(subs) else ""
        return self.value(piece) if sub == 1 else ""

    def first(self, raw: str, comp: int = 1, sub: int = 1) -> str:
        """Like part() on the first repetition of a field."""
        if not raw:
            return ""
        sep = self._repetition
        if sep and sep in raw:
            raw = raw.split(sep, 1)[0]
        return self.part(raw, comp, sub)

    def escape(self, text: str) -> str:
        """Text made safe to place inside a field of this encoding (for acknowledgements)."""
        enc = self.enc
        out = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
        if enc.escape:
            out = out.replace(enc.escape, f"{enc.escape}E{enc.escape}")
            for ch, code in (
                (enc.field, "F"),
                (enc.component, "S"),
                (enc.subcomponent, "T"),
                (enc.repetition, "R"),
                (enc.truncation, "P"),
            ):
                if ch:
                    out = out.replace(ch, f"{enc.escape}{code}{enc.escape}")
        else:  # nothing can be escaped: drop the delimiters instead of corrupting the structure
            for ch in (enc.field, enc.component, enc.subcomponent, enc.repetition, enc.truncation):
                if ch:
                    out = out.replace(ch, " ")
        return out


# --- Dates ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Moment:
    """An HL7 DTM read as far as it goes: `precision` counts the date parts given (1 year .. 3 day)."""

    date: dt.date
    precision: int
    moment: dt.datetime | None  # None when only a date (or less) was sent


def _read_dtm(text: str) -> _Moment | None:
    """HL7 DTM, YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ], or None when it is not one."""
    # The longest DTM has 24 characters; longer text is no date, and must not fill the cache.
    return _read_short_dtm(text) if len(text) <= 24 else None


@functools.lru_cache(maxsize=1024)  # the same timestamp recurs in OBR-7, SPM-17, OBX-14, OBX-19 ...
def _read_short_dtm(text: str) -> _Moment | None:
    match = _DTM.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        date = dt.date(int(year), int(month or 1), int(day or 1))
        precision = 3 if day else 2 if month else 1
        tz: dt.tzinfo | None = None
        if offset:
            hours, minutes = int(offset[1:3]), int(offset[3:5])
            if hours > 14 or minutes > 59:
                return None
            delta = dt.timedelta(hours=hours, minutes=minutes)
            tz = dt.timezone(-delta if offset[0] == "-" else delta)
        if hour is None:
            return _Moment(date, precision, None)
        micro = int((fraction or "0").ljust(6, "0")[:6])
        # Without a UTC offset HL7 means the sender's local time, which this module cannot know:
        # the time stays naive for the caller to place.
        moment = dt.datetime(date.year, date.month, date.day, int(hour), int(minute or 0), int(second or 0), micro, tzinfo=tz)
    except ValueError:
        return None
    return _Moment(date, precision, moment)


def _quote(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


# --- Message structure -------------------------------------------------------------------------------


@dataclasses.dataclass
class _Order:
    orc: _Segment | None = None
    obr: _Segment | None = None
    obx: list[_Segment] = dataclasses.field(default_factory=list)
    spm: list[_Segment] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _PatientGroup:
    pid: _Segment | None
    orders: list[_Order] = dataclasses.field(default_factory=list)


class _Issues:
    """Problems found while reading one message: errors reject it, warnings travel with the report.

    Each list keeps its first _MAX_PROBLEMS: a message with thousands of broken OBX must not turn
    into an acknowledgement with thousands of ERR segments.
    """

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        # Problems that cost one OBX its place but leave the rest of the message readable: they
        # reject the message only when no result is left.
        self.dropped: list[Problem] = []
        self.warnings: list[Problem] = []
        self.untold = 0

    def _add(self, problems: list[Problem], problem: Problem) -> None:
        if len(problems) < _MAX_PROBLEMS:
            problems.append(problem)
        else:
            self.untold += 1

    def error(self, location: str, reason: str, code: str = "invalid") -> None:
        self._add(self.errors, Problem(location, reason, code))

    def warn(self, location: str, reason: str, code: str = "invalid") -> None:
        self._add(self.warnings, Problem(location, reason, code))

    def drop(self, location: str, reason: str, code: str = "invalid") -> None:
        self._add(self.dropped, Problem(location, reason, code))

    def summary(self) -> list[Problem]:
        if not self.untold:
            return []
        return [Problem("message", f"{self.untold} more problems were found in this message and are not listed.", "truncated")]


@dataclasses.dataclass
class _OrderContext:
    accession: str
    collection: dt.date | None
    collection_missing: bool
    result_date: dt.date | None
    specimen_id: str
    specimen_type: str


class _MessageReader:
    """Reads one message's segments into LabReports; every defect becomes a Problem in `issues`."""

    def __init__(self, segments: list[_Segment], enc: _Encoding) -> None:
        self.segments = segments
        self.r = _Reader(enc)
        self.issues = _Issues()
        self.msh = segments[0]
        self._assumed_loinc: Problem | None = None  # set by _test_code for the OBX being read

    # -- header

    def header(self) -> tuple[str, str, str]:
        """(control id, message type, version); raises ParseError when the message is not one TraceCenter reads."""
        r, msh, issues = self.r, self.msh, self.issues
        control_id = r.value(msh.get(10))
        if not control_id:
            issues.error(
                "MSH-10",
                "The message control ID is empty; every message needs a unique MSH-10 so its acknowledgement can refer to it.",
                "required",
            )
        msg_code = r.first(msh.get(9), 1).upper()
        event = r.first(msh.get(9), 2).upper()
        message_type = f"{msg_code}^{event}" if event else msg_code
        if not msg_code:
            issues.error("MSH-9", "The message type is empty; expected ORU^R01 (an unsolicited lab result).", "required")
        elif (msg_code, event) != ("ORU", "R01"):
            shown = message_type[:20]
            if msg_code in ("ORM", "OML", "OMG"):
                reason, code = f"{shown} is an order, not a result; TraceCenter accepts ORU^R01 lab results.", "unsupported_type"
            elif msg_code == "ORU":
                reason, code = f"{shown} is not a lab result event TraceCenter reads; it accepts ORU^R01.", "unsupported_event"
            elif msg_code == "ACK":
                reason, code = (
                    f"{shown} is an acknowledgement, not a result; TraceCenter accepts ORU^R01 lab results.",
                    "unsupported_type",
                )
            else:
                reason, code = (
                    f"{shown} is not a lab result message; TraceCenter accepts ORU^R01 lab results.",
                    "unsupported_type",
                )
            issues.error("MSH-9", reason, code)
        version = r.first(msh.get(12), 1)
        if not version:
            issues.error("MSH-12", "The HL7 version is empty; expected 2.5.1 (versions 2.3 to 2.7 are accepted).", "required")
        elif version not in SUPPORTED_VERSIONS:
            issues.error(
                "MSH-12",
                f"HL7 version {_quote(version, 20)} is not supported; TraceCenter reads versions 2.3 to 2.7 (2.5.1 preferred).",
                "unsupported_version",
            )
        if any(p.location in ("MSH-9", "MSH-12") for p in issues.errors):
            # A message of another type or version is not read further: its fields mean other things.
            raise ParseError(issues.errors)
        return control_id, message_type, version

    def sent_at(self) -> dt.datetime | None:
        raw = self.r.first(self.msh.get(7), 1)
        if not raw:
            return None
        moment = _read_dtm(raw)
        if moment is None:
            self.issues.warn(
                "MSH-7",
                f"The message date/time {_quote(raw)} is not a valid HL7 date/time (YYYYMMDDHHMMSS+ZZZZ); ignored.",
                "invalid_date",
            )
            return None
        return moment.moment

    def sending_facility(self) -> tuple[str, str]:
        r = self.r
        for n in (4, 3):
            raw = self.msh.get(n)
            name, ident = r.first(raw, 1), r.first(raw, 2)
            if name or ident:
                return name, ident
        return "", ""

    # -- structure

    def groups(self) -> list[_PatientGroup]:
        """Segments grouped as ORU^R01 nests them: patient, then orders (ORC, OBR, OBX..., SPM, OBX...)."""
        groups: list[_PatientGroup] = []
        pending_orc: _Segment | None = None
        order: _Order | None = None
        for seg in self.segments[1:]:
            name = seg.name
            if name == "PID":
                groups.append(_PatientGroup(seg))
                order, pending_orc = None, None
            elif name == "ORC":
                pending_orc = seg
            elif name in ("OBR", "OBX", "SPM"):
                if not groups:
                    groups.append(_PatientGroup(None))
                if name == "OBR" or order is None:
                    if name != "OBR":
                        self.issues.warn(
                            seg.loc, f"{name} comes before any OBR; it is read as part of an order without OBR.", "structure"
                        )
                    order = _Order(orc=pending_orc, obr=seg if name == "OBR" else None)
                    pending_orc = None
                    groups[-1].orders.append(order)
                if name == "OBX":
                    order.obx.append(seg)
                elif name == "SPM":
                    order.spm.append(seg)
        return groups

    # -- patient

    def patient(self, pid: _Segment) -> PatientRecord:
        r, issues, loc = self.r, self.issues, pid.loc
        patient = PatientRecord()

        names = [rep for rep in r.reps(pid.get(5)) if r.part(rep, 1) or r.part(rep, 2)]
        legal = next((rep for rep in names if r.part(rep, 7).upper() == "L"), names[0] if names else "")
        patient.last_name, patient.first_name, patient.middle_name = r.part(legal, 1), r.part(legal, 2), r.part(legal, 3)
        if not (patient.last_name or patient.first_name):
            issues.error(f"{loc}-5", "The patient's name is empty; PID-5 needs at least a family or a given name.", "required")

        patient.source_id, patient.source_id_authority = self._patient_id(pid)

        raw_dob = r.first(pid.get(7), 1)
        if not raw_dob:
            issues.warn(f"{loc}-7", "The date of birth is empty; the patient will be harder to match.", "missing_dob")
        else:
            moment = _read_dtm(raw_dob)
            if moment is None:
                # A positive result must still reach an investigator: the birth date is dropped, not the result;
                # its digits are kept for matching (one mistyped digit from the real date).
                issues.warn(
                    f"{loc}-7",
                    f"The date of birth {_quote(raw_dob)} is not a valid date (YYYYMMDD); it is left empty.",
                    "invalid_date",
                )
                patient.date_of_birth_as_written = date_of_birth_as_written(raw_dob)
            elif moment.precision < 3:
                issues.warn(
                    f"{loc}-7",
                    f"The date of birth {_quote(raw_dob)} gives no full date (YYYYMMDD); it is left empty.",
                    "partial_date",
                )
            else:
                patient.date_of_birth = moment.date

        raw_sex = r.first(pid.get(8), 1).upper()
        if raw_sex:
            sex = normalize_sex(raw_sex)
            if sex is None:
                issues.warn(
                    f"{loc}-8",
                    f"The sex {_quote(raw_sex, 10)} is not an HL7 table 0001 code (F, M, O, U, A, N); read as U.",
                    "invalid_value",
                )
            patient.sex = sex or "U"

        self._address(pid, patient)
        for field in (13, 14):
            self._contacts(pid.get(field), patient)
        patient.preferred_language = self._language(pid)
        return patient

    def _patient_id(self, pid: _Segment) -> tuple[str, str]:
        r = self.r
        best: tuple[int, str, str] | None = None
        # PID-2 is where v2.3 senders put the external id; PID-3 is the identifier list since.
        for field in (3, 2):
            for rep in r.reps(pid.get(field)):
                ident = r.part(rep, 1)
                id_type = r.part(rep, 5).upper()
                if not ident or id_type == "SS":
                    continue
                # The authority's universal id (CLIA, OID) is stable; its namespace name is a label.
                authority = r.part(rep, 4, 2) or r.part(rep, 4, 1) or r.part(rep, 6, 2) or r.part(rep, 6, 1)
                rank = _ID_TYPE_PREFERENCE.get(id_type, 9)
                if best is None or rank < best[0]:
                    best = (rank, ident, authority)
            if best is not None:
                break
        return (best[1], best[2]) if best else ("", "")

    def _address(self, pid: _Segment, patient: PatientRecord) -> None:
        r = self.r
        reps = [rep for rep in r.reps(pid.get(11)) if any(r.part(rep, n) for n in (1, 3, 4, 5))]
        if not reps:
            return
        home = next((rep for rep in reps if r.part(rep, 7).upper() in ("H", "L")), reps[0])
        street = r.part(home, 1)
        other = r.part(home, 2)
        patient.street = f"{street}, {other}" if street and other else street or other
        patient.city = r.part(home, 3)
        state = r.part(home, 4)
        patient.state = state.upper() if len(state) == 2 else state
        patient.postal_code = r.part(home, 5)
        patient.county = r.part(home, 9)

    def _contacts(self, raw: str, patient: PatientRecord) -> None:
        r = self.r
        for rep in r.reps(raw):
            if not rep:
                continue
            use, equipment = r.part(rep, 2).upper(), r.part(rep, 3).upper()
            email = r.part(rep, 4)
            text = r.part(rep, 1)
            if not email and (use == "NET" or equipment in ("INTERNET", "X.400")) and "@" in text:
                email = text  # v2.3 senders put the address in XTN-1
            if "@" in email and email.casefold() not in {e.casefold() for e in patient.emails}:
                patient.emails.append(email)
            if use == "NET" or equipment in ("INTERNET", "X.400", "FX"):
                continue  # no telephone here (a fax reaches no person)
            phone = self._phone(rep, text)
            if phone and phone not in patient.phones:
                patient.phones.append(phone)

    def _phone(self, rep: str, text: str) -> str:
        r = self.r
        area, local = r.part(rep, 6), r.part(rep, 7)
        if local:
            country = r.part(rep, 5).lstrip("+")
            number = " ".join(p for p in (f"+{country}" if country else "", f"({area})" if area else "", local) if p)
            extension = r.part(rep, 8)
            return f"{number} ext. {extension}" if extension else number
        unformatted = r.part(rep, 12)
        if unformatted:
            return unformatted
        return text if any(ch.isdigit() for ch in text) and "@" not in text else ""

    def _language(self, pid: _Segment) -> str:
        r = self.r
        raw = pid.get(15)
        code, text = r.first(raw, 1), r.first(raw, 2)
        if not (code or text):
            return ""
        # The code first; senders who put a name or an unknown local code there often name the language in CWE-2.
        language = normalize_language(code) or normalize_language(text)
        if language:
            return language
        self.issues.warn(
            f"{pid.loc}-15",
            f"The language {_quote(code or text, 20)} is not an ISO 639 code TraceCenter knows; left empty.",
            "invalid_value",
        )
        return ""

    # -- orders and results

    def ordering(self, orders: list[_Order]) -> tuple[str, str]:
        r = self.r
        provider = facility = ""
        for order in orders:
            for seg, field in ((order.orc, 12), (order.obr, 16)):
                if seg is not None and not provider:
                    provider = self._provider(r.reps(seg.get(field))[0])
            if order.orc is not None and not facility:
                facility = r.first(order.orc.get(21), 1)
        return provider, facility

    def _provider(self, rep: str) -> str:
        r = self.r
        ident = r.part(rep, 1)
        name = " ".join(p for p in (r.part(rep, 3), r.part(rep, 4), r.part(rep, 2), r.part(rep, 5)) if p)
        if not ident:
            return name
        is_npi = len(ident) == 10 and ident.isdigit() and ident.isascii()
        label = f"NPI {ident}" if is_npi else f"ID {ident}"
        return f"{name} ({label})" if name else label

    def order_context(self, order: _Order) -> _OrderContext:
        r = self.r
        accession = ""
        for seg, field in ((order.obr, 3), (order.orc, 3), (order.obr, 2), (order.orc, 2)):
            if seg is not None and not accession:
                accession = r.first(seg.get(field), 1)

        spm = order.spm[0] if order.spm else None
        specimen_id = specimen_type = ""
        collection: dt.date | None = None
        seen_any = False
        if spm is not None:
            specimen_id = r.first(spm.get(2), 1, 1) or r.first(spm.get(2), 2, 1)
            raw_type = r.reps(spm.get(4))[0]
            specimen_type = r.part(raw_type, 2) or r.part(raw_type, 9) or r.part(raw_type, 5) or r.part(raw_type, 1)
        # SPM-17 is where 2.5.1 ELR puts the collection time; OBR-7 is where older senders do.
        for seg, field in ((spm, 17), (order.obr, 7)):
            if seg is None:
                continue
            raw = r.first(seg.get(field), 1, 1)
            if not raw:
                continue
            seen_any = True
            collection = self._full_date(f"{seg.loc}-{field}", raw, "specimen collection date")
            break

        result_date = None
        if order.obr is not None:
            raw = r.first(order.obr.get(22), 1, 1)
            if raw:
                result_date = self._informational_date(f"{order.obr.loc}-22", raw, "result date")
        return _OrderContext(accession, collection, not seen_any, result_date, specimen_id, specimen_type)

    def results(self, orders: list[_Order]) -> list[ResultRecord]:
        """The results of one patient's orders; an OBX repeating an earlier one exactly is counted once."""
        kept: list[ResultRecord] = []
        seen: dict[tuple[str, str, str, str, str], str] = {}
        for order in orders:
            ctx = self.order_context(order)
            for obx in order.obx:
                result = self.result(obx, order, ctx)
                if result is None:
                    continue
                key = (result.observation_key, result.specimen_id, result.classification, result.result_code, result.status)
                if key in seen:
                    self.issues.warn(
                        obx.loc, f"This OBX repeats the {result.test_loinc} result of {seen[key]}; counted once.", "duplicate"
                    )
                    continue
                seen[key] = obx.loc
                kept.append(result)
        return kept

    def _full_date(self, location: str, raw: str, what: str) -> dt.date | None:
        moment = _read_dtm(raw)
        if moment is None:
            self.issues.error(location, f"The {what} {_quote(raw)} is not a valid date (YYYYMMDD).", "invalid_date")
            return None
        if moment.precision < 3:
            self.issues.error(
                location, f"The {what} {_quote(raw)} is not a full date; expected at least YYYYMMDD.", "invalid_date"
            )
            return None
        return moment.date

    def _informational_date(self, location: str, raw: str, what: str) -> dt.date | None:
        moment = _read_dtm(raw)
        if moment is None or moment.precision < 3:
            self.issues.warn(location, f"The {what} {_quote(raw)} is not a valid date (YYYYMMDD); ignored.", "invalid_date")
            return None
        return moment.date

    def result(self, obx: _Segment, order: _Order, ctx: _OrderContext) -> ResultRecord | None:
        r, issues, loc = self.r, self.issues, obx.loc
        if r.first(obx.get(29), 1).upper() == "QST":
            return None  # an ask-at-order-entry answer, flagged as such by the sender (OBX-29)
        self._assumed_loinc = None
        test = self._test_code(obx)
        if test is None:
            return None
        loinc, test_name = test
        if loinc in classify.AOE_QUESTIONS:
            return None
        condition, _kind = classify.test_condition(loinc)
        if not condition:
            shown = f"{loinc} {test_name}".strip()[:120]
            issues.warn(f"{loc}-3", f"{shown} is not a test for a condition TraceCenter traces; ignored.", "not_traced")
            return None

        # Said only for results kept: for a skipped question or test it would be noise.
        warnings: list[Problem] = [self._assumed_loinc] if self._assumed_loinc else []
        raw_status = r.first(obx.get(11), 1).upper()
        status = _STATUS.get(raw_status)
        if not raw_status:
            status = "F"
            warnings.append(Problem(f"{loc}-11", "The result status is empty; read as F (final).", "missing_status"))
        elif status is None:
            issues.drop(
                f"{loc}-11",
                f"The result status {_quote(raw_status, 10)} is not an HL7 table 0085 code; expected F, C, P, W, X or D.",
                "unknown_status",
            )
            return None

        classification, code, system, text = self._value(obx, warnings)

        collection = ctx.collection
        if ctx.collection_missing:
            raw = r.first(obx.get(14), 1, 1)
            if raw:
                collection = self._full_date(f"{loc}-14", raw, "observation (collection) date")
            else:
                where = order.spm[0].loc if order.spm else "SPM"
                warnings.append(
                    Problem(
                        f"{where}-17",
                        "The specimen collection date is missing (SPM-17, OBR-7 and OBX-14 are all empty).",
                        "missing_collection_date",
                    )
                )

        result_date = ctx.result_date
        raw_analysis = r.first(obx.get(19), 1, 1)
        if raw_analysis:
            result_date = self._informational_date(f"{loc}-19", raw_analysis, "analysis date") or result_date

        lab, lab_id = self._performing_lab(obx)
        return ResultRecord(
            test_loinc=loinc,
            test_name=test_name,
            classification=classification,
            condition=condition,
            result_code=code,
            result_code_system=system,
            result_text=text,
            status=status,
            specimen_collection_date=collection,
            result_date=result_date,
            specimen_id=ctx.specimen_id,
            specimen_type=ctx.specimen_type,
            performing_lab=lab,
            performing_lab_id=lab_id,
            accession=ctx.accession,
            warnings=warnings,
        )

    def _test_code(self, obx: _Segment) -> tuple[str, str] | None:
        """(LOINC, test name) from OBX-3, or None with a Problem when no LOINC code can be found."""
        r, issues, loc = self.r, self.issues, obx.loc
        raw = r.reps(obx.get(3))[0]
        code, system = r.part(raw, 1), r.part(raw, 3).upper()
        if system in _LOINC_SYSTEMS and classify.loinc_is_valid(code):
            return code, self._test_name(raw, primary=True)  # the common case, read with fewest lookups
        alt_code, alt_system = r.part(raw, 4), r.part(raw, 6).upper()
        if not (code or alt_code):
            issues.drop(f"{loc}-3", "The test code is empty; OBX-3 needs the LOINC code of the test.", "required")
            return None
        if alt_system in _LOINC_SYSTEMS and classify.loinc_is_valid(alt_code):
            return alt_code, self._test_name(raw, primary=False)
        if system in _LOINC_SYSTEMS or alt_system in _LOINC_SYSTEMS:
            shown = code if system in _LOINC_SYSTEMS else alt_code
            issues.drop(
                f"{loc}-3",
                f"{_quote(shown, 20)} is not a valid LOINC code (wrong format or check digit); check the test code.",
                "invalid_loinc",
            )
            return None
        # No coding system says LOINC. A sender that left OBX-3.3 empty or garbled, but sent a code
        # with a correct LOINC check digit, almost surely meant LOINC; an explicit local code did not.
        local = system == "L" or system.startswith("99")
        if not local and classify.loinc_is_valid(code):
            self._assumed_loinc = Problem(
                f"{loc}-3",
                f"The coding system {_quote(system, 20) if system else '(empty)'} is not LN; {code} was read as a LOINC code.",
                "loinc_system",
            )
            return code, self._test_name(raw, primary=True)
        shown = f"{_quote(code, 20)} ({system[:20] or 'no coding system'})"
        issues.drop(
            f"{loc}-3",
            f"The test code {shown} is not LOINC and OBX-3.4 to 3.6 give no LOINC alternate; "
            "TraceCenter needs the test's LOINC code.",
            "not_loinc",
        )
        return None

    def _test_name(self, raw: str, *, primary: bool) -> str:
        """The test's name: the text beside the code used, else the original text (CWE-9), else the other text."""
        r = self.r
        first, second = (2, 5) if primary else (5, 2)
        return r.part(raw, first) or r.part(raw, 9) or r.part(raw, second)

    def _value(self, obx: _Segment, warnings: list[Problem]) -> tuple[classify.Classification, str, str, str]:
        """(classification, result code, code system, text) from OBX-5, read as OBX-2 says."""
        r, loc = self.r, obx.loc
        value_type = r.first(obx.get(2), 1).upper()
        raw = r.reps(obx.get(5))[0]
        if not value_type:
            value_type = "CWE" if self.r.enc.component and self.r.enc.component in raw else "ST"
            warnings.append(
                Problem(f"{loc}-2", f"The value type is empty; the value was read as {value_type}.", "missing_value_type")
            )
        if value_type in _CODED_TYPES:
            code, text, system = r.part(raw, 1), r.part(raw, 2) or r.part(raw, 9), r.part(raw, 3)
            alt_code, alt_text, alt_system = r.part(raw, 4), r.part(raw, 5), r.part(raw, 6)
            # A local primary code with a SNOMED alternate: the SNOMED code is the one to read.
            if system.upper() not in _SNOMED_SYSTEMS and alt_system.upper() in _SNOMED_SYSTEMS and alt_code:
                code, text, system = alt_code, alt_text or text, alt_system
            found = classify.interpret_coded(code, system, text)
        elif value_type in _PLAIN_CODE_TYPES:
            code, text, system = r.part(raw, 1), "", ""
            found = classify.interpret_coded(code)
        elif value_type in _TEXT_TYPES:
            text = r.part(raw, 1)
            code, system = text, ""
            found = classify.interpret_text(text)
        else:
            text = r.part(raw, 1)
            warnings.append(
                Problem(
                    f"{loc}-2",
                    f"Value type {value_type[:10]} cannot carry a positive or negative result; "
                    "expected CWE (coded) or ST (text).",
                    "unsupported_value_type",
                )
            )
            return "unknown", text, "", text
        if found.warning:
            warnings.append(Problem(f"{loc}-5", found.warning, found.code or "unknown_result"))
        return found.classification, code, system, text

    def _performing_lab(self, obx: _Segment) -> tuple[str, str]:
        """(name, CLIA) of the lab that did the test: OBX-23, else OBX-15, else the sending facility."""
        r = self.r
        names: list[str] = []
        ids: list[str] = []
        org = r.reps(obx.get(23))[0]
        names.append(r.part(org, 1))
        ids.append(r.part(org, 10) or r.part(org, 3))
        producer = r.reps(obx.get(15))[0]
        producer_id, producer_name, producer_system = r.part(producer, 1), r.part(producer, 2), r.part(producer, 3).upper()
        names.append(producer_name)
        # A CLIA-typed id is kept as sent: at-home test senders put ReportStream placeholders ("00Z...") there.
        ids.append(normalize_clia(producer_id) or (producer_id if producer_system == "CLIA" else ""))
        names.append(r.first(self.msh.get(4), 1))
        ids.append(r.first(self.msh.get(4), 2))
        return next((n for n in names if n), ""), next((i for i in ids if i), "")


# --- Parser ------------------------------------------------------------------------------------------


class Hl7v2Parser:
    """HL7 v2 ORU^R01 electronic lab reports: a file of messages in, LabReports out."""

    format: Format = "hl7v2"

    def split(self, data: bytes) -> list[RawUnit]:
        """Cut a file into messages at each MSH.

        Accepts CR, LF or CRLF segment ends (units are returned with CR), MLLP framing bytes and a
        byte-order mark; batch envelopes (FHS, BHS, BTS, FTS) are dropped. Text before the first MSH
        is a unit of its own so parse() rejects it with a reason rather than losing it.
        Each message is decoded with its MSH-18 character set, else UTF-8, else Latin-1. A message
        over MAX_MESSAGE_BYTES keeps only its first MAX_MESSAGE_BYTES + 1 bytes (parse refuses it as
        too large all the same). Returns a list (the pipeline counts it without cutting the file twice);
        raises ParseError only when the file holds no MSH at all.
        """
        if _MLLP_BYTES[:1] in data or _MLLP_BYTES[1:] in data:
            data = data.translate(None, _MLLP_BYTES)
        # One copy of the file, as lines: not one per kind of line end replaced.
        lines = _LINE_BREAK.split(data)
        if lines[0].startswith(codecs.BOM_UTF8):
            lines[0] = lines[0][len(codecs.BOM_UTF8) :]

        units: list[RawUnit] = []
        messages = 0
        current: list[bytes] = []
        start_line = 1
        in_message = False
        for number, line in enumerate(lines, start=1):
            segment = line.lstrip(b" \t")
            if not segment.strip():
                continue
            name = segment[:3]
            if name in _BATCH_SEGMENTS and (len(segment) == 3 or not segment[3:4].isalnum()):
                continue
            if name == b"MSH" and len(segment) > 3 and not segment[3:4].isalnum():
                if current:
                    units.append(self._unit(len(units) + 1, current, messages, start_line, in_message))
                current, start_line, in_message = [segment], number, True
                messages += 1
                continue
            if not current:
                start_line = number
            current.append(segment)
        if not messages:
            raise ParseError([_not_hl7_problem(data)])
        if current:
            units.append(self._unit(len(units) + 1, current, messages, start_line, in_message))
        return units

    @staticmethod
    def _unit(index: int, segments: list[bytes], messages: int, line: int, is_message: bool) -> RawUnit:
        segments = _at_most(segments, MAX_MESSAGE_BYTES + 1)
        text = _decode(segments).replace("\x00", "\ufffd")
        where = f"message {messages} (line {line})" if is_message else f"text before the first MSH (line {line})"
        return RawUnit(index=index, text="\r".join(text.split("\n")) + "\r", where=where)

    def parse(self, unit: RawUnit) -> list[LabReport]:
        """One message to one LabReport per patient (PID group), or ParseError with every problem found.

        Never raises anything but ParseError, whatever the text holds.
        """
        try:
            return self._parse(unit.text)
        except ParseError:
            raise
        except Exception as exc:  # a defect of this module must still reach the lab as a rejection
            raise ParseError(
                [
                    Problem(
                        "MSH",
                        f"The message could not be read ({type(exc).__name__}); please report this message to TraceCenter.",
                        "internal",
                    )
                ]
            ) from exc

    def _parse(self, text: str) -> list[LabReport]:
        if len(text) > MAX_MESSAGE_BYTES // 4 and len(text.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES:
            raise ParseError(
                [
                    Problem(
                        "MSH",
                        f"The message is larger than {MAX_MESSAGE_BYTES // 1_048_576} MB; a lab report is a few kilobytes.",
                        "too_large",
                    )
                ]
            )
        segments, enc, warnings = _tokenize(text)
        reader = _MessageReader(segments, enc)
        reader.issues.warnings.extend(warnings)
        control_id, message_type, version = reader.header()
        sent_at = reader.sent_at()
        facility, facility_id = reader.sending_facility()

        reports: list[LabReport] = []
        for group in reader.groups():
            if group.pid is None:
                reader.issues.error(
                    "PID", "The results come before any PID segment; each patient's PID must precede their results.", "structure"
                )
                continue
            patient = reader.patient(group.pid)
            results = reader.results(group.orders)
            if not group.orders:
                reader.issues.warn(group.pid.loc, "This patient has no OBR/OBX results.", "no_result")
            provider, ordering_facility = reader.ordering(group.orders)
            report = LabReport(
                format="hl7v2",
                control_id=control_id,
                patient=patient,
                results=results,
                message_type=message_type,
                version=version,
                sending_facility=facility,
                sending_facility_id=facility_id,
                ordering_provider=provider,
                ordering_facility=ordering_facility,
                sent_at=sent_at,
            )
            if results:
                reports.append(report)

        issues = reader.issues
        if not any(seg.name == "PID" for seg in segments):
            issues.error(
                "PID", "The message has no PID segment; an ORU^R01 needs the patient's PID before the results.", "required"
            )
        if issues.errors:
            raise ParseError([*issues.errors, *issues.dropped, *issues.summary()])
        if not reports:
            # The reason first, then what became of each OBX.
            raise ParseError(
                [
                    Problem(
                        "OBX", "The message has no result for a condition TraceCenter traces; nothing was accepted.", "no_result"
                    ),
                    *issues.dropped,
                    *issues.warnings,
                    *issues.summary(),
                ]
            )
        # Message-level warnings travel with every report: each is reviewed on its own.
        for report in reports:
            report.warnings = [*issues.dropped, *issues.warnings, *issues.summary()]
        return reports


def _tokenize(text: str) -> tuple[list[_Segment], _Encoding, list[Problem]]:
    """Segments of one message, with HL7 field numbering and occurrence-labelled locations."""
    text = text.lstrip("\x0b\ufeff \t\r\n").replace("\x1c", "")
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    if not text.strip():
        raise ParseError([Problem("MSH", "The message is empty; expected an HL7 v2 message starting with MSH.", "required")])
    if not text.startswith("MSH"):
        raise ParseError(
            [
                Problem(
                    "MSH",
                    f"This text is not an HL7 v2 message: it starts with {_quote(text[:30].translate(_CONTROL_CHARS))} "
                    "instead of an MSH segment.",
                    "not_hl7",
                )
            ]
        )
    field_sep = text[3:4]
    if not field_sep or not _is_delimiter(field_sep):
        raise ParseError(
            [
                Problem(
                    "MSH-1",
                    "The field separator after 'MSH' is missing or is not a punctuation character; expected '|'.",
                    "invalid_encoding",
                )
            ]
        )
    first_end = text.find("\r")
    header = text if first_end < 0 else text[:first_end]
    msh2_end = header.find(field_sep, 4)
    msh2 = header[4:] if msh2_end < 0 else header[4:msh2_end]
    enc = _encoding_from(field_sep, msh2)
    if enc is None:
        reason = (
            "The encoding characters are missing; expected '^~\\&' right after 'MSH|'."
            if not msh2
            else f"The encoding characters {_quote(msh2, 10)} are not usable (1 to 5 distinct punctuation characters); "
            "expected '^~\\&'."
        )
        raise ParseError([Problem("MSH-2", reason, "required" if not msh2 else "invalid_encoding")])

    raw_segments: list[tuple[str, list[str]]] = []
    skipped: list[int] = []
    for number, line in enumerate(text.split("\r"), start=1):
        if line[:1] in (" ", "\t"):
            line = line.lstrip(" \t")
        if not line or line.isspace():
            continue
        name = line[:3]
        if len(line) > 3 and line[3] != field_sep:
            skipped.append(number)
        elif name in _READ_SEGMENTS:
            fields = line.split(field_sep)
            if name == "MSH":
                fields.insert(1, field_sep)  # MSH-1 is the separator itself: keep HL7 numbering
            raw_segments.append((name, fields))
        elif name not in _IGNORED_SEGMENTS and not _SEGMENT_NAME.fullmatch(name):
            skipped.append(number)
        # Any other segment (NTE, PV1, Z-segments, batch envelopes ...) carries nothing read here.

    counts: dict[str, int] = {}
    for name, _fields in raw_segments:
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    segments: list[_Segment] = []
    for name, fields in raw_segments:
        n = seen[name] = seen.get(name, 0) + 1
        segments.append(_Segment(name, fields, f"{name}[{n}]" if counts[name] > 1 else name))

    if counts.get("MSH", 0) > 1:
        raise ParseError(
            [
                Problem(
                    "MSH[2]",
                    "A second MSH segment starts another message inside this one; send each message with its own MSH.",
                    "structure",
                )
            ]
        )
    warnings: list[Problem] = []
    if skipped:
        # Usually a field with a raw line break in it; the rest of that field is lost, so say where.
        lines = ", ".join(str(n) for n in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.append(
            Problem(
                "message",
                f"Line {lines} of the message is not an HL7 segment (a line break inside a field?); ignored.",
                "structure",
            )
        )
    return segments, enc, warnings


def _at_most(segments: list[bytes], size: int) -> list[bytes]:
    """The segments, cut after `size` bytes (joined by one byte each): no more of an oversized message is kept."""
    kept: list[bytes] = []
    total = 0
    for segment in segments:
        if total + len(segment) > size:
            kept.append(segment[: max(size - total, 0)])
            return kept
        kept.append(segment)
        total += len(segment) + 1
    return kept


def _decode(segments: list[bytes]) -> str:
    data = b"\n".join(segments)
    charset = _declared_charset(segments[0])
    for encoding in (charset, "utf-8"):
        if encoding:
            try:
                return data.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("latin-1")


def _declared_charset(first_segment: bytes) -> str:
    """The Python codec for MSH-18 of a message, "" when absent or unknown."""
    if not first_segment.startswith(b"MSH") or len(first_segment) < 4:
        return ""
    fields = first_segment.split(first_segment[3:4])
    if len(fields) < 18:
        return ""
    rep_sep = fields[1][1:2] if len(fields[1]) > 1 else b""
    declared = fields[17].split(rep_sep)[0] if rep_sep else fields[17]
    return _CHARSETS.get(declared.decode("latin-1").strip().upper(), "")


def _not_hl7_problem(data: bytes) -> Problem:
    if _NOT_SPACE.search(data) is None:
        return Problem("file", "The file is empty; expected HL7 v2 messages starting with MSH.", "not_hl7")
    start = data[:40].decode("utf-8", "replace").translate(_CONTROL_CHARS).strip()
    return Problem(
        "file",
        f"The file is not HL7 v2: no MSH segment was found (it starts with {_quote(start)}); "
        "expected messages starting with MSH|^~\\&.",
        "not_hl7",
    )


# --- Acknowledgements ----------------------------------------------------------------------------


def _read_header(text: str | None) -> tuple[_Reader, list[str]] | None:
    """The encoding and raw MSH fields (HL7 numbering) of a message, or None when it has no usable MSH."""
    if not text:
        return None
    start = 0
    while start < len(text) and start < 1024 and text[start] in "\x0b\ufeff \t\r\n":
        start += 1
    if not text.startswith("MSH", start):
        return None
    # Only the first segment is needed; never scan a huge unit to its end for it.
    head = text[start : start + 65_536]
    cut = min((i for i in (head.find("\r"), head.find("\n")) if i >= 0), default=len(head))
    header = head[:cut]
    field_sep = header[3:4]
    fields = header.split(field_sep) if field_sep else []
    if len(fields) < 2:
        return None
    enc = _encoding_from(field_sep, fields[1])
    if enc is None:
        return None
    fields.insert(1, field_sep)
    return _Reader(enc), fields


def message_control_id(text: str) -> str:
    """MSH-10 of a message, best effort: "" when the text has no readable MSH."""
    try:
        header = _read_header(text)
        if header is None:
            return ""
        reader, fields = header
        return reader.value(fields[10]) if len(fields) > 10 else ""
    except Exception:  # best effort by contract: an unreadable header simply has no control id
        return ""


def message_sending_facility(text: str) -> tuple[str, str]:
    """MSH-4 of a message, best effort: (namespace id, universal id: an OID or a CLIA number), "" where absent.

    Read from the first segment only, without parsing the message: what an allow-list of senders needs.
    """
    try:
        header = _read_header(text)
        if header is None:
            return "", ""
        reader, fields = header
        raw = fields[4] if len(fields) > 4 else ""
        return reader.first(raw, 1).strip(), reader.first(raw, 2).strip()
    except Exception:  # best effort by contract, like message_control_id
        return "", ""


def build_ack(
    message_text: str | None,
    code: str,
    problems: list[Problem],
    *,
    control_id: str,
    now: dt.datetime | None = None,
) -> str:
    """An HL7 v2 acknowledgement (ACK^R01^ACK) of a received message, segments joined by CR.

    `code` is the MSA-1 acknowledgment code (AA accepted, AE error, AR rejected; CA/CE/CR in
    enhanced mode). With AE/AR each problem becomes an ERR segment of severity E; problems passed
    with AA are reported as warnings (severity W). The ACK uses the received message's encoding
    characters and version, with sender and receiver swapped; when the message cannot be read it
    uses |^~\\& and version 2.5.1. `control_id` is this ACK's own MSH-10; MSA-2 echoes the received
    MSH-10.
    """
    code = code.strip().upper()
    if code not in ("AA", "AE", "AR", "CA", "CE", "CR"):
        raise ValueError(f"{code!r} is not an HL7 acknowledgment code (AA, AE, AR, CA, CE, CR)")
    try:
        header = _read_header(message_text)
    except Exception:  # the acknowledgement must go out whatever was received: fall back to defaults
        header = None
    if header is None:
        reader, received = _Reader(_DEFAULT_ENCODING), ["MSH", "|", _DEFAULT_ENCODING.msh2]
    else:
        reader, received = header
    enc = reader.enc

    def raw(n: int) -> str:
        # Fields are copied as received: the ACK uses the same delimiters, so they stay well-formed.
        return received[n] if n < len(received) else ""

    version = reader.first(raw(12), 1)
    if not _VERSION_SHAPE.fullmatch(version):
        version = _ACK_DEFAULT_VERSION
    processing_id = reader.first(raw(11), 1)
    if processing_id not in ("P", "T", "D"):
        processing_id = "P"
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    c = enc.component
    msh = [
        "MSH",
        enc.msh2,
        raw(5) or "TraceCenter",
        raw(6),
        raw(3),
        raw(4),
        moment.strftime("%Y%m%d%H%M%S+0000"),
        "",
        f"ACK{c}R01{c}ACK",
        reader.escape(control_id),
        processing_id,
        version,
    ]
    # MSA-3 and ERR-1 were withdrawn in 2.5; receivers on 2.3 and 2.4 only understand those.
    legacy = version.startswith(("2.3", "2.4"))
    # MSA-2 echoes MSH-10 as received (HL7 caps it at 199 characters).
    msa = ["MSA", code, raw(10)[:199]]
    if legacy and problems:
        msa.append(reader.escape(problems[0].reason[:80]))
    segments = [enc.field.join(msh), enc.field.join(msa)]
    accepted = code in ("AA", "CA")
    for problem in problems:
        segments.append(enc.field.join(_err_fields(reader, problem, accepted=accepted, legacy=legacy)))
    return "\r".join(segments)


def _err_fields(reader: _Reader, problem: Problem, *, accepted: bool, legacy: bool) -> list[str]:
    enc = reader.enc
    c, s = enc.component, enc.subcomponent or enc.component
    number = 0 if accepted else _ERROR_CODE.get(problem.code, 207)
    error = c.join([str(number), _ERROR_TEXT[number], "HL70357"])
    location = _err_location(problem.location)
    err = ["ERR", "", c.join(location), error, "W" if accepted else "E", "", "", "", reader.escape(problem.reason)]
    if legacy:
        err[1] = c.join([*(location or ["", "", ""])[:3], s.join([str(number), _ERROR_TEXT[number], "HL70357"])])
    return err


def _err_location(location: str) -> list[str]:
    """ERR-2 (ERL) components for a location like "OBX[3]-5.1": segment, sequence, field, repetition, component."""
    match = _LOCATION.fullmatch(location.strip())
    if match is None:
        return []
    segment, sequence, field, component, subcomponent = match.groups()
    if not (field or sequence):
        return []  # a whole kind of segment ("OBX": no result at all) is no one place to point at
    parts = [segment, sequence or "1"]
    if field:
        parts.append(field)
        if component:
            parts += ["1", component]
            if subcomponent:
                parts.append(subcomponent)
    return parts

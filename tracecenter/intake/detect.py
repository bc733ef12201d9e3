"""Which format a file is in, from its first bytes (and, only to break a tie, its name)."""

from __future__ import annotations

from functools import cache

from tracecenter.intake.records import FormatParser

FORMATS = ("hl7v2", "csv", "fhir")
UNKNOWN_REASON = (
    "The file is not a format TraceCenter reads: expected HL7 v2 (starting with MSH, FHS or BHS), "
    "a FHIR R4 Bundle in JSON or NDJSON, or a CSV of test results with a header row."
)


def detect_format(data: bytes, filename: str = "") -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n\x0b")
    if head[:3] in (b"MSH", b"FHS", b"BHS"):
        return "hl7v2"
    if head[:1] in (b"{", b"["):
        return "fhir"
    name = filename.lower()
    if name.endswith((".hl7", ".hl7v2", ".txt")) and b"MSH|" in data[:65536]:
        return "hl7v2"
    if b"\x00" in head:
        return None
    first_line = head.split(b"\n", 1)[0]
    if b"," in first_line or name.endswith(".csv"):
        return "csv"
    return None


@cache
def parser_for(fmt: str) -> FormatParser:
    if fmt == "hl7v2":
        from tracecenter.intake.formats.hl7v2 import Hl7v2Parser

        return Hl7v2Parser()
    if fmt == "csv":
        from tracecenter.intake.formats.csv_results import CsvResultsParser

        return CsvResultsParser()
    if fmt == "fhir":
        from tracecenter.intake.formats.fhir_r4 import FhirR4Parser

        return FhirR4Parser()
    raise ValueError(f"no parser for {fmt!r}")

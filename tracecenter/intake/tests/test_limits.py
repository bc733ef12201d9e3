"""Large and hostile files: limits per format, bounded memory, and what is kept of a file refused whole."""

from __future__ import annotations

import datetime as dt
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tracecenter.core import clock, crypto
from tracecenter.intake.formats import csv_results
from tracecenter.intake.formats.csv_results import MAX_LINE_CHARS, CsvResultsParser
from tracecenter.intake.formats.hl7v2 import MAX_MESSAGE_BYTES, Hl7v2Parser
from tracecenter.intake.models import InboundMessage, IntakeBatch
from tracecenter.intake.pipeline import KEPT_OF_A_REFUSED_FILE, Intake, problems_of
from tracecenter.intake.records import ParseError
from tracecenter.intake.synthetic import SyntheticReport, oru_r01

pytestmark = pytest.mark.django_db

CSV_DIR = Path(__file__).resolve().parent / "fixtures" / "csv"
SR_HEADER, SR_ROW = (CSV_DIR / "test-results-upload-valid.csv").read_text().strip().split("\n")


def peak_of(work: Any) -> int:
    """The most memory Python allocated while `work` ran (above what it held before), in bytes."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def ingested(root: Any, data: bytes, filename: str) -> Intake:
    run = Intake(root=root, batch=IntakeBatch.objects.create(source="file", filename=filename, jurisdiction=root))
    run.ingest_bytes(data, filename=filename)
    run.finish()
    return run


# --- A one-line file of megabytes


def test_a_one_line_csv_of_megabytes_is_refused_with_a_bounded_peak_and_only_its_start_kept(state):
    data = b"patient_last_name," * (8 * 1024 * 1024 // 18)  # 8 MB, no line end

    peak = peak_of(lambda: ingested(state, data, "one-line.csv"))

    # Its text (one copy, one byte a character) and little else: before, the line was copied five
    # times over and the whole file encrypted and stored, for a peak of about twelve times its size.
    assert peak < 2.5 * len(data), f"peak {peak / len(data):.1f} times the file"
    message = InboundMessage.objects.get()
    assert message.state == "rejected"
    assert len(message.raw) == KEPT_OF_A_REFUSED_FILE and data.decode().startswith(message.raw)
    assert message.where == f"file, first {KEPT_OF_A_REFUSED_FILE:,} of {len(data):,} bytes"
    codes = [p.code for p in problems_of(message)]
    assert codes == ["not_csv", "cut"]
    # The same file sent again is recognised, from all of its bytes.
    again = ingested(state, data, "one-line.csv")
    assert (again.report.duplicates, InboundMessage.objects.count()) == (1, 1)
    other = ingested(state, data[:-1] + b"x", "one-line.csv")
    assert (other.report.duplicates, InboundMessage.objects.count()) == (0, 2)


def test_a_file_refused_whole_but_small_is_kept_whole(state):
    data = b"\x00\x01 not a lab file " * 100
    ingested(state, data, "small.bin")
    message = InboundMessage.objects.get()
    assert message.raw == data.decode("latin-1") and message.where == "file"
    assert [p.code for p in problems_of(message)] == ["unknown_format"]


def test_a_csv_line_over_the_limit_is_kept_cut_and_still_refused(state):
    data = f"{SR_HEADER}\n{SR_ROW}\n{'x' * (3 * MAX_LINE_CHARS)}\n{SR_ROW.replace('1234', '1235')}\n".encode()
    run = ingested(state, data, "results.csv")
    assert (run.report.messages, run.report.accepted, run.report.rejected) == (3, 2, 1)
    rejected = InboundMessage.objects.get(state="rejected")
    assert len(rejected.raw) == len(SR_HEADER) + 1 + MAX_LINE_CHARS + 1
    assert [p.code for p in problems_of(rejected)] == ["not_csv"]
    # Parsed again (a correction sent back unchanged, a resend), the kept text is refused the same way.
    with pytest.raises(ParseError):
        CsvResultsParser().parse(next(u for u in CsvResultsParser().split(rejected.raw.encode()) if u.index == 1))


def test_an_hl7_message_over_a_megabyte_is_kept_cut_and_still_refused_as_too_large():
    text = oru_r01(
        SyntheticReport(
            control_id="BIG1",
            first_name="Ana",
            last_name="Rivera" + "A" * (3 * MAX_MESSAGE_BYTES),
            date_of_birth=dt.date(1980, 1, 1),
            collected=clock.today(),
            accession="BIG1",
        )
    )
    [unit] = Hl7v2Parser().split(text.encode())
    assert len(unit.text.encode()) <= MAX_MESSAGE_BYTES + 2
    with pytest.raises(ParseError) as caught:
        Hl7v2Parser().parse(unit)
    assert [p.code for p in caught.value.problems] == ["too_large"]


# --- Rows


def test_a_csv_with_more_rows_than_allowed_is_refused_whole_before_any_row_is_stored(state, monkeypatch):
    monkeypatch.setattr(csv_results, "MAX_ROWS", 3)
    rows = [SR_ROW.replace("1234", f"{1000 + n}") for n in range(4)]
    run = ingested(state, "\n".join([SR_HEADER, *rows]).encode(), "results.csv")
    assert run.report.accepted == 0 and run.report.file_errors
    [message] = InboundMessage.objects.all()
    assert message.where == "file"
    [problem] = problems_of(message)
    assert problem.code == "too_many_rows" and "more than 3 rows" in problem.reason
    batch = IntakeBatch.objects.get()
    assert batch.units_total == 0


def test_a_wide_header_repeated_with_many_rows_is_refused_whole(state, monkeypatch):
    monkeypatch.setattr(csv_results, "MAX_REPEATED_HEADER_CHARS", 3 * len(SR_HEADER))
    rows = [SR_ROW.replace("1234", f"{1000 + n}") for n in range(4)]
    run = ingested(state, "\n".join([SR_HEADER, *rows]).encode(), "results.csv")
    assert run.report.accepted == 0
    [problem] = problems_of(InboundMessage.objects.get())
    assert problem.code == "too_many_rows" and "at most 3 rows" in problem.reason


def test_csv_rows_are_counted_then_ingested_a_chunk_at_a_time(state, monkeypatch):
    from tracecenter.intake import pipeline

    monkeypatch.setattr(pipeline, "CHUNK", 2)
    rows = [SR_ROW.replace("1234", f"{1000 + n}") for n in range(5)]
    seen: list[tuple[int, int]] = []
    run = Intake(root=state, batch=IntakeBatch.objects.create(source="file", filename="r.csv", jurisdiction=state))
    run.ingest_bytes("\n".join([SR_HEADER, *rows]).encode(), filename="r.csv", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert IntakeBatch.objects.get().units_total == 5 and run.report.messages == 5


# --- Limits per format


@pytest.mark.parametrize(
    ("setting", "name", "data"),
    [
        ("INTAKE_MAX_CSV_BYTES", "results.csv", f"{SR_HEADER}\n{SR_ROW}\n".encode()),
        ("INTAKE_MAX_HL7_BYTES", "feed.hl7", b"MSH|^~\\&|LAB" + b"|x" * 600),
        ("INTAKE_MAX_FHIR_BYTES", "bundle.json", b'{"resourceType": "Bundle", "x": "' + b"y" * 1200 + b'"}'),
    ],
)
def test_each_format_has_its_own_limit(state, settings, setting, name, data):
    setattr(settings, setting, 1000)
    run = ingested(state, data, name)
    [problem] = problems_of(InboundMessage.objects.get())
    assert problem.code == "too_large" and "at most 1,000" in problem.reason
    assert run.report.accepted == 0


def test_ingest_refuses_a_file_over_its_formats_limit_from_its_size_without_reading_it(state, settings, tmp_path):
    settings.INTAKE_MAX_CSV_BYTES = 1000
    big = tmp_path / "results.csv"
    big.write_bytes(f"{SR_HEADER}\n{SR_ROW}\n".encode() * 3)
    small = tmp_path / "feed.hl7"
    small.write_bytes(b"MSH|^~\\&|LAB" + b"|x" * 600)  # over 1,000 bytes, but HL7 has its own, larger limit
    out = io.StringIO()
    call_command("ingest", str(big), str(small), "--json", stdout=out)
    report = json.loads(out.getvalue())
    [error] = report["file_errors"]
    assert error["file"] == str(big) and error["problems"][0]["code"] == "too_large"
    assert not InboundMessage.objects.filter(batch__filename="results.csv").exists()
    assert InboundMessage.objects.filter(batch__filename="feed.hl7").exists()


# --- Encryption of data that arrives in pieces


def test_a_blob_sealed_piece_by_piece_opens_like_one_sealed_at_once():
    data = bytes(range(256)) * 1000
    out = io.BytesIO()
    sealer = crypto.BlobSealer(out, context="intake.intakeupload.data")
    for start in range(0, len(data), 7000):
        sealer.update(data[start : start + 7000])
    sealer.finish()
    assert crypto.open_bytes(out.getvalue(), context="intake.intakeupload.data") == data
    with pytest.raises(crypto.DecryptionError):
        crypto.open_bytes(out.getvalue(), context="core.other.column")


def test_a_blind_index_of_bytes_is_the_blind_index_of_their_text():
    assert crypto.blind_index_of_bytes(b"csv\x1f", "línea".encode(), purpose="p") == crypto.blind_index(
        "csv\x1flínea", purpose="p"
    )

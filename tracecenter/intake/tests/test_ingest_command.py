"""`manage.py ingest PATH... --json` on the project's fixtures and, where present, on all the shared real files."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tracecenter.intake.models import InboundMessage, LabResult

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def run_ingest(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("ingest", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_ingest_reads_every_format_and_prints_one_json_report(state):
    report = run_ingest(str(FIXTURES / "hl7"), str(FIXTURES / "csv"), str(FIXTURES / "fhir"))
    assert report["files"] == len([p for p in FIXTURES.rglob("*") if p.is_file() and not p.name.startswith(".")])
    assert report["failed"] == 0
    assert report["accepted"] + report["rejected"] + report["duplicates"] == report["messages"]
    assert set(report["results"]) == {"positive", "negative", "inconclusive", "unknown"}
    assert report["results"]["positive"] > 0 and report["results"]["negative"] > 0 and report["results"]["unknown"] > 0
    assert report["persons_created"] > 0 and report["results"]["positive"] > 0
    assert "cases_opened" not in report  # opening cases is the workers' job, after intake
    for rejection in report["rejections"]:
        assert set(rejection) == {"file", "message", "where", "location", "reason", "code"}
        assert rejection["reason"].strip() and rejection["location"].strip()
    # Whole files that hold no lab format are reported as such, and kept.
    assert {Path(e["file"]).name for e in report["file_errors"]} >= {"SOURCE.md", "completely-empty-file.csv"}
    assert LabResult.objects.count() == sum(report["results"].values()) - report["corrections"]


def test_ingesting_the_same_files_again_is_all_duplicates(state):
    first = run_ingest(str(FIXTURES / "hl7"))
    stored = InboundMessage.objects.count()
    again = run_ingest(str(FIXTURES / "hl7"))
    assert again["duplicates"] == again["messages"] == first["messages"]
    assert (again["accepted"], again["rejected"], InboundMessage.objects.count()) == (0, 0, stored)


def test_the_human_readable_report_names_each_rejection(state):
    out = io.StringIO()
    call_command("ingest", str(FIXTURES / "hl7" / "hl7_2.7.hl7"), stdout=out)
    text = out.getvalue()
    assert "1 rejected" in text and "MSH-9" in text and "ORM^O01 is an order" in text


def test_a_missing_path_is_an_error(state):
    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest", "/nonexistent/feed.hl7")


def test_an_unknown_jurisdiction_is_an_error(state):
    with pytest.raises(CommandError, match="No jurisdiction has the code"):
        call_command("ingest", str(FIXTURES / "hl7"), "--jurisdiction", "nowhere")


@pytest.mark.shared_data
def test_every_shared_lab_file_ingests_without_a_failure(state):
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present (only in the development workspace): the real test files are not here")
    folders = [SHARED / "elr-reportstream" / "files", SHARED / "csv-test-results", SHARED / "fhir-r4"]
    report = run_ingest(*map(str, folders))
    assert report["failed"] == 0
    assert report["accepted"] + report["rejected"] + report["duplicates"] == report["messages"]
    assert report["accepted"] > 100 and report["results"]["positive"] > 30
    # Every rejection says where and why.
    assert all(r["location"] and r["reason"] for r in report["rejections"])
    assert not InboundMessage.objects.filter(state__in=["received", "failed"]).exists()


def test_a_folder_given_by_a_relative_path_with_dots_is_read_and_hidden_files_skipped(state, tmp_path, monkeypatch):
    feed = tmp_path / "feeds" / "today"
    feed.mkdir(parents=True)
    (feed / "a.hl7").write_bytes((FIXTURES / "hl7" / "single_message.hl7").read_bytes())
    (feed / ".partial.hl7").write_bytes(b"MSH|half written")
    monkeypatch.chdir(feed)
    report = run_ingest("../today")
    assert (report["files"], report["accepted"]) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_workers_ingest_files_in_parallel_processes_on_postgresql(state, tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("ingest", str(FIXTURES / "hl7"), "--workers", "2")
        return
    sequential = run_ingest(str(FIXTURES / "hl7" / "single_message.hl7"), str(FIXTURES / "hl7" / "batch_message.hl7"))
    # The same files again, in two processes: all duplicates, counted the same.
    parallel = run_ingest(
        str(FIXTURES / "hl7" / "single_message.hl7"), str(FIXTURES / "hl7" / "batch_message.hl7"), "--workers", "2"
    )
    assert parallel["messages"] == sequential["messages"] == parallel["duplicates"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for name in ("sample_CO_20240403.hl7", "sample_CA_20240729-0001.hl7", "CA-20211001-sully.hl7"):
        (fresh / name).write_bytes((FIXTURES / "hl7" / name).read_bytes())
    report = run_ingest(str(fresh), "--workers", "3")
    assert report["files"] == 3 and report["accepted"] == 3 and report["failed"] == 0
    assert LabResult.objects.filter(message__batch__filename__in=[p.name for p in fresh.iterdir()]).count() > 0


# What the command prints lands in terminals and logs: never the values at fault

PLANTED = ["02/30/1985", "Zebediah", "O'Quarrie", "19850214", "14/45/2021"]


def _files_quoting_personal_values(folder: Path) -> Path:
    import csv

    rows = list(csv.reader((FIXTURES / "csv" / "test-results-upload-valid.csv").open()))
    header, row = rows[0], list(rows[1])
    column = {name: n for n, name in enumerate(header)}
    row[column["patient_dob"]] = "02/30/1985"
    row[column["patient_first_name"]] = "Zebediah"
    row[column["specimen_collection_date"]] = "O'Quarrie 14/45/2021"
    with (folder / "results.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([header, row])

    bundle = json.loads((FIXTURES / "fhir" / "sample_SR_1_20230302-0001.fhir").read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["subject"] = {"reference": "Patient/Zebediah O'Quarrie 19850214"}
    (folder / "bundle.fhir").write_text(json.dumps(bundle))

    with (FIXTURES / "hl7" / "single_message.hl7").open(newline="") as handle:
        segments = handle.read().split("\r")
    msh = segments[0].split("|")
    msh[11] = 'Zebediah "Zeb" O\'Quarrie'
    segments[0] = "|".join(msh)
    with (folder / "message.hl7").open("w", newline="") as handle:
        handle.write("\r".join(segments))
    return folder


def test_the_command_names_what_is_wrong_and_where_but_never_quotes_the_value(state, tmp_path):
    folder = _files_quoting_personal_values(tmp_path)
    text, as_json = io.StringIO(), io.StringIO()
    call_command("ingest", str(folder), stdout=text)
    call_command("ingest", str(folder), "--json", stdout=as_json)  # all duplicates now: the JSON of a first run below
    for value in PLANTED:
        assert value not in text.getvalue(), value
    assert "column patient_dob: [value withheld] is not a date" in text.getvalue()
    assert "MSH-12: HL7 version [value withheld] is not supported" in text.getvalue()
    assert ".subject.reference: The reference [value withheld] matches no entry" in text.getvalue()

    # The staff pages read the reasons kept with each message, encrypted: there the value helps whoever fixes it.
    from tracecenter.intake.pipeline import problems_of

    kept = " ".join(p.reason for m in InboundMessage.objects.all() for p in problems_of(m))
    assert "'02/30/1985' is not a date" in kept


def test_the_json_report_never_quotes_the_value_either(state, tmp_path):
    report = run_ingest(str(_files_quoting_personal_values(tmp_path)))
    printed = json.dumps(report, ensure_ascii=False)
    for value in PLANTED:
        assert value not in printed, value
    reasons = {r["location"]: r["reason"] for r in report["rejections"]}
    assert reasons["line 2, column patient_dob"].startswith("[value withheld] is not a date")


@pytest.mark.parametrize(
    ("reason", "printed"),
    [
        ("'02/30/1985' is not a date; use MM/DD/YYYY.", "[value withheld] is not a date; use MM/DD/YYYY."),
        ('"O\'Quarrie" is not a date.', "[value withheld] is not a date."),
        ("The patient's name 'Zeb\\'s' is too long.", "The patient's name [value withheld] is too long."),
        ("Expected text, got 19850214.", "Expected text, got [value withheld]."),
        ("The sex 'X' is not a code; read as U.", "The sex [value withheld] is not a code; read as U."),
        ("ORM^O01 is an order, not a result.", "ORM^O01 is an order, not a result."),
    ],
)
def test_a_reason_loses_its_quoted_values_and_keeps_the_rest(reason, printed):
    from tracecenter.intake.report import without_values

    assert without_values(reason) == printed

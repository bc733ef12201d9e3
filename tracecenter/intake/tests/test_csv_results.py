"""The CSV test-result upload parser: pure tests, no database.

Fixtures are real public sample files (see fixtures/csv/SOURCE.md); the last tests read the whole
shared data set when it is present.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.intake.formats.csv_results import (
    MAX_FILE_BYTES,
    CsvResultsParser,
    DateProblem,
    npi_is_valid,
    parse_date,
)
from tracecenter.intake.records import LabReport, ParseError, Problem, RawUnit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "csv"
# parents[3] is the project root (/work/main); the shared data sits next to it.
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "csv-test-results"
TODAY = dt.date(2025, 6, 1)


@pytest.fixture
def parser() -> CsvResultsParser:
    return CsvResultsParser(today=lambda: TODAY)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def read_all(parser: CsvResultsParser, data: bytes) -> tuple[list[RawUnit], list[LabReport], list[ParseError]]:
    units = list(parser.split(data))
    reports: list[LabReport] = []
    errors: list[ParseError] = []
    for unit in units:
        try:
            reports.extend(parser.parse(unit))
        except ParseError as exc:
            errors.append(exc)
    return units, reports, errors


def classifications(reports: list[LabReport]) -> dict[str, int]:
    return dict(collections.Counter(result.classification for report in reports for result in report.results))


def file_problems(parser: CsvResultsParser, data: bytes) -> list[Problem]:
    with pytest.raises(ParseError) as caught:
        list(parser.split(data))
    return caught.value.problems


# A SimpleReport row built from the real valid upload, for tests that change one cell.
SR_HEADER, SR_ROW = fixture("test-results-upload-valid.csv").decode().strip().split("\n")
SR_COLUMNS = SR_HEADER.split(",")


def sr_row(**changes: str) -> str:
    cells = SR_ROW.split(",")
    for column, value in changes.items():
        cells[SR_COLUMNS.index(column)] = value
    return ",".join(cells)


def sr_file(*rows: str) -> bytes:
    return ("\n".join([SR_HEADER, *rows]) + "\n").encode()


def only_report(parser: CsvResultsParser, data: bytes) -> LabReport:
    (unit,) = parser.split(data)
    (report,) = parser.parse(unit)
    return report


def row_problems(parser: CsvResultsParser, data: bytes) -> list[Problem]:
    (unit,) = parser.split(data)
    with pytest.raises(ParseError) as caught:
        parser.parse(unit)
    return caught.value.problems


# --- Dialects, on the real sample files.


def test_a_simplereport_upload_maps_every_field(parser: CsvResultsParser) -> None:
    units, reports, errors = read_all(parser, fixture("test-results-upload-valid.csv"))
    assert errors == []
    assert [(unit.index, unit.where) for unit in units] == [(1, "line 2")]
    (report,) = reports
    assert (report.format, report.message_type, report.warnings) == ("csv", "simplereport", [])
    patient = report.patient
    assert (patient.first_name, patient.last_name, patient.date_of_birth, patient.sex) == (
        "Jane",
        "Doe",
        dt.date(1962, 1, 20),
        "F",
    )
    assert (patient.street, patient.city, patient.state, patient.postal_code, patient.county) == (
        "123 Main St",
        "Birmingham",
        "AL",
        "35226",
        "Jefferson",
    )
    assert (patient.phones, patient.emails, patient.source_id, patient.source_id_authority) == (
        ["205-999-2800"],
        [],
        "1234",
        "My Urgent Care",
    )
    (result,) = report.results
    assert (result.test_loinc, result.condition, result.classification) == ("94534-5", "covid-19", "positive")
    assert (result.result_code, result.result_code_system, result.status) == ("Detected", "", "F")
    assert (result.specimen_collection_date, result.result_date) == (dt.date(2021, 12, 21), dt.date(2021, 12, 23))
    assert (result.performing_lab, result.performing_lab_id, result.accession, result.specimen_type) == (
        "My Testing Lab",
        "01D1058442",
        "123",
        "Nasal Swab",
    )
    assert result.observation_key == "123|94534-5"
    assert report.ordering_provider == "John Smith MD (NPI 1013012657)"
    assert report.ordering_facility == "My Urgent Care"
    assert (report.sending_facility, report.sending_facility_id) == ("My Testing Lab", "01D1058442")
    assert report.control_id.startswith("sha256:") and len(report.control_id) == 7 + 64


def test_simplereport_results_words_and_snomed_codes(parser: CsvResultsParser) -> None:
    _, reports, errors = read_all(parser, fixture("test-results-upload-valid-different-results.csv"))
    assert errors == []
    assert classifications(reports) == {"positive": 3, "negative": 2, "inconclusive": 1}
    coded = reports[-1].results[0]
    assert (coded.result_code, coded.result_code_system, coded.classification) == ("260373001", "SCT", "positive")


def test_simplereport_statuses_lower_case_values_and_corrections(parser: CsvResultsParser) -> None:
    _, reports, errors = read_all(parser, fixture("test-results-upload-integration.csv"))
    assert errors == []
    assert classifications(reports) == {"positive": 3, "negative": 1, "inconclusive": 1}
    assert [report.results[0].status for report in reports] == ["F", "F", "C", "F", "F"]
    assert reports[0].patient.state == "AL"  # sent as "al"
    assert reports[0].patient.sex == "F"  # sent as "f"
    assert reports[1].patient.sex == "M"  # sent as "MALE"
    assert reports[2].patient.preferred_language == "es"  # sent as "Spanish"
    # Rows 4 and 5 share accession, patient and test but differ in specimen type: two results, two ids.
    assert reports[3].control_id != reports[4].control_id


def test_simplereport_fills_an_empty_collection_date_from_the_order_date(parser: CsvResultsParser) -> None:
    _, reports, errors = read_all(parser, fixture("test-results-upload-valid-required-only.csv"))
    assert errors == []
    assert classifications(reports) == {"positive": 1, "negative": 1}
    first = reports[0]
    assert first.results[0].specimen_collection_date == dt.date(2021, 12, 20)
    assert [(w.location, w.code) for w in first.warnings] == [
        ("line 2, column specimen_collection_date", "collection_date_from_order")
    ]
    assert first.patient.sex == "U"  # the file has no patient_gender column


def test_the_reportstream_standard_csv_example(parser: CsvResultsParser) -> None:
    units, reports, errors = read_all(parser, fixture("ReportStream-StandardCSV-ExampleData-20220509.csv"))
    assert errors == []
    assert len(units) == 5
    assert {report.message_type for report in reports} == {"reportstream-standard"}
    assert classifications(reports) == {"positive": 2, "negative": 2, "inconclusive": 1}
    assert [report.results[0].condition for report in reports] == ["covid-19"] * 5
    # Two-digit years on event dates: "12/20/21 9:00" is 2021; the collection date comes from the order date.
    assert reports[0].results[0].specimen_collection_date == dt.date(2021, 12, 20)
    assert reports[3].results[0].specimen_collection_date == dt.date(2022, 1, 5)
    assert all(w.code == "collection_date_from_order" for report in reports for w in report.warnings)
    assert reports[2].results[0].status == "C"


def test_a_reportstream_pdi_file(parser: CsvResultsParser) -> None:
    units, reports, errors = read_all(parser, fixture("simple_report_example.csv"))
    assert len(units) == 14
    assert {report.message_type for report in reports} == {"reportstream-pdi"}
    assert classifications(reports) == {"positive": 9, "negative": 2, "inconclusive": 2}
    (error,) = errors
    assert [(p.location, p.code) for p in error.problems] == [("line 12, column Specimen_collection_date_time", "missing")]
    first = reports[0]
    # Patient_DOB is optional in the PDI schema: a warning, not a rejection. "BadCLIA" is left out.
    assert first.patient.date_of_birth is None
    assert {(w.location, w.code) for w in first.warnings} == {
        ("line 2, column Patient_DOB", "missing_dob"),
        ("line 2, column Testing_lab_CLIA", "invalid_clia"),
    }
    assert first.results[0].performing_lab_id == ""
    assert first.results[0].specimen_collection_date == dt.date(2022, 2, 20)  # "202202201809-0500"
    assert reports[1].patient.date_of_birth == dt.date(1969, 6, 14)  # "19690614"


def test_an_optional_birth_date_that_is_no_real_date_is_left_out_with_its_digits_kept(parser: CsvResultsParser) -> None:
    data = fixture("simple_report_example.csv")
    assert b"19690614" in data
    _units, reports, _errors = read_all(parser, data.replace(b"19690614", b"19690631"))  # June has 30 days
    patient = reports[1].patient
    assert (patient.date_of_birth, patient.date_of_birth_as_written) == (None, "19690631")
    assert ("line 3, column Patient_DOB", "invalid_date") in {(w.location, w.code) for w in reports[1].warnings}


def test_pdi_reuses_of_a_result_id_never_merge_different_people(parser: CsvResultsParser) -> None:
    # ReportStream's example sends Result_ID "Alaska3" for three different patients (lines 4, 14, 15).
    _, reports, _ = read_all(parser, fixture("simple_report_example.csv"))
    alaska3 = [report for report in reports if report.results[0].accession == "838707"]
    assert sorted(report.patient.last_name for report in alaska3) == ["Alaska3", "MD13", "MD14"]
    assert len({report.control_id for report in alaska3}) == 3
    # They are corrections (status C): the accession is the Corrected_result_ID, so they find the original.
    assert {report.results[0].status for report in alaska3} == {"C"}


def test_a_pdi_row_with_a_result_id(parser: CsvResultsParser) -> None:
    report = only_report(parser, fixture("SR_CP_02262024.csv"))
    result = report.results[0]
    assert (report.patient.last_name, report.patient.date_of_birth) == ("Wolf", dt.date(1970, 2, 1))
    assert (result.test_loinc, result.classification, result.specimen_collection_date) == (
        "95406-5",
        "positive",
        dt.date(2024, 2, 26),
    )
    assert result.accession == "3268e1d6-cb84-459b-8640-e7930369d34d"  # Result_ID


def test_the_same_row_twice_has_the_same_control_id(parser: CsvResultsParser) -> None:
    _, reports, errors = read_all(parser, fixture("duplicate.csv"))
    assert errors == []
    assert len(reports) == 2
    assert reports[0].control_id == reports[1].control_id


def test_reuploading_a_file_gives_the_same_control_ids_even_reexported(parser: CsvResultsParser) -> None:
    data = fixture("test-results-upload-valid-different-results.csv")
    first = [r.control_id for r in read_all(parser, data)[1]]
    assert [r.control_id for r in read_all(parser, data)[1]] == first
    assert len(set(first)) == len(first)
    # Re-exported: CRLF, every value quoted, columns in reverse order, stray spaces.
    rows = [line.split(",") for line in data.decode().strip().split("\n")]
    reexported = "\r\n".join(",".join(f'" {cell} "' for cell in reversed(row)) for row in rows) + "\r\n"
    assert [r.control_id for r in read_all(parser, reexported.encode())[1]] == first


def test_identical_rows_share_an_id_and_one_changed_value_does_not(parser: CsvResultsParser) -> None:
    _, reports, errors = read_all(parser, fixture("test-results-upload-valid-4000-rows.first-5-rows.csv"))
    assert errors == []
    assert classifications(reports) == {"positive": 5}
    assert len({report.control_id for report in reports}) == 1  # the file repeats one row
    changed = only_report(parser, sr_file(sr_row(patient_phone_number="205-999-2801")))
    assert changed.control_id != only_report(parser, sr_file(SR_ROW)).control_id


def test_header_names_match_ignoring_case_spaces_and_underscores(parser: CsvResultsParser) -> None:
    header = ",".join(" ".join(part.capitalize() for part in column.split("_")) for column in SR_COLUMNS)
    report = only_report(parser, f"{header}\n{SR_ROW}\n".encode())
    assert (report.patient.last_name, report.results[0].classification) == ("Doe", "positive")
    problems = row_problems(parser, f"{header}\n{sr_row(patient_dob='')}\n".encode())
    assert [p.location for p in problems] == ["line 2, column Patient Dob"]  # named as the file names it


# --- Encodings, quoting and line numbers.


def test_a_byte_order_mark_is_ignored(parser: CsvResultsParser) -> None:
    plain = only_report(parser, fixture("test-results-upload-valid.csv"))
    with_bom = only_report(parser, b"\xef\xbb\xbf" + fixture("test-results-upload-valid.csv"))
    assert with_bom == plain


def test_windows_1252_text_is_read(parser: CsvResultsParser) -> None:
    data = sr_file(sr_row(patient_first_name="Zoë", patient_street="Café Street")).decode().encode("cp1252")
    report = only_report(parser, data)
    assert (report.patient.first_name, report.patient.street) == ("Zoë", "Café Street")


def test_embedded_commas_in_quoted_values(parser: CsvResultsParser) -> None:
    _, reports, errors = read_all(parser, fixture("test-results-upload-valid-with-escaped-commas.csv"))
    assert errors == []
    assert [report.results[0].performing_lab for report in reports] == ["My Testing Lab, Downtown Office"] * 2


def test_newlines_inside_quoted_values_keep_line_numbers_right(parser: CsvResultsParser) -> None:
    data = sr_file(
        sr_row(patient_street='"123 Main St\nApt 4"'),
        sr_row(patient_street='"1 Elm St\r\nRear\nUpstairs"', patient_first_name="Jo"),
        sr_row(patient_dob="13/45/2020"),
    )
    units = list(parser.split(data))
    assert [unit.where for unit in units] == ["line 2", "line 4", "line 7"]
    assert parser.parse(units[0])[0].patient.street == "123 Main St Apt 4"
    assert parser.parse(units[1])[0].patient.street == "1 Elm St Rear Upstairs"
    with pytest.raises(ParseError) as caught:
        parser.parse(units[2])
    assert [p.as_dict() for p in caught.value.problems] == [
        {
            "location": "line 7, column patient_dob",
            "reason": "'13/45/2020' is not a date; use YYYY-MM-DD or MM/DD/YYYY.",
            "code": "invalid_date",
        }
    ]


def test_each_unit_is_the_header_and_the_row_and_parses_alone(parser: CsvResultsParser) -> None:
    data = sr_file(sr_row(patient_street='"123 Main St\nApt 4"'), SR_ROW)
    units = list(parser.split(data))
    assert units[0].text == SR_HEADER + "\n" + sr_row(patient_street='"123 Main St\nApt 4"')
    # As stored and read back later, by a parser that never saw the file.
    stored = RawUnit(index=units[1].index, text=units[1].text, where=units[1].where)
    assert CsvResultsParser(today=lambda: TODAY).parse(stored) == parser.parse(units[1])


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_blank_rows_are_skipped_and_physical_lines_counted(parser: CsvResultsParser, newline: str) -> None:
    text = newline.join([SR_HEADER, "", SR_ROW, ",,, ,", "", sr_row(patient_first_name="Jo"), ""])
    units = list(parser.split(text.encode()))
    assert [(unit.index, unit.where) for unit in units] == [(1, "line 3"), (2, "line 6")]
    assert [parser.parse(unit)[0].patient.first_name for unit in units] == ["Jane", "Jo"]


def test_an_unclosed_quote_is_a_row_problem_not_a_crash(parser: CsvResultsParser) -> None:
    data = sr_file(SR_ROW, sr_row(patient_street='"123 Main St'), SR_ROW)
    units = list(parser.split(data))
    assert [unit.where for unit in units] == ["line 2", "line 3"]  # the open quote swallowed line 4
    with pytest.raises(ParseError) as caught:
        parser.parse(units[1])
    (problem,) = caught.value.problems
    assert (problem.location, problem.code) == ("line 3", "not_csv")
    assert "closing double quote" in problem.reason


def test_a_monstrous_line_never_reaches_the_csv_reader(parser: CsvResultsParser) -> None:
    data = sr_file(SR_ROW, "," * 2_000_000, sr_row(patient_first_name="Jo"))
    units = list(parser.split(data))
    assert [unit.where for unit in units] == ["line 2", "line 3", "line 4"]
    with pytest.raises(ParseError) as caught:
        parser.parse(units[1])
    assert [(p.location, p.code) for p in caught.value.problems] == [("line 3", "not_csv")]
    assert parser.parse(units[2])[0].patient.first_name == "Jo"
    (problem,) = file_problems(parser, b"x" * 600_000 + b"\n" + SR_ROW.encode())
    assert (problem.location, problem.code) == ("line 1", "not_csv")


def test_a_row_with_more_values_than_columns_is_refused(parser: CsvResultsParser) -> None:
    problems = row_problems(parser, sr_file(SR_ROW + ",EXTRA-DATA-AT-THE-END"))
    assert [(p.location, p.code) for p in problems] == [("line 2", "extra_values")]
    # Trailing empty values (a spreadsheet's stray commas) are harmless.
    assert only_report(parser, sr_file(SR_ROW + ",,")).patient.last_name == "Doe"


def test_a_repeated_header_row_is_named(parser: CsvResultsParser) -> None:
    problems = row_problems(parser, sr_file(SR_HEADER))
    assert [(p.location, p.code) for p in problems] == [("line 2", "repeated_header")]


# --- Files that cannot be results at all (ReportStream's edge-case files).


def test_an_empty_file(parser: CsvResultsParser) -> None:
    assert [(p.location, p.reason) for p in file_problems(parser, fixture("completely-empty-file.csv"))] == [
        ("file", "The file is empty.")
    ]
    assert [p.code for p in file_problems(parser, b"\n\r\n ,, \n")] == ["empty"]


def test_a_header_without_rows(parser: CsvResultsParser) -> None:
    problems = file_problems(parser, fixture("column-headers-only.csv"))
    assert ("file", "The file has a header but no rows.") in [(p.location, p.reason) for p in problems]
    assert [(p.location, p.reason) for p in file_problems(parser, (SR_HEADER + "\n\n").encode())] == [
        ("file", "The file has a header but no rows.")
    ]


def test_a_file_with_2011_columns(parser: CsvResultsParser) -> None:
    (problem,) = file_problems(parser, fixture("too-many-columns.csv"))
    assert (problem.location, problem.code) == ("line 1", "too_many_columns")
    assert "2,011 columns" in problem.reason


def test_not_a_csv_file(parser: CsvResultsParser) -> None:
    (problem,) = file_problems(parser, fixture("not-a-csv-file.csv"))
    assert (problem.location, problem.code) == ("line 1", "missing_columns")
    assert "no commas" in problem.reason


@pytest.mark.parametrize(
    "name",
    [
        "wrong-type-data.csv",
        "weird-dates.csv",
        "quoted-strings-with-embedded-commas.csv",
        "too-much-data.csv",
        "missing-data.csv",
    ],
)
def test_reportstreams_toy_schema_files_are_refused_naming_the_required_columns(parser: CsvResultsParser, name: str) -> None:
    (problem,) = file_problems(parser, fixture(name))
    assert (problem.location, problem.code) == ("line 1", "missing_columns")
    for column in ("patient_last_name", "patient_dob", "test_performed_code", "test_result", "Test_result_code"):
        assert column in problem.reason


def test_a_header_missing_some_required_columns_lists_them(parser: CsvResultsParser) -> None:
    header = SR_HEADER.replace("patient_dob", "birthday").replace("test_result,", "outcome,")
    (problem,) = file_problems(parser, f"{header}\n{SR_ROW}\n".encode())
    assert problem.reason == "The header is missing required columns: patient_dob, test_result."


def test_a_semicolon_separated_file_is_explained(parser: CsvResultsParser) -> None:
    (problem,) = file_problems(parser, (SR_HEADER.replace(",", ";") + "\n" + SR_ROW.replace(",", ";")).encode())
    assert "semicolons" in problem.reason


def test_a_duplicated_column_is_refused(parser: CsvResultsParser) -> None:
    (problem,) = file_problems(parser, f"{SR_HEADER},Patient_DOB\n{SR_ROW},1/1/1990\n".encode())
    assert problem.code == "duplicate_column"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"%PDF-1.7\n", "PDF"),
        (b"\xff\xfep\x00a\x00", "UTF-16"),
        (b"patient_last_name,\x81\x8d\n", "not text"),
        (b"patient\x00last\x00name,patient_first_name\nx,y\n", "not a CSV text file"),
    ],
)
def test_files_that_are_not_text(parser: CsvResultsParser, data: bytes, words: str) -> None:
    (problem,) = file_problems(parser, data)
    assert problem.code == "not_text"
    assert words in problem.reason


def test_a_file_over_50_mb_is_refused(parser: CsvResultsParser) -> None:
    (problem,) = file_problems(parser, SR_HEADER.encode() + b"\n" + b" " * MAX_FILE_BYTES)
    assert (problem.location, problem.code) == ("file", "too_large")


# --- Row problems name the line and the column.


def test_all_problems_of_a_row_are_collected(parser: CsvResultsParser) -> None:
    problems = row_problems(parser, fixture("test-results-upload-invalid-values.csv"))
    assert [(p.location, p.code) for p in problems] == [
        ("line 2, column patient_dob", "invalid_date"),
        ("line 2, column test_performed_code", "invalid_loinc"),
        ("line 2, column specimen_collection_date", "invalid_date"),
    ]
    assert problems[0].reason == "'x' is not a date; use YYYY-MM-DD or MM/DD/YYYY."


def test_missing_required_values(parser: CsvResultsParser) -> None:
    row = sr_row(
        patient_last_name="", patient_first_name=" ", patient_dob="", test_performed_code="", test_result="", order_test_date=""
    )
    row = row.replace("12/21/2021 14:00", "")  # the specimen collection date
    problems = row_problems(parser, sr_file(row))
    assert [(p.location, p.code) for p in problems] == [
        ("line 2, column patient_last_name", "missing"),
        ("line 2, column patient_first_name", "missing"),
        ("line 2, column patient_dob", "missing"),
        ("line 2, column test_performed_code", "missing"),
        ("line 2, column test_result", "missing"),
        ("line 2, column specimen_collection_date", "missing"),
    ]
    assert problems[-1].reason == "The specimen collection date (or order_test_date) is required but empty."


def test_a_short_row_reads_missing_values_as_empty(parser: CsvResultsParser) -> None:
    problems = row_problems(parser, sr_file("1234,Doe"))
    assert ("line 2, column patient_first_name", "missing") in [(p.location, p.code) for p in problems]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("94534-1", "'94534-1' is not a valid LOINC code: its check digit is wrong."),
        ("LL2467-0", "'LL2467-0' is not a LOINC code (digits, a dash and a check digit, like 94500-6)."),
        ("2345-7", "Test 2345-7 is not a test for a condition TraceCenter traces."),
    ],
)
def test_test_codes(parser: CsvResultsParser, code: str, reason: str) -> None:
    (problem,) = row_problems(parser, sr_file(sr_row(test_performed_code=code)))
    assert (problem.location, problem.reason) == ("line 2, column test_performed_code", reason)


@pytest.mark.parametrize(
    ("loinc", "condition"), [("94558-4", "covid-19"), ("80382-5", "influenza"), ("40988-8", "rsv"), ("94507-1", "covid-19")]
)
def test_the_condition_comes_from_the_test(parser: CsvResultsParser, loinc: str, condition: str) -> None:
    assert only_report(parser, sr_file(sr_row(test_performed_code=loinc))).results[0].condition == condition


@pytest.mark.parametrize(
    ("value", "code"),
    [("895231008", "unknown_code"), ("maybe", "unknown_text"), ("840539006", "not_a_result"), ("25.4", "unknown_text")],
)
def test_an_unknown_result_is_unknown_with_a_warning_never_a_rejection(parser: CsvResultsParser, value: str, code: str) -> None:
    report = only_report(parser, sr_file(sr_row(test_result=value)))
    (result,) = report.results
    assert result.classification == "unknown"
    assert [(w.location, w.code) for w in result.warnings] == [("line 2, column test_result", code)]
    assert report.warnings == []


@pytest.mark.parametrize(
    ("value", "status"), [("", "F"), ("f", "F"), ("C", "C"), ("corrected", "C"), ("W", "W"), ("P", "P"), ("U", "F")]
)
def test_result_statuses(parser: CsvResultsParser, value: str, status: str) -> None:
    assert only_report(parser, sr_file(sr_row(test_result_status=value))).results[0].status == status


def test_an_unknown_status_is_a_problem(parser: CsvResultsParser) -> None:
    (problem,) = row_problems(parser, sr_file(sr_row(test_result_status="Q")))
    assert (problem.location, problem.code) == ("line 2, column test_result_status", "invalid_status")


@pytest.mark.parametrize(
    ("value", "sex"),
    [("F", "F"), ("female", "F"), ("MALE", "M"), ("m", "M"), ("O", "O"), ("Non-binary", "O"), ("A", "O"), ("U", "U"), ("N", "U")],
)
def test_sex_values(parser: CsvResultsParser, value: str, sex: str) -> None:
    report = only_report(parser, sr_file(sr_row(patient_gender=value)))
    assert (report.patient.sex, report.warnings) == (sex, [])


def test_an_unknown_sex_is_unknown_with_a_warning(parser: CsvResultsParser) -> None:
    report = only_report(parser, sr_file(sr_row(patient_gender="Q")))
    assert report.patient.sex == "U"
    assert [(w.location, w.code) for w in report.warnings] == [("line 2, column patient_gender", "unknown_sex")]


@pytest.mark.parametrize(
    ("value", "language"),
    [("es", "es"), ("Spanish", "es"), ("español", "es"), ("espanol", "es"), ("SPA", "es"), ("chi", "zh"), ("Cantonese", "yue"),
     ("es-MX", "es"), ("Tagalog", "tl"), ("criollo haitiano", "ht"), ("", "")],
)  # fmt: skip
def test_a_language_arrives_as_its_iso_code_from_a_name_or_an_iso_639_2_code(
    parser: CsvResultsParser, value: str, language: str
) -> None:
    report = only_report(parser, sr_file(sr_row(patient_preferred_language=value)))
    assert (report.patient.preferred_language, report.warnings) == (language, [])


def test_an_unknown_language_is_left_empty_with_a_warning(parser: CsvResultsParser) -> None:
    report = only_report(parser, sr_file(sr_row(patient_preferred_language="Martian")))
    assert report.patient.preferred_language == ""
    assert [(w.location, w.code) for w in report.warnings] == [("line 2, column patient_preferred_language", "unknown_language")]


@pytest.mark.parametrize(("value", "clia"), [("05D2201580", "05D2201580"), ("05d2201580", "05D2201580")])
def test_a_clia_number_is_read_in_upper_case(parser: CsvResultsParser, value: str, clia: str) -> None:
    report = only_report(parser, sr_file(sr_row(testing_lab_clia=value)))
    assert (report.results[0].performing_lab_id, report.warnings) == (clia, [])


def test_a_clia_number_with_another_letter_is_left_out_with_a_warning(parser: CsvResultsParser) -> None:
    report = only_report(parser, sr_file(sr_row(testing_lab_clia="00Z0000042")))
    assert report.results[0].performing_lab_id == ""
    assert [(w.location, w.code) for w in report.warnings] == [("line 2, column testing_lab_clia", "invalid_clia")]


@pytest.mark.parametrize(("value", "sex"), [("mujer", "F"), ("Masculino", "M"), ("no binario", "O"), ("desconocido", "U")])
def test_sex_words_in_spanish(parser: CsvResultsParser, value: str, sex: str) -> None:
    report = only_report(parser, sr_file(sr_row(patient_gender=value)))
    assert (report.patient.sex, report.warnings) == (sex, [])


def test_the_date_of_birth_is_required_in_simplereport_but_optional_in_pdi(parser: CsvResultsParser) -> None:
    (problem,) = row_problems(parser, sr_file(sr_row(patient_dob="")))
    assert (problem.location, problem.code) == ("line 2, column patient_dob", "missing")
    pdi = fixture("SR_CP_02262024.csv").decode().replace("19700201", "")
    report = only_report(parser, pdi.encode())
    assert report.patient.date_of_birth is None
    assert [(w.location, w.code) for w in report.warnings] == [("line 2, column Patient_DOB", "missing_dob")]


def test_date_of_birth_after_collection(parser: CsvResultsParser) -> None:
    (problem,) = row_problems(parser, sr_file(sr_row(patient_dob="1/1/2022")))
    assert (problem.location, problem.code) == ("line 2, column patient_dob", "dob_after_collection")


def test_a_result_date_before_collection_is_dropped_with_a_warning(parser: CsvResultsParser) -> None:
    report = only_report(parser, sr_file(sr_row(test_result_date="12/1/2021")))
    assert report.results[0].result_date is None
    assert [(w.location, w.code) for w in report.warnings] == [("line 2, column test_result_date", "result_before_collection")]


def test_training_data_is_flagged(parser: CsvResultsParser) -> None:
    data = fixture("SR_CP_02262024.csv").decode().replace(",P,", ",T,", 1).encode()
    report = only_report(parser, data)
    assert [w.code for w in report.warnings] == ["not_production"]


# --- Dates.


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("2021-12-20", dt.date(2021, 12, 20)),
        ("2021-12-20T14:00", dt.date(2021, 12, 20)),
        ("2023-07-10T08:51-04:00", dt.date(2023, 7, 10)),
        ("2021-12-20 23:30:15.123Z", dt.date(2021, 12, 20)),
        ("20211220", dt.date(2021, 12, 20)),
        ("202202281336-0500", dt.date(2022, 2, 28)),
        ("20220615121335+0000", dt.date(2022, 6, 15)),
        ("12/20/2021", dt.date(2021, 12, 20)),
        ("1/5/2022", dt.date(2022, 1, 5)),
        ("7/10/2023 8:51", dt.date(2023, 7, 10)),
        ("12/20/2021 4:00 PST", dt.date(2021, 12, 20)),
        ("12/20/2021 11:59 PM EDT", dt.date(2021, 12, 20)),
        ("12/20/21 9:00", dt.date(2021, 12, 20)),  # two-digit year on an event date: 20YY
    ],
)
def test_accepted_dates(text: str, date: dt.date) -> None:
    assert parse_date(text, today=TODAY) == date


@pytest.mark.parametrize(
    ("text", "birth", "code"),
    [
        ("13/45/2020", False, "invalid_date"),
        ("31/01/2020", False, "invalid_date"),  # day first is refused, not guessed
        ("January 31, 2020", False, "invalid_date"),
        ("Jan 31, 2020", False, "invalid_date"),
        ("1-31-2020", False, "invalid_date"),
        ("2/30/2021", False, "invalid_date"),
        ("2021-12-20T25:00", False, "invalid_date"),
        ("2021-12-20T10:00+15:00", False, "invalid_date"),
        ("12/20/2021 13:00 PM", False, "invalid_date"),
        ("not-a-date", False, "invalid_date"),
        ("1/20/62", True, "two_digit_year"),  # 1962 or 2062?
        ("1/5/35", False, "future_date"),  # 2035
        ("6/3/2025", False, "future_date"),
        ("12/31/1899", True, "date_before_1900"),
        ("01/01/1901", True, None),
    ],
)
def test_refused_dates(text: str, birth: bool, code: str | None) -> None:
    if code is None:
        assert parse_date(text, today=TODAY, birth=birth) == dt.date(1901, 1, 1)
        return
    with pytest.raises(DateProblem) as caught:
        parse_date(text, today=TODAY, birth=birth)
    assert caught.value.code == code


def test_tomorrow_is_allowed_for_senders_ahead_of_us() -> None:
    assert parse_date("6/2/2025", today=TODAY) == dt.date(2025, 6, 2)


def test_reportstreams_weird_dates_grafted_into_a_simplereport_row(parser: CsvResultsParser) -> None:
    rows = fixture("weird-dates.csv").decode().strip().split("\n")[1:]
    outcomes: dict[str, dt.date | str | None] = {}
    for cells in csv.reader(rows):
        text = cells[4]
        quoted = '"' + text + '"'
        data = sr_file(sr_row(specimen_collection_date=quoted, test_result_date="", order_test_date=""))
        (unit,) = parser.split(data)
        try:
            outcomes[text] = parser.parse(unit)[0].results[0].specimen_collection_date
        except ParseError as exc:
            (problem,) = exc.problems
            assert problem.location == "line 2, column specimen_collection_date"
            outcomes[text] = problem.reason
    assert outcomes == {
        "January 31, 2020": "'January 31, 2020' is not a date; use YYYY-MM-DD or MM/DD/YYYY.",
        "1-31-2020": "'1-31-2020' is not a date; use YYYY-MM-DD or MM/DD/YYYY.",
        "01/31/2020": dt.date(2020, 1, 31),
        "31/01/2020": "'31/01/2020' is not a date; use YYYY-MM-DD or MM/DD/YYYY.",
        "Jan 31, 2020": "'Jan 31, 2020' is not a date; use YYYY-MM-DD or MM/DD/YYYY.",
        "2020-01-31": dt.date(2020, 1, 31),
        "1/31/2020": dt.date(2020, 1, 31),
    }


def test_reportstreams_wrong_type_data_grafted_into_a_simplereport_row(parser: CsvResultsParser) -> None:
    # lab,first_name,last_name,state,test_time,specimen_id,observation = 1234,1234,1234,not-a-state-name,...
    row = sr_row(
        patient_first_name="1234",
        patient_last_name="1234",
        patient_state="not-a-state-name",
        specimen_collection_date="not-a-date",
        test_result="not-a-lab-result",
    )
    problems = row_problems(parser, sr_file(row))
    assert [(p.location, p.code) for p in problems] == [("line 2, column specimen_collection_date", "invalid_date")]
    # With a real date the rest is taken as sent; the result is unknown, for review.
    report = only_report(parser, sr_file(row.replace("not-a-date", "12/21/2021")))
    assert (report.patient.first_name, report.patient.state) == ("1234", "not-a-state-name")
    assert report.results[0].classification == "unknown"


# --- Hostile cells.


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("Jane\x00", "control_character"),
        ("O\x19Connell", "control_character"),  # ReportStream's bad-character-replacements sample
        ("Jane\u202eenaJ", "control_character"),
        ("J" * 1001, "too_long"),
    ],
)
def test_hostile_cells_are_problems_naming_the_column(parser: CsvResultsParser, value: str, code: str) -> None:
    problems = row_problems(parser, sr_file(sr_row(patient_first_name=value)))
    assert [(p.location, p.code) for p in problems] == [("line 2, column patient_first_name", code)]


def test_hostile_cells_in_columns_trace_center_does_not_read_are_refused_too(parser: CsvResultsParser) -> None:
    problems = row_problems(parser, sr_file(sr_row(comment="ok\x07")))
    assert [(p.location, p.code) for p in problems] == [("line 2, column comment", "control_character")]


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1 205 555 0100", "-Doe", "@SUM(A1)"])
def test_formula_like_values_are_just_text(parser: CsvResultsParser, value: str) -> None:
    report = only_report(parser, sr_file(sr_row(patient_last_name=f'"{value.replace(chr(34), chr(34) * 2)}"')))
    assert report.patient.last_name == value


def test_npi_check_digit() -> None:
    assert npi_is_valid("1013012657")
    assert not npi_is_valid("1013012670")
    assert not npi_is_valid("101301265")


# --- Nothing but ParseError, whatever comes in.

SEEDS = [
    fixture("test-results-upload-valid.csv"),
    fixture("simple_report_example.csv")[:3000],
    fixture("ReportStream-StandardCSV-ExampleData-20220509.csv"),
]


def _read_everything(data: bytes) -> None:
    parser = CsvResultsParser(today=lambda: TODAY)
    try:
        units = list(parser.split(data))
    except ParseError as exc:
        assert exc.problems and all(isinstance(p, Problem) for p in exc.problems)
        return
    for unit in units:
        try:
            reports = parser.parse(unit)
        except ParseError as exc:
            assert exc.problems
            continue
        assert len(reports) == 1 and isinstance(reports[0], LabReport)


@st.composite
def mutated_csv(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    # Mostly mutate the rows: a broken header only ever gives one file-level error.
    rows_start = 0 if draw(st.integers(0, 3)) == 0 else data.find(b"\n") + 1
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(min(rows_start, len(data)), len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.sampled_from([b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b"\xef\xbb\xbf", b"=", b"9", b"/"]))
        if kind == "insert":
            data[position:position] = chunk
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        else:
            data[position : position + len(chunk)] = chunk
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_csv(), st.binary(max_size=400), st.text(max_size=400).map(lambda s: (SR_HEADER + "\n" + s).encode())))
def test_fuzz_only_reports_or_parse_errors(data: bytes) -> None:
    _read_everything(data)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=20))
def test_fuzz_stored_units_of_any_shape(text: str, where: str) -> None:
    try:
        CsvResultsParser(today=lambda: TODAY).parse(RawUnit(index=1, text=text, where=where))
    except ParseError as exc:
        assert exc.problems


# --- Every file of the shared data set.

# What each documented file must give: (accepted counts per classification, rejected rows, column named by
# a rejection). "valid" SimpleReport files for conditions TraceCenter does not trace (chlamydia, HIV...) or with
# fake LOINC codes are rejected row by row with the test code named; the rest are fully accepted.
SR = "simplereport/backend/src/test/resources/testResultUpload/"
RS = "reportstream/"
INTERNAL = "prime-router/src/testIntegration/resources/datatests/HL7_to_INTERNAL/"
EXPECTED: dict[str, tuple[dict[str, int], int, str]] = {
    SR + "test-results-upload-valid.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-all-fields.csv": ({"positive": 1, "negative": 1}, 0, ""),
    SR + "test-results-upload-integration.csv": ({"positive": 3, "negative": 1, "inconclusive": 1}, 0, ""),
    SR + "test-results-upload-integration-expected-transform.csv": ({"positive": 3, "negative": 1, "inconclusive": 1}, 0, ""),
    SR + "test-results-upload-valid-4000-rows.csv": ({"positive": 3999}, 0, ""),
    SR + "test-results-upload-valid-blank-dates.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-valid-dates-no-timezone.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-valid-default-dates.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-valid-different-results.csv": ({"positive": 3, "negative": 2, "inconclusive": 1}, 0, ""),
    SR + "test-results-upload-valid-no-ordering-facility.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-valid-required-only.csv": ({"positive": 1, "negative": 1}, 0, ""),
    SR + "test-results-upload-valid-with-comments.csv": ({"positive": 2}, 0, ""),
    SR + "test-results-upload-valid-with-escaped-commas.csv": ({"positive": 2}, 0, ""),
    SR + "test-results-upload-valid-with-escaped-commas-expected-transform.csv": ({"positive": 2}, 0, ""),
    SR + "test-results-upload-valid-with-processingModeCode-D.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-valid-with-specimenType-loinc.csv": ({"positive": 2}, 0, ""),
    SR + "test-results-upload-valid-without-ordering-facility.csv": ({"positive": 1}, 0, ""),
    # SimpleReport checks device and specimen names against its own tables, which TraceCenter does not have.
    SR + "test-results-upload-invalid-deviceModel_testPerformedCode.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-invalid-specimen-name.csv": ({"positive": 1}, 0, ""),
    SR + "test-results-upload-invalid-values.csv": ({}, 1, "patient_dob"),
    # Flu/RSV codes SimpleReport accepts that TraceCenter's LOINC table lacks (50697-2, 5229-0, 14129-1).
    SR + "test-results-upload-valid-with-flu-results.csv": ({"positive": 2}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-flu-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-rsv-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-chlamydia-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-gonorrhea-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-hepatitisC-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-hiv-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-syph-only.csv": ({}, 1, "test_performed_code"),
    SR + "test-results-upload-valid-syphilis-only.csv": ({}, 1, "test_performed_code"),
    RS + "frontend-react/public/assets/csv/ReportStream-StandardCSV-ExampleData-20220509.csv": (
        {"positive": 2, "negative": 2, "inconclusive": 1},
        0,
        "",
    ),
    RS + "prime-router/docs/onboarding-users/samples/SimpleReport/SR-UPLOAD.csv": ({"positive": 2, "negative": 3}, 0, ""),
    RS + "prime-router/docs/onboarding-users/samples/SimpleReport/SR_CP_02262024.csv": ({"positive": 1}, 0, ""),
    RS + "prime-router/examples/submission/duplicate.csv": ({"positive": 2}, 0, ""),
    RS + "prime-router/examples/submission/simple_report_example.csv": (
        {"positive": 9, "negative": 2, "inconclusive": 2},
        1,
        "Specimen_collection_date_time",
    ),
    RS + "prime-router/src/test/csv_test_files/input/simplereport.csv": (
        {"positive": 17, "negative": 17, "inconclusive": 16},
        0,
        "",
    ),
    # 895231008 is not a result value TraceCenter knows: unknown, for review.
    RS + "prime-router/src/test/unit_test_files/fake-pdi-covid-19.csv": (
        {"positive": 7, "negative": 14, "inconclusive": 14, "unknown": 5},
        0,
        "",
    ),
    RS + "prime-router/src/test/unit_test_files/pdi-covid-19-wa-k12.csv": ({"positive": 3, "negative": 11}, 0, ""),
    # 840539006 (the disease), 840544004, 840534001 and 840546002 are not result values: unknown.
    RS + "prime-router/src/testIntegration/resources/datatests/CSV_to_HL7/sample-batch-pdi-20210608-0001.csv": (
        {"positive": 4, "negative": 4, "inconclusive": 4, "unknown": 8},
        0,
        "",
    ),
    RS + "prime-router/src/testIntegration/resources/datatests/CSV_to_HL7/sample-pdi-covid-19-nh.csv": ({"positive": 1}, 0, ""),
    RS + "prime-router/src/testIntegration/resources/datatests/CSV_to_HL7/sample-single-pdi-20210608-0002.csv": (
        {"unknown": 1},
        0,
        "",
    ),
    # ReportStream's internal CSVs (its expected parse of HL7 inputs): read with the PDI rules.
    RS + INTERNAL + "CA-20211001-sully.internal.csv": ({"positive": 1}, 0, ""),
    RS + INTERNAL + "CA-20211018-sully.internal.csv": ({"positive": 1}, 0, ""),
    RS + INTERNAL + "CE-20200415-0001.internal.csv": ({"positive": 1}, 0, ""),
    RS + INTERNAL + "EHT-20210316-0001.internal.csv": ({"negative": 1}, 0, ""),
    RS + INTERNAL + "LP-covid-19-20220124002222.internal.csv": ({"negative": 1}, 0, ""),
    RS + INTERNAL + "FLFHospital-SARSCOV2-20200317-0001.internal.csv": ({}, 1, "test_performed_code"),  # local code SARS2
}
# Files that are not results CSVs at all: the patient roster upload, ReportStream's toy-schema edge cases.
WHOLE_FILE_REFUSED = ("patientBulkUpload/", "csv_test_files/input/", "bad-character-replacements.csv", "monkeypox-")


def shared_files() -> list[Path]:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data is not present (only in the development workspace): {SHARED.resolve()}")
    return sorted(SHARED.rglob("*.csv"))


@pytest.mark.shared_data
def test_every_shared_csv_file(parser: CsvResultsParser) -> None:
    files = shared_files()
    seen = set()
    for path in files:
        name = path.relative_to(SHARED).as_posix()
        try:
            units, reports, errors = read_all(parser, path.read_bytes())
        except ParseError as exc:
            assert any(part in name for part in WHOLE_FILE_REFUSED), f"{name}: {exc}"
            assert all(p.location in {"file", "line 1"} for p in exc.problems)
            continue
        assert len(units) == len(reports) + len(errors)
        assert name in EXPECTED, name
        seen.add(name)
        counts, rejected, column = EXPECTED[name]
        assert (classifications(reports), len(errors)) == (counts, rejected), name
        for error in errors:
            assert any(p.location.endswith(f", column {column}") for p in error.problems), (name, error.problems)
    assert seen == set(EXPECTED)


@pytest.mark.shared_data
def test_rows_per_second_on_the_3999_row_file(parser: CsvResultsParser, capsys: pytest.CaptureFixture[str]) -> None:
    shared_files()
    data = (SHARED / SR / "test-results-upload-valid-4000-rows.csv").read_bytes()
    started = time.perf_counter()
    units = list(parser.split(data))
    reports = [report for unit in units for report in parser.parse(unit)]
    elapsed = time.perf_counter() - started
    assert len(reports) == 3999
    assert len({report.control_id for report in reports}) == 1  # 3,999 copies of one row
    with capsys.disabled():
        print(f"\nCSV results: {len(units) / elapsed:,.0f} rows/second (split and parse, 3,999 rows)")
    assert len(units) / elapsed > 200  # a floor that only catches an accidental quadratic

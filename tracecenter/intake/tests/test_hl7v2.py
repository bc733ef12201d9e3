"""HL7 v2 ORU^R01 lab reports: splitting files, reading messages, rejecting what is broken, acknowledging.

Pure tests: no database. Fixtures in fixtures/hl7 are real ReportStream test messages (see SOURCE.md);
the last tests run every message of ../shared/data/elr-reportstream when that folder is present.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from pathlib import Path

import hl7
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.intake.formats.hl7v2 import MAX_MESSAGE_BYTES, Hl7v2Parser, build_ack, message_control_id
from tracecenter.intake.records import LabReport, ParseError, Problem, RawUnit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hl7"
# tracecenter/intake/tests/test_hl7v2.py -> parents[3] is the project root; shared data sits beside it.
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "elr-reportstream"

PARSER = Hl7v2Parser()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def units(data: bytes) -> list[RawUnit]:
    return list(PARSER.split(data))


def parse_one(data: bytes | str) -> LabReport:
    """The single report of a file holding a single message."""
    raw = data.encode() if isinstance(data, str) else data
    found = units(raw)
    assert len(found) == 1
    reports = PARSER.parse(found[0])
    assert len(reports) == 1
    return reports[0]


def rejection(data: bytes | str) -> list[Problem]:
    raw = data.encode() if isinstance(data, str) else data
    found = units(raw)
    assert len(found) == 1
    with pytest.raises(ParseError) as caught:
        PARSER.parse(found[0])
    return caught.value.problems


def locations(problems: list[Problem]) -> list[str]:
    return [p.location for p in problems]


# --- A small valid message, built field by field so each test changes exactly one thing ---------------


def seg(name: str, fields: dict[int, str]) -> str:
    values = [fields.get(i, "") for i in range(1, max(fields) + 1)]
    if name == "MSH":  # MSH-1 is the field separator itself
        return "MSH|" + "|".join(values[1:])
    return "|".join([name, *values])


MSH = {
    2: "^~\\&",
    3: "LABAPP^2.16.840.1.113883.3.999^ISO",
    4: "Example Lab^11D1234567^CLIA",
    5: "TRACECENTER",
    6: "STATE^2.16.840.1.113883.3.998^ISO",
    7: "20240301101500-0500",
    9: "ORU^R01^ORU_R01",
    10: "MSG-0001",
    11: "P",
    12: "2.5.1",
    18: "UNICODE UTF-8",
}
PID = {
    1: "1",
    3: "123-45-6789^^^SSA^SS~P123^^^Example Lab&11D1234567&CLIA^MR",
    5: "Rivera^Ana^Luz^^^^L",
    7: "19850214",
    8: "F",
    11: "12 Oak St^Apt 3^Springfield^IL^62701^USA^H^^Sangamon",
    13: "^PRN^PH^^1^217^5550101~^NET^Internet^ana.rivera@example.org",
    14: "(217) 555-0199^WPN^PH",
    15: "spa^Spanish^ISO6392",
}
ORC = {
    1: "RE",
    2: "PL-1",
    3: "FI-1",
    12: "1234567893^Welby^Marcus^^^^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
    21: "Springfield Clinic",
}
OBR = {1: "1", 2: "PL-1", 3: "FI-1", 4: "94500-6^SARS-CoV-2 RNA^LN", 7: "20240228093000-0500", 22: "20240229120000-0500", 25: "F"}
OBX = {
    1: "1",
    2: "CWE",
    3: "94500-6^SARS-CoV-2 RNA Resp NAA+probe^LN",
    5: "260373001^Detected^SCT",
    11: "F",
    14: "20240228093000-0500",
    15: "11D1234567^Example Lab^CLIA",
    19: "20240229110000-0500",
    23: "Example Lab^^^^^CLIA&2.16.840.1.113883.4.7&ISO^XX^^^11D1234567",
}
SPM = {
    1: "1",
    2: "SP-1&&11D1234567&CLIA^SP-1&&11D1234567&CLIA",
    4: "258500001^Nasopharyngeal swab^SCT",
    17: "20240227080000-0500",
}


def message(*segments: str) -> str:
    return "\r".join(segments) + "\r"


def base(**changes: dict[int, str]) -> str:
    """The valid message, with fields of some segments replaced: base(PID={7: "1993"})."""

    def merged(name: str, fields: dict[int, str]) -> str:
        return seg(name, {**fields, **changes.get(name, {})})

    return message(
        merged("MSH", MSH), merged("PID", PID), merged("ORC", ORC), merged("OBR", OBR), merged("OBX", OBX), merged("SPM", SPM)
    )


def obx(n: int, **fields: str) -> str:
    values = {**OBX, 1: str(n)}
    for key, value in fields.items():
        values[int(key.removeprefix("f"))] = value
    return seg("OBX", values)


# --- The valid message, field by field -----------------------------------------------------------------


def test_a_valid_message_gives_one_report_with_every_field() -> None:
    report = parse_one(base())
    assert report.format == "hl7v2"
    assert (report.control_id, report.message_type, report.version) == ("MSG-0001", "ORU^R01", "2.5.1")
    assert (report.sending_facility, report.sending_facility_id) == ("Example Lab", "11D1234567")
    assert report.sent_at == dt.datetime(2024, 3, 1, 10, 15, tzinfo=dt.timezone(-dt.timedelta(hours=5)))
    assert report.ordering_provider == "Marcus Welby (NPI 1234567893)"
    assert report.ordering_facility == "Springfield Clinic"
    assert report.warnings == []

    patient = report.patient
    assert (patient.last_name, patient.first_name, patient.middle_name) == ("Rivera", "Ana", "Luz")
    assert patient.date_of_birth == dt.date(1985, 2, 14)
    assert patient.sex == "F"
    assert (patient.street, patient.city, patient.state, patient.postal_code, patient.county) == (
        "12 Oak St, Apt 3",
        "Springfield",
        "IL",
        "62701",
        "Sangamon",
    )
    assert patient.phones == ["+1 (217) 5550101", "(217) 555-0199"]
    assert patient.emails == ["ana.rivera@example.org"]
    assert patient.preferred_language == "es"
    # The social security number that comes first in PID-3 is never taken as the patient's id.
    assert (patient.source_id, patient.source_id_authority) == ("P123", "11D1234567")

    [result] = report.results
    assert (result.test_loinc, result.condition, result.classification, result.status) == (
        "94500-6",
        "covid-19",
        "positive",
        "F",
    )
    assert (result.result_code, result.result_code_system, result.result_text) == ("260373001", "SCT", "Detected")
    assert result.test_name == "SARS-CoV-2 RNA Resp NAA+probe"
    # SPM-17 is preferred to OBR-7 and OBX-14; OBX-19 (analysis) to OBR-22.
    assert result.specimen_collection_date == dt.date(2024, 2, 27)
    assert result.result_date == dt.date(2024, 2, 29)
    assert (result.specimen_id, result.specimen_type) == ("SP-1", "Nasopharyngeal swab")
    assert (result.performing_lab, result.performing_lab_id) == ("Example Lab", "11D1234567")
    assert result.accession == "FI-1"
    assert result.observation_key == "FI-1|94500-6"
    assert result.warnings == []


def test_the_legal_name_is_taken_among_repeated_names() -> None:
    report = parse_one(base(PID={5: "Rivers^Annie^^^^^A~Rivera^Ana^Luz^^^^L"}))
    assert (report.patient.last_name, report.patient.first_name) == ("Rivera", "Ana")
    report = parse_one(base(PID={5: "~Rivers^Annie^^^^^A~Rivas^Ana"}))
    assert (report.patient.last_name, report.patient.first_name) == ("Rivers", "Annie")


@pytest.mark.parametrize(("sent", "read"), [("F", "F"), ("M", "M"), ("O", "O"), ("U", "U"), ("A", "O"), ("N", "U"), ("", "U")])
def test_sex_codes_map_to_f_m_o_u(sent: str, read: str) -> None:
    assert parse_one(base(PID={8: sent})).patient.sex == read


@pytest.mark.parametrize(("sent", "read"), [("FEMALE", "F"), ("Male", "M"), ("X", "O")])
def test_sex_words_some_senders_use_are_read_without_a_warning(sent: str, read: str) -> None:
    report = parse_one(base(PID={8: sent}))
    assert (report.patient.sex, report.warnings) == (read, [])


def test_an_unknown_sex_code_is_read_as_u_with_a_warning() -> None:
    report = parse_one(base(PID={8: "Q"}))
    assert report.patient.sex == "U"
    assert locations(report.warnings) == ["PID-8"]


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("ENG^English^ISO6392", "en"),
        ("es", "es"),
        ("^Vietnamese", "vi"),
        ("", ""),
        ("SPA^Spanish^HL70296", "es"),
        ("fre", "fr"),
        ("es-MX^Spanish (Mexico)^BCP47", "es"),
        ("^español", "es"),
        ("L99^Haitian Creole^L", "ht"),
        ("yue^Cantonese^ISO6393", "yue"),
    ],
)
def test_the_primary_language_becomes_iso_639_1(sent: str, read: str) -> None:
    assert parse_one(base(PID={15: sent})).patient.preferred_language == read


def test_an_unknown_language_is_left_empty_with_a_warning_at_pid_15() -> None:
    report = parse_one(base(PID={15: "XX^Martian^L"}))
    assert report.patient.preferred_language == ""
    assert [(w.location, w.code) for w in report.warnings] == [("PID-15", "invalid_value")]


# --- Splitting files ---------------------------------------------------------------------------------------


def test_lf_cr_and_crlf_segment_ends_give_the_same_message() -> None:
    lf = fixture("single_message.hl7")
    assert b"\n" in lf and b"\r" not in lf
    texts = {units(data)[0].text for data in (lf, lf.replace(b"\n", b"\r"), lf.replace(b"\n", b"\r\n"))}
    assert len(texts) == 1
    [text] = texts
    assert "\n" not in text and text.startswith("MSH|") and text.endswith("\r")
    assert parse_one(lf).results[0].classification == "negative"


def test_a_cr_only_fixture_is_read() -> None:
    data = fixture("sample_CO_20240403.hl7")
    assert b"\n" not in data
    assert len(parse_one(data).results) == 3


def test_a_batch_file_is_cut_into_its_messages_without_the_envelope() -> None:
    found = units(fixture("batch_message.hl7"))
    assert [u.index for u in found] == [1, 2]
    assert [u.where for u in found] == ["message 1 (line 3)", "message 2 (line 14)"]
    for unit in found:
        assert unit.text.startswith("MSH|")
        assert not re.search(r"(^|\r)(FHS|BHS|BTS|FTS)\|", unit.text)
    names = [PARSER.parse(u)[0].patient.last_name for u in found]
    assert names == ["Buckridge", "Keeling"]


def test_mllp_framing_is_stripped() -> None:
    one = base().encode()
    data = b"\x0b" + one + b"\x1c\r" + b"\x0b" + one.replace(b"MSG-0001", b"MSG-0002") + b"\x1c\r"
    found = units(data)
    assert [PARSER.parse(u)[0].control_id for u in found] == ["MSG-0001", "MSG-0002"]
    assert all("\x0b" not in u.text and "\x1c" not in u.text for u in found)


def test_text_before_the_first_msh_is_a_unit_that_is_rejected_with_a_reason() -> None:
    found = units(b"hello from the lab\r\n" + base().encode())
    assert [u.where for u in found] == ["text before the first MSH (line 1)", "message 1 (line 2)"]
    with pytest.raises(ParseError) as caught:
        PARSER.parse(found[0])
    assert caught.value.problems[0].code == "not_hl7"
    assert "'hello from the lab'" in caught.value.problems[0].reason
    assert PARSER.parse(found[1])[0].control_id == "MSG-0001"


@pytest.mark.parametrize(
    "data",
    [
        b"patient_id,first_name,last_name,dob\n1,Ana,Rivera,1985-02-14\n",
        b"",
        b"   \r\n",
        b"FHS|^~\\&|X\rBHS|^~\\&|X\rBTS|0\rFTS|1\r",
    ],
)
def test_a_file_without_any_msh_is_refused_as_a_whole(data: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        list(PARSER.split(data))
    [problem] = caught.value.problems
    assert problem.location == "file"
    assert "HL7 v2" in problem.reason


def test_the_msh_18_character_set_decodes_the_message() -> None:
    latin = base(MSH={18: "8859/1"}, PID={5: "Muñoz^José^^^^^L"}).encode("latin-1")
    assert parse_one(latin).patient.last_name == "Muñoz"
    utf8 = base(PID={5: "Muñoz^José^^^^^L"}).encode("utf-8")
    assert parse_one(utf8).patient.first_name == "José"
    # Declared UTF-8 but sent in Latin-1: read as Latin-1 rather than with replacement characters.
    assert parse_one(base(PID={5: "Muñoz^José^^^^^L"}).encode("latin-1")).patient.last_name == "Muñoz"


# --- Encoding characters and escapes -----------------------------------------------------------------------


def test_escape_sequences_are_resolved_in_values() -> None:
    report = parse_one(
        base(PID={5: "O\\T\\Brien\\F\\Jr^Mary\\S\\Ann^\\X41\\\\E\\^^^^L", 11: "1 Main\\.br\\Rear^^Town\\H\\X\\N\\^IL"})
    )
    assert report.patient.last_name == "O&Brien|Jr"
    assert report.patient.first_name == "Mary^Ann"
    assert report.patient.middle_name == "A\\"
    assert report.patient.street == "1 Main\nRear"
    assert report.patient.city == "TownX"


def test_unbalanced_or_unknown_escapes_are_kept_as_written() -> None:
    report = parse_one(base(PID={5: "Back\\slash^Ana\\Q\\^^^^^L"}))
    assert report.patient.last_name == "Back\\slash"
    assert report.patient.first_name == "Ana\\Q\\"


def test_the_encoding_characters_declared_in_msh_2_are_used() -> None:
    # Component $, repetition %, escape ?, subcomponent *: none of ^~\& means anything here.
    text = base(PID={5: "Rivera^Ana^^^^^L"}).translate(str.maketrans("^~\\&", "$%?*"))
    text = text.replace("Rivera$Ana", "Ri?T?vera$Ana~Luz")
    report = parse_one(text)
    assert (report.patient.last_name, report.patient.first_name) == ("Ri*vera", "Ana~Luz")
    assert report.patient.emails == ["ana.rivera@example.org"]
    assert report.results[0].classification == "positive"


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("MSH", "MSH-1"),
        ("MSHA^~\\&|X", "MSH-1"),
        ("MSH||LAB|", "MSH-2"),
        ("MSH|^^\\&|LAB|", "MSH-2"),
        ("PID|1||x", "MSH"),
    ],
)
def test_a_message_whose_delimiters_cannot_be_read_is_rejected(text: str, location: str) -> None:
    with pytest.raises(ParseError) as caught:
        PARSER.parse(RawUnit(1, text, "message 1 (line 1)"))
    assert locations(caught.value.problems) == [location]


def test_a_2_7_message_with_the_truncation_character_is_read() -> None:
    report = parse_one(base(MSH={2: "^~\\&#", 12: "2.7"}, PID={5: "Rivera\\P\\^Ana^^^^^L"}))
    assert report.version == "2.7"
    assert report.patient.last_name == "Rivera#"


def test_a_2_3_message_with_a_local_test_code_and_a_loinc_alternate_is_read() -> None:
    report = parse_one(fixture("FLFHospital-SARSCOV2-20200317-0001.hl7"))
    assert report.version == "2.3"
    [result] = report.results
    # OBX-3 is SARS2^SARS-CoV-2^LAB_IN^94500-6^SARS-CoV-2^LN; OBX-5 is text (ST) NEGATIVE.
    assert (result.test_loinc, result.classification, result.result_text) == ("94500-6", "negative", "NEGATIVE")
    assert result.specimen_collection_date == dt.date(2021, 3, 17)  # OBR-7: 2.3 has no SPM
    assert report.patient.phones == ["(904)9995555", "(904)5551212"]  # PID-13 and PID-14, XTN-1 text
    assert report.sent_at == dt.datetime(2021, 3, 17, 11, 53, 20)  # no UTC offset sent: left naive


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1"])
def test_versions_2_3_to_2_7_are_accepted(version: str) -> None:
    assert parse_one(base(MSH={12: version})).version == version


@pytest.mark.parametrize("version", ["2.2", "2.8", "3.0", "2.5.1.9"])
def test_other_versions_are_rejected(version: str) -> None:
    [problem] = rejection(base(MSH={12: version}))
    assert (problem.location, problem.code) == ("MSH-12", "unsupported_version")
    assert "2.3 to 2.7" in problem.reason


# --- Message types and required fields ---------------------------------------------------------------------


def test_an_order_is_rejected_with_a_clear_reason() -> None:
    [problem] = rejection(fixture("hl7_2.7.hl7"))
    assert problem.location == "MSH-9"
    assert problem.reason == "ORM^O01 is an order, not a result; TraceCenter accepts ORU^R01 lab results."
    assert problem.code == "unsupported_type"


@pytest.mark.parametrize(
    ("sent", "code"), [("ADT^A01^ADT_A01", "unsupported_type"), ("ORU^R30", "unsupported_event"), ("", "required")]
)
def test_other_message_types_are_rejected(sent: str, code: str) -> None:
    [problem] = rejection(base(MSH={9: sent}))
    assert (problem.location, problem.code) == ("MSH-9", code)


def test_a_message_without_a_control_id_is_rejected() -> None:
    [problem] = rejection(base(MSH={10: ""}))
    assert (problem.location, problem.code) == ("MSH-10", "required")


def test_a_patient_without_a_name_is_rejected() -> None:
    [problem] = rejection(base(PID={5: "^^^^^^L~"}))
    assert (problem.location, problem.code) == ("PID-5", "required")


def test_a_message_without_pid_is_rejected() -> None:
    text = message(seg("MSH", MSH), seg("OBR", OBR), seg("OBX", OBX))
    assert "PID" in locations(rejection(text))


def test_every_problem_is_reported_not_just_the_first() -> None:
    problems = rejection(base(MSH={10: ""}, PID={5: ""}, SPM={17: "2024"}))
    assert locations(problems) == ["MSH-10", "PID-5", "SPM-17"]


# --- Dates ---------------------------------------------------------------------------------------------


def test_an_invalid_date_of_birth_is_a_warning_naming_the_field_and_the_result_still_counts() -> None:
    # A positive must reach an investigator even when the lab garbled the birth date.
    report = parse_one(base(PID={7: "19931302"}))
    assert report.patient.date_of_birth is None
    [warning] = [w for w in report.warnings if w.location == "PID-7"]
    assert "'19931302' is not a valid date (YYYYMMDD)" in warning.reason
    assert report.results


@pytest.mark.parametrize("dob", ["1993", "199302"])
def test_a_date_of_birth_without_a_day_is_a_warning_and_left_empty(dob: str) -> None:
    report = parse_one(base(PID={7: dob}))
    assert report.patient.date_of_birth is None
    assert [(p.location, p.code) for p in report.warnings] == [("PID-7", "partial_date")]


def test_a_date_of_birth_with_a_time_keeps_its_date() -> None:
    assert parse_one(base(PID={7: "20230504131023-0500"})).patient.date_of_birth == dt.date(2023, 5, 4)


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"SPM": {17: "2024-02-27"}}, "SPM-17"),
        ({"SPM": {17: "20240230"}}, "SPM-17"),
        ({"SPM": {17: ""}, "OBR": {7: "20241301"}}, "OBR-7"),
        ({"SPM": {17: ""}, "OBR": {7: ""}, "OBX": {14: "2024022"}}, "OBX-14"),
        ({"SPM": {17: "20240227250000"}}, "SPM-17"),
        ({"SPM": {17: "20240227+2500"}}, "SPM-17"),
    ],
)
def test_an_invalid_collection_date_is_a_problem(changes: dict[str, dict[int, str]], location: str) -> None:
    [problem] = rejection(base(**changes))
    assert (problem.location, problem.code) == (location, "invalid_date")


def test_the_collection_date_falls_back_to_obr_7_then_obx_14() -> None:
    assert parse_one(base(SPM={17: ""})).results[0].specimen_collection_date == dt.date(2024, 2, 28)
    report = parse_one(base(SPM={17: ""}, OBR={7: ""}, OBX={14: "20240226"}))
    assert report.results[0].specimen_collection_date == dt.date(2024, 2, 26)


def test_a_missing_collection_date_is_a_warning_for_the_pipeline_to_decide() -> None:
    report = parse_one(base(SPM={17: ""}, OBR={7: ""}, OBX={14: ""}))
    [result] = report.results
    assert result.specimen_collection_date is None
    assert [(p.location, p.code) for p in result.warnings] == [("SPM-17", "missing_collection_date")]


def test_invalid_informational_dates_only_warn() -> None:
    report = parse_one(base(MSH={7: "yesterday"}, OBX={19: "2024"}, OBR={22: "soon"}))
    assert report.sent_at is None
    assert report.results[0].result_date is None
    assert sorted(locations(report.warnings)) == ["MSH-7", "OBR-22", "OBX-19"]


# --- Results -------------------------------------------------------------------------------------------


def test_a_correction_keeps_status_c() -> None:
    report = parse_one(fixture("sample-single-pdi-20210608-0002.hl7"))
    [result] = report.results
    assert result.status == "C"
    # 840539006 is the disease COVID-19, not a result value: unknown, for review, never positive.
    assert (result.result_code, result.classification) == ("840539006", "unknown")
    assert [w.code for w in result.warnings] == ["not_a_result"]
    assert report.sending_facility_id == "36D1332559"


def test_a_result_entered_in_error_keeps_status_w() -> None:
    [result] = parse_one(fixture("sample_SR_ENTEREDINERROR_20240904-0001.hl7")).results
    assert (result.test_loinc, result.classification, result.status) == ("94558-4", "positive", "W")


@pytest.mark.parametrize(
    ("sent", "read"),
    [("F", "F"), ("C", "C"), ("P", "P"), ("W", "W"), ("X", "X"), ("D", "D"), ("R", "P"), ("A", "C"), ("F^Final^HL70085", "F")],
)
def test_result_status_codes(sent: str, read: str) -> None:
    assert parse_one(base(OBX={11: sent})).results[0].status == read


def test_an_empty_result_status_is_read_as_final_with_a_warning() -> None:
    [result] = parse_one(base(OBX={11: ""})).results
    assert result.status == "F"
    assert [w.location for w in result.warnings] == ["OBX-11"]


def test_an_unknown_result_status_costs_the_result() -> None:
    problems = rejection(base(OBX={11: "Q"}))
    assert [(p.location, p.code) for p in problems] == [("OBX", "no_result"), ("OBX-11", "unknown_status")]


def test_a_multiplex_panel_gives_one_result_per_analyte_with_its_condition() -> None:
    report = parse_one(fixture("sample_CA_20240729-0001.hl7"))
    got = [(r.test_loinc, r.condition, r.classification) for r in report.results]
    assert got == [("80382-5", "influenza", "positive"), ("97097-0", "covid-19", "unknown"), ("80383-3", "influenza", "negative")]
    assert len({r.observation_key for r in report.results}) == 3


def test_an_unknown_result_code_is_unknown_with_a_warning_never_positive_or_negative() -> None:
    report = parse_one(fixture("sample_CA_20240729-0001.hl7"))
    covid = next(r for r in report.results if r.condition == "covid-19")
    assert (covid.result_code, covid.classification) == ("1234", "unknown")
    [warning] = covid.warnings
    assert (warning.location, warning.code) == ("OBX[2]-5", "unknown_code")


def test_a_whole_panel_entered_in_error() -> None:
    report = parse_one(fixture("sample_CO_20240403.hl7"))
    assert [(r.condition, r.status) for r in report.results] == [("influenza", "W"), ("covid-19", "W"), ("influenza", "W")]


def test_ask_at_order_entry_answers_are_never_results() -> None:
    # single_message: one antigen result and four AOE answers flagged QST in OBX-29.
    report = parse_one(fixture("single_message.hl7"))
    assert [r.test_loinc for r in report.results] == ["94558-4"]
    assert report.warnings == []
    # Recognised by their LOINC too, when the sender does not flag them.
    text = message(
        seg("MSH", MSH),
        seg("PID", PID),
        seg("OBR", OBR),
        seg("OBX", OBX),
        obx(2, f2="CWE", f3="95419-8^Has symptoms^LN", f5="Y^Yes^HL70136"),
        obx(3, f2="DT", f3="65222-2^Symptom onset^LN", f5="20240225"),
    )
    report = parse_one(text)
    assert [r.test_loinc for r in report.results] == ["94500-6"]
    assert report.warnings == []


def test_a_test_for_an_untraced_condition_is_skipped_with_a_warning() -> None:
    text = message(
        seg("MSH", MSH),
        seg("PID", PID),
        seg("OBR", OBR),
        seg("OBX", OBX),
        obx(2, f3="600-7^Bacteria identified in Blood by Culture^LN", f5="3092008^Staphylococcus aureus^SCT"),
    )
    report = parse_one(text)
    assert [r.test_loinc for r in report.results] == ["94500-6"]
    [warning] = report.warnings
    assert warning.location == "OBX[2]-3"
    assert warning.reason == (
        "600-7 Bacteria identified in Blood by Culture is not a test for a condition TraceCenter traces; ignored."
    )


def test_an_invalid_loinc_alone_rejects_the_message() -> None:
    problems = rejection(fixture("sample_bundle_multiple_observations.hl7"))
    assert [(p.location, p.code) for p in problems] == [("OBX", "no_result"), ("OBX-3", "invalid_loinc")]
    assert "'94558-5' is not a valid LOINC code" in problems[1].reason


def test_an_invalid_loinc_next_to_a_valid_result_is_a_warning() -> None:
    text = message(seg("MSH", MSH), seg("PID", PID), seg("OBR", OBR), seg("OBX", OBX), obx(2, f3="94558-5^Ag^LN"))
    report = parse_one(text)
    assert [r.test_loinc for r in report.results] == ["94500-6"]
    assert [(p.location, p.code) for p in report.warnings] == [("OBX[2]-3", "invalid_loinc")]


def test_a_local_test_code_without_a_loinc_alternate_is_a_problem() -> None:
    problems = rejection(base(OBX={3: "COVPCR^Covid PCR^L"}))
    assert [(p.location, p.code) for p in problems] == [("OBX", "no_result"), ("OBX-3", "not_loinc")]


def test_a_loinc_code_sent_without_its_coding_system_is_read_with_a_warning() -> None:
    [result] = parse_one(base(OBX={3: "94500-6^SARS-CoV-2 RNA"})).results
    assert result.test_loinc == "94500-6"
    assert [w.code for w in result.warnings] == ["loinc_system"]


@pytest.mark.parametrize(
    ("value_type", "value", "classification"),
    [
        ("ST", "Not Detected", "negative"),
        ("TX", "POSITIVE", "positive"),
        ("CWE", "POS^Positive^L", "positive"),
        ("CE", "LOCAL1^whatever^L^260415000^Not detected^SCT", "negative"),
        ("CWE", "419984006^Inconclusive^SCT", "inconclusive"),
        ("CWE", "^^SCT", "unknown"),
        ("NM", "35.2", "unknown"),
        ("ST", "see comment", "unknown"),
    ],
)
def test_the_value_is_read_as_its_value_type_says(value_type: str, value: str, classification: str) -> None:
    [result] = parse_one(base(OBX={2: value_type, 5: value})).results
    assert result.classification == classification
    assert (result.warnings == []) == (classification != "unknown")


def test_repeated_identical_obx_is_counted_once_and_other_tests_are_reported() -> None:
    report = parse_one(fixture("CA-20211001-sully.hl7"))
    assert [(r.test_loinc, r.classification) for r in report.results] == [("94500-6", "positive"), ("94558-4", "negative")]
    codes = {(p.location, p.code) for p in report.warnings}
    assert ("OBX[4]", "duplicate") in codes
    assert ("OBX[6]-3", "not_loinc") in codes  # 223366009^Healthcare Occupation^SCT
    assert report.patient.street == "30 High Street, Apartment 245"
    assert report.patient.emails == ["joe.meree@example.com"]


def test_repeating_pid_13_gives_phones_and_emails() -> None:
    report = parse_one(fixture("sample_SR_1_20230302-0001.hl7"))
    assert report.patient.phones == ["+1 (410) 8952894"]
    assert report.patient.emails == ["Garth.Gutmann@gmail.com"]
    assert report.ordering_provider == "Robert M Roberts"


def test_several_patients_in_one_message_give_one_report_each() -> None:
    second = {**PID, 3: "P456^^^Example Lab&11D1234567&CLIA^MR", 5: "Chen^Wei^^^^^L"}
    text = message(
        seg("MSH", MSH),
        seg("PID", PID),
        seg("OBR", OBR),
        seg("OBX", OBX),
        seg("PID", second),
        seg("OBR", OBR),
        obx(1, f5="260415000^Not detected^SCT"),
    )
    reports = PARSER.parse(RawUnit(1, text, "message 1 (line 1)"))
    assert [(r.patient.last_name, r.results[0].classification) for r in reports] == [("Rivera", "positive"), ("Chen", "negative")]
    assert {r.control_id for r in reports} == {"MSG-0001"}


def test_z_segments_and_unknown_segments_are_ignored() -> None:
    text = base().replace("\rORC|", "\rZLR|1|whatever^x\rNTE|1|L|comment\rORC|")
    assert parse_one(text).warnings == []


def test_a_line_that_is_no_segment_is_ignored_with_a_warning() -> None:
    text = base().replace("\rORC|", "\rjust a stray line\rORC|")
    report = parse_one(text)
    assert [(p.location, p.code) for p in report.warnings] == [("message", "structure")]


def test_a_message_over_one_megabyte_is_rejected() -> None:
    text = base(PID={5: "Rivera^" + "A" * MAX_MESSAGE_BYTES + "^^^^^L"})
    problems = rejection(text)
    assert [p.code for p in problems] == ["too_large"]


def test_a_ten_megabyte_single_segment_is_rejected_quickly() -> None:
    with pytest.raises(ParseError):
        PARSER.parse(RawUnit(1, "MSH|^~\\&|" + "x" * 10_000_000, "message 1 (line 1)"))


def test_thousands_of_broken_obx_give_a_bounded_list_of_problems() -> None:
    text = message(seg("MSH", MSH), seg("PID", PID), seg("OBR", OBR), *[obx(n, f3="BAD^x^L") for n in range(1, 3001)])
    problems = rejection(text)
    assert len(problems) <= 52
    assert any(p.code == "truncated" and "more problems" in p.reason for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x02",
        "MSH|^~\\&",
        "MSH|^~\\&|||||||||",
        "MSH|^~\\&|a|b|c|d|e||ORU^R01|1|P|2.5.1\rPID|",
        "MSH|^~\\&|a|b|c|d|e||ORU^R01|1|P|2.5.1\rPID|||||\\\\\\^~&\rOBX|1|CWE|\\X\\^^LN||\\XZZ\\|",
        "MSH|^~\\&|a|b|c|d|e||ORU^R01|1|P|2.5.1\rOBX|1\rPID|1||1||A^B\rOBX|1|CWE|94500-6^x^LN||260373001^^SCT|||||F",
        "MSH|^~\\&|a|b|c|d|e||ORU^R01|1|P|2.5.1\rMSH|^~\\&|a|b|c|d|e||ORU^R01|2|P|2.5.1",
        "MSH|^~\\&|a|b|c|d|e||ORU^R01|" + "~" * 200_000 + "|P|2.5.1\rPID|1||" + "~^&" * 100_000,
    ],
)
def test_parse_only_ever_raises_parse_error(text: str) -> None:
    try:
        PARSER.parse(RawUnit(1, text, "message 1 (line 1)"))
    except ParseError as error:
        assert error.problems
        assert all(isinstance(p, Problem) and p.location and p.reason for p in error.problems)


# --- Acknowledgements ----------------------------------------------------------------------------------


NOW = dt.datetime(2024, 3, 1, 16, 0, 5, tzinfo=dt.UTC)


def test_an_aa_acknowledgement_swaps_sender_and_receiver() -> None:
    received = base()
    ack = build_ack(received, "AA", [], control_id="ACK-1", now=NOW)
    assert "\n" not in ack and ack.count("\r") == 1
    parsed = hl7.parse(ack)
    msh, msa = parsed.segment("MSH"), parsed.segment("MSA")
    assert str(msh[3]) == "TRACECENTER"
    assert str(msh[4]) == "STATE^2.16.840.1.113883.3.998^ISO"
    assert str(msh[5]) == "LABAPP^2.16.840.1.113883.3.999^ISO"
    assert str(msh[6]) == "Example Lab^11D1234567^CLIA"
    assert str(msh[7]) == "20240301160005+0000"
    assert str(msh[9]) == "ACK^R01^ACK"
    assert str(msh[10]) == "ACK-1"
    assert str(msh[12]) == "2.5.1"
    assert (str(msa[1]), str(msa[2])) == ("AA", "MSG-0001")
    assert "\rERR" not in ack


def test_an_ae_acknowledgement_has_one_err_per_problem() -> None:
    text = message(seg("MSH", MSH), seg("PID", {**PID, 5: ""}), seg("OBR", OBR), seg("OBX", OBX), obx(2, f3="94558-5^Ag^LN"))
    with pytest.raises(ParseError) as caught:
        PARSER.parse(RawUnit(1, text, "message 1 (line 1)"))
    problems = [*caught.value.problems, Problem("OBX[3]-5.1", "Odd | value ^ with & delimiters ~ and \\ here.", "required")]
    ack = build_ack(text, "AE", problems, control_id="ACK-2", now=NOW)
    parsed = hl7.parse(ack)
    assert str(parsed.segment("MSA")[1]) == "AE"
    errs = list(parsed.segments("ERR"))
    assert len(errs) == len(problems) == 3
    assert [str(e[2]) for e in errs] == ["PID^1^5", "OBX^2^3", "OBX^3^5^1^1"]
    assert [str(e[3]) for e in errs] == [
        "101^Required field missing^HL70357",
        "103^Table value not found^HL70357",
        "101^Required field missing^HL70357",
    ]
    assert {str(e[4]) for e in errs} == {"E"}
    assert [parsed.unescape(str(e[8])) for e in errs] == [p.reason for p in problems]


def test_an_ar_acknowledgement_of_an_order() -> None:
    text = fixture("hl7_2.7.hl7").decode()
    with pytest.raises(ParseError) as caught:
        PARSER.parse(units(text.encode())[0])
    ack = build_ack(text, "AR", caught.value.problems, control_id="ACK-3", now=NOW)
    parsed = hl7.parse(ack)
    assert str(parsed.segment("MSH")[12]) == "2.7"
    assert (str(parsed.segment("MSA")[1]), str(parsed.segment("MSA")[2])) == ("AR", "371785")
    [err] = list(parsed.segments("ERR"))
    assert str(err[2]) == "MSH^1^9"
    assert str(err[3]) == "200^Unsupported message type^HL70357"


def test_an_acknowledgement_of_an_unreadable_message() -> None:
    for text in (None, "", "not hl7 at all", "MSH||broken"):
        ack = build_ack(text, "AR", [Problem("file", "The file is not HL7 v2.", "not_hl7")], control_id="ACK-4", now=NOW)
        parsed = hl7.parse(ack)
        assert str(parsed.segment("MSH")[12]) == "2.5.1"
        assert (str(parsed.segment("MSA")[1]), str(parsed.segment("MSA")[2])) == ("AR", "")
        [err] = list(parsed.segments("ERR"))
        assert str(err[2]) == ""  # "file" is no place in a segment
        assert str(err[3]) == "100^Segment sequence error^HL70357"


def test_an_acknowledgement_uses_the_received_encoding_characters() -> None:
    text = base().translate(str.maketrans("^~\\&", "$%?*"))
    ack = build_ack(text, "AE", [Problem("PID-7", "Bad $ date * here.", "invalid_date")], control_id="A$1", now=NOW)
    assert ack.startswith("MSH|$%?*|")
    assert "ACK$R01$ACK|A?S?1|" in ack
    assert ack.endswith("|Bad ?S? date ?T? here.")


def test_a_2_3_acknowledgement_also_fills_the_fields_2_3_receivers_read() -> None:
    ack = build_ack(base(MSH={12: "2.3"}), "AE", [Problem("PID-7", "Bad date.", "invalid_date")], control_id="A1", now=NOW)
    parsed = hl7.parse(ack)
    assert str(parsed.segment("MSA")[3]) == "Bad date."
    assert str(parsed.segment("ERR")[1]) == "PID^1^7^102&Data type error&HL70357"


def test_warnings_sent_with_an_aa_are_errors_of_severity_w() -> None:
    ack = build_ack(base(), "AA", [Problem("OBX[2]-3", "Ignored.", "not_traced")], control_id="A1", now=NOW)
    [err] = list(hl7.parse(ack).segments("ERR"))
    assert (str(err[3]), str(err[4])) == ("0^Message accepted^HL70357", "W")


def test_an_unknown_acknowledgment_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="acknowledgment code"):
        build_ack(base(), "OK", [], control_id="A1")


def test_message_control_id_is_best_effort() -> None:
    assert message_control_id(base()) == "MSG-0001"
    assert message_control_id("\x0b" + base(MSH={10: "A\\F\\B"})) == "A|B"
    assert message_control_id("") == ""
    assert message_control_id("PID|1") == ""
    assert message_control_id("MSH|^~\\&|a") == ""


# --- Fuzzing: whatever the bytes, parse returns reports or raises ParseError ----------------------------


FUZZ_SEEDS = [
    fixture(name)
    for name in (
        "single_message.hl7",
        "sample_CA_20240729-0001.hl7",
        "batch_message.hl7",
        "FLFHospital-SARSCOV2-20200317-0001.hl7",
    )
]

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.sampled_from(list(b"|^~\\&\r\n#\x00\x0b\x1c"))),
    st.tuples(st.just("huge"), st.integers(0, 10_000), st.sampled_from([1_000, 70_000, 300_000])),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 200)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, position, arg in mutations:
        at = position % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= arg or 1
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = bytes([arg])
        elif kind == "huge":
            out[at:at] = (b"A^" * (arg // 2)) if at % 2 else (b"\\" * arg)
        elif kind == "delete":
            del out[at : at + arg]
    return bytes(out)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(seed=st.sampled_from(FUZZ_SEEDS), mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_fuzzed_messages_only_ever_give_reports_or_parse_error(seed: bytes, mutations: list[tuple[str, int, int]]) -> None:
    data = _mutate(seed, mutations)
    try:
        found = list(PARSER.split(data))
    except ParseError as error:
        assert [p.location for p in error.problems] == ["file"]
        return
    for unit in found:
        try:
            reports = PARSER.parse(unit)
        except ParseError as error:
            assert error.problems
            # "internal" is the last-resort guard for a defect of the parser: fuzzing must never reach it.
            assert "internal" not in {p.code for p in error.problems}, str(error)
            ack = build_ack(unit.text, "AE", error.problems, control_id="F1")
        else:
            assert reports and all(isinstance(r, LabReport) and r.results for r in reports)
            for report in reports:
                assert all(r.classification in ("positive", "negative", "inconclusive", "unknown") for r in report.results)
            ack = build_ack(unit.text, "AA", [], control_id="F1")
        assert ack.startswith("MSH")
        message_control_id(unit.text)


# --- Every real message of the shared ReportStream data ---------------------------------------------------

MANIFEST = SHARED / "MANIFEST.tsv"

_MANIFEST_CLASS = {
    "POS": "positive",
    "PRESUMPTIVE_POS": "positive",
    "SCT_ORGANISM": "positive",
    "NEG": "negative",
    "INCONCLUSIVE": "inconclusive",
    "INVALID": "inconclusive",
    "UNSATISFACTORY": "inconclusive",
    "POS_POOLED": "inconclusive",
    "SCT_DISEASE": "unknown",
    "SCT_SUSPECTED": "unknown",
    "SCT_VACCINATION": "unknown",
    "SCT_EXPOSURE": "unknown",
}

_MARS = "prime-router/src/test/resources"
# Messages TraceCenter must refuse although the manifest lists a COVID result, and the field why.
EXPECTED_REJECTIONS = {
    # MARS over-the-counter self-tests and their de-identified copies: PID-5 is empty (^^^^^^~^^^^^^).
    (f"{_MARS}/fhirengine/smoketest/valid_mars.hl7", 1): "PID-5",
    (f"{_MARS}/fhirengine/smoketest/valid_mars.hl7", 2): "PID-5",
    (f"{_MARS}/fhirengine/smoketest/Expected_HL7_to_HL7_MARSOTC.hl7", 1): "PID-5",
    (f"{_MARS}/validation/marsotcelr/fail_onboarding_pass_prod.hl7", 1): "PID-5",
    (f"{_MARS}/validation/marsotcelr/sample_2.hl7", 1): "PID-5",
    (f"{_MARS}/validation/marsotcelr/valid.hl7", 1): "PID-5",
    ("prime-router/src/testIntegration/resources/datatests/HL7_to_FHIR_to_HL7/mmtc-msh5-msh6-sender-override.hl7", 1): "PID-5",
    # PID-7 holds the placeholder 'DeIdentified' / 'PIDDOB!' instead of a date of birth.
    # OBX-3 94558-5 fails the LOINC check digit (94558-4 was meant); the manifest lists no result either.
    ("prime-router/src/testIntegration/resources/datatests/FHIR_to_HL7/sample_bundle_multiple_observations.hl7", 1): "OBX-3",
    (
        "prime-router/src/testIntegration/resources/datatests/FHIR_to_HL7/sample_bundle_multiple_observations_keepall.hl7",
        1,
    ): "OBX[1]-3",
    # Blood culture and susceptibility panels: no test for a traced condition (manifest: none either).
    ("prime-router/src/testIntegration/resources/datatests/FHIR_to_HL7/sample_AOE_1_20230220-0001.hl7", 1): "OBX",
    ("prime-router/src/testIntegration/resources/datatests/FHIR_to_HL7/sample_AOE_1_20230220-0001-custom-datetime.hl7", 1): "OBX",
    ("prime-router/src/testIntegration/resources/datatests/FHIR_to_HL7/sample_AOE_2_20230220-0001.hl7", 1): "OBX",
}
# Messages read differently from the manifest's covid_results, with what TraceCenter reads and why.
EXPECTED_DIFFERENCES = {
    # OBX-3 is SARS2^SARS-CoV-2^LAB_IN^94500-6^SARS-CoV-2^LN: the LOINC is the alternate code, the
    # value is text NEGATIVE; the manifest only looked at OBX-3.1.
    ("prime-router/src/testIntegration/resources/datatests/HL7_to_INTERNAL/FLFHospital-SARSCOV2-20200317-0001.hl7", 1): [
        ("94500-6", "negative")
    ],
    # OBX 3 is sent twice, identical; it is one result, counted once.
    ("prime-router/src/testIntegration/resources/datatests/HL7_to_INTERNAL/CA-20211001-sully.hl7", 1): [
        ("94500-6", "positive"),
        ("94558-4", "negative"),
    ],
}


def _manifest_expectation(covid_results: str) -> list[tuple[str, str]]:
    expected = []
    for item in filter(None, covid_results.split(";")):
        loinc, _, value = item.partition("=")
        value = value.split("(")[0]
        expected.append((loinc, "unknown" if value.startswith("?") else _MANIFEST_CLASS[value]))
    return sorted(expected)


def _manifest_rows() -> list[object]:
    if not MANIFEST.exists():
        return [pytest.param(None, id="shared-data-absent")]
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        rows = [
            row
            for row in csv.DictReader(handle, delimiter="\t")
            if "-expected" not in Path(row["file"]).name and not row["msg_type"].startswith("ORM")
        ]
    return [pytest.param(row, id=f"{Path(row['file']).name}#{row['msg_index']}") for row in rows]


@functools.cache
def _shared_units(path: str) -> list[RawUnit]:
    return list(PARSER.split((SHARED / "files" / path).read_bytes()))


@pytest.mark.shared_data
@pytest.mark.parametrize("row", _manifest_rows())
def test_every_shared_reportstream_message(row: dict[str, str] | None) -> None:
    if row is None:
        pytest.skip(f"../shared/data is not present (only in the development workspace): {SHARED} was not found")
    key = (row["file"], int(row["msg_index"]))
    found = _shared_units(row["file"])
    assert len(found) == int(row["n_msgs_in_file"])
    unit = found[key[1] - 1]
    try:
        reports = PARSER.parse(unit)
    except ParseError as error:
        assert key in EXPECTED_REJECTIONS, f"rejected: {error}"
        assert EXPECTED_REJECTIONS[key] in locations(error.problems), str(error)
        return
    assert key not in EXPECTED_REJECTIONS, "expected a rejection"
    assert reports[0].control_id == row["msh10_control_id"]
    got = sorted((r.test_loinc, r.classification) for report in reports for r in report.results if r.condition == "covid-19")
    expected = EXPECTED_DIFFERENCES.get(key) or _manifest_expectation(row["covid_results"])
    assert got == expected


@pytest.mark.shared_data
def test_the_shared_data_lists_every_difference_it_has() -> None:
    if not MANIFEST.exists():
        pytest.skip(f"../shared/data is not present (only in the development workspace): {SHARED} was not found")
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        keys = {(row["file"], int(row["msg_index"])) for row in csv.DictReader(handle, delimiter="\t")}
    assert set(EXPECTED_REJECTIONS) <= keys
    assert set(EXPECTED_DIFFERENCES) <= keys

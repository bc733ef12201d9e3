"""The FHIR R4 parser: real ReportStream and SimpleReport Bundles, and damaged copies of them."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.intake import classify
from tracecenter.intake.formats.fhir_r4 import MAX_FILE_BYTES, MAX_UNIT_BYTES, FhirR4Parser
from tracecenter.intake.records import LabReport, ParseError, Problem, RawUnit, ResultRecord

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fhir"
# tracecenter/intake/tests/test_fhir_r4.py -> parents[3] is the project root; shared data sits beside it.
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
SHARED_FHIR = SHARED / "fhir-r4"
SHARED_HL7 = SHARED / "elr-reportstream/files/prime-router/src/testIntegration/resources/datatests/FHIR_to_HL7"

PARSER = FhirR4Parser()
SR_1 = "sample_SR_1_20230302-0001.fhir"
# Entries of SR_1, by position (Bundle.entry[n]).
PATIENT, SPECIMEN, FLU_B, FLU_A, COVID = 3, 6, 11, 12, 13


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def unit(bundle: dict[str, Any] | str) -> RawUnit:
    return RawUnit(1, bundle if isinstance(bundle, str) else json.dumps(bundle), "file")


def parse(bundle: dict[str, Any] | str) -> list[LabReport]:
    return PARSER.parse(unit(bundle))


def refused(bundle: dict[str, Any] | str) -> list[Problem]:
    with pytest.raises(ParseError) as caught:
        parse(bundle)
    return caught.value.problems


def one(bundle: dict[str, Any] | str) -> LabReport:
    reports = parse(bundle)
    assert len(reports) == 1
    return reports[0]


def by_loinc(report: LabReport) -> dict[str, ResultRecord]:
    return {result.test_loinc: result for result in report.results}


def codes(problems: list[Problem]) -> set[str]:
    return {problem.code for problem in problems}


# --- A message Bundle, as ReportStream sends it


def test_a_reportstream_message_bundle_gives_the_patient_and_every_traced_result() -> None:
    report = one(load(SR_1))
    assert report.format == "fhir"
    assert report.version == "R4"
    assert report.message_type == "Bundle/message"
    assert report.control_id == "1519ae86-98f4-40d8-9780-d5211186e5b5"  # Bundle.identifier, MSH-10 in v2
    assert (report.sending_facility, report.sending_facility_id) == ("CSV uploads", "11D1111111")
    assert report.sent_at == dt.datetime(2023, 3, 30, 12, 32, 36, 643000, tzinfo=dt.UTC)
    assert report.ordering_provider == "Robert M Roberts"  # ServiceRequest.requester -> PractitionerRole
    assert report.ordering_facility == "CSV uploads"

    patient = report.patient
    assert (patient.first_name, patient.middle_name, patient.last_name) == ("Lula", "Mendez", "Haiti")
    assert patient.date_of_birth == dt.date(1966, 10, 12)
    assert patient.sex == "F"
    assert (patient.street, patient.city, patient.state, patient.postal_code) == ("480 S Main St", "Orange", "CA", "92868")
    assert patient.phones == ["(410) 895 2894"]
    assert patient.emails == ["Garth.Gutmann@gmail.com"]
    assert patient.source_id == "9473889b-b2b9-45ac-a8d8-191f27132912"

    results = by_loinc(report)
    assert set(results) == {"80383-3", "80382-5", "97099-6"}  # the AOE answer 95419-8 is not a result
    flu_a = results["80382-5"]
    assert (flu_a.classification, flu_a.condition, flu_a.status) == ("positive", "influenza", "F")
    assert (flu_a.result_code, flu_a.result_code_system, flu_a.result_text) == ("260373001", "SCT", "Detected")
    assert results["97099-6"].classification == "negative"
    assert results["97099-6"].condition == "covid-19"
    assert flu_a.test_name == "Flu A"
    # The Specimen has no collection time here: the DiagnosticReport's effective time is used.
    assert flu_a.specimen_collection_date == dt.date(2023, 3, 30)
    assert flu_a.result_date == dt.date(2023, 3, 28)  # DiagnosticReport.issued, as sent
    assert (flu_a.performing_lab, flu_a.performing_lab_id) == ("CSV uploads", "11D1111111")
    assert flu_a.accession == "1519ae86-98f4-40d8-9780-d5211186e5b5"  # DiagnosticReport.identifier
    assert flu_a.observation_key == "1519ae86-98f4-40d8-9780-d5211186e5b5|80382-5"
    assert (flu_a.specimen_id, flu_a.specimen_type) == ("52a582e4-d389-42d0-b738-bee51cf5244d", "Anterior Nasal Swab")
    assert all(not result.warnings for result in report.results)
    assert report.warnings == []  # ReportStream's Provenance lacks `target`, but it is never read


def test_the_same_message_with_missing_race_and_ethnicity_reads_the_same() -> None:
    full, missing = one(load(SR_1)), one(load("sample_SR_1_20230302-0001-missing-data.fhir"))
    assert missing.patient == full.patient
    assert missing.results == full.results


def test_a_result_entered_in_error_is_a_retraction_of_what_it_said() -> None:
    report = one(load("sample_SR_ENTEREDINERROR_20240904-0001.fhir"))
    (result,) = report.results
    assert result.status == "W"
    assert result.classification == "positive"  # what is retracted; the pipeline retracts, never counts it
    assert result.observation_key == "8c66de45-62e3-453c-a5b2-90b6f90a407c|94558-4"
    assert result.specimen_collection_date == dt.date(2024, 9, 4)  # Specimen.collection.collectedDateTime


def test_a_diagnostic_report_entered_in_error_retracts_its_results() -> None:
    bundle = load(SR_1)
    bundle["entry"][2]["resource"]["status"] = "entered-in-error"
    report = one(bundle)
    assert {result.status for result in report.results} == {"W"}
    assert all("status" in codes(result.warnings) for result in report.results)


@pytest.mark.parametrize(
    ("status", "letter"),
    [("final", "F"), ("amended", "C"), ("corrected", "C"), ("preliminary", "P"), ("entered-in-error", "W"), ("cancelled", "X")],
)
def test_observation_status_maps_to_the_v2_result_status(status: str, letter: str) -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["status"] = status
    assert by_loinc(one(bundle))["80382-5"].status == letter


def test_a_result_not_yet_resulted_is_left_out_with_a_warning() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["status"] = "registered"
    report = one(bundle)
    assert "80382-5" not in by_loinc(report)
    assert "status" in codes(report.warnings)


def test_a_status_that_is_not_fhir_refuses_the_bundle() -> None:
    # A misspelt "entered-in-error" must never be read as a final positive.
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["status"] = "entered in error"
    problems = refused(bundle)
    assert (
        Problem(
            "Bundle.entry[12].resource(Observation).status",
            "The result status is 'entered in error': it must be final, amended, corrected, preliminary, entered-in-error or "
            "cancelled, because a retraction must never be read as a result.",
            "status",
        )
        in problems
    )


# --- Result values


def test_an_unknown_result_code_is_unknown_with_the_reason_never_a_rejection() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = "999999999"
    result = by_loinc(one(bundle))["80382-5"]
    assert result.classification == "unknown"
    assert result.result_code == "999999999"
    (warning,) = result.warnings
    assert warning.code == "unknown_code"
    assert warning.location == "Bundle.entry[12].resource(Observation).valueCodeableConcept"


@pytest.mark.parametrize(
    ("value", "classification"),
    [
        ({"valueString": "Detected"}, "positive"),
        ({"valueString": "not detected"}, "negative"),
        ({"valueString": "maybe"}, "unknown"),
        ({"valueCodeableConcept": {"text": "POSITIVE"}}, "positive"),
        (
            {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA11882-0", "display": "Detected"}]}},
            "positive",
        ),
        (
            {"valueCodeableConcept": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0078", "code": "A"}]}},
            "positive",
        ),
        ({"valueQuantity": {"value": 31.5, "unit": "Ct"}}, "unknown"),
        ({"dataAbsentReason": {"text": "specimen lost"}}, "unknown"),
    ],
)
def test_result_values_other_than_snomed(value: dict[str, Any], classification: str) -> None:
    bundle = load(SR_1)
    observation = bundle["entry"][FLU_A]["resource"]
    del observation["valueCodeableConcept"]
    observation.update(value)
    result = by_loinc(one(bundle))["80382-5"]
    assert result.classification == classification
    assert bool(result.warnings) == (classification == "unknown")


def test_an_invalid_result_value_is_unknown_with_its_exact_location() -> None:
    # 260373001 is "Detected", but sent as a number it is not valid FHIR: review, never a positive.
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = 260373001
    result = by_loinc(one(bundle))["80382-5"]
    assert result.classification == "unknown"
    assert (
        Problem(
            "Bundle.entry[12].resource(Observation).valueCodeableConcept.coding[0].code",
            "Expected text, got 260373001.",
            "invalid",
        )
        in result.warnings
    )
    assert "invalid_value" in codes(result.warnings)


def test_an_invalid_element_elsewhere_is_a_warning_at_its_path_and_is_not_used() -> None:
    bundle = load(SR_1)
    bundle["entry"][SPECIMEN]["resource"]["collection"] = {"collectedDateTime": "2023-03-29T25:00:00Z"}
    report = one(bundle)
    assert (
        Problem(
            "Bundle.entry[6].resource(Specimen).collection.collectedDateTime",
            "The value '2023-03-29T25:00:00Z' is not a FHIR dateTime (a date, or a date and time with a time zone).",
            "invalid",
        )
        in report.warnings
    )
    # The bad collection time is not read; the DiagnosticReport's effective time stands in.
    assert {r.specimen_collection_date for r in report.results} == {dt.date(2023, 3, 30)}


def test_an_unreadable_patient_reference_refuses_the_bundle_at_its_path() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["subject"] = {"reference": 5}
    problems = refused(bundle)
    assert Problem("Bundle.entry[12].resource(Observation).subject.reference", "Expected text, got 5.", "invalid") in problems
    assert "no_patient" in codes(problems)


def test_text_that_is_not_json_is_refused_with_where_it_breaks() -> None:
    assert refused('{"resourceType": "Bundle",\n "type": }') == [
        Problem("Bundle", "This is not valid JSON: Expecting value at line 2, column 10.", "not_json")
    ]


def test_a_code_with_stray_spaces_is_not_read_as_the_code_it_resembles() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = "260373001 "
    result = by_loinc(one(bundle))["80382-5"]
    assert result.classification == "unknown"
    assert any(w.location.endswith("valueCodeableConcept.coding[0].code") for w in result.warnings)


def test_two_values_for_one_result_are_unknown() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["valueString"] = "Not detected"
    result = by_loinc(one(bundle))["80382-5"]
    assert result.classification == "unknown"
    assert any(w.location == "Bundle.entry[12].resource(Observation).value[x]" for w in result.warnings)


def test_a_panel_with_one_component_per_analyte_gives_one_result_each() -> None:
    bundle = load(SR_1)
    panel = bundle["entry"][COVID]["resource"]
    panel["code"] = {"coding": [{"system": "http://loinc.org", "code": "95941-1"}]}
    del panel["valueCodeableConcept"]
    panel["component"] = [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "94500-6"}]}, "valueCodeableConcept": {"text": "Detected"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "92142-9"}]}, "valueString": "Not detected"},
    ]
    results = by_loinc(one(bundle))
    assert results["94500-6"].classification == "positive"
    assert results["92142-9"].classification == "negative"


def test_observations_for_tests_not_traced_are_ignored_with_a_warning() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_B]["resource"]["code"]["coding"][0]["code"] = "2345-7"  # glucose
    report = one(bundle)
    assert "2345-7" not in by_loinc(report)
    assert (
        Problem(
            "Bundle.entry[11].resource(Observation).code",
            "LOINC 2345-7 is not a test TraceCenter traces, so this Observation was ignored.",
            "ignored",
        )
        in report.warnings
    )


def test_a_bundle_with_no_traced_result_is_refused_with_every_reason() -> None:
    bundle = load(SR_1)
    for index in (FLU_B, FLU_A, COVID):
        bundle["entry"][index]["resource"]["code"]["coding"][0]["code"] = "2345-7"
    problems = refused(bundle)
    assert codes(problems) == {"ignored", "no_result"}
    assert len(problems) == 4


def test_an_unreadable_test_code_refuses_the_bundle() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["code"]["coding"][0]["code"] = ["80382-5"]
    problems = refused(bundle)
    assert any(p.location == "Bundle.entry[12].resource(Observation).code.coding[0].code" for p in problems)


# --- Patients


def test_a_birth_date_with_only_a_year_is_a_warning_and_no_date() -> None:
    bundle = load(SR_1)
    bundle["entry"][PATIENT]["resource"]["birthDate"] = "1966"
    report = one(bundle)
    assert (report.patient.date_of_birth, report.patient.date_of_birth_as_written) == (None, "")
    assert (
        Problem(
            "Bundle.entry[3].resource(Patient).birthDate",
            "The birth date '1966' has no day, so it was left empty.",
            "partial_date",
        )
        in report.warnings
    )


def test_an_invalid_birth_date_is_a_warning_with_its_location_and_no_date() -> None:
    bundle = load(SR_1)
    bundle["entry"][PATIENT]["resource"]["birthDate"] = "1966-02-30"
    report = one(bundle)
    assert report.patient.date_of_birth is None
    (warning,) = [w for w in report.warnings if w.location == "Bundle.entry[3].resource(Patient).birthDate"]
    assert "'1966-02-30'" in warning.reason
    # Its digits are kept for identity matching: one mistyped digit from the real date.
    assert report.patient.date_of_birth_as_written == "19660230"


def test_the_official_name_address_language_and_identifier() -> None:
    bundle = load(SR_1)
    patient = bundle["entry"][PATIENT]["resource"]
    patient["name"] = [
        {"use": "nickname", "given": ["Lu"], "family": "H"},
        {"use": "official", "given": ["Lula", "Mendez", "Ana"], "family": "Haiti"},
    ]
    patient["address"][0].update({"district": "Orange County", "state": "ca", "line": ["480 S Main St", "Apt 2"]})
    patient["communication"] = [
        {"language": {"coding": [{"code": "en"}]}},
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es-MX"}]}, "preferred": True},
    ]
    patient["identifier"] = [
        {"value": "x-1"},
        {"type": {"coding": [{"code": "MR"}]}, "system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-7"},
    ]
    patient["gender"] = "other"
    record = one(bundle).patient
    assert (record.first_name, record.middle_name, record.last_name) == ("Lula", "Mendez Ana", "Haiti")
    assert (record.street, record.state, record.county) == ("480 S Main St, Apt 2", "CA", "Orange County")
    assert record.preferred_language == "es"
    assert (record.source_id, record.source_id_authority) == ("MRN-7", "urn:oid:2.16.840.1.113883.19.5")
    assert record.sex == "O"


@pytest.mark.parametrize(
    ("language", "read"),
    [
        ({"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}, "es"),
        ({"coding": [{"code": "spa"}]}, "es"),
        ({"coding": [{"code": "SPA"}]}, "es"),
        ({"coding": [{"system": "urn:ietf:bcp:47", "code": "zh-yue"}]}, "yue"),
        ({"coding": [{"code": "L99"}], "text": "Spanish"}, "es"),
        ({"text": "criollo haitiano"}, "ht"),
    ],
)
def test_a_language_arrives_as_its_iso_code_from_a_tag_an_iso_639_2_code_or_a_name(language, read) -> None:
    bundle = load(SR_1)
    bundle["entry"][PATIENT]["resource"]["communication"] = [{"language": language}]
    report = one(bundle)
    assert report.patient.preferred_language == read
    assert not [w for w in report.warnings if "communication" in w.location]


def test_an_unknown_language_is_left_empty_with_a_warning() -> None:
    bundle = load(SR_1)
    bundle["entry"][PATIENT]["resource"]["communication"] = [{"language": {"coding": [{"code": "xx"}], "text": "Martian"}}]
    report = one(bundle)
    assert report.patient.preferred_language == ""
    (warning,) = [w for w in report.warnings if "communication" in w.location]
    assert (warning.location, warning.code) == ("Bundle.entry[3].resource(Patient).communication[0].language", "invalid")


def test_a_gender_outside_r4_is_read_when_it_is_plain_and_always_warned_about() -> None:
    bundle = load(SR_1)
    bundle["entry"][PATIENT]["resource"]["gender"] = "F"
    report = one(bundle)
    assert report.patient.sex == "F"
    (warning,) = [w for w in report.warnings if w.location.endswith("gender")]
    assert "read as female" in warning.reason


def test_a_patient_without_a_name_cannot_have_results() -> None:
    bundle = load(SR_1)
    del bundle["entry"][PATIENT]["resource"]["name"]
    assert "no_patient" in codes(refused(bundle))


# --- References


def as_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """The same resources as a transaction with urn:uuid fullUrls, the way they are POSTed to a server."""
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] not in {"MessageHeader", "Provenance"}]
    text = json.dumps({**bundle, "type": "transaction", "entry": entries})
    for entry in entries:
        full_url = entry["fullUrl"]
        text = text.replace(json.dumps(full_url), json.dumps(f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, full_url)}"))
    transaction = json.loads(text)
    for entry in transaction["entry"]:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return transaction


def test_a_transaction_bundle_with_urn_uuid_references() -> None:
    report = one(as_transaction(load(SR_1)))
    assert report.message_type == "Bundle/transaction"
    assert report.patient.last_name == "Haiti"
    assert by_loinc(report)["80382-5"].classification == "positive"
    assert by_loinc(report)["80382-5"].performing_lab == "CSV uploads"
    assert report.ordering_provider == "Robert M Roberts"


def test_a_transaction_for_two_patients_gives_one_report_each() -> None:
    first = as_transaction(load(SR_1))
    second = as_transaction(load("sample_SR_ENTEREDINERROR_20240904-0001.fhir"))
    bundle = {**first, "entry": first["entry"] + second["entry"]}
    reports = parse(bundle)
    assert [r.patient.last_name for r in reports] == ["Haiti", "Test"]
    assert [len(r.results) for r in reports] == [3, 1]
    assert [r.control_id for r in reports] == ["1519ae86-98f4-40d8-9780-d5211186e5b5#1", "1519ae86-98f4-40d8-9780-d5211186e5b5#2"]


def test_type_and_id_references_find_urn_uuid_entries_and_relative_ones_use_the_server_base() -> None:
    bundle = as_transaction(load(SR_1))
    (patient_entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    patient_id = patient_entry["resource"]["id"]
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["subject"] = {"reference": f"Patient/{patient_id}"}
    assert one(bundle).patient.last_name == "Haiti"  # fullUrl urn:uuid:..., matched by type and id

    base = "https://fhir.example.org/r4/"
    for entry in bundle["entry"]:
        entry["fullUrl"] = f"{base}{entry['resource']['resourceType']}/{entry['resource'].get('id', 'x')}"
    patient_entry["resource"]["id"] = "other-id"  # only the fullUrl, read against the server base, can match
    patient_entry["fullUrl"] = f"{base}Patient/{patient_id}"
    assert one(bundle).patient.last_name == "Haiti"


def test_a_result_whose_patient_is_not_in_the_bundle_is_refused_with_where_and_why() -> None:
    bundle = load(SR_1)
    bundle["entry"][FLU_A]["resource"]["subject"] = {"reference": "Patient/nobody"}
    problems = refused(bundle)
    assert (
        Problem(
            "Bundle.entry[12].resource(Observation).subject.reference",
            "The reference 'Patient/nobody' matches no entry in the Bundle, so the result cannot be attributed to a patient.",
            "no_patient",
        )
        in problems
    )


def test_a_result_with_no_subject_takes_the_patient_of_the_report_that_lists_it() -> None:
    bundle = load(SR_1)
    del bundle["entry"][FLU_A]["resource"]["subject"]
    assert by_loinc(one(bundle))["80382-5"].classification == "positive"


def test_a_result_with_no_patient_anywhere_is_refused() -> None:
    bundle = load(SR_1)
    del bundle["entry"][FLU_A]["resource"]["subject"]
    del bundle["entry"][2]["resource"]["subject"]  # the DiagnosticReport
    assert "no_patient" in codes(refused(bundle))


def test_a_report_and_its_result_naming_different_patients_are_refused() -> None:
    bundle = load(SR_1)
    other = copy.deepcopy(bundle["entry"][PATIENT])
    other["fullUrl"] = "Patient/someone-else"
    other["resource"]["id"] = "someone-else"
    other["resource"]["name"] = [{"family": "Else", "given": ["Someone"]}]
    bundle["entry"].append(other)
    bundle["entry"][FLU_A]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    assert "conflict" in codes(refused(bundle))


def test_two_different_patients_behind_one_reference_are_refused() -> None:
    bundle = load(SR_1)
    twin = copy.deepcopy(bundle["entry"][PATIENT])
    twin["resource"]["name"] = [{"family": "Other", "given": ["Person"]}]
    bundle["entry"].append(twin)  # the same fullUrl, a different person
    problems = refused(bundle)
    assert any("matches 2 different entries" in p.reason for p in problems)


def test_references_that_go_round_in_circles_end() -> None:
    bundle = load(SR_1)
    role = bundle["entry"][9]
    assert role["resource"]["resourceType"] == "PractitionerRole"
    role["resource"]["practitioner"] = {"reference": role["fullUrl"]}  # itself
    bundle["entry"][FLU_A]["resource"]["subject"] = {"reference": bundle["entry"][FLU_A]["fullUrl"]}  # itself
    problems = refused(bundle)
    assert any("names a Observation, not a Patient" in p.reason for p in problems)
    del bundle["entry"][FLU_A]["resource"]["subject"]
    assert one(bundle).ordering_provider == ""  # the role's practitioner is itself: no one


def test_entries_sharing_one_fullurl_are_not_guessed_between() -> None:
    # SimpleReport's template: two Organizations share "Organization/xxxxxxxx-...".
    report = one(load("bundle-integration-testing.json"))
    (result,) = report.results
    assert result.test_loinc == "95209-3"
    assert result.performing_lab == ""
    assert "reference" in codes(report.warnings)
    assert [w.code for w in report.warnings].count("ignored") == 2  # Flu A and B: a LOINC system, no code


# --- Units and files


def test_a_json_file_with_one_bundle_is_one_unit() -> None:
    data = (FIXTURES / SR_1).read_bytes()
    (only,) = PARSER.split(data)
    assert (only.index, only.where) == (1, "file")
    assert json.loads(only.text) == json.loads(data)


def test_ndjson_gives_one_unit_per_line_and_a_bad_line_is_still_a_unit() -> None:
    bundles = [load(SR_1), load("sample_SR_ENTEREDINERROR_20240904-0001.fhir")]
    patient = bundles[0]["entry"][PATIENT]["resource"]
    lines = [json.dumps(bundles[0]), "", json.dumps(patient), "{not json", json.dumps(bundles[1])]
    units = list(PARSER.split("\n".join(lines).encode()))
    assert [u.where for u in units] == ["line 1", "line 3", "line 4", "line 5"]
    assert PARSER.parse(units[0])[0].patient.last_name == "Haiti"
    with pytest.raises(ParseError) as not_bundle:
        PARSER.parse(units[1])
    assert not_bundle.value.problems == [Problem("resourceType", "This is a Patient resource, not a FHIR Bundle.", "not_bundle")]
    with pytest.raises(ParseError) as not_json:
        PARSER.parse(units[2])
    assert codes(not_json.value.problems) == {"not_json"}
    assert PARSER.parse(units[3])[0].results[0].status == "W"


def test_simplereports_ndjson_is_pretty_printed_bundles_one_after_another() -> None:
    units = list(PARSER.split((FIXTURES / "bundles-upload-integration-testing.ndjson").read_bytes()))
    assert [u.where for u in units] == ["line 1", "line 825", "line 1393", "line 1993", "line 2549"]
    reports = [report for u in units for report in PARSER.parse(u)]
    assert [(r.patient.first_name, r.results[0].classification, r.results[0].status) for r in reports] == [
        ("Jane", "positive", "F"),
        ("John", "negative", "F"),
        ("Bob", "inconclusive", "C"),
        ("Rich", "positive", "F"),
        ("Rich", "positive", "F"),
    ]


def test_a_json_array_of_bundles_gives_one_unit_per_item() -> None:
    data = json.dumps([load(SR_1), {"resourceType": "Patient"}, load(SR_1)], indent=1).encode()
    units = list(PARSER.split(data))
    assert [u.where for u in units] == ["item 1", "item 2", "item 3"]
    assert json.loads(units[2].text) == load(SR_1)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"MSH|^~\\&|LAB|FAC\rPID|1\r", "not_json"),
        (b"\xff\xfe{}", "not_json"),
        (json.dumps({"resourceType": "Patient"}).encode(), "not_bundle"),
        (json.dumps([{"resourceType": "Observation"}]).encode(), "not_bundle"),
        (b'{"resourceType": "Patient"}\n{"resourceType": "Observation"}\n', "not_bundle"),
        (b"42", "not_bundle"),
        (b"[" * 100_000, "not_json"),
    ],
)
def test_a_file_with_nothing_usable_is_refused_as_a_whole(data: bytes, code: str) -> None:
    with pytest.raises(ParseError) as caught:
        PARSER.split(data)
    assert [(p.location, p.code) for p in caught.value.problems] == [("file", code)]


def test_files_over_50_mb_are_refused() -> None:
    with pytest.raises(ParseError) as caught:
        PARSER.split(b" " * (MAX_FILE_BYTES + 1))
    assert codes(caught.value.problems) == {"too_large"}


def test_units_over_5_mb_are_refused() -> None:
    bundle = load(SR_1)
    bundle["entry"][PATIENT]["resource"]["name"][0]["family"] = "x" * MAX_UNIT_BYTES
    assert codes(refused(bundle)) == {"too_large"}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000 + "]" * 50_000,
        json.dumps({"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "Patient"}}] * 20_000}),
        '{"resourceType": "Bundle", "id": ' + "1" * 5000 + "}",
        json.dumps({"resourceType": "Bundle", "meta": {"tag": [1] * 300_000}}),
    ],
)
def test_hostile_units_are_refused_quickly(text: str) -> None:
    started = time.perf_counter()
    refused(text)
    assert time.perf_counter() - started < 2


def test_deep_nesting_is_refused_before_validation() -> None:
    bundle = load(SR_1)
    node: Any = "Detected"
    for _ in range(200):
        node = {"extension": [{"url": "x", "valueString": node}]} if isinstance(node, dict) else {"text": node}
    bundle["entry"][FLU_A]["resource"]["valueCodeableConcept"] = node
    assert codes(refused(bundle)) == {"too_deep"}


def test_control_id_falls_back_to_the_header_then_the_bundle_id_then_a_hash() -> None:
    bundle = load(SR_1)
    del bundle["identifier"]
    assert one(bundle).control_id == "17414a00-f195-45ad-9e31-0eded0eec160"  # MessageHeader.id
    transaction = as_transaction(load(SR_1))
    del transaction["identifier"]
    transaction["id"] = "tx-1"
    assert one(transaction).control_id == "tx-1"
    del transaction["id"]
    first, second = one(transaction).control_id, one(json.dumps(transaction, indent=2)).control_id
    assert first == second  # canonical JSON: the layout does not matter
    assert len(first) == 64


# --- Whatever the input, a ParseError or reports


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if len(prefix) < 12:
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from _paths(child, (*prefix, key))


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["", " ", "1990", "2024-02-30", "entered-in-error", "#p1", "urn:uuid:x", "Patient/", "\u0000", "\ud800"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.sampled_from(["x" * 100_000, "9" * 1_000_000]),
)


@st.composite
def damaged_bundles(draw: st.DrawFn) -> str:
    original = load(SR_1)  # references and copied entries come from the undamaged Bundle
    full_urls = [entry["fullUrl"] for entry in original["entry"]]
    bundle = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(_paths(bundle))[1:]
        path = draw(st.sampled_from(paths))
        parent = bundle
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        kind = draw(st.sampled_from(["drop", "swap", "swap", "nest", "reference", "duplicate"]))
        if kind == "drop":
            del parent[key]
        elif kind == "swap":
            parent[key] = draw(ODD_VALUES)
        elif kind == "nest":
            for _ in range(draw(st.sampled_from([2, 40, 80]))):
                parent[key] = [parent[key]]
        elif kind == "reference":
            # Point a reference anywhere: itself, another entry, nowhere; or give an entry another's fullUrl.
            parent[key] = {"reference": draw(st.sampled_from([*full_urls, "Patient/nobody", "#x", ""]))}
        else:
            parent[key] = copy.deepcopy(draw(st.sampled_from([original["entry"][PATIENT], original["entry"][FLU_A]])))
    return json.dumps(bundle)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(damaged_bundles())
def test_a_damaged_bundle_gives_reports_or_a_parse_error_never_anything_else(text: str) -> None:
    try:
        reports = parse(text)
    except ParseError as exc:
        assert exc.problems
        assert all(isinstance(p, Problem) and p.location and p.reason for p in exc.problems)
        assert "internal" not in codes(exc.problems)  # the catch-all guard is never what answered
        return
    assert reports
    for report in reports:
        assert report.results
        for result in report.results:
            assert result.test_loinc in classify.TEST_CONDITIONS
            assert result.classification in {"positive", "negative", "inconclusive", "unknown"}
            if "invalid_value" in codes(result.warnings):
                assert result.classification == "unknown"


# --- The shared test data: every Bundle, and the HL7 v2 message ReportStream made from it


def shared_files() -> list[Path]:
    if not SHARED_FHIR.is_dir():
        pytest.skip(f"../shared/data is not present (only in the development workspace): {SHARED_FHIR} is missing")
    return sorted(p for p in SHARED_FHIR.rglob("*") if p.suffix in {".fhir", ".json", ".ndjson"})


def hl7_summary(text: str) -> dict[str, Any]:
    """Name, birth date and traced results of one HL7 v2 ORU, by a plain split on the delimiters."""
    summary: dict[str, Any] = {"results": {}}
    for segment in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        fields = segment.split("|")
        if fields[0] == "PID":
            name = fields[5].split("~")[0].split("^")
            summary["name"] = (name[1] if len(name) > 1 else "", name[0])
            summary["dob"] = dt.date(int(fields[7][:4]), int(fields[7][4:6]), int(fields[7][6:8]))
        elif fields[0] == "OBX":
            loinc = fields[3].split("^")[0]
            if loinc in classify.TEST_CONDITIONS:
                value = [*fields[5].split("^"), "", "", ""]
                classification = classify.interpret_coded(value[0], value[2], value[1]).classification
                summary["results"][loinc] = (classification, fields[11])
    return summary


@pytest.mark.shared_data
def test_every_shared_bundle_reads_and_agrees_with_its_hl7_counterpart() -> None:
    bundle_units: list[RawUnit] = []
    outcome: dict[str, str] = {}
    compared = 0
    for path in shared_files():
        name = str(path.relative_to(SHARED_FHIR))
        try:
            units = list(PARSER.split(path.read_bytes()))
        except ParseError as exc:
            # Single resources and arrays of AOE Observations: refused as files, for the right reason.
            assert codes(exc.problems) == {"not_bundle"}, name
            outcome[name] = "no Bundle in the file"
            continue
        reports = []
        for piece in units:
            reports += PARSER.parse(piece)  # every real Bundle must read: a ParseError fails the test
            bundle_units.append(piece)
        outcome[name] = f"{len(units)} Bundle(s), {sum(len(r.results) for r in reports)} result(s)"
        counterpart = SHARED_HL7 / (path.stem + ".hl7")
        if path.suffix != ".fhir" or not counterpart.is_file():
            continue
        hl7 = hl7_summary(counterpart.read_text())
        (report,) = reports
        assert (report.patient.first_name, report.patient.last_name) == hl7["name"], name
        assert report.patient.date_of_birth == hl7["dob"], name
        assert {r.test_loinc: (r.classification, r.status) for r in report.results} == hl7["results"], name
        compared += 1
    assert compared == 9, outcome
    assert sum(1 for text in outcome.values() if "Bundle(s)" in text) == 13, outcome

    started = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        for piece in bundle_units:
            PARSER.parse(piece)
    rate = rounds * len(bundle_units) / (time.perf_counter() - started)
    print(f"\nFHIR R4: {len(bundle_units)} shared Bundles, {rate:.0f} Bundles/second")
    for name, text in outcome.items():
        print(f"  {name}: {text}")

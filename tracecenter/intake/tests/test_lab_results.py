"""Recording lab results: LOINC codes, dates, and what is announced."""

import datetime as dt

import pytest

from tracecenter.audit.models import Action, AuditEntry
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.core.models import OutboxEvent
from tracecenter.intake.models import LabResult
from tracecenter.intake.services import LabResultInput, lab_result_record, loinc_is_valid

DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("code", ["94500-6", "94558-4", "94309-2", "94531-1", "2345-7", "8480-6"])
def test_real_loinc_codes_pass_the_check_digit(code):
    assert loinc_is_valid(code)


@pytest.mark.parametrize(
    "code",
    [
        "94500-7",
        "94558-5",
        "94309-0",
        "94500",
        "94500-",
        "-6",
        "9450a-6",
        "12345678-0",
        "94500-66",
        " 94500-6",
        "94500-6\n",
        "９４５００-６",
        "٩٤٥٠٠-٦",
    ],
)
def test_codes_with_a_wrong_check_digit_or_shape_are_refused(code):
    assert not loinc_is_valid(code)


def result(**changes):
    values = {"specimen_collection_date": clock.today() - 2 * DAY, "test_loinc": "94500-6", "result": "positive"}
    return LabResultInput(**{**values, **changes})


def test_a_result_is_stored_audited_and_announced(make_person, county, users):
    person = make_person(county)
    lab = lab_result_record(
        actor=users["supervisor"],
        person=person,
        data=result(test_loinc=" 94558-4 ", result_date=clock.today(), test_name="  SARS-CoV-2   Ag "),
    )
    lab.refresh_from_db()
    assert (lab.test_loinc, lab.test_name, lab.jurisdiction, lab.entered_by) == (
        "94558-4",
        "SARS-CoV-2 Ag",
        county,
        users["supervisor"],
    )
    assert AuditEntry.objects.filter(action=Action.CREATE, object_type="lab_result", object_id=str(lab.pk)).exists()
    event = OutboxEvent.objects.get(name="LabResultReceived")
    assert event.payload == {
        "lab_result_id": lab.pk,
        "person_id": person.pk,
        "jurisdiction_id": county.pk,
        "classification": "positive",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"specimen_collection_date": clock.today() + DAY}, "specimen_collection_date"),
        ({"result_date": clock.today() + DAY}, "result_date"),
        ({"result_date": clock.today() - 3 * DAY}, "result_date"),  # before the specimen was collected
        ({"test_loinc": "94500-7"}, "test_loinc"),
        ({"result": "maybe"}, "result"),
        ({"performing_lab": "L" * 201}, "performing_lab"),
    ],
)
def test_an_impossible_result_is_refused_naming_the_field(make_person, county, changes, field):
    person = make_person(county)
    with pytest.raises(DomainError) as caught:
        lab_result_record(actor=None, person=person, data=result(**changes))
    assert caught.value.field == field
    assert not LabResult.objects.exists()
    assert not OutboxEvent.objects.filter(name="LabResultReceived").exists()


def test_a_specimen_collected_before_birth_is_refused(make_person, county):
    person = make_person(county, date_of_birth=clock.today() - 10 * DAY)
    with pytest.raises(DomainError) as caught:
        lab_result_record(actor=None, person=person, data=result(specimen_collection_date=clock.today() - 20 * DAY))
    assert caught.value.field == "specimen_collection_date"


def test_a_result_on_the_day_of_collection_is_accepted(make_person, county):
    person = make_person(county)
    day = clock.today() - DAY
    lab = lab_result_record(actor=None, person=person, data=result(specimen_collection_date=day, result_date=day))
    assert lab.result_date == lab.specimen_collection_date

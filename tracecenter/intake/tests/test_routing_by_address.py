"""A lab result goes to the jurisdiction of the patient's address where it is known, else to the state's queue:
never silently to the county that uploaded the file."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tracecenter.audit.models import AuditEntry
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.intake.models import LabResult, PostalArea
from tracecenter.intake.pipeline import Intake
from tracecenter.intake.services import postal_area_add
from tracecenter.intake.synthetic import SyntheticReport, oru_r01


def _ingest_as(root, **patient: Any) -> LabResult:
    report = SyntheticReport(
        control_id="ROUTE1",
        first_name="Lena",
        last_name="Schmidt",
        date_of_birth=dt.date(1985, 3, 9),
        collected=clock.today() - dt.timedelta(days=2),
        accession="ROUTEACC1",
        phone="6175550177",
        **patient,
    )
    run = Intake(root=root)
    run.ingest_bytes(oru_r01(report).encode(), filename="upload.hl7")
    run.finish()
    return LabResult.objects.select_related("person").get()


def test_a_county_named_on_the_address_takes_the_result_even_from_another_countys_upload(county, other_county):
    lab = _ingest_as(county, county="South County", postal_code="")
    assert lab.person.jurisdiction_id == lab.jurisdiction_id == other_county.pk


def test_a_listed_postal_code_takes_the_result_to_its_county(county, other_county):
    postal_area_add(actor=None, jurisdiction=other_county, prefix="021")
    postal_area_add(actor=None, jurisdiction=county, prefix="02139")  # the longer prefix wins
    assert _ingest_as(county, postal_code="02118").person.jurisdiction_id == other_county.pk


def test_the_longest_listed_prefix_wins(county, other_county):
    postal_area_add(actor=None, jurisdiction=other_county, prefix="021")
    postal_area_add(actor=None, jurisdiction=other_county.parent, prefix="0")
    postal_area_add(actor=None, jurisdiction=county, prefix="02139")
    assert _ingest_as(other_county, postal_code="02139-4307").person.jurisdiction_id == county.pk


def test_an_address_that_maps_nowhere_goes_to_the_state_not_the_uploader(state, county, other_county):
    postal_area_add(actor=None, jurisdiction=other_county, prefix="021")
    assert _ingest_as(county, postal_code="90210").person.jurisdiction_id == state.pk


def test_a_county_we_do_not_have_goes_to_the_state(state, county):
    assert _ingest_as(county, county="Faraway County", postal_code="").person.jurisdiction_id == state.pk


def test_with_no_county_and_no_postal_areas_listed_the_result_stays_with_the_uploader(county, other_county):
    # Nothing says the patient lives elsewhere: a postal code maps nothing until the state lists its areas.
    assert _ingest_as(county, postal_code="90210").person.jurisdiction_id == county.pk


def test_a_patient_without_county_or_postal_code_stays_with_the_uploader(county, other_county):
    postal_area_add(actor=None, jurisdiction=other_county, prefix="021")
    assert _ingest_as(county, postal_code="").person.jurisdiction_id == county.pk


@pytest.mark.parametrize("prefix", ["", " ", "02-1", "0" * 11, "０２１", "21\x00", "<b>"])
def test_a_bad_prefix_is_refused_on_its_field(county, prefix):
    with pytest.raises(DomainError) as refused:
        postal_area_add(actor=None, jurisdiction=county, prefix=prefix)
    assert refused.value.field == "prefix"
    assert PostalArea.objects.count() == 0


def test_a_prefix_routes_to_one_jurisdiction_only_and_adding_it_is_audited(county, other_county):
    area = postal_area_add(actor=None, jurisdiction=county, prefix=" 021 ")
    assert area.prefix == "021"
    assert postal_area_add(actor=None, jurisdiction=county, prefix="021").pk == area.pk
    with pytest.raises(DomainError, match="already go to North County"):
        postal_area_add(actor=None, jurisdiction=other_county, prefix="021")
    assert AuditEntry.objects.filter(object_type="postal_area", object_id=str(area.pk)).exists()


def test_the_command_lists_adds_and_removes(county):
    out = StringIO()
    call_command("postal_areas", "add", "--jurisdiction", county.code, "--prefix", "021", "--prefix", "022", stdout=out)
    call_command("postal_areas", "list", stdout=out)
    assert "021\txs-north\tNorth County" in out.getvalue()
    call_command("postal_areas", "remove", "--prefix", "021", stdout=out)
    assert list(PostalArea.objects.values_list("prefix", flat=True)) == ["022"]
    with pytest.raises(CommandError, match="No jurisdiction has the code"):
        call_command("postal_areas", "add", "--jurisdiction", "nowhere", "--prefix", "023")

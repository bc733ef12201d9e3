"""The data migration that encrypts the status reasons and timeline lines stored in clear before."""

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tracecenter.cases.models import CaseActivity, CaseStatusChange
from tracecenter.core import clock, column_encryption, crypto

BEFORE = [("cases", "0004_remove_case_source_exposure")]
AFTER = [("cases", "0006_encrypt_reasons_and_summaries")]
REASON = "Daughter Henrietta says she is at Saint Anselm's"
SUMMARY = "North County → South County: moved to Henrietta's flat"


@pytest.fixture(autouse=True)
def back_to_latest() -> Iterator[None]:
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _stored(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY id")
        return [value for (value,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_reasons_and_summaries_stored_in_clear_are_encrypted_and_decrypted_back_when_reversed(make_case, county, monkeypatch):
    case = make_case(county)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    StatusChange = apps.get_model("cases", "CaseStatusChange")
    Activity = apps.get_model("cases", "CaseActivity")
    StatusChange.objects.all().delete()
    Activity.objects.all().delete()
    for n in range(3):  # more than one batch
        StatusChange.objects.create(
            case_id=case.pk, from_status="new", to_status="attempting", reason=f"{REASON} {n}", changed_at=clock.now()
        )
    Activity.objects.create(case_id=case.pk, at=clock.now(), kind="transfer", summary=SUMMARY)
    Activity.objects.create(case_id=case.pk, at=clock.now(), kind="opened", summary="")

    monkeypatch.setattr(column_encryption, "BATCH_SIZE", 2)  # several batches
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    reasons = _stored("cases_casestatuschange", "reason")
    summaries = _stored("cases_caseactivity", "summary")
    assert all(crypto.key_id_of(value) for value in reasons)
    assert crypto.key_id_of(summaries[0]) and summaries[1] == ""
    assert not any("Henrietta" in value for value in reasons + summaries)
    # The application reads them as it reads what it writes itself.
    assert sorted(CaseStatusChange.objects.values_list("reason", flat=True)) == [f"{REASON} {n}" for n in range(3)]
    assert sorted(CaseActivity.objects.values_list("summary", flat=True)) == ["", SUMMARY]

    # Run again (after an interruption): what is encrypted already is left alone.
    assert column_encryption.encrypt_columns(CaseStatusChange, using="default", fields=["reason"]) == 0
    assert _stored("cases_casestatuschange", "reason") == reasons

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert sorted(_stored("cases_casestatuschange", "reason")) == [f"{REASON} {n}" for n in range(3)]
    assert sorted(_stored("cases_caseactivity", "summary")) == ["", SUMMARY]

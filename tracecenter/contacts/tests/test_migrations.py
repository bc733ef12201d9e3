"""The data migration that encrypts the event names stored in clear before, with their blind index."""

import datetime as dt
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tracecenter.contacts.models import Event, Place, PlaceKind
from tracecenter.contacts.services import event_find_or_create
from tracecenter.core import crypto

BEFORE = [("contacts", "0003_backfill_resulting_case")]
AFTER = [("contacts", "0005_encrypt_event_names")]


@pytest.fixture(autouse=True)
def back_to_latest() -> Iterator[None]:
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _stored(columns: str) -> list[tuple[str, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM contacts_event ORDER BY id")
        return list(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_event_names_stored_in_clear_are_encrypted_indexed_and_decrypted_back_when_reversed(county):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    OldPlace = apps.get_model("contacts", "Place")
    OldEvent = apps.get_model("contacts", "Event")
    place = OldPlace.objects.create(jurisdiction_id=county.pk, name="St. Brendan's Church", kind="worship")
    starts = timezone.make_aware(dt.datetime(2026, 3, 3, 18))
    OldEvent.objects.create(place=place, name="Rosalind's  baptism", starts_at=starts, ends_at=starts + dt.timedelta(hours=2))

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    [(name, index)] = _stored("name, name_bidx")
    assert crypto.key_id_of(name) and "Rosalind" not in name and index
    # The place is untouched (a public place stays in clear) and the event is found again as the service looks for it.
    assert Place.objects.get(pk=place.pk).name == "St. Brendan's Church"
    assert Place.objects.get(pk=place.pk).kind == PlaceKind.WORSHIP
    found = event_find_or_create(
        place=Place.objects.get(pk=place.pk), name="rosalind's baptism", starts_at=starts, ends_at=starts + dt.timedelta(hours=2)
    )
    assert Event.objects.count() == 1 and found.name == "Rosalind's  baptism"

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert _stored("name") == [("Rosalind's  baptism",)]

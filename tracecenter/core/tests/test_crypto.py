"""Field encryption, blind indexes, what actually lands in the database, and key rotation."""

import base64
import datetime as dt
import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case, CaseActivity, CaseStatus, CaseStatusChange
from tracecenter.cases.services import CaseFacts, case_change_status, case_record_facts, case_transfer
from tracecenter.contacts.models import Event, Exposure, Place, PlaceKind
from tracecenter.contacts.services import (
    ExposureInput,
    PlaceInput,
    attendance_record,
    event_find_or_create,
    exposure_add,
    place_find_or_create,
)
from tracecenter.core import clock, crypto
from tracecenter.core.management.commands.rotate_keys import encrypted_fields_by_model
from tracecenter.people.models import ContactPoint, Person
from tracecenter.people.services import PersonInput


def key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


OLD, NEW, OTHER = key(1), key(2), key(3)
OLD_RING = f"old:{OLD}"
ROTATING_RING = f"new:{NEW},old:{OLD}"
NEW_RING = f"new:{NEW}"


# The primitives


def test_a_value_round_trips_under_its_context():
    token = crypto.encrypt("José García ☃ 李", context="people.person.first_name")
    assert crypto.decrypt(token, context="people.person.first_name") == "José García ☃ 李"


def test_the_same_value_encrypts_differently_every_time():
    assert crypto.encrypt("Ana", context="c") != crypto.encrypt("Ana", context="c")


def test_a_ciphertext_carries_the_current_key_id():
    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING):
        token = crypto.encrypt("Ana", context="c")
    assert token.startswith("tc1$new$")
    assert crypto.key_id_of(token) == "new"
    assert crypto.key_id_of("plain text") is None


def test_a_value_moved_to_another_column_fails_to_decrypt():
    token = crypto.encrypt("Ana", context="people.person.first_name")
    with pytest.raises(crypto.DecryptionError, match="wrong key, wrong column or tampered"):
        crypto.decrypt(token, context="people.person.last_name")


@pytest.mark.parametrize("position", [8, 20, -2])
def test_a_tampered_ciphertext_fails_to_decrypt(position):
    token = crypto.encrypt("Ana García", context="c")
    chars = list(token)
    chars[position] = "A" if chars[position] != "A" else "B"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt("".join(chars), context="c")


@pytest.mark.parametrize("token", ["tc1$k1$", "tc1$k1$AAAA", "tc1$k1$not base64!", "Ana", "tc2$k1$AAAA"])
def test_garbage_fails_to_decrypt_with_a_decryption_error(token):
    with override_settings(FIELD_ENCRYPTION_KEYS=f"k1:{OLD}"), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, context="c")


def test_a_value_under_another_key_of_the_same_id_fails():
    with override_settings(FIELD_ENCRYPTION_KEYS=f"k:{OLD}"):
        token = crypto.encrypt("Ana", context="c")
    with override_settings(FIELD_ENCRYPTION_KEYS=f"k:{OTHER}"), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, context="c")


def test_an_unknown_key_id_fails_with_a_message_naming_it():
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        token = crypto.encrypt("Ana", context="c")
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_RING), pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(token, context="c")
    assert "'old'" in str(caught.value)
    assert "removed before rotation finished" in str(caught.value)


def test_every_key_of_the_ring_decrypts_and_the_first_encrypts():
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        old_token = crypto.encrypt("Ana", context="c")
    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING):
        assert crypto.decrypt(old_token, context="c") == "Ana"
        assert crypto.key_id_of(crypto.encrypt("Ana", context="c")) == "new"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "holds no key"),
        (" , ", "holds no key"),
        (OLD, "kid:base64key"),
        (f":{OLD}", "kid:base64key"),
        (f"a$b:{OLD}", "kid:base64key"),
        ("k1:not-base64!!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes"),
        (f"k1:{base64.b64encode(bytes(64)).decode()}", "must be 32 bytes"),
        (f"k1:{OLD},k1:{NEW}", "appears twice"),
    ],
)
def test_a_bad_keyring_is_refused_as_a_configuration_error(spec, words):
    with override_settings(FIELD_ENCRYPTION_KEYS=spec), pytest.raises(ImproperlyConfigured, match=words):
        crypto.encrypt("Ana", context="c")


@pytest.mark.parametrize("material", ["not base64!", base64.b64encode(bytes(16)).decode()])
def test_a_bad_blind_index_key_is_refused_as_a_configuration_error(material):
    with override_settings(BLIND_INDEX_KEY=material), pytest.raises(ImproperlyConfigured):
        crypto.blind_index("ana", purpose="first_name")


def test_blind_indexes_are_stable_keyed_and_separated_by_purpose():
    index = crypto.blind_index("garcia", purpose="last_name")
    assert index == crypto.blind_index("garcia", purpose="last_name")
    assert index != crypto.blind_index("garcia", purpose="city")
    assert index != crypto.blind_index("garcib", purpose="last_name")
    assert "garcia" not in index
    with override_settings(BLIND_INDEX_KEY=base64.b64encode(bytes(range(32))).decode()):
        assert crypto.blind_index("garcia", purpose="last_name") != index


def test_blind_indexes_do_not_depend_on_the_encryption_keys():
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        before = crypto.blind_index("garcia", purpose="last_name")
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_RING):
        assert crypto.blind_index("garcia", purpose="last_name") == before


# What is in the database


SECRETS = {
    "first_name": "Wilhelmina",
    "middle_name": "Theodora",
    "last_name": "Okonkwo-Barros",
    "street": "1427 Larchmont Terrace",
    "city": "Port Ellery",
    "postal_code": "04562-8817",
    "notes": "Allergic to penicillin, works nights",
}
DOB = dt.date(1961, 7, 23)
PHONE, PHONE_E164 = "(202) 555-0173", "+12025550173"
EMAIL = "wilhelmina.okb@example.net"
CONTACT = {"first_name": "Florentyna", "last_name": "Quartermaine", "phone": "(207) 555-0148", "phone_e164": "+12075550148"}
INTERVIEW_NOTES = "Sang with the Quarry Bay choir on Sunday"
EXPOSURE_NOTES = "Shares a car to the shipyard every morning"
PLACE = "Harbor Mill Canteen"  # a public place: stored in clear on purpose, the probe of the scan
STATUS_REASON = "Her nephew Bartholomew answered; she is at Saint Quillon hospital"
TRANSFER_REASON = "Moved in with her sister in Vellingford"
HOME = {"name": "Grandmother Philippa's house", "street": "77 Quillfeather Lane"}
HOME_EVENT = "Philippa's ninetieth birthday"


def _create_people_and_a_case(make_case, county, other_county, users):
    case = make_case(
        county,
        first_name=SECRETS["first_name"],
        middle_name=SECRETS["middle_name"],
        last_name=SECRETS["last_name"],
        date_of_birth=DOB,
        street=SECRETS["street"],
        city=SECRETS["city"],
        state="ME",
        postal_code=SECRETS["postal_code"],
        notes=SECRETS["notes"],
        phones=[PHONE],
        emails=[EMAIL],
    )
    investigator = users[Role.CASE_INVESTIGATOR]
    case_record_facts(
        actor=investigator,
        case=case,
        facts=CaseFacts(
            symptom_onset=clock.today() - dt.timedelta(days=3),
            asymptomatic=False,
            symptoms=["fever"],
            hospitalized=False,
            congregate_setting=False,
            notes=INTERVIEW_NOTES,
        ),
    )
    exposure_add(
        actor=investigator,
        case=case,
        data=ExposureInput(last_exposure_date=clock.today() - dt.timedelta(days=1), notes=EXPOSURE_NOTES),
        person=PersonInput(first_name=CONTACT["first_name"], last_name=CONTACT["last_name"], phones=[CONTACT["phone"]]),
    )
    place_find_or_create(actor=investigator, jurisdiction=county, data=PlaceInput(name=PLACE, kind=PlaceKind.RESTAURANT))
    home = place_find_or_create(
        actor=investigator,
        jurisdiction=county,
        data=PlaceInput(name=HOME["name"], kind=PlaceKind.RESIDENCE, street=HOME["street"]),
    )
    arrived = timezone.make_aware(dt.datetime.combine(clock.today() - dt.timedelta(days=2), dt.time(18)))
    party = event_find_or_create(place=home, name=HOME_EVENT, starts_at=arrived, ends_at=arrived + dt.timedelta(hours=3))
    attendance_record(
        actor=investigator, case=case, place=home, event=party, arrived_at=arrived, left_at=arrived + dt.timedelta(hours=3)
    )
    case_change_status(actor=investigator, case=case, to_status=CaseStatus.ATTEMPTING, reason=STATUS_REASON)
    case_transfer(actor=users[Role.SUPERVISOR], case=case, to=other_county, reason=TRANSFER_REASON)
    call_command("audit_verify", stdout=io.StringIO())  # seal the trail too: it is part of the database
    return case


def _every_cell_of_every_table() -> str:
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for cell in row:
                    if isinstance(cell, bytes | memoryview):
                        cell = bytes(cell).decode("utf-8", "replace")
                    cells.append(str(cell))
    return "\n".join(cells).casefold()


def test_no_identifying_value_is_stored_in_clear_anywhere_in_the_database(make_case, county, other_county, users):
    _create_people_and_a_case(make_case, county, other_county, users)
    dump = _every_cell_of_every_table()
    assert PLACE.casefold() in dump  # the scan does see stored text

    identifying = [
        *SECRETS.values(),
        "wilhelmina",
        "okonkwo",
        "okonkwobarros",
        "larchmont",
        "ellery",
        "penicillin",  # parts and normalized forms
        DOB.isoformat(),
        DOB.strftime("%m/%d/%Y"),
        PHONE,
        PHONE_E164,
        "2025550173",
        EMAIL,
        CONTACT["first_name"],
        CONTACT["last_name"],
        CONTACT["phone_e164"],
        "2075550148",
        INTERVIEW_NOTES,
        "quarry bay",
        EXPOSURE_NOTES,
        "shipyard",
        # Free text: a status reason, a transfer's reason (on the timeline), a home, an event there.
        STATUS_REASON,
        "bartholomew",
        "quillon",
        TRANSFER_REASON,
        "vellingford",
        HOME["name"],
        "philippa",
        HOME["street"],
        "quillfeather",
        HOME_EVENT,
        "ninetieth",
    ]
    leaked = [value for value in identifying if value.casefold() in dump]
    assert leaked == []


def test_the_application_still_reads_every_value_back(make_case, county, other_county, users):
    case = _create_people_and_a_case(make_case, county, other_county, users)
    person = Person.objects.get(pk=case.person_id)
    assert {name: getattr(person, name) for name in SECRETS} == SECRETS
    assert person.date_of_birth == DOB
    assert set(person.contact_points.values_list("value", flat=True)) == {PHONE_E164, EMAIL}
    assert Case.objects.get(pk=case.pk).interview_notes == INTERVIEW_NOTES
    assert Exposure.objects.get(case=case).notes == EXPOSURE_NOTES
    assert CaseStatusChange.objects.get(case=case, to_status=CaseStatus.ATTEMPTING).reason == STATUS_REASON
    assert any(TRANSFER_REASON in a.summary for a in CaseActivity.objects.filter(case=case, kind=CaseActivity.Kind.TRANSFER))
    home = Place.objects.get(kind=PlaceKind.RESIDENCE)
    assert (home.display_name, home.display_street, home.name, home.street) == (HOME["name"], HOME["street"], "", "")
    assert Event.objects.get(place=home).name == HOME_EVENT


# Key rotation


def _raw_ciphertexts():
    """(model label, field, raw stored value) for every non-empty encrypted value, read around the ORM."""
    found = []
    with connection.cursor() as cursor:
        for model, fields in encrypted_fields_by_model():
            for field in fields:
                table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
                cursor.execute(f"SELECT {column} FROM {table}")
                found += [(model._meta.label, field.name, raw) for (raw,) in cursor.fetchall() if raw]
    return found


def _plain_values():
    values = {}
    for model, fields in encrypted_fields_by_model():
        for obj in model._base_manager.order_by("pk"):
            values[(model._meta.label, obj.pk)] = tuple(getattr(obj, f.attname) for f in fields)
    return values


def _blind_indexes():
    return (
        list(Person.objects.order_by("pk").values_list("first_name_bidx", "last_name_bidx", "dob_bidx")),
        list(ContactPoint.objects.order_by("pk").values_list("value_bidx", flat=True)),
    )


def test_every_encrypted_field_of_every_model_is_found():
    found = {(model._meta.label, f.name) for model, fields in encrypted_fields_by_model() for f in fields}
    assert {
        ("people.Person", "first_name"),
        ("people.Person", "date_of_birth"),
        ("people.ContactPoint", "value"),
        ("cases.Case", "interview_notes"),
        ("contacts.Exposure", "notes"),
        ("cases.CaseStatusChange", "reason"),
        ("cases.CaseActivity", "summary"),
        ("contacts.Place", "home_name"),
        ("contacts.Place", "home_street"),
        ("contacts.Event", "name"),
    } <= found


def test_rotation_re_encrypts_everything_under_the_new_key_and_the_old_key_can_then_go(make_case, county, other_county, users):
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        _create_people_and_a_case(make_case, county, other_county, users)
        before = _plain_values()
        indexes = _blind_indexes()
    assert {crypto.key_id_of(raw) for _, _, raw in _raw_ciphertexts()} == {"old"}

    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING):
        assert _plain_values() == before  # readers keep working before and while it runs
        out = io.StringIO()
        call_command("rotate_keys", stdout=out)
        assert "people.Person: re-encrypted 2 rows" in out.getvalue()
        assert "people.ContactPoint: re-encrypted 3 rows, 3 values" in out.getvalue()
        assert "cases.Case: re-encrypted 1 rows, 1 values" in out.getvalue()
        # The free text too: the status reason, the timeline (opened, contact, place, status, transfer), the home, the event.
        assert "cases.CaseStatusChange: re-encrypted 1 rows, 1 values" in out.getvalue()
        assert "cases.CaseActivity: re-encrypted 5 rows, 5 values" in out.getvalue()
        assert "contacts.Place: re-encrypted 1 rows, 2 values" in out.getvalue()
        assert "contacts.Event: re-encrypted 1 rows, 1 values" in out.getvalue()
        assert _plain_values() == before

    raws = _raw_ciphertexts()
    assert raws
    assert {crypto.key_id_of(raw) for _, _, raw in raws} == {"new"}
    assert _blind_indexes() == indexes

    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_RING):
        assert _plain_values() == before
        out = io.StringIO()
        call_command("rotate_keys", stdout=out)  # nothing left to do
        assert "done: re-encrypted 0 rows in total" in out.getvalue()


def test_a_dry_run_reports_what_would_change_and_changes_nothing(make_case, county, other_county, users):
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        _create_people_and_a_case(make_case, county, other_county, users)
    raws = _raw_ciphertexts()
    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING):
        out = io.StringIO()
        call_command("rotate_keys", "--dry-run", stdout=out)
    assert "people.ContactPoint: would re-encrypt 3 rows, 3 values (key ids old: 3)" in out.getvalue()
    assert "done: would re-encrypt" in out.getvalue()
    assert _raw_ciphertexts() == raws


def test_an_interrupted_rotation_is_finished_by_running_it_again(make_person, county, monkeypatch):
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        people = [make_person(county, first_name=name, phones=[], emails=[]) for name in ("Ada", "Ben", "Cleo", "Dov", "Eva")]
        before = _plain_values()

    real_encrypt = crypto.encrypt

    def crash_on_cleo(plaintext, *, context):
        if plaintext == "Cleo":
            raise RuntimeError("the process was killed")
        return real_encrypt(plaintext, context=context)

    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING):
        monkeypatch.setattr(crypto, "encrypt", crash_on_cleo)
        with pytest.raises(RuntimeError):
            call_command("rotate_keys", "--batch-size", "2", stdout=io.StringIO())
        monkeypatch.setattr(crypto, "encrypt", real_encrypt)

        # The first batch (Ada, Ben) was committed; the failed batch was rolled back whole.
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, first_name, last_name FROM people_person ORDER BY id")
            stored = {pk: (crypto.key_id_of(first), crypto.key_id_of(last)) for pk, first, last in cursor.fetchall()}
        assert [stored[p.pk] for p in people] == [("new", "new"), ("new", "new"), ("old", "old"), ("old", "old"), ("old", "old")]

        out = io.StringIO()
        call_command("rotate_keys", "--batch-size", "2", stdout=out)
        assert "people.Person: re-encrypted 3 rows" in out.getvalue()
        assert _plain_values() == before
    assert {crypto.key_id_of(raw) for _, _, raw in _raw_ciphertexts()} == {"new"}


def test_rotation_names_the_row_it_cannot_read(make_person, county):
    with override_settings(FIELD_ENCRYPTION_KEYS=f"lost:{OTHER}"):
        person = make_person(county, phones=[], emails=[])
    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING), pytest.raises(CommandError) as caught:
        call_command("rotate_keys", stdout=io.StringIO())
    assert f"people.Person id {person.pk}" in str(caught.value)
    assert "'lost'" in str(caught.value)


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rotate_keys", "--batch-size", "0", stdout=io.StringIO())


def test_an_uploaded_file_keeps_its_ciphertext_in_a_rotation_only_its_data_key_is_wrapped_again(users, county):
    from tracecenter.intake.models import IntakeBatch, IntakeUpload

    data = b"MSH|^~\\&|LAB|...\r" * 50 + bytes(range(256))
    with override_settings(FIELD_ENCRYPTION_KEYS=OLD_RING):
        batch = IntakeBatch.objects.create(source="upload", jurisdiction=county)
        upload = IntakeUpload.objects.create(batch=batch, data=data, size=len(data))
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM intake_intakeupload WHERE id = %s", [upload.pk])
        before = bytes(cursor.fetchone()[0])
    assert data not in before and crypto.blob_key_id(before[:600]) == "old"

    with override_settings(FIELD_ENCRYPTION_KEYS=ROTATING_RING):
        out = io.StringIO()
        call_command("rotate_keys", stdout=out)
        assert "intake.IntakeUpload.data: re-encrypted the data keys of 1 values" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM intake_intakeupload WHERE id = %s", [upload.pk])
        after = bytes(cursor.fetchone()[0])
    assert crypto.blob_key_id(after[:600]) == "new"
    assert after[-len(data) :] == before[-len(data) :]  # the file's own ciphertext is untouched
    with override_settings(FIELD_ENCRYPTION_KEYS=NEW_RING):  # the old key is gone: the file still opens
        assert IntakeUpload.objects.get(pk=upload.pk).data == data


def test_a_blob_moved_to_another_column_does_not_open():
    sealed = crypto.seal_bytes(b"a lab file", context="intake.intakeupload.data")
    assert crypto.open_bytes(sealed, context="intake.intakeupload.data") == b"a lab file"
    with pytest.raises(crypto.DecryptionError):
        crypto.open_bytes(sealed, context="core.recordedmessage.body")
    for broken in (b"", b"tc2", sealed[:20], b"tc1" + sealed[3:], sealed[:-1] + bytes([sealed[-1] ^ 1])):
        with pytest.raises(crypto.DecryptionError):
            crypto.open_bytes(broken, context="intake.intakeupload.data")

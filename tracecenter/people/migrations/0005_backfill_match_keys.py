"""Persons entered before identity matching existed get their blocking keys."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core import crypto
    from tracecenter.people import matching

    Person = apps.get_model("people", "Person")
    ContactPoint = apps.get_model("people", "ContactPoint")
    PersonMatchKey = apps.get_model("people", "PersonMatchKey")
    contacts: dict[int, tuple[list[str], list[str]]] = {}
    for point in ContactPoint.objects.all().iterator(chunk_size=2000):
        contacts.setdefault(point.person_id, ([], []))[0 if point.kind == "phone" else 1].append(point.value)
    batch = []
    for person in Person.objects.filter(match_keys__isnull=True).iterator(chunk_size=2000):
        phones, emails = contacts.get(person.pk, ([], []))
        identity = matching.identity_from(
            first_name=person.first_name,
            middle_name=person.middle_name,
            last_name=person.last_name,
            date_of_birth=person.date_of_birth,
            sex=person.sex,
            street=person.street,
            city=person.city,
            postal_code=person.postal_code,
            phones=phones,
            emails=emails,
        )
        for key in matching.blocking_keys(identity):
            batch.append(PersonMatchKey(person_id=person.pk, key=crypto.blind_index(key, purpose="match_key")))
        if len(batch) >= 5000:
            PersonMatchKey.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    PersonMatchKey.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("people", "0004_matching_and_merges")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

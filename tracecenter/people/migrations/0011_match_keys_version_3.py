"""Blocking keys version 3 (matching.BLOCKING_KEYS_VERSION) and the surname-search key: every person is
filed again, so that intake finds them through the new passes and a misspelled surname typed alone finds
them at once, without waiting for `match_keys_refresh`. Keys no longer made (version 2's pc_ln and pc_fn)
are removed."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core import crypto
    from tracecenter.people import matching

    Person = apps.get_model("people", "Person")
    ContactPoint = apps.get_model("people", "ContactPoint")
    PersonMatchKey = apps.get_model("people", "PersonMatchKey")
    ids = list(Person.objects.filter(merged_into__isnull=True).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        contacts: dict[int, tuple[list[str], list[str]]] = {}
        for point in ContactPoint.objects.filter(person_id__in=chunk):
            contacts.setdefault(point.person_id, ([], []))[0 if point.kind == "phone" else 1].append(point.value)
        batch = []
        for person in Person.objects.filter(pk__in=chunk):
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
            batch.extend(
                PersonMatchKey(person_id=person.pk, key=crypto.blind_index(key, purpose="match_key"))
                for key in matching.stored_keys(identity)
            )
        PersonMatchKey.objects.filter(person_id__in=chunk).delete()
        PersonMatchKey.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("people", "0010_match_weights")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""Persons filed before surname search existed get its key (matching.search_keys): a misspelled
surname typed alone then finds them at once, without waiting for `match_keys_refresh`."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core import crypto
    from tracecenter.people import matching

    Person = apps.get_model("people", "Person")
    PersonMatchKey = apps.get_model("people", "PersonMatchKey")
    batch = []
    for person in Person.objects.filter(merged_into__isnull=True).only("pk", "last_name").iterator(chunk_size=2000):
        for key in matching.search_keys(matching.identity_from(last_name=person.last_name)):
            batch.append(PersonMatchKey(person_id=person.pk, key=crypto.blind_index(key, purpose="match_key")))
        if len(batch) >= 5000:
            PersonMatchKey.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    PersonMatchKey.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("people", "0010_match_weights")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

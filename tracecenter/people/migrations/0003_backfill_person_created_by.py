"""Fill `Person.created_by` for persons entered before the column existed, from the audit trail's create entries."""

from django.db import migrations


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Person = apps.get_model("people", "Person")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    creators = AuditEntry.objects.filter(action="create", object_type="person", actor_id__isnull=False)
    for object_id, actor_id in creators.values_list("object_id", "actor_id").iterator(chunk_size=2000):
        if object_id.isdigit():
            Person.objects.filter(pk=int(object_id), created_by__isnull=True).update(created_by_id=actor_id)


class Migration(migrations.Migration):
    dependencies = [("people", "0002_person_created_by"), ("audit", "0002_append_only_trigger")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]

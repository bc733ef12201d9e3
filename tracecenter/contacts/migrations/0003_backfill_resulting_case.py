# Each case's source exposure (cases.Case.source_exposure, removed by cases 0004) becomes the
# exposure's resulting case.

from django.db import migrations


def forwards(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    Exposure = apps.get_model("contacts", "Exposure")
    for case_id, exposure_id in Case.objects.filter(source_exposure__isnull=False).values_list("pk", "source_exposure_id"):
        Exposure.objects.filter(pk=exposure_id).update(resulting_case_id=case_id)


def backwards(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    Exposure = apps.get_model("contacts", "Exposure")
    for exposure_id, case_id in (
        Exposure.objects.filter(resulting_case__isnull=False).order_by("last_exposure_date", "pk").values_list("pk", "resulting_case_id")
    ):
        Case.objects.filter(pk=case_id).update(source_exposure_id=exposure_id)


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0002_exposure_owner_resulting_case"),
        ("cases", "0003_case_owner"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

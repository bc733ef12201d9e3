"""Results entered before feeds existed get the condition their LOINC code is a test for."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.intake.classify import test_condition

    LabResult = apps.get_model("intake", "LabResult")
    for loinc in LabResult.objects.filter(condition="").values_list("test_loinc", flat=True).distinct():
        condition, _kind = test_condition(loinc)
        if condition:
            LabResult.objects.filter(condition="", test_loinc=loinc).update(condition=condition)


class Migration(migrations.Migration):
    dependencies = [("intake", "0003_inbound_raw_immutable")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""Cases opened before cases had a condition: the condition of the lab results that opened them (COVID-19 where none)."""

from collections import defaultdict

from django.db import migrations

# The catalogue when this migration was written (cases/conditions.py).
KNOWN = ["influenza", "rsv", "measles", "mpox", "tuberculosis", "pertussis", "hepatitis-a", "varicella", "meningococcal"]


def forwards(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    through = Case.lab_results.through
    found = defaultdict(set)
    for case_id, condition in through.objects.filter(labresult__condition__in=KNOWN).values_list("case_id", "labresult__condition"):
        found[condition].add(case_id)
    for condition, case_ids in found.items():
        Case.objects.filter(pk__in=case_ids).update(condition=condition)


class Migration(migrations.Migration):
    dependencies = [("cases", "0008_conditions"), ("intake", "0009_condition_tests")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

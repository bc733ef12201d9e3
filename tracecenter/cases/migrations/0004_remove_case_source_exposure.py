# The transmission edge now lives in contacts (Exposure.resulting_case, filled by contacts 0003):
# cases no longer point up at contacts.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0003_case_owner"),
        ("contacts", "0003_backfill_resulting_case"),
    ]

    operations = [
        migrations.RemoveField(model_name="case", name="source_exposure"),
    ]

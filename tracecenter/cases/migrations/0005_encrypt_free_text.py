# Status reasons and timeline lines become encrypted columns (schema only: cases 0006 encrypts
# the rows already there).

import tracecenter.core.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0004_remove_case_source_exposure"),
    ]

    operations = [
        migrations.AlterField(
            model_name="caseactivity",
            name="summary",
            field=tracecenter.core.fields.EncryptedTextField(blank=True, default=""),
        ),
        migrations.AlterField(
            model_name="casestatuschange",
            name="reason",
            field=tracecenter.core.fields.EncryptedTextField(verbose_name="reason"),
        ),
    ]

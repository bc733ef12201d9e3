# "assigned_to" becomes the contact's owner; the exposure points at the case it led to.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0001_initial"),
        ("cases", "0003_case_owner"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The work-list index names the column: dropped before the rename, made again after it.
        migrations.RemoveIndex(model_name="exposure", name="exposure_worklist_idx"),
        migrations.RenameField(model_name="exposure", old_name="assigned_to", new_name="owner"),
        migrations.AlterField(
            model_name="exposure",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="owned_exposures",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="exposure",
            name="resulting_case",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="source_exposures",
                to="cases.case",
            ),
        ),
        migrations.AddIndex(model_name="exposure", index=models.Index(fields=["owner", "status", "quarantine_end"], name="exposure_worklist_idx")),
    ]

# "assigned_to" becomes the case's owner: the tracer responsible for it (docs/ownership.md).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0002_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The work-list index names the column: dropped before the rename, made again after it.
        migrations.RemoveIndex(model_name="case", name="case_worklist_idx"),
        migrations.RenameField(model_name="case", old_name="assigned_to", new_name="owner"),
        migrations.AlterField(
            model_name="case",
            name="owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="owned_cases",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(model_name="case", index=models.Index(fields=["owner", "status", "priority"], name="case_worklist_idx")),
    ]

# The status reasons and timeline lines stored in clear before cases 0005 are encrypted, 500 rows per
# transaction. Not atomic as a whole: a big table is not locked for the whole run, and an interrupted
# run is finished by running it again (values already encrypted are skipped). Reversed, they are
# decrypted back, before 0005 turns the columns back into plain text.

from django.db import migrations

FIELDS = {"CaseStatusChange": ["reason"], "CaseActivity": ["summary"]}


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core.column_encryption import encrypt_columns

    for model_name, fields in FIELDS.items():
        encrypt_columns(apps.get_model("cases", model_name), using=schema_editor.connection.alias, fields=fields)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core.column_encryption import decrypt_columns

    for model_name, fields in FIELDS.items():
        decrypt_columns(apps.get_model("cases", model_name), using=schema_editor.connection.alias, fields=fields)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0005_encrypt_free_text")]

    operations = [migrations.RunPython(forwards, backwards)]

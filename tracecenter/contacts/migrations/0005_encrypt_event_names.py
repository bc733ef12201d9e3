# Event names stored in clear before contacts 0004 are encrypted and given their blind index, 500 rows
# per transaction (not atomic as a whole: interrupted, it is run again and skips what is done).
# Reversed, they are decrypted back before 0004 turns the column back into plain text.

from django.db import migrations


def _index(values):  # type: ignore[no-untyped-def]
    # As contacts.models.event_name_index computes it (kept here so this migration does not change with the code).
    from tracecenter.core import crypto

    return {"name_bidx": crypto.blind_index(" ".join(values["name"].split()).casefold(), purpose="event_name")}


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core.column_encryption import encrypt_columns

    Event = apps.get_model("contacts", "Event")
    encrypt_columns(Event, using=schema_editor.connection.alias, fields=["name"], derived=_index)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from tracecenter.core.column_encryption import decrypt_columns

    Event = apps.get_model("contacts", "Event")
    decrypt_columns(Event, using=schema_editor.connection.alias, fields=["name"], cleared=["name_bidx"])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0004_private_places_and_event_names")]

    operations = [migrations.RunPython(forwards, backwards)]

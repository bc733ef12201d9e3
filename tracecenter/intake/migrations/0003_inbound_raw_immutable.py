"""On PostgreSQL, the database refuses to change a received message's raw text or to delete it.

Key rotation re-encrypts `raw` (new ciphertext, same text): it says so with
`SET LOCAL tracecenter.reencrypting = 'on'` in its own transaction, and only then is
the column allowed to change. (SQLite has no such guard; the model refuses it there.)
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION inbound_message_raw_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'received messages are kept: inbound messages cannot be deleted';
    END IF;
    IF (NEW.raw IS DISTINCT FROM OLD.raw OR NEW.content_key IS DISTINCT FROM OLD.content_key
        OR NEW.format IS DISTINCT FROM OLD.format)
       AND coalesce(current_setting('tracecenter.reencrypting', true), '') <> 'on' THEN
        RAISE EXCEPTION 'the raw text of a received message cannot change';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER inbound_message_raw_immutable BEFORE UPDATE OR DELETE ON intake_inboundmessage
    FOR EACH ROW EXECUTE FUNCTION inbound_message_raw_immutable();
"""

DROP = """
DROP TRIGGER IF EXISTS inbound_message_raw_immutable ON intake_inboundmessage;
DROP FUNCTION IF EXISTS inbound_message_raw_immutable();
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("intake", "0002_feeds")]
    operations = [migrations.RunPython(forwards, backwards)]

"""On PostgreSQL, the one way a received message may go or be emptied: retention.

The raw-message guard (0003) keeps refusing deletes and changes of the raw text, except
inside a retention transaction, which says so with `SET LOCAL tracecenter.retention = 'on'`
(audit/retention.py): rejected messages past their period are purged, and the raw text of
a de-identified person's messages is emptied. Key rotation's own path stays as it was.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION inbound_message_raw_immutable() RETURNS trigger AS $$
DECLARE
    retention boolean := coalesce(current_setting('tracecenter.retention', true), '') = 'on';
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF retention THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'received messages are kept: inbound messages cannot be deleted';
    END IF;
    IF (NEW.raw IS DISTINCT FROM OLD.raw OR NEW.content_key IS DISTINCT FROM OLD.content_key
        OR NEW.format IS DISTINCT FROM OLD.format)
       AND coalesce(current_setting('tracecenter.reencrypting', true), '') <> 'on'
       AND NOT (retention AND NEW.raw = '' AND NEW.content_key = OLD.content_key AND NEW.format = OLD.format) THEN
        RAISE EXCEPTION 'the raw text of a received message cannot change';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PREVIOUS = """
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
"""


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS)


class Migration(migrations.Migration):
    dependencies = [("intake", "0005_intakeupload")]
    operations = [migrations.RunPython(forwards, backwards)]

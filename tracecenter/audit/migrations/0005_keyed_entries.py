"""Entries keyed from the moment they are written: the sealer may mark an entry it refuses.

Schema only (the cut-over to keyed entries is the data migration 0006). On PostgreSQL the
append-only trigger now also lets the sealer set `seal_refused` on an unsealed entry, and
nothing else: a refused or sealed entry is never changed again.
"""

from django.db import migrations, models

ALLOW_REFUSAL = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit entries are append-only';
    END IF;
    IF OLD.seq IS NOT NULL OR OLD.seal_refused
       OR (NEW.seal_refused AND NEW.seq IS NOT NULL)
       OR (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'chain_hash' - 'seal_refused')
          IS DISTINCT FROM (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'chain_hash' - 'seal_refused') THEN
        RAISE EXCEPTION 'audit entries are append-only';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# As audit/0002 created it.
SEAL_ONLY = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit entries are append-only';
    END IF;
    IF OLD.seq IS NOT NULL
       OR (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'chain_hash') IS DISTINCT FROM (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'chain_hash') THEN
        RAISE EXCEPTION 'audit entries are append-only';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def allow_refusal(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_REFUSAL)


def seal_only(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEAL_ONLY)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_break_glass_action'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='auditentry',
            name='audit_unsealed_idx',
        ),
        migrations.AddField(
            model_name='auditchainhead',
            name='keyed_from_seq',
            field=models.BigIntegerField(default=1),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='seal_refused',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(condition=models.Q(('seal_refused', False), ('seq__isnull', True)), fields=['seq'], name='audit_pending_idx'),
        ),
        # After the column exists (the function names it); before it is dropped when going back.
        migrations.RunPython(allow_refusal, seal_only),
    ]

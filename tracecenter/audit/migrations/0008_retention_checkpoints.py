"""The audit trail's own retention: checkpoints, and the one way an entry may leave.

An entry may now be deleted, by the database's own guard, only inside the audit trail's
retention (audit/trail_retention.py) and only if it lies in the range of a checkpoint written
by the same transaction; an entry is still never changed beyond the sealer's update, and a
checkpoint never changes or goes.

- PostgreSQL: the session says it is retention (`SET LOCAL tracecenter.retention = 'on'`, as for
  received messages), and the checkpoint carries the id of the transaction that wrote it, stamped
  by the database (`written_txid`, a trigger: the application cannot set another).
- SQLite, which had no guard until now: triggers refuse an update beyond the sealer's (as on
  PostgreSQL) and a delete unless the last row this connection inserted is a checkpoint whose
  range holds the entry (`last_insert_rowid()`: SQLite has no session settings, and a trigger may
  not read a connection's temporary tables). The retention path writes the checkpoint, then
  deletes, in one transaction. Django remakes a SQLite table to alter most of its columns, which
  drops its triggers: a later migration that does so to these tables must create them again
  (audit/tests/test_trail_retention.py checks that they are in place).

Self-contained on purpose: a migration must keep doing what it did when it was written.
"""

from django.db import migrations, models

PG_GUARDS = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF coalesce(current_setting('tracecenter.retention', true), '') = 'on'
           AND OLD.seq IS NOT NULL
           AND EXISTS (SELECT 1 FROM audit_auditcheckpoint c
                       WHERE c.written_txid = pg_current_xact_id()::text::bigint
                         AND OLD.seq BETWEEN c.from_seq AND c.up_to_seq) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit entries are append-only: one leaves only through retention, behind a checkpoint written in the same transaction';
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

CREATE OR REPLACE FUNCTION audit_checkpoint_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.written_txid := pg_current_xact_id()::text::bigint;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit checkpoints are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_checkpoint_append_only BEFORE INSERT OR UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only();
"""

# As audit/0005 left it.
PG_PREVIOUS = """
DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint;
DROP FUNCTION IF EXISTS audit_checkpoint_append_only();
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

# Every column but the sealer's (seq, prev_hash, chain_hash, seal_refused) stays as it was written.
_WRITTEN = (
    "id",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "jurisdiction_id",
    "ip_address",
    "channel",
    "fields",
    "detail",
    "entry_hash",
)
_CHANGED = " OR ".join(f'NEW."{column}" IS NOT OLD."{column}"' for column in _WRITTEN)

SQLITE_GUARDS = [
    """
    CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_auditentry
    WHEN OLD.seq IS NULL OR NOT EXISTS (
        SELECT 1 FROM audit_auditcheckpoint c
        WHERE c.id = last_insert_rowid() AND OLD.seq BETWEEN c.from_seq AND c.up_to_seq
    )
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only: one leaves only through retention, behind a checkpoint written in the same transaction');
    END
    """,
    f"""
    CREATE TRIGGER audit_entry_append_only BEFORE UPDATE ON audit_auditentry
    WHEN OLD.seq IS NOT NULL OR OLD.seal_refused OR (NEW.seal_refused AND NEW.seq IS NOT NULL) OR {_CHANGED}
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only');
    END
    """,
    """
    CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_auditcheckpoint
    BEGIN
        SELECT RAISE(ABORT, 'audit checkpoints are append-only');
    END
    """,
    """
    CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_auditcheckpoint
    BEGIN
        SELECT RAISE(ABORT, 'audit checkpoints are append-only');
    END
    """,
]
SQLITE_TRIGGERS = ("audit_entry_no_delete", "audit_entry_append_only", "audit_checkpoint_no_update", "audit_checkpoint_no_delete")


def guards_on(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_GUARDS)
    elif schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE_GUARDS:
            schema_editor.execute(sql)


def guards_back(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_PREVIOUS)
    elif schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_scheduled_verification")]

    operations = [
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("from_seq", models.BigIntegerField()),
                ("up_to_seq", models.BigIntegerField(unique=True)),
                ("last_hash", models.CharField(max_length=64)),
                ("removed", models.BigIntegerField()),
                ("first_at", models.DateTimeField()),
                ("last_at", models.DateTimeField()),
                ("keep_days", models.PositiveIntegerField()),
                ("cutoff", models.DateTimeField()),
                ("written_at", models.DateTimeField()),
                ("written_by", models.CharField(max_length=100)),
                ("key_id", models.CharField(max_length=16)),
                ("prev_signature", models.CharField(max_length=64)),
                ("signature", models.CharField(max_length=64)),
                ("written_txid", models.BigIntegerField(editable=False, null=True)),
            ],
            options={"ordering": ["up_to_seq"]},
        ),
        # After the table exists (the guards name it); undone before it is dropped.
        migrations.RunPython(guards_on, guards_back),
    ]

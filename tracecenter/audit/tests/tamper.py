"""What someone who may alter the audit tables does around the application: take the database's guards off first.

On PostgreSQL the owner of a table disables its triggers; on SQLite whoever holds the file drops them. Both in
the test's own transaction, put back when done: the chain and the checkpoints must still tell.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

GUARDED = {"audit_auditentry": "audit_entry_append_only", "audit_auditcheckpoint": "audit_checkpoint_append_only"}


@contextmanager
def guards_off() -> Iterator[None]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table, trigger in GUARDED.items():
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            yield
            for table, trigger in GUARDED.items():
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            return
        names = ", ".join(f"'{table}'" for table in GUARDED)
        cursor.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({names})")
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f"DROP TRIGGER {name}")
        yield
        for _name, sql in triggers:
            cursor.execute(sql)


def raw_sql(sql: str, params: list | tuple = ()) -> None:
    """One statement run with the guards off, as someone with write access to the database would."""
    with guards_off(), connection.cursor() as cursor:
        cursor.execute(sql, params)

"""manage.py flush, which also empties tables that SQLite triggers guard (the audit trail's).

Django's flush empties every table. On PostgreSQL it does so with TRUNCATE, which row triggers do not
see; on SQLite with DELETE, which the audit trail's append-only triggers refuse (audit/migrations/0008).
Here, on SQLite, the triggers are taken off for the flush and put back exactly as they were (their own
SQL, read from the schema), in one transaction: emptying the whole database stays what it was on both
engines (the test suite's transactional tests rely on it), and no row can be removed one by one.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections, transaction


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        database = options.get("database", DEFAULT_DB_ALIAS)
        connection = connections[database]
        if connection.vendor != "sqlite":
            super().handle(**options)
            return
        with transaction.atomic(using=database):
            with connection.cursor() as cursor:
                cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY name")
                triggers = cursor.fetchall()
                for name, _sql in triggers:
                    cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
            super().handle(**options)
            with connection.cursor() as cursor:
                for _name, sql in triggers:
                    cursor.execute(sql)

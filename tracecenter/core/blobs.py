"""Writing and reading one large encrypted value (an uploaded file, sealed as it arrived) of one row.

Django's PostgreSQL backend binds parameters on the client: a bytea value is spelt out in hex
inside the statement, and the statement is built around it, about four and a half times the
value in memory (measured: 9 MB for a 2 MB value, so 225 MB for a 50 MB upload); and it reads
bytea as text, the value twice over in hex before it becomes bytes. Here, on PostgreSQL, the
value goes as a binary parameter bound by the server (psycopg's %b), and comes back as a
binary result, each at its own size; elsewhere through the ORM (SQLite binds and returns a blob
as it is). Either way inside the caller's transaction: the same connection.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models, router

from tracecenter.core import crypto
from tracecenter.core.fields import EncryptedBlobField


def blob_write(model: type[models.Model], *, pk: Any, field: str, value: crypto.Sealed) -> int:
    """Store `value` (sealed under the field's context) in `field` of the row `pk`; returns the rows written."""
    column = _blob_field(model, field)
    db = router.db_for_write(model)
    connection = connections[db]
    if connection.vendor != "postgresql":
        return int(model._base_manager.using(db).filter(pk=pk).update(**{field: value}))
    import psycopg

    quote = connection.ops.quote_name
    pk_field = model._meta.pk
    if pk_field is None:  # every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    table, name, key = quote(model._meta.db_table), quote(str(column.column)), quote(str(pk_field.column))
    connection.ensure_connection()
    # Only quoted identifiers are formatted in; the value and the key are parameters.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"UPDATE {table} SET {name} = %b WHERE {key} = %s", [value.blob, pk])  # noqa: S608
        return int(cursor.rowcount)


def blob_read(model: type[models.Model], *, pk: Any, field: str) -> bytes | None:
    """The clear value of `field` (an EncryptedBlobField) of the row `pk`; None when empty or no such row."""
    column = _blob_field(model, field)
    db = router.db_for_read(model)
    connection = connections[db]
    if connection.vendor != "postgresql":
        found: bytes | None = model._base_manager.using(db).filter(pk=pk).values_list(field, flat=True).first()
        return found
    import psycopg

    quote = connection.ops.quote_name
    pk_field = model._meta.pk
    if pk_field is None:  # every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    table, name, key = quote(model._meta.db_table), quote(str(column.column)), quote(str(pk_field.column))
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"SELECT {name} FROM {table} WHERE {key} = %s", [pk], binary=True)  # noqa: S608
        row = cursor.fetchone()
    # The cursor is closed: the driver's copy of the result is gone before the value is decrypted.
    return None if row is None or row[0] is None else column.from_db_value(row[0], None, connection)


def _blob_field(model: type[models.Model], field: str) -> EncryptedBlobField:
    """The field `field` of `model`, which must be an EncryptedBlobField: anything else would get the value unsealed."""
    column = model._meta.get_field(field)
    if not isinstance(column, EncryptedBlobField):
        raise TypeError(f"{model.__name__}.{field} is not an EncryptedBlobField")
    return column

"""Updating many rows with different values each, in one statement where the database allows.

Django's bulk_update builds one CASE expression per field with a branch per row, which
PostgreSQL plans slowly for hundreds of rows. On PostgreSQL this is one
UPDATE ... FROM (VALUES ...); elsewhere (SQLite, where statements are cheap) one UPDATE
per row inside the caller's transaction. Values go through each field's own
preparation, so encrypted fields are encrypted and JSON is adapted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return field


def _quote(connection: Any, field: models.Field[Any, Any]) -> str:
    return str(connection.ops.quote_name(str(field.column)))


def update_rows(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str], *, where_null: str = "") -> int:
    """Write `fields` of each object (matched by primary key); with `where_null`, only rows where that field is NULL."""
    if not objs:
        return 0
    db = router.db_for_write(model)
    connection = connections[db]
    concrete = [_field(model, name) for name in fields]
    if connection.vendor != "postgresql":
        updated = 0
        for obj in objs:
            qs = model._base_manager.using(db).filter(pk=obj.pk)
            if where_null:
                qs = qs.filter(**{f"{where_null}__isnull": True})
            updated += qs.update(**{f.attname: getattr(obj, f.attname) for f in concrete})
        return updated
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk
    if pk is None:  # every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    columns: list[models.Field[Any, Any]] = [pk, *concrete]
    names = ", ".join(_quote(connection, c) for c in columns)
    definition = ", ".join(f"{_quote(connection, c)} {c.db_type(connection)}" for c in columns)
    assignments = ", ".join(f"{_quote(connection, c)} = v.{_quote(connection, c)}" for c in concrete)
    pk_column = _quote(connection, pk)
    condition = f" AND t.{_quote(connection, _field(model, where_null))} IS NULL" if where_null else ""
    # The new values go into a temporary table by COPY, then one UPDATE joins it: no statement with
    # thousands of placeholders to parse. The temporary table lives for the session, emptied after use.
    scratch = connection.ops.quote_name(f"bulk_{model._meta.db_table}_{abs(hash(tuple(fields))) % 10**8}")
    with connection.wrap_database_errors, connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ({definition})")
        with cursor.cursor.copy(f"COPY {scratch} ({names}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns])
        # Only quoted identifiers are formatted in; the values came by COPY.
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {scratch} AS v WHERE t.{pk_column} = v.{pk_column}{condition}"  # noqa: S608
        )
        updated = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {scratch}")
    return updated


def insert_rows(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert new objects and set their primary keys, like bulk_create, faster on PostgreSQL.

    On PostgreSQL the ids are taken from the table's sequence in one query and the rows
    are written with COPY: a large INSERT spends more time having its placeholders parsed
    on the client than the server spends storing the rows. Elsewhere it is bulk_create.
    Field values are prepared as for save() (auto_now_add stamps, encryption, JSON).
    """
    if not objs:
        return
    db = router.db_for_write(model)
    connection = connections[db]
    if connection.vendor != "postgresql":
        model._base_manager.using(db).bulk_create(objs, batch_size=500)
        return
    meta = model._meta
    pk = meta.pk
    if pk is None:  # every concrete model has one
        raise TypeError(f"{model.__name__} has no primary key")
    fields = list(meta.concrete_fields)
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(_quote(connection, f) for f in fields)
    try:
        with connection.wrap_database_errors, connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, pk.column, len(objs)],
            )
            for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = new_id
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for obj in objs:
                    copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
    except Exception:
        for obj in objs:  # nothing was written: the objects must not look saved (a caller may retry them one by one)
            obj.pk = None
        raise
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db

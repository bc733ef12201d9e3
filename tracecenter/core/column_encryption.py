"""Encrypting (and, to reverse a migration, decrypting) a column's existing values in place.

For data migrations that follow a schema migration turning a plain text column into an
EncryptedTextField: the rows already there hold clear text the new field cannot read. The
values are read around the field (cast to plain text) and written back as ciphertext bound
to the same context the field uses, a batch of rows per transaction, so that a migration
declared `atomic = False` holds its locks briefly and, interrupted, is finished by running it
again (values already encrypted are left alone; so are clear values when decrypting).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Cast

from tracecenter.core import crypto

BATCH_SIZE = 500
# From the row's values in clear, the clear columns kept beside them (blind indexes).
Derived = Callable[[dict[str, str]], dict[str, str]]


def _each_batch(model: Any, using: str, fields: Sequence[str], batch_size: int, handle: Callable[[Any, list[str]], bool]) -> int:
    """Call `handle(pk, raw values)` for every row, a batch per transaction; returns how many it changed."""
    raws = {f"_raw_{name}": Cast(name, output_field=models.TextField()) for name in fields}
    changed = 0
    last: Any = None
    while True:
        with transaction.atomic(using=using):
            rows = model._base_manager.using(using).annotate(**raws).order_by("pk")
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows.select_for_update().values_list("pk", *raws)[:batch_size])
            for pk, *values in batch:
                changed += handle(pk, [value or "" for value in values])
        if len(batch) < batch_size:
            return changed
        last = batch[-1][0]


def _text(value: str) -> models.Value:
    # A plain text value, so the field's own encryption is not applied on top.
    return models.Value(value, output_field=models.TextField())


def encrypt_columns(
    model: Any, *, using: str, fields: Sequence[str], derived: Derived | None = None, batch_size: int | None = None
) -> int:
    """Encrypt every clear value of `fields`; returns the number of rows changed."""
    label = model._meta.label_lower

    def handle(pk: Any, values: list[str]) -> bool:
        stored = dict(zip(fields, values, strict=True))
        updates: dict[str, Any] = {
            name: _text(crypto.encrypt(value, context=f"{label}.{name}"))
            for name, value in stored.items()
            if value and crypto.key_id_of(value) is None
        }
        if not updates:
            return False
        if derived is not None:
            clear = {
                name: crypto.decrypt(value, context=f"{label}.{name}") if crypto.key_id_of(value) else value
                for name, value in stored.items()
            }
            updates.update({name: _text(value) for name, value in derived(clear).items()})
        model._base_manager.using(using).filter(pk=pk).update(**updates)
        return True

    return _each_batch(model, using, fields, batch_size or BATCH_SIZE, handle)


def decrypt_columns(
    model: Any, *, using: str, fields: Sequence[str], cleared: Sequence[str] = (), batch_size: int | None = None
) -> int:
    """Put every encrypted value of `fields` back in clear (and empty the `cleared` columns)."""
    label = model._meta.label_lower

    def handle(pk: Any, values: list[str]) -> bool:
        updates: dict[str, Any] = {
            name: _text(crypto.decrypt(value, context=f"{label}.{name}"))
            for name, value in zip(fields, values, strict=True)
            if value and crypto.key_id_of(value) is not None
        }
        if not updates:
            return False
        updates.update({name: _text("") for name in cleared})
        model._base_manager.using(using).filter(pk=pk).update(**updates)
        return True

    return _each_batch(model, using, fields, batch_size or BATCH_SIZE, handle)

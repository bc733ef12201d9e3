"""Re-encrypt every encrypted field under the keyring's current key.

Run it after putting the new key first in FIELD_ENCRYPTION_KEYS (keeping the old
ones): readers keep working throughout, because every key of the ring decrypts.
Rows are handled in batches, each in its own transaction with its rows locked, so
the site stays up and an interrupted run is finished by running it again. Blind
indexes have their own key and do not change. Large values under envelope encryption
(uploaded files) keep their ciphertext: only their data key is wrapped again.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, models, router, transaction
from django.db.models.functions import Cast

from tracecenter.core import crypto
from tracecenter.core.blobs import blob_write
from tracecenter.core.fields import EncryptedBlobField, EncryptedTextField

DEFAULT_BATCH_SIZE = 500
_RAW = "_rotate_raw_"


def encrypted_fields_by_model() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every concrete model with encrypted columns of its own (inherited ones belong to the parent)."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        fields = [f for f in model._meta.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return sorted(found, key=lambda pair: pair[0]._meta.label)


def blob_fields_by_model() -> list[tuple[type[models.Model], list[EncryptedBlobField]]]:
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.local_concrete_fields if isinstance(f, EncryptedBlobField)]
        if fields and not model._meta.proxy:
            found.append((model, fields))
    return sorted(found, key=lambda pair: pair[0]._meta.label)


def _stale(field: EncryptedTextField, current_kid: str) -> models.Q:
    """The stored (raw) value is set and not sealed with the current key."""
    raw = f"{_RAW}{field.attname}"
    return (
        models.Q(**{f"{raw}__isnull": False})
        & ~models.Q(**{raw: ""})
        & ~models.Q(**{f"{raw}__startswith": f"{crypto.PREFIX}${current_kid}$"})
    )


def _stale_rows(model: type[models.Model], fields: list[EncryptedTextField], current_kid: str) -> models.QuerySet[Any]:
    # Cast to a plain text field: the raw ciphertext, without the field's decrypting converter.
    raws = {f"{_RAW}{f.attname}": Cast(f.attname, output_field=models.TextField()) for f in fields}
    condition = models.Q()
    for field in fields:
        condition |= _stale(field, current_kid)
    return model._base_manager.annotate(**raws).filter(condition)


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field whose value is not sealed with the current key "
        "(the first of FIELD_ENCRYPTION_KEYS). Batched, resumable, safe to run while the site is up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="report what would be re-encrypted, change nothing")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per transaction (default 500)")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        current_kid = crypto.keyring().current_kid
        verb = "would re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(f"current key: {current_kid}")
        total_rows = 0
        for model, fields in encrypted_fields_by_model():
            if options["dry_run"]:
                rows, by_key = self._survey(model, fields, current_kid)
                values = sum(by_key.values())
                keys = ", ".join(f"{kid}: {n}" for kid, n in sorted(by_key.items()))
                detail = f" (key ids {keys})" if keys else ""
            else:
                rows, values = self._rotate(model, fields, current_kid, batch_size)
                detail = ""
            total_rows += rows
            self.stdout.write(f"{model._meta.label}: {verb} {rows} rows, {values} values{detail}")
        for model, blob_fields in blob_fields_by_model():
            for field in blob_fields:
                stale = self._rewrap(model, field, current_kid, dry_run=options["dry_run"])
                total_rows += stale
                self.stdout.write(f"{model._meta.label}.{field.name}: {verb} the data keys of {stale} values")
        self.stdout.write(self.style.SUCCESS(f"done: {verb} {total_rows} rows in total"))

    def _rewrap(self, model: type[models.Model], field: EncryptedBlobField, current_kid: str, *, dry_run: bool) -> int:
        """Wrap again, with the current key, the data key of every value sealed under another one."""
        db = router.db_for_write(model)
        connection = connections[db]
        quote = connection.ops.quote_name
        pk_field = model._meta.pk
        if pk_field is None:  # every concrete model has one
            raise TypeError(f"{model.__name__} has no primary key")
        table, column, pk = quote(model._meta.db_table), quote(str(field.column)), quote(str(pk_field.column))
        lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
        # Only quoted identifiers are formatted in; values are parameters.
        list_ids = f"SELECT {pk} FROM {table} WHERE {column} IS NOT NULL ORDER BY {pk}"  # noqa: S608
        read = f"SELECT {column} FROM {table} WHERE {pk} = %s{lock}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(list_ids)
            ids = [row[0] for row in cursor.fetchall()]
        changed = 0
        for row_id in ids:
            with transaction.atomic(using=db), connection.cursor() as cursor:
                cursor.execute(read, [row_id])
                found = cursor.fetchone()
                if found is None or found[0] is None or crypto.blob_key_id(bytes(found[0])[:600]) == current_kid:
                    continue
                changed += 1
                if dry_run:
                    continue
                blob = bytes(found[0])
                try:
                    head, offset = crypto.rewrap_head(blob[:600], context=field.crypto_context)
                except crypto.DecryptionError as exc:
                    raise CommandError(f"{model._meta.label} id {row_id}, field {field.name}: {exc}") from None
                # The new header before the untouched ciphertext, written as a binary parameter (core/blobs.py).
                blob_write(model, pk=row_id, field=field.name, value=crypto.Sealed(blob=head + blob[offset:]))
        return changed

    def _survey(self, model: type[models.Model], fields: list[EncryptedTextField], current_kid: str) -> tuple[int, Counter[str]]:
        rows = 0
        by_key: Counter[str] = Counter()
        names = [f"{_RAW}{f.attname}" for f in fields]
        for raws in _stale_rows(model, fields, current_kid).values_list(*names).iterator(chunk_size=2000):
            rows += 1
            for raw in raws:
                kid = crypto.key_id_of(raw) if raw else current_kid
                if kid != current_kid:
                    by_key[kid or "not encrypted"] += 1
        return rows, by_key

    def _rotate(
        self, model: type[models.Model], fields: list[EncryptedTextField], current_kid: str, batch_size: int
    ) -> tuple[int, int]:
        """Re-encrypt in pk order, one transaction per batch; returns (rows, values) rewritten."""
        db = router.db_for_write(model)
        connection = connections[db]
        names = [f"{_RAW}{f.attname}" for f in fields]
        rows = values = 0
        last_pk: Any = None
        while True:
            with transaction.atomic(using=db):
                if connection.vendor == "postgresql":
                    # Tables whose ciphertext a trigger guards (received messages) let a re-encryption through.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL tracecenter.reencrypting = 'on'")
                batch_qs = _stale_rows(model, fields, current_kid).using(db)
                if last_pk is not None:
                    batch_qs = batch_qs.filter(pk__gt=last_pk)
                batch = list(batch_qs.select_for_update().order_by("pk").values_list("pk", *names)[:batch_size])
                for pk, *raws in batch:
                    updates: dict[str, Any] = {}
                    for field, raw in zip(fields, raws, strict=True):
                        if not raw or crypto.key_id_of(raw) == current_kid:
                            continue
                        try:
                            plain = field.from_db_value(raw, None, connection)
                        except crypto.DecryptionError as exc:
                            raise CommandError(f"{model._meta.label} id {pk}, field {field.name}: {exc}") from None
                        # The field's get_prep_value encrypts with the current key.
                        updates[field.attname] = plain
                    if updates:
                        model._base_manager.using(db).filter(pk=pk).update(**updates)
                        rows += 1
                        values += len(updates)
            if len(batch) < batch_size:
                return rows, values
            last_pk = batch[-1][0]

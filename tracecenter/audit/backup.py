"""What a backup must prove once restored: the same rows, an unbroken audit chain, and keys that still open it.

A database backup is useless without its keys (every identifying value is encrypted with keys
kept outside the database), and a restore is only trusted once checked. `manifest` is written
beside each backup: row counts per table, the audit chain's head, and which key ids the
encrypted values use (no personal data at all). `check` runs against the restored database
with the restored keys and says what does not match.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.apps import apps
from django.db import connection

from tracecenter.audit.models import AuditChainHead
from tracecenter.audit.services import verify_chain
from tracecenter.core import crypto
from tracecenter.core.fields import EncryptedTextField

SAMPLE = 20  # encrypted values opened per column, to prove the keys fit


def _counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for model in sorted(apps.get_models(), key=lambda m: m._meta.db_table):
            if model._meta.proxy or not model._meta.managed:
                continue
            table = model._meta.db_table
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (a table name of ours)
            counts[table] = int(cursor.fetchone()[0])
    return counts


def _encrypted_columns() -> list[tuple[type[Any], EncryptedTextField]]:
    return [
        (model, field)
        for model in apps.get_models()
        if not model._meta.proxy
        for field in model._meta.local_concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def manifest() -> dict[str, Any]:
    head = AuditChainHead.objects.filter(pk=1).first()
    return {
        "format": 1,
        "counts": _counts(),
        "audit_head": {"seq": head.last_seq, "hash": head.last_hash} if head else None,
        "key_ids": sorted(crypto.keyring().keys),
    }


@dataclasses.dataclass
class Verdict:
    problems: list[str]
    checked_values: int
    audit_entries: int

    @property
    def ok(self) -> bool:
        return not self.problems


def check(expected: dict[str, Any]) -> Verdict:
    """The restored database against the manifest of its backup, with the keys of this environment."""
    problems = []
    counts = _counts()
    for table, count in sorted(expected.get("counts", {}).items()):
        if counts.get(table) != count:
            problems.append(f"{table}: {counts.get(table)} rows, the backup had {count}")
    head = AuditChainHead.objects.filter(pk=1).first()
    if expected.get("audit_head") and (head is None or head.last_seq != expected["audit_head"]["seq"]):
        problems.append("the audit chain's head is not where the backup left it")
    verdict = verify_chain()
    if not verdict.ok:
        problems.append(f"audit chain broken at seq {verdict.first_broken_seq}: {verdict.reason}")
    opened = 0
    for model, field in _encrypted_columns():
        rows = model._base_manager.exclude(**{field.attname: ""}).exclude(**{f"{field.attname}__isnull": True})
        for pk in rows.order_by("pk").values_list("pk", flat=True)[:SAMPLE]:
            try:
                model._base_manager.only(field.attname).get(pk=pk)
                opened += 1
            except crypto.DecryptionError as exc:
                problems.append(f"{model._meta.label} {pk}.{field.name} does not open with these keys: {exc}")
                break
    return Verdict(problems=problems, checked_values=opened, audit_entries=verdict.checked)

"""The cut-over to keyed audit entries (data only; the schema is 0005).

Entries written before this release carry the unkeyed SHA-256 of their content. Those still
waiting to be sealed are sealed here, the old way, after their hash is checked (one whose hash
does not hold is marked refused, as the new sealer would); then the chain head records the next
sequence number as `keyed_from_seq`: every entry sealed from there on must carry the HMAC of its
content, and `audit_verify` verifies the entries before it by their unkeyed hash and says how many.

Self-contained on purpose (no import of the application's services): a migration must keep doing
what it did when it was written.
"""

import base64
import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations

FIELDS = (
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
)


def _content(entry):  # type: ignore[no-untyped-def]
    import datetime as dt

    values = {name: getattr(entry, name) for name in FIELDS}
    values["at"] = entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    values["fields"] = list(entry.fields)
    return values


def _legacy_hash(entry):  # type: ignore[no-untyped-def]
    canonical = json.dumps(_content(entry), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    AuditEntry = apps.get_model("audit", "AuditEntry")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    key = base64.b64decode(settings.AUDIT_CHAIN_KEY)
    head, _created = AuditChainHead.objects.get_or_create(pk=1)
    for entry in AuditEntry.objects.filter(seq__isnull=True, seal_refused=False).order_by("pk").iterator(chunk_size=2000):
        if not hmac.compare_digest(entry.entry_hash, _legacy_hash(entry)):
            AuditEntry.objects.filter(pk=entry.pk, seq__isnull=True).update(seal_refused=True)
            continue
        seq = head.last_seq + 1
        chain_hash = hmac.new(key, f"{seq}|{head.last_hash}|{entry.entry_hash}".encode(), hashlib.sha256).hexdigest()
        AuditEntry.objects.filter(pk=entry.pk, seq__isnull=True).update(seq=seq, prev_hash=head.last_hash, chain_hash=chain_hash)
        head.last_seq, head.last_hash = seq, chain_hash
    head.keyed_from_seq = head.last_seq + 1
    head.save(update_fields=["last_seq", "last_hash", "keyed_from_seq"])


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    # The entries sealed here stay sealed (the earlier release would have sealed them the same way);
    # the cut-over itself goes with its column when 0005 is undone.
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    AuditChainHead.objects.filter(pk=1).update(keyed_from_seq=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_keyed_entries")]
    operations = [migrations.RunPython(forwards, backwards)]

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.core.fields import EncryptedTextField


class Action(models.TextChoices):
    READ = "read", _("read")
    CREATE = "create", _("create")
    UPDATE = "update", _("update")
    DELETE = "delete", _("delete")
    EXPORT = "export", _("export")
    ASSIGN = "assign", _("assign")
    TRANSFER = "transfer", _("transfer")
    SEARCH = "search", _("search")
    DENIED = "denied", _("denied")
    LOGIN = "login", _("sign in")
    LOGIN_FAILED = "login_failed", _("failed sign in")
    LOGOUT = "logout", _("sign out")
    PURGE = "purge", _("purged (retention)")
    DEIDENTIFY = "deidentify", _("de-identified (retention)")
    BREAK_GLASS = "break_glass", _("opened by breaking the glass")
    INTEGRITY = "integrity", _("audit trail found broken")


class AuditEntry(models.Model):
    """One thing someone did, append-only.

    Entries are inserted by requests without any shared lock, each with the HMAC of its
    content (`entry_hash`, keyed by AUDIT_CHAIN_KEY); a sealer later gives them a place in
    the chain (`seq`) and an HMAC linking each to the one before, or, when an entry's HMAC
    does not hold, refuses it (`seal_refused`). Entries sealed before the chain head's
    `keyed_from_seq` carry the unkeyed hash of their time (audit/chain.py).
    Values of identifying fields are never stored here, only field names.
    """

    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True)  # no FK: deleting a user must not touch the trail
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    jurisdiction_id = models.BigIntegerField(null=True)
    ip_address = models.CharField(max_length=45, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    fields = models.JSONField(default=list)
    detail = models.CharField(max_length=200, blank=True)
    entry_hash = models.CharField(max_length=64)
    seq = models.BigIntegerField(null=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    chain_hash = models.CharField(max_length=64, blank=True)
    # db_default: a row written around the application without it is still a pending row, which the sealer checks.
    seal_refused = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object_idx"),
            models.Index(fields=["actor_id", "at"], name="audit_actor_idx"),
            models.Index(fields=["seq"], condition=models.Q(seq__isnull=True, seal_refused=False), name="audit_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Audit entries are append-only.")


class AuditChainHead(models.Model):
    """The end of the sealed chain; its row lock is taken only by the sealer."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    # The first entry sealed with a keyed entry HMAC; those before it carry the unkeyed hash of their time.
    keyed_from_seq = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"audit chain head at {self.last_seq}"


class AuditCheckpoint(models.Model):
    """Where the audit trail's own retention removed its oldest entries, signed, so the rest verifies from here.

    Entries older than AUDIT_RETENTION_DAYS leave only as a whole prefix of the chain, in the same
    transaction as the checkpoint that records them (audit/trail_retention.py): which entries
    (`from_seq` to `up_to_seq`), the chain HMAC of the last one (`last_hash`, what the first
    remaining entry links to), how many and from when to when, under which period, when and by
    what. `signature` is an HMAC under the audit chain key over all of that and the previous
    checkpoint's signature, so checkpoints chain as entries do and one forged, edited or removed
    is named by `audit_verify`. `key_id` names the key that signed it. Append-only, like entries.
    """

    from_seq = models.BigIntegerField()
    up_to_seq = models.BigIntegerField(unique=True)
    last_hash = models.CharField(max_length=64)
    removed = models.BigIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    keep_days = models.PositiveIntegerField()
    cutoff = models.DateTimeField()
    written_at = models.DateTimeField()
    written_by = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16)
    prev_signature = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)
    # Set by PostgreSQL itself (a trigger) to the writing transaction's id: the audit table lets an entry be
    # deleted only at or below a checkpoint written in the same transaction. Not signed; empty on SQLite.
    written_txid = models.BigIntegerField(null=True, editable=False)

    class Meta:
        ordering = ["up_to_seq"]

    def __str__(self) -> str:
        return f"audit checkpoint {self.pk}: entries up to #{self.up_to_seq} removed"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Audit checkpoints are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Audit checkpoints are append-only.")


class RetentionRule(models.Model):
    """How long one kind of record is kept in one jurisdiction (and below it, unless a jurisdiction there says otherwise)."""

    jurisdiction = models.ForeignKey("accounts.Jurisdiction", on_delete=models.CASCADE, related_name="+")
    record_type = models.CharField(max_length=40)
    keep_days = models.PositiveIntegerField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "record_type"], name="retention_rule_once")]

    def __str__(self) -> str:
        return f"{self.record_type} kept {self.keep_days} days in {self.jurisdiction_id}"


class LegalHold(models.Model):
    """Nothing under a hold is purged or de-identified, whatever its age: a person, a jurisdiction, or one record."""

    jurisdiction = models.ForeignKey("accounts.Jurisdiction", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    person_id = models.BigIntegerField(null=True, blank=True)  # no FK: people sits above the audit trail
    record_type = models.CharField(max_length=40, blank=True, default="")
    object_id = models.CharField(max_length=40, blank=True, default="")
    reason = EncryptedTextField()  # may name a lawsuit or a person
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(jurisdiction__isnull=False) | models.Q(person_id__isnull=False) | ~models.Q(object_id=""),
                name="legal_hold_holds_something",
            )
        ]

    def __str__(self) -> str:
        return f"Legal hold {self.pk}"


class AuditCheck(models.Model):
    """One scheduled verification of the whole trail (`audit.verify`): what it found, for the auditors.

    Holds places (seq, id) and reasons, never an entry's content.
    """

    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    checked = models.BigIntegerField(default=0)
    problems = models.IntegerField(default=0)
    first_problem = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"audit check {self.pk}: {'ok' if self.ok else 'BROKEN'}"

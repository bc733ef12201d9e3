"""The platform's own tables: the event outbox and its deliveries, periodic jobs, workers, side effects."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracecenter.core.fields import EncryptedTextField


class OutboxEvent(models.Model):
    """A domain event, written in the transaction of the change it announces."""

    name = models.CharField(max_length=64)
    payload = models.JSONField()
    # Who set it in motion (address, channel, user id: staff, never a member of the public), so
    # that what a worker does for it is audited as theirs.
    origin = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class EventDelivery(models.Model):
    """One event handed to one subscriber: its own state, attempts, error and next attempt.

    `next_attempt_at` is also the lease: a worker that claims a delivery moves it into the
    future; a worker that dies leaves it due again when that time comes (core/relay.py).
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        DEAD = "dead", _("dead (gave up)")

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.CharField(max_length=200)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claim = models.CharField(max_length=32, blank=True, default="")
    # The exception's class and where it was raised; never its message, which may quote personal data.
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "subscriber"], name="delivery_once_per_subscriber")]
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], condition=Q(state="pending"), name="delivery_due_idx"),
            models.Index(fields=["state", "finished_at"], name="delivery_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} <- event {self.event_id}"


class PeriodicJob(models.Model):
    """The last and next run of a job declared in code (core/schedule.py)."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkerProcess(models.Model):
    """A running worker: its heartbeat tells the others whether the tasks it holds are still being worked on."""

    id = models.CharField(max_length=32, primary_key=True)
    hostname = models.CharField(max_length=200, blank=True, default="")
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveBigIntegerField(default=0)
    tasks = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-heartbeat_at"]

    def __str__(self) -> str:
        return f"worker {self.id}"


class SideEffect(models.Model):
    """An effect outside the system (a text, an e-mail, a call) made at most once per key (core/effects.py)."""

    class State(models.TextChoices):
        STARTED = "started", _("started (outcome unknown until it finishes)")
        DONE = "done", _("done")

    key = models.CharField(max_length=255, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.STARTED)
    attempts = models.PositiveIntegerField(default=0)
    receipt = models.JSONField(default=dict, blank=True)  # the provider's ids, never content
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class RecordedMessage(models.Model):
    """What the recording (console) channel would have sent: the embedded stand-in for a provider.

    Like a provider that honours idempotency keys, it keeps one message per key.
    """

    key = models.CharField(max_length=255, unique=True)
    channel = models.CharField(max_length=16)
    to = EncryptedTextField()
    body = EncryptedTextField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.channel} message {self.pk}"


class PushMessage(models.Model):
    """One push to one group of browsers (core/push.py): ids and facts, never personal data."""

    group = models.CharField(max_length=90)  # "user.12", "team.3", "jurisdiction.5", "jurisdiction.5.unteamed"
    kind = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["group", "id"], name="push_group_idx")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.group}"


class RateCounter(models.Model):
    """Attempts counted for one key in its current window (core/ratelimit.py), shared by every process.

    `digest` is a keyed hash of the key: no user name or address is stored.
    """

    digest = models.CharField(max_length=64, primary_key=True)
    attempts = models.PositiveIntegerField(default=0)
    resets_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.attempts} attempts until {self.resets_at:%Y-%m-%d %H:%M:%S}"

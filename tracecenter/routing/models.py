"""Routing's records: each tracer's state and capacity, the work items the case's flow creates, and the offers.

One source of truth per question (docs/ownership.md): who *owns* a case or contact stays on the record
(`Case.owner`, `Exposure.owner`); who *holds* a piece of work on it is the work item's `holder`, set when
an offer is accepted and cleared when the work ends. The access policy reads both (routing registers the
holder rule with `policy.register_holder`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, Team
from tracecenter.routing.engine import AgentState


class Channel(models.TextChoices):
    VOICE = "voice", _("Call")
    SMS = "sms", _("Text")
    EMAIL = "email", _("E-mail")
    CHAT = "chat", _("Chat")


# Items at once per channel unless a planner sets otherwise: one call; several written conversations.
DEFAULT_CAPACITY: dict[str, int] = {Channel.VOICE: 1, Channel.SMS: 3, Channel.EMAIL: 5, Channel.CHAT: 3}


class AgentStateChoice(models.TextChoices):
    AVAILABLE = AgentState.AVAILABLE.value, _("Available")
    BUSY = AgentState.BUSY.value, _("Busy")
    WRAP_UP = AgentState.WRAP_UP.value, _("Wrap-up")
    BREAK = AgentState.BREAK.value, _("Break")
    LUNCH = AgentState.LUNCH.value, _("Lunch")
    TRAINING = AgentState.TRAINING.value, _("Training")
    MEETING = AgentState.MEETING.value, _("Meeting")
    OFFLINE = AgentState.OFFLINE.value, _("Offline")


class AgentStatus(models.Model):
    """A tracer's routing state: what they are doing now, since when, and how much work they take at once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_status")
    state = models.CharField(max_length=16, choices=AgentStateChoice.choices, default=AgentStateChoice.OFFLINE)
    reason = models.CharField(max_length=120, blank=True, default="")  # why (set by whom), never personal data
    since = models.DateTimeField()
    # Longest idle first: when the agent last finished or was last offered something.
    idle_since = models.DateTimeField()
    capacity = models.JSONField(default=dict, blank=True)  # channel -> items at once; missing: DEFAULT_CAPACITY

    class Meta:
        indexes = [models.Index(fields=["state"], name="agent_state_idx")]

    def capacity_for(self, channel: str) -> int:
        return int(self.capacity.get(channel, DEFAULT_CAPACITY.get(channel, 0)))

    def __str__(self) -> str:
        return f"agent status of user {self.user_id}"


class WorkKind(models.TextChoices):
    CASE_INTERVIEW = "case_interview", _("Case interview")
    CONTACT_NOTIFICATION = "contact_notification", _("Contact notification")
    CALLBACK = "callback", _("Callback")


class WorkStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("In progress")
    COMPLETED = "completed", _("Done")
    CANCELED = "canceled", _("Canceled")


OPEN_WORK = (WorkStatus.QUEUED, WorkStatus.OFFERED, WorkStatus.ACCEPTED)
# Statuses that count against a tracer's capacity on the item's channel.
HELD_WORK = (WorkStatus.OFFERED, WorkStatus.ACCEPTED)


class WorkItem(models.Model):
    """A piece of work on a case or contact, created by the case's flow (never by hand), routed to a tracer."""

    kind = models.CharField(max_length=24, choices=WorkKind.choices)
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="work_items")
    exposure = models.ForeignKey("contacts.Exposure", null=True, blank=True, on_delete=models.CASCADE, related_name="work_items")
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="work_items")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_items")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.VOICE)
    language = models.CharField(max_length=16, blank=True, default="")  # the person's, as an ISO code
    priority = models.IntegerField(default=0)  # higher first
    due_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField()  # when it (last) started waiting: the workflow's clock
    # Not offered before this: the next attempt of the retry cadence, or the callback the person asked for.
    not_before = models.DateTimeField(null=True, blank=True)
    callback = models.BooleanField(default=False)  # the person asked to be called back at `not_before`
    time_zone = models.CharField(max_length=64, blank=True, default="")  # the person's, for the calling window
    attempts = models.PositiveSmallIntegerField(default=0)  # attempts made (Attempt rows)
    failures = models.PositiveSmallIntegerField(default=0)  # attempts in a row that did not reach the person
    accepted_at = models.DateTimeField(null=True, blank=True)  # when the current holder took it
    # The owner of its record when it was routed (sticky routing); the record's owner stays the truth.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="held_work"
    )
    status = models.CharField(max_length=12, choices=WorkStatus.choices, default=WorkStatus.QUEUED)
    excluded = models.JSONField(default=list, blank=True)  # user ids who rejected it or let an offer time out
    disposition = models.CharField(max_length=24, blank=True, default="")
    close_reason = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "jurisdiction", "-priority", "queued_at"], name="work_waiting_idx"),
            models.Index(fields=["holder", "status"], name="work_held_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(case__isnull=False) | Q(exposure__isnull=False), name="work_item_has_a_subject"),
            # One open piece of work of a kind per record: an event delivered twice makes no second item.
            models.UniqueConstraint(
                fields=["kind", "case"], condition=Q(status__in=OPEN_WORK, exposure__isnull=True), name="work_one_open_per_case"
            ),
            models.UniqueConstraint(
                fields=["kind", "exposure"], condition=Q(status__in=OPEN_WORK), name="work_one_open_per_exposure"
            ),
        ]

    def __str__(self) -> str:
        return f"work item {self.pk} ({self.kind})"


class Attempt(models.Model):
    """One try at the work by the tracer who held it: how it went (a disposition of core/outcomes.py) and how long."""

    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="attempt_log")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    number = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    disposition = models.CharField(max_length=24)
    started_at = models.DateTimeField()  # the offer accepted
    ended_at = models.DateTimeField()  # the disposition given
    next_at = models.DateTimeField(null=True, blank=True)  # when the work comes back, if it does

    class Meta:
        ordering = ["item", "number"]
        constraints = [models.UniqueConstraint(fields=["item", "number"], name="attempt_number_once")]

    def __str__(self) -> str:
        return f"attempt {self.number} of work item {self.item_id}"


class OfferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    TIMED_OUT = "timed_out", _("Timed out")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Offer(models.Model):
    """A reservation of a work item for one tracer, until they answer or it times out."""

    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="work_offers")
    step = models.PositiveSmallIntegerField(default=0)  # the workflow step it was made under
    status = models.CharField(max_length=12, choices=OfferStatus.choices, default=OfferStatus.PENDING)
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"], name="offer_pending_idx")]
        constraints = [
            # Never the same item to two tracers at once: the database refuses a second pending offer.
            models.UniqueConstraint(fields=["item"], condition=Q(status="pending"), name="offer_one_pending_per_item"),
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} of work item {self.item_id}"


class QueueConfig(models.Model):
    """A state's own configuration of the queue for one kind of work; without a row, queues.py's defaults apply.

    Set by the state's administrators on the routing pages (routing/queue_config.py checks every value; the
    expressions are stored as typed and parsed again when read). `steps` is the ordered workflow, each step
    {"owner_only": bool, "expression": str, "minutes": int | None, "needs": "" | "team"}: the last lasts
    (no minutes), the others end after their minutes counted from when the work started waiting.
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="queue_configs")
    kind = models.CharField(max_length=24, choices=WorkKind.choices)
    expression = models.TextField(blank=True, default="")  # who may take this work at all ("" is anyone)
    steps = models.JSONField(default=list)
    aging_points = models.PositiveSmallIntegerField(default=10)  # priority gained per 30 minutes of waiting
    aging_cap = models.PositiveSmallIntegerField(default=20)  # at most this much gained
    offer_seconds = models.PositiveSmallIntegerField(default=45)  # how long an offer waits for its answer
    active = models.BooleanField(default=True)  # not active: nothing is offered, the work waits for a supervisor
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "kind"], name="queue_config_one_per_kind")]

    def __str__(self) -> str:
        return f"queue {self.kind} of jurisdiction {self.jurisdiction_id}"


class SurgeSetting(models.Model):
    """Surge mode of a state: while on, its work is ordered the way CDC prioritises when staff are short.

    Switched by the state's administrators and supervisors (routing/surge.py), each switch audited; the rules
    it applies are configurable: how many days count as recent, household contacts first, high-risk settings first.
    """

    jurisdiction = models.OneToOneField(Jurisdiction, on_delete=models.CASCADE, related_name="surge_setting")
    active = models.BooleanField(default=False)
    recent_first = models.BooleanField(default=True)  # cases with onset or specimen in the last `recent_days`
    recent_days = models.PositiveSmallIntegerField(default=6)
    household_first = models.BooleanField(default=True)
    high_risk_first = models.BooleanField(default=True)  # congregate living and healthcare
    reason = models.CharField(max_length=120, blank=True, default="")  # why it was last switched
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"surge setting of jurisdiction {self.jurisdiction_id}"

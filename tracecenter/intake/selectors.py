"""What intake records a user may see: batches and messages of their jurisdiction, with the ingest capability."""

from __future__ import annotations

from django.db.models import QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.intake.models import FeedSender, InboundMessage, IntakeBatch


def batches_visible_to(user: Viewer) -> QuerySet[IntakeBatch]:
    if not policy.has(user, Capability.INGEST):
        return IntakeBatch.objects.none()
    return IntakeBatch.objects.filter(policy.jurisdiction_q(user)).select_related("received_by")


def messages_visible_to(user: Viewer) -> QuerySet[InboundMessage]:
    if not policy.has(user, Capability.INGEST):
        return InboundMessage.objects.none()
    return InboundMessage.objects.filter(policy.jurisdiction_q(user))


def messages_needing_attention(user: Viewer) -> QuerySet[InboundMessage]:
    return (
        messages_visible_to(user).filter(state__in=[InboundMessage.State.REJECTED, InboundMessage.State.FAILED]).order_by("-pk")
    )


def sending_facilities_allowed(jurisdiction: Jurisdiction) -> frozenset[str] | None:
    """The sending facilities (case and spaces aside) allowed to deliver to `jurisdiction` over MLLP; None: any."""
    allowed = FeedSender.objects.filter(jurisdiction=jurisdiction, active=True).values_list("sending_facility", flat=True)
    return frozenset(" ".join(f.split()).casefold() for f in allowed) or None

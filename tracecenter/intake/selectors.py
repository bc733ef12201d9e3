"""What intake records a user may see: batches and messages of their jurisdiction, with the ingest capability."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.roles import Capability
from tracecenter.intake.models import InboundMessage, IntakeBatch


def batches_visible_to(user: Any) -> QuerySet[IntakeBatch]:
    if not getattr(user, "is_authenticated", False) or not user.has_capability(Capability.INGEST):
        return IntakeBatch.objects.none()
    return IntakeBatch.objects.filter(policy.jurisdiction_q(user)).select_related("received_by")


def messages_visible_to(user: Any) -> QuerySet[InboundMessage]:
    if not getattr(user, "is_authenticated", False) or not user.has_capability(Capability.INGEST):
        return InboundMessage.objects.none()
    return InboundMessage.objects.filter(policy.jurisdiction_q(user))


def messages_needing_attention(user: Any) -> QuerySet[InboundMessage]:
    return (
        messages_visible_to(user).filter(state__in=[InboundMessage.State.REJECTED, InboundMessage.State.FAILED]).order_by("-pk")
    )

"""The one way routing takes a reason someone gives (declining an offer, changing a state, switching surge mode):
white space collapsed, refused when empty or too long, never cut short; the error on the field `reason`."""

from __future__ import annotations

from django.utils.translation import gettext as _

from tracecenter.core.errors import DomainError

MAX_REASON = 120  # Offer.reason, AgentStatus.reason, SurgeSetting.reason


def clean_reason(text: str, *, required: str) -> str:
    reason = " ".join(str(text).split())
    if not reason:
        raise DomainError(required, field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_REASON}, field="reason")
    return reason

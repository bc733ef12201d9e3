"""A tracer's desk: their routing state, the offers waiting for their answer, the work they hold.

What the live workspace shows; ids, kinds, numbers and times only (the records themselves are
opened through their own pages and the access policy).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from tracecenter.accounts.models import User
from tracecenter.core import clock
from tracecenter.routing.models import AgentStatus, Offer, OfferStatus, WorkItem, WorkStatus


@dataclasses.dataclass(frozen=True)
class OfferView:
    offer: Offer
    item: WorkItem
    seconds_left: int


@dataclasses.dataclass(frozen=True)
class Desk:
    status: AgentStatus | None
    offers: list[OfferView]
    held: list[WorkItem]
    last_missed: Offer | None  # the latest offer that timed out since the tracer last changed state

    @property
    def item_ids(self) -> list[int]:
        return [view.item.pk for view in self.offers] + [item.pk for item in self.held]


def desk_of(user: User, *, now: dt.datetime | None = None) -> Desk:
    now = now or clock.now()
    status = AgentStatus.objects.filter(user=user).first()
    offers = [
        OfferView(offer, offer.item, max(0, int((offer.expires_at - now).total_seconds())))
        for offer in Offer.objects.filter(agent=user, status=OfferStatus.PENDING, expires_at__gt=now)
        .select_related("item")
        .order_by("expires_at")
    ]
    held = list(WorkItem.objects.filter(holder=user, status=WorkStatus.ACCEPTED).order_by("accepted_at", "pk"))
    missed = None
    if status is not None:
        missed = (
            Offer.objects.filter(agent=user, status=OfferStatus.TIMED_OUT, answered_at__gte=status.since)
            .order_by("-answered_at")
            .first()
        )
    return Desk(status=status, offers=offers, held=held, last_missed=missed)


def held_on(user: User, *, case_id: int | None = None, exposure_id: int | None = None) -> WorkItem | None:
    """The work `user` holds on this case (its own work, not its contacts') or this contact, if any."""
    items = WorkItem.objects.filter(holder=user, status=WorkStatus.ACCEPTED)
    if exposure_id is not None:
        return items.filter(exposure_id=exposure_id).first()
    return items.filter(case_id=int(case_id or 0), exposure__isnull=True).first()

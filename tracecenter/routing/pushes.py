"""What a tracer's open workspace is told at once: an offer made to them, answered, timed out or withdrawn,
and work of theirs that ended. Pushed in the transaction of the change itself (core/push.py), not from
its event, so an offer reaches the screen without waiting for the event relay. Ids and statuses only."""

from __future__ import annotations

from tracecenter.core import push

OFFER = "work.offer"


def offer_changed(*, agent_id: int, offer_id: int, item_id: int, status: str) -> None:
    push.push([f"user.{agent_id}"], OFFER, {"offer_id": offer_id, "item_id": item_id, "status": status})


def held_work_ended(*, holder_id: int, item_id: int) -> None:
    push.push([f"user.{holder_id}"], OFFER, {"item_id": item_id, "status": "ended"})

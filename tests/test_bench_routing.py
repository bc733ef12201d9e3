"""bench/routing.py's database half measures what it says: its bare-SQL ceiling writes the rows a real claim
writes (and refuses what a real claim refuses), and its counts after a run catch a double assignment, a tracer
above capacity and an item whose status disagrees with its offers.

PostgreSQL only (SKIP LOCKED, the bench's SQL); on SQLite it is skipped. CI also runs the bench at its --small size.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case
from tracecenter.core import clock, events
from tracecenter.core.models import EventDelivery, OutboxEvent, PushMessage
from tracecenter.people.services import PersonInput, person_create
from tracecenter.routing.claims import claim
from tracecenter.routing.events import OfferMade
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus
from tracecenter.routing.queues import RESERVATION_SECONDS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import routing_db  # bench/ is on the path (above)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the bench's claims and counts are PostgreSQL's SQL"),
]


def _agent(county: Jurisdiction, name: str, **capacity: int) -> User:
    user = User.objects.create(username=name, role=Role.CASE_INVESTIGATOR, jurisdiction=county)
    now = clock.now()
    AgentStatus.objects.create(
        user=user, state=AgentStateChoice.AVAILABLE, since=now, idle_since=now - dt.timedelta(hours=1), capacity=capacity
    )
    return user


def _items(county: Jurisdiction, count: int, channel: str = "voice") -> list[WorkItem]:
    person = person_create(actor=None, jurisdiction=county, data=PersonInput(first_name="Ana", last_name="Bench"))
    return [
        WorkItem.objects.create(
            kind=WorkKind.CASE_INTERVIEW,
            case=Case.objects.create(person=person, jurisdiction=county),
            jurisdiction=county,
            channel=channel,
            queued_at=clock.now(),
        )
        for _ in range(count)
    ]


def _ceiling(pairs: list[list[int]]) -> int:
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    result: dict[str, Any] = routing_db._ceiling(pairs, psycopg.connect(**params))
    return int(result["offers"])


def _written(item: WorkItem) -> dict[str, Any]:
    """What a claim of `item` left: its offer, the item, the agent's idle time, its audit entry, its event and deliveries."""
    offer = Offer.objects.get(item=item)
    entry = AuditEntry.objects.get(object_type="work_item", object_id=str(item.pk))
    event = next(e for e in OutboxEvent.objects.filter(name="OfferMade") if e.payload["item_id"] == item.pk)
    pushed = PushMessage.objects.get(kind="work.offer", data__item_id=item.pk)
    return {
        "offer": offer,
        "entry": entry,
        "event": event,
        "deliveries": EventDelivery.objects.filter(event=event),
        "push": pushed,
    }


def test_the_ceiling_writes_the_rows_a_real_claim_writes(county):
    real_agent, bare_agent = _agent(county, "real"), _agent(county, "bare")
    real_item, bare_item = _items(county, 2)
    before = AgentStatus.objects.get(user=bare_agent).idle_since

    assert claim(item_id=real_item.pk, agent_id=real_agent.pk, step=2, now=clock.now()) is not None
    assert _ceiling([[bare_item.pk, bare_agent.pk, 2]]) == 1

    real, bare = _written(real_item), _written(bare_item)
    for item, agent, rows in ((real_item, real_agent, real), (bare_item, bare_agent, bare)):
        item.refresh_from_db()
        assert item.status == WorkStatus.OFFERED
        offer = rows["offer"]
        assert (offer.agent_id, offer.step, offer.status, offer.reason) == (agent.pk, 2, OfferStatus.PENDING, "")
        assert offer.expires_at - offer.offered_at == dt.timedelta(seconds=RESERVATION_SECONDS)
        assert AgentStatus.objects.get(user=agent).idle_since == offer.offered_at
        # The event reads back as the real one does, naming this offer.
        made = events.decode(rows["event"].name, rows["event"].payload)
        assert made == OfferMade(offer_id=offer.pk, item_id=item.pk, agent_id=agent.pk, expires_at=offer.expires_at)
        assert rows["entry"].detail == f"offered to user {agent.pk}"
        # The tracer's screen is told in the same transaction: the same push, to them alone.
        assert (rows["push"].group, rows["push"].data) == (
            f"user.{agent.pk}",
            {"offer_id": offer.pk, "item_id": item.pk, "status": "pending"},
        )
    assert AgentStatus.objects.get(user=bare_agent).idle_since > before

    # The same columns, apart from what names the item, the agent and the moment.
    def same(row: Any, *skip: str) -> dict[str, Any]:
        return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if f.attname not in {"id", *skip}}

    moment = ("at", "object_id", "detail", "entry_hash")
    assert same(real["entry"], *moment) == same(bare["entry"], *moment)
    assert same(real["event"], "payload", "created_at") == same(bare["event"], "payload", "created_at")
    assert sorted(d.subscriber for d in real["deliveries"]) == sorted(d.subscriber for d in bare["deliveries"])
    assert routing_db.audit_entries_hold()  # the sealer would take both entries (their HMAC holds)


def test_the_ceiling_refuses_what_a_real_claim_refuses(county):
    full, excluded, away = _agent(county, "full", voice=1), _agent(county, "excluded"), _agent(county, "away")
    AgentStatus.objects.filter(user=away).update(state=AgentStateChoice.BREAK)
    taken, refused_by, for_away, for_full, gone, later = _items(county, 6)
    assert claim(item_id=taken.pk, agent_id=full.pk, step=0, now=clock.now()) is not None
    WorkItem.objects.filter(pk=refused_by.pk).update(excluded=[excluded.pk])
    WorkItem.objects.filter(pk=gone.pk).update(status=WorkStatus.CANCELED)
    WorkItem.objects.filter(pk=later.pk).update(not_before=clock.now() + dt.timedelta(hours=2))

    pairs = [
        [taken.pk, excluded.pk, 0],  # offered already
        [refused_by.pk, excluded.pk, 0],  # they declined it before
        [for_away.pk, away.pk, 0],  # on a break
        [for_full.pk, full.pk, 0],  # their one call is taken
        [gone.pk, excluded.pk, 0],  # no longer waiting
        [later.pk, excluded.pk, 0],  # held back for a retry two hours from now
    ]
    for item_id, agent_id, step in pairs:
        assert claim(item_id=item_id, agent_id=agent_id, step=step, now=clock.now()) is None
    assert _ceiling(pairs) == 0
    assert Offer.objects.count() == 1
    assert routing_db.violations() == {"double": 0, "over": 0, "mismatch": 0, "offers": 1}


def test_the_counts_catch_a_double_assignment_a_tracer_above_capacity_and_a_stray_status(county):
    one, two = _agent(county, "one", voice=1), _agent(county, "two", sms=2)
    first, second, third = _items(county, 3)
    texts = _items(county, 3, channel="sms")
    now = clock.now()
    assert routing_db.violations() == {"double": 0, "over": 0, "mismatch": 0, "offers": 0}

    def offer(item: WorkItem, agent: User, status: str = OfferStatus.PENDING) -> None:
        Offer.objects.create(item=item, agent=agent, status=status, offered_at=now, expires_at=now + dt.timedelta(seconds=45))

    # `first` accepted by one and offered again (pending) to two: one item with two tracers.
    offer(first, one, OfferStatus.ACCEPTED)
    WorkItem.objects.filter(pk=first.pk).update(status=WorkStatus.OFFERED)
    offer(first, two)
    # `one` holds a call already and is offered another: above their one call.
    WorkItem.objects.filter(pk=second.pk).update(status=WorkStatus.ACCEPTED, holder=one)
    offer(third, one)
    WorkItem.objects.filter(pk=third.pk).update(status=WorkStatus.OFFERED)
    # `two` takes two texts: at capacity, not above; a third is above.
    for text in texts[:2]:
        offer(text, two)
        WorkItem.objects.filter(pk=text.pk).update(status=WorkStatus.OFFERED)
    assert routing_db.violations() == {"double": 1, "over": 1, "mismatch": 0, "offers": 5}
    offer(texts[2], two)
    # ...and its item was never marked offered: a status that disagrees with its offers.
    assert routing_db.violations() == {"double": 1, "over": 2, "mismatch": 1, "offers": 6}

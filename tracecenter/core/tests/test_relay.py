"""The relay: one delivery per (event, subscriber), each with its own state; retries, dead letters, leases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from tracecenter.core import clock, events, relay
from tracecenter.core.models import EventDelivery, OutboxEvent

pytestmark = pytest.mark.django_db


@dataclasses.dataclass(frozen=True)
class ThingHappened(events.DomainEvent):
    thing_id: int
    on: dt.date
    at: dt.datetime
    note: str | None = None


calls: list[tuple[str, int]] = []


@pytest.fixture(autouse=True)
def listeners() -> Iterator[dict[str, Any]]:
    """Three subscribers of ThingHappened; `fail` makes the named one raise."""
    calls.clear()
    control: dict[str, Any] = {"fail": set(), "batches": []}

    def make(name: str) -> Any:
        def handler(event: ThingHappened) -> None:
            if name in control["fail"]:
                raise RuntimeError(f"{name} broke on thing {event.thing_id} of Ana García")
            calls.append((name, event.thing_id))
            OutboxEvent.objects.create(name="Marker", payload={"by": name})  # a database effect of the handler

        return handler

    def batch(items: list[ThingHappened]) -> None:
        control["batches"].append([e.thing_id for e in items])
        if "batch" in control["fail"]:
            raise RuntimeError("the batch broke")
        for event in items:
            calls.append(("batched", event.thing_id))

    names = ["test.first", "test.second", "test.third"]
    for name in names:
        events.subscribe(ThingHappened, make(name), name=name)
    events.subscribe(ThingHappened, make("test.batched"), name="test.batched", batch=batch, when=lambda e: e.thing_id > 100)
    yield control
    for name in [*names, "test.batched"]:
        events.unsubscribe(name)


def thing(n: int = 1) -> ThingHappened:
    return ThingHappened(thing_id=n, on=dt.date(2026, 11, 30), at=dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC))


def states() -> dict[str, tuple[str, int]]:
    return {d.subscriber: (d.state, d.attempts) for d in EventDelivery.objects.all()}


def test_publishing_writes_the_event_and_one_delivery_per_subscriber_in_the_same_transaction() -> None:
    try:
        with transaction.atomic():
            events.publish(thing())
            assert EventDelivery.objects.count() == 3
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert not OutboxEvent.objects.exists() and not EventDelivery.objects.exists()
    events.publish(thing())
    assert states() == dict.fromkeys(("test.first", "test.second", "test.third"), ("pending", 0))
    assert calls == []  # nothing is delivered inline


def test_a_subscriber_that_does_not_want_an_event_gets_no_delivery_at_all() -> None:
    events.publish(thing(5))
    assert "test.batched" not in states()
    events.publish(thing(500))
    assert EventDelivery.objects.filter(subscriber="test.batched").count() == 1


def test_each_subscriber_runs_once_and_one_failing_never_reruns_the_others(listeners: dict[str, Any]) -> None:
    listeners["fail"].add("test.second")
    events.publish(thing())
    relay.drain()
    assert sorted(calls) == [("test.first", 1), ("test.third", 1)]
    second = EventDelivery.objects.get(subscriber="test.second")
    assert (second.state, second.attempts) == ("pending", 1)
    assert second.last_error.startswith("builtins.RuntimeError at core/tests/test_relay.py:")
    assert "García" not in second.last_error  # the message may quote personal data: never kept
    assert second.next_attempt_at > clock.now()
    # The failed handler's database effect was rolled back with it; the others' are kept.
    assert sorted(OutboxEvent.objects.filter(name="Marker").values_list("payload__by", flat=True)) == ["test.first", "test.third"]

    listeners["fail"].clear()
    relay.drain()
    assert calls.count(("test.second", 1)) == 0  # not due yet: it waits for its next attempt
    EventDelivery.objects.filter(pk=second.pk).update(next_attempt_at=clock.now())
    relay.drain()
    assert sorted(calls) == [("test.first", 1), ("test.second", 1), ("test.third", 1)]
    assert set(states().values()) == {("done", 1), ("done", 2)}


def test_a_delivery_that_keeps_failing_waits_longer_each_time_then_is_dead_until_retried(listeners: dict[str, Any]) -> None:
    listeners["fail"].add("test.first")
    events.publish(thing())
    waits = []
    for _attempt in range(events.DEFAULT_MAX_ATTEMPTS):
        EventDelivery.objects.filter(subscriber="test.first", state="pending").update(next_attempt_at=clock.now())
        before = clock.now()
        relay.drain()
        delivery = EventDelivery.objects.get(subscriber="test.first")
        waits.append((delivery.next_attempt_at - before).total_seconds())
    delivery = EventDelivery.objects.get(subscriber="test.first")
    assert (delivery.state, delivery.attempts) == ("dead", events.DEFAULT_MAX_ATTEMPTS)
    assert delivery.finished_at is not None and delivery.last_error
    assert all(later > earlier for earlier, later in itertools.pairwise(waits[:-1]))  # growing pauses (the last: dead)

    listeners["fail"].clear()
    assert relay.deliveries_retry([delivery.pk]) == 1
    relay.drain()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("done", 1)
    assert relay.deliveries_retry([delivery.pk]) == 0  # only dead deliveries are sent again


def test_work_done_under_a_lost_lease_is_rolled_back() -> None:
    events.publish(thing())
    claimed = relay.claim(token="worker-a", limit=10)
    assert len(claimed) == 3
    # Worker A stalls past its lease; worker B takes the deliveries over and completes them.
    EventDelivery.objects.update(next_attempt_at=clock.now())
    relay.run_round(token="worker-b", limit=10)
    assert len(calls) == 3
    # A wakes up and runs what it claimed: its marks are refused, and its handlers' effects undone.
    result = relay.run_claimed(claimed, token="worker-a")
    assert result.done == 0
    assert OutboxEvent.objects.filter(name="Marker").count() == 3
    assert set(states().values()) == {("done", 2)}


def test_a_claimed_delivery_is_not_claimed_again_before_its_lease_ends() -> None:
    events.publish(thing())
    assert len(relay.claim(token="a", limit=10)) == 3
    assert relay.claim(token="b", limit=10) == []
    assert len(relay.claim(token="b", limit=10, now=clock.now() + relay.LEASE + dt.timedelta(seconds=1))) == 3


def test_a_batch_runs_in_one_call_and_falls_back_to_one_by_one_when_it_fails(listeners: dict[str, Any]) -> None:
    for n in (101, 102, 103):
        events.publish(thing(n))
    relay.drain()
    assert listeners["batches"] == [[101, 102, 103]]
    assert sorted(c for c in calls if c[0] == "batched") == [("batched", 101), ("batched", 102), ("batched", 103)]

    calls.clear()
    listeners["batches"].clear()
    listeners["fail"].add("batch")
    for n in (201, 202):
        events.publish(thing(n))
    relay.drain()
    assert listeners["batches"] == [[201, 202]]
    # The batch failed as a whole: each event went through the plain handler, with its own state.
    assert sorted(c for c in calls if c[0] == "test.batched") == [("test.batched", 201), ("test.batched", 202)]
    assert set(EventDelivery.objects.filter(subscriber="test.batched").values_list("state", flat=True)) == {"done"}


def test_a_delivery_for_a_subscriber_that_no_longer_exists_is_given_up() -> None:
    events.publish(thing())
    events.unsubscribe("test.third")
    relay.drain()
    third = EventDelivery.objects.get(subscriber="test.third")
    assert third.state == "dead" and "no subscriber named test.third" in third.last_error


def test_who_published_is_who_the_handler_acts_for() -> None:
    from tracecenter.core import request_context

    seen: list[request_context.RequestContext] = []
    events.subscribe(ThingHappened, lambda e: seen.append(request_context.current()), name="test.context")
    try:
        token = request_context.set_current(request_context.RequestContext(ip_address="203.0.113.7", channel="web", actor_id=42))
        try:
            events.publish(thing())
        finally:
            request_context.reset(token)
        relay.drain()
    finally:
        events.unsubscribe("test.context")
    assert [(c.ip_address, c.channel, c.actor_id) for c in seen] == [("203.0.113.7", "worker", 42)]


# Payloads round-trip exactly, for every event of every app.


def all_event_classes() -> list[type[events.DomainEvent]]:
    """Every event class of every app (each app's events.py, imported here in case nothing else has yet)."""
    import importlib
    import importlib.util

    from django.apps import apps

    for config in apps.get_app_configs():
        if config.name.startswith("tracecenter.") and importlib.util.find_spec(f"{config.name}.events"):
            importlib.import_module(f"{config.name}.events")
    found = (c for c in events.event_types().values() if c.__module__.startswith("tracecenter.") and ".tests" not in c.__module__)
    return sorted(found, key=lambda c: c.name)


def test_every_app_event_is_known_by_its_name() -> None:
    names = {c.name for c in all_event_classes()}
    assert {
        "LabResultReceived",
        "LabResultCorrected",
        "PersonsMerged",
        "CaseOpened",
        "CaseStatusChanged",
        "CaseAssigned",
        "CaseTransferred",
        "CasePriorityChanged",
        "InterviewCompleted",
        "ContactElicited",
        "ContactBecameCase",
        "ExposureAssigned",
        "ExposureStatusChanged",
    } <= names
    for cls in all_event_classes():
        assert cls.__module__.endswith(".events") and not cls.__module__.startswith("tracecenter.core")


@pytest.mark.parametrize("cls", all_event_classes(), ids=lambda c: c.name)
def test_every_event_comes_back_exactly_as_it_was_published(cls: type[events.DomainEvent]) -> None:
    import json
    import typing

    hints = typing.get_type_hints(cls)

    def value_for(hint: Any) -> st.SearchStrategy[Any]:
        if hint is dt.datetime:
            return st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))]))
        origin = typing.get_origin(hint)
        if origin is not None and type(None) in typing.get_args(hint):
            inner = next(a for a in typing.get_args(hint) if a is not type(None))
            return st.none() | value_for(inner)
        if hint is int:
            return st.integers(min_value=-(2**62), max_value=2**62)
        if hint is str:
            return st.text(max_size=50)
        return st.from_type(hint)

    strategy = st.builds(cls, **{name: value_for(hint) for name, hint in hints.items() if name != "name"})

    @settings(max_examples=60, deadline=None)
    @given(strategy)
    def round_trips(event: events.DomainEvent) -> None:
        stored = json.loads(json.dumps(events.encode(event)))  # what the JSON column gives back
        back = events.decode(cls.name, stored)
        assert back == event
        assert {f.name: type(getattr(back, f.name)) for f in dataclasses.fields(back)} == {  # type: ignore[arg-type]
            f.name: type(getattr(event, f.name))
            for f in dataclasses.fields(event)  # type: ignore[arg-type]
        }

    round_trips()


def test_an_event_with_a_field_of_another_type_is_refused_when_published() -> None:
    @dataclasses.dataclass(frozen=True)
    class Carries(events.DomainEvent):
        person: dict[str, str]

    with pytest.raises(TypeError, match="events carry ids and facts"):
        events.encode(Carries(person={"name": "Ana"}))


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        events.encode(ThingHappened(thing_id=1, on=dt.date(2026, 1, 1), at=dt.datetime(2026, 1, 1, 9, 0)))


def test_a_field_added_since_an_event_was_stored_takes_its_default() -> None:
    stored = {"thing_id": 3, "on": "2026-11-30", "at": "2026-11-30T09:30:00+00:00"}
    assert events.decode("ThingHappened", stored) == ThingHappened(
        thing_id=3, on=dt.date(2026, 11, 30), at=dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC), note=None
    )

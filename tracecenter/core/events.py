"""Domain events: the mechanism only. Each event class lives in the app that publishes it.

A service publishes an event inside its transaction. The event is written to the outbox
and, in the same transaction, one delivery row for every subscriber that wants it; so an
event exists exactly when the change it announces does. Nothing is delivered inline: after
the commit the worker is woken, claims due deliveries and runs each subscriber with its own
state, attempts and error (core/relay.py). One subscriber failing never re-runs another.

Subscribers are wired by the apps that listen, in their AppConfig.ready, so a lower app
never imports a higher one: cases publish, routing listens.

Events carry ids and facts, never personal data, and round-trip exactly: a field typed
`dt.date` comes back a date, `dt.datetime` an aware datetime, `int | None` an int or None.
The types an event may use are checked when it is first encoded (see `_codec`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.db import transaction

from tracecenter.core import request_context, wakeup

# A handler that raises is retried this many times in all (with growing pauses), then the delivery is dead.
DEFAULT_MAX_ATTEMPTS = 8

_TYPES: dict[str, type[DomainEvent]] = {}


class DomainEvent:
    """Base of every event: subclasses are frozen dataclasses of ids and facts.

    The class name is the event's name in the outbox, so renaming an event class is a
    migration of stored rows, not a refactoring.
    """

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__name__
        known = _TYPES.get(cls.name)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(f"Two event classes are named {cls.name}: {known.__module__} and {cls.__module__}.")
        _TYPES[cls.name] = cls


def event_type(name: str) -> type[DomainEvent]:
    """The event class stored under `name`; KeyError when no app defines it (any more)."""
    return _TYPES[name]


def event_types() -> dict[str, type[DomainEvent]]:
    return dict(_TYPES)


# --- Encoding: plain JSON in the outbox, exact types back out.

Decoder = Callable[[Any], Any]


def _decoder(owner: str, hint: Any) -> Decoder:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1 or len(args) != 2:
            raise TypeError(f"{owner}: only 'X | None' unions are allowed in events, not {hint}")
        decode = _decoder(owner, inner[0])
        return lambda v: None if v is None else decode(v)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _decoder(owner, args[0])
        return lambda v: tuple(item(x) for x in v)
    if hint is dt.datetime:  # before date: a datetime is a date
        return dt.datetime.fromisoformat
    if hint is dt.date:
        return dt.date.fromisoformat
    if hint is float:
        return float
    if hint in (int, str, bool):
        return lambda v: v
    raise TypeError(f"{owner}: events carry ids and facts (int, str, bool, float, date, datetime), not {hint}")


_CODECS: dict[type[DomainEvent], dict[str, Decoder]] = {}


def _codec(cls: type[DomainEvent]) -> dict[str, Decoder]:
    codec = _CODECS.get(cls)
    if codec is None:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        codec = _CODECS[cls] = {f.name: _decoder(f"{cls.__name__}.{f.name}", hints[f.name]) for f in fields}
    return codec


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("events carry aware datetimes (an instant), not naive ones")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    return value


def encode(event: DomainEvent) -> dict[str, Any]:
    _codec(type(event))  # refuses a field type that would not come back as it went in
    return {f.name: _encode_value(getattr(event, f.name)) for f in dataclasses.fields(event)}  # type: ignore[arg-type]


def decode(name: str, payload: dict[str, Any]) -> DomainEvent:
    cls = event_type(name)
    # A field added to the class since the event was stored takes its default (one without a default
    # raises TypeError: such a change needs a migration of the stored events).
    return cls(**{field: decode_value(payload[field]) for field, decode_value in _codec(cls).items() if field in payload})


# --- Subscribers.


@dataclasses.dataclass(frozen=True)
class Subscriber:
    """One listener of one event type; `name` is what its delivery rows point at."""

    name: str
    event: str
    handler: Callable[[Any], None]
    when: Callable[[Any], bool] | None = None
    # Runs many events of this subscriber in one transaction (each in a savepoint); see relay.
    batch: Callable[[Sequence[Any]], None] | None = None
    # False for subscribers with an effect outside the database (a text, a call): they run outside a
    # transaction and must make that effect once per idempotency key (core/effects.py).
    atomic: bool = True
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


_SUBSCRIBERS: dict[str, list[Subscriber]] = defaultdict(list)
_BY_NAME: dict[str, Subscriber] = {}


def subscribe[E: DomainEvent](
    event_type: type[E],
    handler: Callable[[E], None],
    *,
    when: Callable[[E], bool] | None = None,
    batch: Callable[[Sequence[E]], None] | None = None,
    atomic: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    name: str = "",
) -> Subscriber:
    """Deliver every `event_type` (for which `when` is true) to `handler`. Idempotent per name."""
    name = name or f"{handler.__module__}.{handler.__qualname__}"
    existing = _BY_NAME.get(name)
    if existing is not None:
        return existing
    subscriber = Subscriber(
        name=name, event=event_type.name, handler=handler, when=when, batch=batch, atomic=atomic, max_attempts=max_attempts
    )
    _SUBSCRIBERS[event_type.name].append(subscriber)
    _BY_NAME[name] = subscriber
    return subscriber


def unsubscribe(name: str) -> None:
    """Stop creating deliveries for `name` (deliveries already made for it stay; the relay gives them up)."""
    found = _BY_NAME.pop(name, None)
    if found is not None:
        _SUBSCRIBERS[found.event].remove(found)


def subscriber(name: str) -> Subscriber | None:
    return _BY_NAME.get(name)


def subscribers_of(event: DomainEvent) -> list[Subscriber]:
    return [s for s in _SUBSCRIBERS.get(event.name, ()) if s.when is None or s.when(event)]


def all_subscribers() -> list[Subscriber]:
    return list(_BY_NAME.values())


# --- Publishing.


def publish(event: DomainEvent) -> int:
    """Record `event` and its deliveries in the current transaction; returns the outbox id."""
    return publish_many([event])[0]


def publish_many(batch: Sequence[DomainEvent]) -> list[int]:
    """Record many events at once (one INSERT each for events and deliveries, for bulk intake)."""
    from tracecenter.core.bulk import insert_rows
    from tracecenter.core.models import EventDelivery, OutboxEvent

    if not batch:
        return []
    origin = request_context.origin()  # what a worker does for it is audited with this address
    rows = [OutboxEvent(name=e.name, payload=encode(e), origin=origin) for e in batch]
    insert_rows(OutboxEvent, rows)
    deliveries = [
        EventDelivery(event_id=row.pk, subscriber=s.name)
        for row, event in zip(rows, batch, strict=True)
        for s in subscribers_of(event)
    ]
    if deliveries:
        insert_rows(EventDelivery, deliveries)
        wakeup.signal_after_commit()
    return [row.pk for row in rows]


def in_transaction() -> bool:
    return transaction.get_connection().in_atomic_block

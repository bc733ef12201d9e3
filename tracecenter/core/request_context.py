"""Who is acting and from where, for the audit trail, without passing `request` into services.

A worker running something a person started (an upload, an event their change published)
takes on that person's context, so the audit trail still names the address it came from.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None
    channel: str  # "web", "api", "command", "worker", "mllp"
    actor_id: int | None = None  # the signed-in user who started it, if any


# RequestContext is frozen, so sharing the default instance is safe.
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "tracecenter_request_context",
    default=RequestContext(ip_address=None, channel="command"),  # noqa: B039
)


def current() -> RequestContext:
    return _current.get()


def set_current(context: RequestContext) -> contextvars.Token[RequestContext]:
    return _current.set(context)


def reset(token: contextvars.Token[RequestContext]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def acting_for(origin: dict[str, Any] | None, *, channel: str = "worker") -> Iterator[RequestContext]:
    """Run a piece of background work in the context of whoever started it (`origin` as stored)."""
    origin = origin or {}
    context = RequestContext(
        ip_address=origin.get("ip") or None,
        channel=channel,
        actor_id=origin.get("actor_id") if isinstance(origin.get("actor_id"), int) else None,
    )
    token = set_current(context)
    try:
        yield context
    finally:
        reset(token)


def origin() -> dict[str, Any]:
    """The current context as it is stored beside background work."""
    context = current()
    return {"ip": context.ip_address, "channel": context.channel, "actor_id": context.actor_id}

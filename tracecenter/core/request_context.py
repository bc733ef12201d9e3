"""Who is acting and from where, for the audit trail, without passing `request` into services."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None
    channel: str  # "web", "api", "command"


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

"""Who did it: a signed-in user, or nobody (a feed, a command, the system); core knows users only by this shape."""

from __future__ import annotations

from typing import Any, Protocol


class Actor(Protocol):
    """What core needs of whoever acts: whether they are signed in, and who they are (accounts.User, AnonymousUser)."""

    @property
    def is_authenticated(self) -> bool: ...

    @property
    def pk(self) -> Any: ...

    def get_username(self) -> str: ...


def acting_user[A: Actor](actor: A | None) -> A | None:
    """The signed-in user behind `actor`, or None when a feed, a command or an anonymous caller acts."""
    return actor if actor is not None and actor.is_authenticated else None

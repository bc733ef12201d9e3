"""Who did it: services accept any actor (a user, an anonymous request, None for a feed or a command)."""

from __future__ import annotations

from typing import Any


def acting_user(actor: Any) -> Any | None:
    """The signed-in user behind `actor`, or None when a feed, a command or an anonymous caller acts."""
    return actor if getattr(actor, "is_authenticated", False) else None

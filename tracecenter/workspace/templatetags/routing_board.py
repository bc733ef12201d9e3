"""For the navigation: whether a user watches the routing board (then the "Routing board" link shows)."""

from __future__ import annotations

from django import template

from tracecenter.accounts.models import Viewer
from tracecenter.routing import board

register = template.Library()


@register.filter
def may_watch_queues(user: Viewer) -> bool:
    return board.may_watch(user)

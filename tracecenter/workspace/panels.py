"""Panels that one area puts on another area's page, without that page importing it.

A page asks for the panels of its slot ("intake_batch", "case") and renders each one it is
given; the area that owns a panel registers it when its module loads (WorkspaceConfig.ready
loads every screen module). So the page of a lower domain (a lab intake delivery) can show
what a higher one knows about it (the cases its results opened) while knowing only the slot.
A panel's context function goes through the same selectors and policy as any page, and
returns None when there is nothing to show to this user for this record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from tracecenter.accounts.models import User


@dataclasses.dataclass(frozen=True)
class Panel:
    slot: str
    name: str
    template: str
    context: Callable[[User, Any], dict[str, Any] | None]
    order: int = 100


@dataclasses.dataclass(frozen=True)
class Shown:
    name: str
    template: str
    context: dict[str, Any]


_PANELS: dict[str, dict[str, Panel]] = {}


def register(panel: Panel) -> Panel:
    _PANELS.setdefault(panel.slot, {})[panel.name] = panel
    return panel


def panels_for(slot: str, user: User, record: Any) -> list[Shown]:
    shown = []
    for panel in sorted(_PANELS.get(slot, {}).values(), key=lambda p: (p.order, p.name)):
        context = panel.context(user, record)
        if context is not None:
            shown.append(Shown(name=panel.name, template=panel.template, context=context))
    return shown

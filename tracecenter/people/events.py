"""What the person registry announces."""

from __future__ import annotations

import dataclasses

from tracecenter.core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class PersonsMerged(DomainEvent):
    """Two records of one person were merged: everything of `merged_id` now belongs to `survivor_id`."""

    merge_id: int
    survivor_id: int
    merged_id: int

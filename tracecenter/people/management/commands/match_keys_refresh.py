"""manage.py match_keys_refresh: recompute every person's stored blocking keys (after the keys' version changed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tracecenter.people import matching
from tracecenter.people.identity import refresh_all_match_keys


class Command(BaseCommand):
    help = (
        "Recompute the blocking keys of every person (run once after an upgrade that changed "
        "people.matching.BLOCKING_KEYS_VERSION; until then, persons are found through their older keys only)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = refresh_all_match_keys()
        self.stdout.write(f"Blocking keys (version {matching.BLOCKING_KEYS_VERSION}) recomputed for {done} persons.")

"""manage.py backup_manifest: what a backup holds (counts, audit head, key ids), written beside it to check its restore."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from tracecenter.audit import backup


class Command(BaseCommand):
    help = "Print the manifest of the database as it is now (row counts, audit chain head, key ids; no personal data)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(backup.manifest(), indent=2, sort_keys=True))

"""manage.py restore_check MANIFEST: is this restored database the one backed up, and do these keys open it?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.audit import backup


class Command(BaseCommand):
    help = (
        "Check a restored database against the manifest written with its backup: the same rows in every table, the "
        "audit chain unbroken up to the same head, and a sample of encrypted values of every column opened with the "
        "keys of this environment."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("manifest", help="the JSON that backup_manifest printed when the backup was taken")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            expected = json.loads(Path(options["manifest"]).read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the manifest {options['manifest']!r}: {exc}") from None
        if not isinstance(expected, dict) or expected.get("format") != 1:
            raise CommandError("This is not a manifest written by backup_manifest.")
        verdict = backup.check(expected)
        for problem in verdict.problems:
            self.stderr.write(problem)
        if not verdict.ok:
            raise CommandError(f"the restore does not match its backup: {len(verdict.problems)} problem(s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"restore OK: every table as backed up, {verdict.audit_entries} audit entries verified, "
                f"{verdict.checked_values} encrypted values opened"
            )
        )

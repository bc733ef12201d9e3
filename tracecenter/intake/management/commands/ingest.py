"""manage.py ingest PATH... [--json]: lab results from HL7 v2, CSV or FHIR files, format detected per file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from tracecenter.core.errors import DomainError
from tracecenter.intake.pipeline import ingest_files, intake_root
from tracecenter.intake.report import CLASSIFICATIONS


class Command(BaseCommand):
    help = (
        "Ingest lab result files (HL7 v2 ORU^R01 messages or batches, ReportStream/SimpleReport CSV, FHIR R4 "
        "Bundles or NDJSON). Every message is stored raw before it is processed; re-ingesting a file counts its "
        "messages as duplicates. Exits 0 when it ran, even if messages were rejected. Reasons are printed without the "
        "values they concern (the Lab intake pages show them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="files or folders (folders are read recursively, hidden files skipped)")
        parser.add_argument("--json", action="store_true", help="print one JSON object with the report")
        parser.add_argument(
            "--workers", type=int, default=1, help="files ingested at once by separate processes (PostgreSQL only; default 1)"
        )
        parser.add_argument(
            "--jurisdiction",
            default="",
            help="code of the receiving jurisdiction (default: INTAKE_JURISDICTION or the only state)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            root = intake_root(options["jurisdiction"])
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
        files = list(_expand(options["paths"]))
        if not files:
            raise CommandError("No file to ingest in the paths given.")
        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        if workers > 1 and connection.vendor != "postgresql":
            raise CommandError("--workers above 1 needs PostgreSQL: SQLite lets one process write at a time.")
        report = ingest_files([str(f) for f in files], root=root, workers=workers)
        # What is printed lands in terminals and logs: reasons without the values they quote. The reasons with
        # the values are kept with each message (encrypted) for the Lab intake pages.
        data = report.as_dict_without_values()
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        self.stdout.write(
            f"{data['files']} file(s), {data['messages']} message(s): {data['accepted']} accepted, "
            f"{data['rejected']} rejected, {data['duplicates']} duplicate(s), {data['failed']} failed"
        )
        self.stdout.write("results: " + ", ".join(f"{data['results'][c]} {c}" for c in CLASSIFICATIONS))
        self.stdout.write(
            f"persons: {data['persons_created']} created, {data['persons_matched']} matched, "
            f"{data['persons_review']} queued for review (the workers open cases from the positives)"
        )
        for error in data["file_errors"]:
            for problem in error["problems"]:
                self.stdout.write(f"  {error['file']}: {problem['reason']}")
        for rejection in data["rejections"]:
            self.stdout.write(
                f"  {rejection['file']} message {rejection['message']} ({rejection['where']}), "
                f"{rejection['location']}: {rejection['reason']}"
            )


def _expand(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{raw}: no such file or folder.")
    return found

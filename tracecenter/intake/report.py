"""The report of one intake run: what `ingest --json` prints and the upload page shows."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from tracecenter.intake.records import Problem

CLASSIFICATIONS = ("positive", "negative", "inconclusive", "unknown")


@dataclasses.dataclass
class IngestReport:
    files: int = 0
    messages: int = 0  # units received: HL7 messages, CSV rows, FHIR Bundles
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    failed: int = 0  # an error of ours while processing: kept, and re-processed by `intake_resume`
    resumed: int = 0  # received earlier but never processed (a crash): processed now
    earlier: int = 0  # processed by this same delivery before it was restarted (a worker stopped mid-file)
    results: Counter[str] = dataclasses.field(default_factory=Counter)
    corrections: int = 0
    retractions: int = 0
    results_ignored: int = 0  # tests for conditions not traced here, and resends of a result already stored
    persons_created: int = 0
    persons_matched: int = 0
    persons_review: int = 0  # created, with a review of a possible match queued for a supervisor
    warnings: int = 0
    rejections: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    file_errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def reject(self, *, file: str, index: int, where: str, problems: list[Problem]) -> None:
        self.rejected += 1
        for problem in problems:
            self.rejections.append(
                {
                    "file": file,
                    "message": index,
                    "where": where,
                    "location": problem.location,
                    "reason": problem.reason,
                    "code": problem.code,
                }
            )

    def merge(self, other: IngestReport) -> None:
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, field.name, mine + theirs)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["results"] = {name: self.results.get(name, 0) for name in CLASSIFICATIONS}
        return data

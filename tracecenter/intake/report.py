"""The report of one intake run: what `ingest --json` prints and the upload page shows."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import Counter
from typing import Any

from tracecenter.intake.records import Problem

CLASSIFICATIONS = ("positive", "negative", "inconclusive", "unknown")

# The parsers quote the values at fault in their reasons, as Python does ('...' or "..." with escapes: see
# hl7v2._quote, fhir_r4._show, the CSV reasons); FHIR shows a number where text was expected unquoted, after "got".
# An opening quote follows no letter or digit, so the apostrophe of "patient's" opens nothing.
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")
_GOT_NUMBER = re.compile(r"\bgot -?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
WITHHELD = "[value withheld]"


def without_values(reason: str) -> str:
    """A problem's reason with the values it quotes taken out: what is wrong, and (with its location) where.

    For what lands in terminals and logs (`manage.py ingest`): a rejected birth date is personal data. The
    reasons kept with each message, encrypted, and shown on the staff pages still quote the value.
    """
    return _GOT_NUMBER.sub(f"got {WITHHELD}", _QUOTED.sub(WITHHELD, reason))


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

    def as_dict_without_values(self) -> dict[str, Any]:
        """`as_dict`, every reason passed through `without_values`: what `manage.py ingest` prints."""
        data = copy.deepcopy(self.as_dict())
        for rejection in data["rejections"]:
            rejection["reason"] = without_values(rejection["reason"])
        for error in data["file_errors"]:
            for problem in error["problems"]:
                problem["reason"] = without_values(problem["reason"])
        return data

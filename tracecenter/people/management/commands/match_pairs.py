"""manage.py match_pairs LEFT.csv [RIGHT.csv] --json: the candidate pairs of a list (or two), decided as intake would."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.people import fellegi_sunter as fs
from tracecenter.people import linkage, matching

MAX_FILE_BYTES = 512 * 1024 * 1024


def _read(path: str, region: str) -> list[linkage.Row]:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file.")
    if file.stat().st_size > MAX_FILE_BYTES:
        raise CommandError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    raw = file.read_bytes()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise CommandError(f"{path}, line {line}: a NUL byte (not a text CSV file).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CommandError(f"{path}, line {line}: not UTF-8 text.") from None
    try:
        return linkage.read_rows(text.splitlines(keepends=True), path, default_region=region)
    except linkage.InputError as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = (
        "Deduplicate one CSV file of persons, or link two, with intake's matcher: one JSON object per candidate pair "
        "(left, right, decision link|review|distinct, probability, evidence), then a summary line. Columns: "
        + ", ".join(linkage.COLUMNS)
        + " (any but id may be absent or empty). Weights are estimated on the input (EM) unless --weights names a file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("left", help="CSV file of persons (alone: deduplicated)")
        parser.add_argument("right", nargs="?", help="second CSV file: linked against the first")
        parser.add_argument("--json", action="store_true", help="JSON lines (the only output format)")
        parser.add_argument("--weights", help="weights file (match_weights_refresh --output) instead of estimating them")
        parser.add_argument("--region", default="US", help="country of phone numbers and postal codes (default US)")
        parser.add_argument("--link", type=float, default=matching.DEFAULT_THRESHOLDS.link_probability)
        parser.add_argument("--review", type=float, default=matching.DEFAULT_THRESHOLDS.review_probability)

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["json"]:
            raise CommandError("Give --json: the output is one JSON object per line.")
        started = time.monotonic()
        left = _read(options["left"], options["region"])
        right = _read(options["right"], options["region"]) if options["right"] else None
        left_ids = [r.identity for r in left]
        right_ids = [r.identity for r in right] if right is not None else None
        pairs = linkage.candidate_pairs(left_ids, right_ids)
        if options["weights"]:
            try:
                model = fs.Model.loads(Path(options["weights"]).read_text(encoding="utf-8"))
            except OSError as exc:
                raise CommandError(f"{options['weights']}: {exc.strerror}.") from None
            except ValueError as exc:
                raise CommandError(f"{options['weights']}: {exc}") from None
        else:
            model = linkage.estimate(left_ids, right_ids, pairs, source="input")
        try:
            thresholds = matching.Thresholds(
                link_probability=options["link"], review_probability=options["review"], prior_bits=model.prior_bits
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        other = left if right is None else right
        counts = {"link": 0, "review": 0, "distinct": 0}
        names = {"match": "link", "review": "review", "new": "distinct"}
        for i, j in pairs:
            result = matching.score(left[i].identity, other[j].identity, model)
            decision = names[matching.decide(result, thresholds)]
            counts[decision] += 1
            line = {
                "left": left[i].id,
                "right": other[j].id,
                "decision": decision,
                "probability": round(thresholds.probability(result), 6),
                "evidence": {**linkage.evidence(result), **({"guard": list(result.conflicts)} if result.conflicts else {})},
            }
            self.stdout.write(json.dumps(line, ensure_ascii=False))
        summary = {
            "mode": "deduplicate" if right is None else "link",
            "left_rows": len(left),
            "right_rows": len(right) if right is not None else None,
            "candidate_pairs": len(pairs),
            **{f"{k}s" if k != "distinct" else k: v for k, v in counts.items()},
            "weights": model.source,
            "lambda": model.lambda_,
            "em_iterations": model.em_iterations,
            "link_probability": thresholds.link_probability,
            "review_probability": thresholds.review_probability,
            "seconds": round(time.monotonic() - started, 2),
        }
        self.stdout.write(json.dumps({"summary": summary}))

"""manage.py match_weights_refresh: estimate the matching weights from the registry and store them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.people import fellegi_sunter as fs
from tracecenter.people import weights


class Command(BaseCommand):
    help = (
        "Estimate m and u of every comparison level (EM over the registry's candidate pairs, random pairs for u) and "
        "the names' term frequencies, and store them: intake uses the newest. A registry of fewer than "
        f"{weights.MIN_PERSONS} persons keeps the priors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=weights.DEFAULT_SAMPLE, help="persons sampled (default 200000)")
        parser.add_argument("--output", help="also write the weights to this file (for match_pairs --weights)")
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1000 <= options["sample"] <= 5_000_000:
            raise CommandError("--sample must be between 1000 and 5000000.")
        row = weights.refresh_weights(sample=options["sample"])
        model = fs.Model.from_json(row.weights) if row is not None else None
        if options["output"]:
            if model is None:
                raise CommandError(f"The registry has fewer than {weights.MIN_PERSONS} persons: nothing estimated.")
            Path(options["output"]).write_text(json.dumps(model.to_json(), indent=1), encoding="utf-8")
        summary = {
            "stored": row is not None,
            "persons": row.persons if row is not None else 0,
            "candidate_pairs": model.candidate_pairs if model else 0,
            "em_iterations": model.em_iterations if model else 0,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        elif row is None:
            self.stdout.write(f"Fewer than {weights.MIN_PERSONS} persons: intake keeps the prior weights.")
        else:
            self.stdout.write(f"Weights estimated on {row.persons} persons and stored; intake uses them from now on.")

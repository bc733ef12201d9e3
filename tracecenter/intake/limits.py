"""How large a lab file may be: a ceiling for every file, and below it a limit per format.

The format is told from the first bytes (detect.py), so every way in applies the limit before
it holds the whole file: the upload page while the request arrives (upload_handler.py), `ingest`
from the file's size on disk, the pipeline for whatever reaches it by another way.
"""

from __future__ import annotations

from django.conf import settings

FORMAT_NAMES = {"hl7v2": "HL7 v2", "csv": "CSV", "fhir": "FHIR"}


def max_file_bytes(fmt: str | None) -> int:
    """The largest file accepted in `fmt`; a file whose format cannot be told gets the smallest limit."""
    per_format = {
        "hl7v2": settings.INTAKE_MAX_HL7_BYTES,
        "csv": settings.INTAKE_MAX_CSV_BYTES,
        "fhir": settings.INTAKE_MAX_FHIR_BYTES,
    }
    limit = per_format[fmt] if fmt in per_format else min(per_format.values())
    return min(limit, settings.INTAKE_MAX_FILE_BYTES)

"""CLIA numbers: the certificate number CMS gives every US laboratory, as 05D2201580.

Ten characters: two digits, the letter D, seven digits. Every CLIA number in the real public feeds
has D there. The only other letter those feeds carry in CLIA fields is Z, in ReportStream's
"00Z0000042"-style placeholders for at-home tests: they stand for a self-test sender, not a laboratory, so
they are not CLIA numbers (a reader may still keep one from a field that says it is a CLIA id).
"""

from __future__ import annotations

import re

_CLIA = re.compile(r"\d{2}D\d{7}", re.ASCII)


def normalize_clia(value: str) -> str | None:
    """The CLIA number in upper case, white space around it dropped, or None when it is not one. Never raises."""
    if not isinstance(value, str) or len(value) > 64:  # no need to strip a long string to know
        return None
    text = value.strip().upper()
    return text if _CLIA.fullmatch(text) else None

"""Sex: HL7 table 0001 codes, FHIR genders and the words people write, in English and Spanish, to F, M, O or U.

The four answers are people.models.Sex. HL7 A (ambiguous) and X (non-binary, in later tables)
are O; N (not applicable) is U. "M" is male as in HL7, never "mujer": Spanish forms that use
H/M for hombre/mujer are ambiguous and are not guessed at.
None means not recognised; the caller decides, usually by warning and recording U.
"""

from __future__ import annotations

import re

from tracecenter.core.codes._text import clean, fold

# Longer than any answer below; longer input is not a sex.
MAX_INPUT = 64

_SEX = {
    **dict.fromkeys(("f", "female", "woman", "girl", "femenino", "femenina", "mujer", "nina", "fem"), "F"),
    **dict.fromkeys(("m", "male", "man", "boy", "masculino", "masculina", "hombre", "varon", "nino", "masc"), "M"),
    **dict.fromkeys(
        (
            "o", "other", "a", "ambiguous", "x", "nonbinary", "non binary", "intersex",
            "otro", "otra", "no binario", "no binaria", "intersexual",
        ),
        "O",
    ),
    **dict.fromkeys(
        (
            "u", "unk", "unknown", "n", "na", "n a", "not applicable", "refused", "declined", "asked but unknown",
            "prefer not to say", "prefer not to answer", "not reported",
            "desconocido", "desconocida", "no aplica", "se nego", "se niega", "prefiere no decir", "prefiere no contestar",
        ),
        "U",
    ),
}  # fmt: skip

_NOT_LETTERS = re.compile(r"[^a-z]+")


def normalize_sex(value: str) -> str | None:
    """F, M, O or U for a code or word, or None when it is not one TraceCenter knows. Never raises."""
    if not isinstance(value, str) or len(value) > MAX_INPUT:
        return None
    text = clean(value)
    if text is None:
        return None
    # Punctuation and spacing vary ("Non-binary", "N/A"): only the letters are compared.
    key = " ".join(_NOT_LETTERS.sub(" ", fold(text)).split())
    return _SEX.get(key)

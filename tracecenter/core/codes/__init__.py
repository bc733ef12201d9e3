"""One normaliser each for languages, sexes and CLIA numbers, shared by every way data comes in.

Plain Python, no Django: the lab format parsers, the intake pipeline and the people services all
call these, so a value means the same thing whichever door it came through.
"""

from tracecenter.core.codes.clia import normalize_clia
from tracecenter.core.codes.language import COMMON_LANGUAGES, language_choices, language_name, normalize_language
from tracecenter.core.codes.sex import normalize_sex

__all__ = [
    "COMMON_LANGUAGES",
    "language_choices",
    "language_name",
    "normalize_clia",
    "normalize_language",
    "normalize_sex",
]

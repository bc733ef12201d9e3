"""Languages: one ISO 639 code for every way a lab, a form or an API caller writes a language.

A person's language is their routing skill: a contact who speaks Spanish must reach a tracer who
speaks Spanish. HL7 PID-15, CSV uploads, FHIR Patient.communication, the forms and the API all go
through normalize_language, so the same language always gets the same code.

The code is ISO 639-1 where the language has one ("es"), else ISO 639-3 ("yue", "mam"). Region,
script and variant are dropped ("es-MX", "es_419" and "zh-Hant" give "es", "es" and "zh"): a tracer
is matched on the language, not on where the person learned it.

Choices made for an interpreter service, where a wrong merge puts a person on a call they cannot follow:

* Mandarin is "zh". US forms and lab feeds write Mandarin as "Chinese", "zh", "chi", "zho" or
  "cmn"; all give "zh".
* Cantonese stays "yue", apart from Mandarin, and so do the other Chinese languages (Min Nan or
  Taiwanese "nan", Hakka "hak", Wu "wuu"): they are not mutually intelligible with Mandarin, and
  on the telephone the shared written language does not help. Interpreter services book them
  separately. "Chinese" alone means Mandarin, the common case.
* Other individual languages fold into their macrolanguage where CLDR does ("arb" Standard Arabic
  is "ar", Iranian Persian "pes" and Dari "prs" are "fa"): interpreters are booked by it.
* Tagalog and Filipino are one language for interpreting: "tl", the ISO 639-1 code (CLDR prefers "fil").
* Codes that name no language ("und", "mis", "mul", "zxx", private use "qaa".."qtz") and the HL7
  null flavours that happen to be language codes ("UNK" is Enawene-Nawe, "NA" Nauruan) give None.

Names are read in English, in Spanish and in the language itself ("Tiếng Việt"), from the CLDR
and IANA tables that langcodes and language-data ship; accents are optional ("espanol", "ingles").
The tables are loaded on first use and every answer is cached: feeds call this once per message.
"""

from __future__ import annotations

import functools
import re

from langcodes import Language

from tracecenter.core.codes._text import clean, fold

# Longer than any language name or language tag a sender writes; longer input is not a language.
MAX_INPUT = 64

# The languages US interpreter services are most asked for, in about that order (English, then
# Census ACS limited-English languages, then languages of recent arrivals): the order of a form's list.
COMMON_LANGUAGES: tuple[str, ...] = (
    "en", "es", "zh", "yue", "vi", "tl", "ko", "ru", "ar", "ht", "fr", "pt", "kea", "hi", "ur", "bn",
    "pa", "gu", "ne", "fa", "ps", "ja", "pl", "it", "de", "uk", "so", "am", "ti", "sw", "my", "kar",
    "km", "lo", "hmn", "th", "mh", "chk", "mam", "quc", "ase",
)  # fmt: skip

# "male" is a language of Papua New Guinea in the name tables; in a US record it is a shifted column.
_NO_LANGUAGE = frozenset({"und", "mis", "mul", "zxx", "unk", "na", "asku", "nask", "oth", "male"})

# Codes read as another: CLDR counts Filipino and Tagalog as one and prefers "fil"; Mandarin is "zh"
# (see above); "ASL" in a US record is American Sign Language, not Asilulu ("asl") of the Moluccas.
_SAME_LANGUAGE = {"fil": "tl", "cmn": "zh", "asl": "ase"}

# Names the CLDR tables miss or resolve wrongly for US interpreting (folded form).
_NAMES = {
    "mandarin": "zh",  # the Spanish "mandarín" is otherwise read as Mandar ("mdr"), a language of Sulawesi
    "chinese mandarin": "zh",
    "kreyol": "ht",
    "sign language": "ase",  # in a US record, American Sign Language
    "lengua de senas": "ase",
    "lenguaje de senas": "ase",
}

# Names on screens where CLDR's would mislead ("zh" is Mandarin here, beside Cantonese) or has none
# in Spanish. They are read back too: "Karen" alone is otherwise found as Kari ("kbj").
_DISPLAY = {
    ("zh", "en"): "Chinese (Mandarin)",
    ("zh", "es"): "chino (mandarín)",
    ("kar", "en"): "Karen",
    ("kar", "es"): "karen",
    ("kea", "en"): "Cape Verdean Creole",
    ("ase", "es"): "lengua de señas americana",
}

_TAG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*", re.ASCII)
_CODE = re.compile(r"[a-z]{2,3}", re.ASCII)


def normalize_language(value: str) -> str | None:
    """The canonical ISO 639 code of a language code, tag or name, or None when it names no language.

    Never raises: whatever a sender wrote, the answer is a code or None.
    """
    if not isinstance(value, str) or len(value) > MAX_INPUT:
        return None
    return _normalize(value)


def language_name(code: str, in_language: str = "en") -> str:
    """The language's name in another language, for screens: ("es", "es") is "español".

    A code that names no language is returned as it is, so a screen still shows what is stored.
    """
    canonical = normalize_language(code)
    if canonical is None:
        return code
    return _name(canonical, normalize_language(in_language) or "en")


def language_choices(in_language: str = "en") -> list[tuple[str, str]]:
    """(code, name) pairs of COMMON_LANGUAGES, named in in_language, for a form's select.

    Names start with a capital, as CLDR writes them in menus ("Español"); in running text they do not.
    """
    target = normalize_language(in_language) or "en"
    return [(code, _capitalized(_name(code, target))) for code in COMMON_LANGUAGES]


@functools.lru_cache(maxsize=4096)
def _normalize(value: str) -> str | None:
    text = clean(value)
    if not text:
        return None
    key = fold(text)
    if key in _NO_LANGUAGE:
        return None
    if key in _NAMES:
        return _NAMES[key]
    tag = key.replace("_", "-")
    if _TAG.fullmatch(tag):
        code = _from_tag(tag)
        # A two- or three-letter value that is no code is not looked up as a name: names that short
        # are rare, and the name tables match noise ("na" is a language called Na).
        if code is not None or len(tag) <= 3:
            return code
    found = _folded_names().get(key)
    if found is not None:
        return found
    # The name tables ignore punctuation and match prefixes: "en-" would find a language called En.
    if sum(ch.isalpha() for ch in key) < 4:
        return None
    for name in dict.fromkeys((text, key)):
        try:
            return _canonical(Language.find(name).language)
        except (LookupError, ValueError):  # ValueError: a name the tries cannot encode
            continue
    return None


def _from_tag(tag: str) -> str | None:
    # The whole tag first: an extended language subtag is the language ("zh-yue" is Cantonese).
    for candidate in (tag, tag.split("-", 1)[0]):
        try:
            language = Language.get(candidate)
        except ValueError:
            continue
        if language.is_valid():
            return _canonical(language.language)
    return None


def _canonical(code: str | None) -> str | None:
    """The canonical form of a bare language subtag, so that a stored code reads back as itself."""
    if code is None or not _CODE.fullmatch(code):
        return None
    try:
        # Language.get applies the registry's replacements ("iw" is "he", "sh" is "sr").
        language = Language.get(code).prefer_macrolanguage()
    except ValueError:
        return None
    found = language.language
    if found is None or not language.is_valid():
        return None
    found = _SAME_LANGUAGE.get(found, found)
    if not _CODE.fullmatch(found) or found in _NO_LANGUAGE or "qaa" <= found <= "qtz":
        return None
    return found


@functools.cache
def _folded_names() -> dict[str, str]:
    """Accentless names of the common languages in English, Spanish and their own language.

    The CLDR tables hold "español" but not "espanol"; people typing without accents mostly mean
    one of these languages. The names shown on screens read back as their code.
    """
    names = {fold(name): code for (code, _), name in _DISPLAY.items()}
    for code in COMMON_LANGUAGES:
        language = Language.get(code, normalize=False)
        for target in ("en", "es", code):
            names.setdefault(fold(language.language_name(target)), code)
    return names


def _capitalized(name: str) -> str:
    return name[:1].upper() + name[1:]


@functools.lru_cache(maxsize=1024)
def _name(code: str, target: str) -> str:
    if (code, target) in _DISPLAY:
        return _DISPLAY[code, target]
    # normalize=False: "tl" is named Tagalog, not Filipino as CLDR's replacement "fil" is.
    return Language.get(code, normalize=False).language_name(target)

"""Normalization of identifying values, pure Python (no Django).

Blind indexes hash the normalized form, so "José  García" and "jose garcia" find
each other, and so do "(617) 555-0100" and "+16175550100".
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

# Latin letters that carry no decomposable accent, folded like the accented ones.
_FOLD = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"})


class InvalidValue(ValueError):
    """Not a valid value; `code` tells callers which rule, so they can say it in the user's language."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def name_key(value: str) -> str:
    """Lower case, accents removed, letters only: the form names are indexed under.

    Letters of every script are kept: "李" and "王" (or "Иван" and "Пётр") must not
    share the empty key, or everyone named in that script would match everyone else.
    """
    decomposed = unicodedata.normalize("NFKD", value.casefold().translate(_FOLD))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in stripped if unicodedata.category(ch)[0] in "LM")


def clean_name(value: str) -> str:
    """Collapse white space; reject names with control characters or no letter at all."""
    cleaned = " ".join(value.split())
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidValue("A name cannot contain control characters.", code="control_characters")
    if cleaned and not name_key(cleaned) and not any(ch.isalpha() for ch in cleaned):
        raise InvalidValue("A name must contain at least one letter.", code="no_letter")
    return cleaned


def phone_e164(value: str, default_region: str = "US") -> str:
    """The E.164 form of a phone number, or InvalidValue saying why it is not one."""
    raw = value.strip()
    if not raw:
        raise InvalidValue("The phone number is empty.")
    if len(raw) > 40:
        raise InvalidValue("The phone number is too long.")
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidValue(f"{raw!r} is not a phone number.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidValue(f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def email_key(value: str) -> str:
    """Trimmed and lower-cased: how e-mail addresses are compared and indexed."""
    cleaned = value.strip().lower()
    if len(cleaned) > 254 or not _EMAIL.match(cleaned):
        raise InvalidValue(f"{value.strip()!r} is not an e-mail address.")
    return cleaned

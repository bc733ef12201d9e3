"""Text folding shared by the code tables: what a person types, reduced to what a lookup compares."""

from __future__ import annotations

import unicodedata


def clean(value: str) -> str | None:
    """The value with its white space collapsed, or None when it holds a control or other unprintable character.

    Such characters are never part of a language or a sex, and some (NUL, lone surrogates) make
    the name tries of language-data raise instead of answering "not found".
    """
    text = " ".join(value.split())
    return text if text.isprintable() else None


def fold(text: str) -> str:
    """Case and accents dropped: "Español" and "espanol" compare equal, as people type them either way."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

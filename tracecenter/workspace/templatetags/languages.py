"""A stored language code shown as its name, in the reader's language ("es" reads "Spanish", or "español")."""

from __future__ import annotations

from django import template
from django.utils import translation

from tracecenter.core.codes import language_name

register = template.Library()


@register.filter
def language_label(code: str | None) -> str:
    if not code:
        return ""
    name = language_name(code, translation.get_language() or "en")
    return name[:1].upper() + name[1:]

"""What an administrator types, checked before anything is saved: each problem a DomainError on its field."""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from tracecenter.core.errors import DomainError

_CODE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", re.ASCII)


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """White space collapsed; no control or formatting characters (a right-to-left override in a
    name shown on every assignment list would disguise it), within the column's length."""
    text = " ".join((value or "").split())
    if required and not text:
        raise DomainError(_("This field is required."), field=field)
    if len(text) > max_length:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": max_length}, field=field)
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise DomainError(_("This cannot contain control characters."), field=field)
    return text


def clean_code(value: str, *, field: str = "code", max_length: int = 40) -> str:
    """A short lower-case code (letters, digits, "-" and "_"), as routing rules and feeds refer to it."""
    code = (value or "").strip().lower()
    if not code:
        raise DomainError(_("This field is required."), field=field)
    if len(code) > max_length:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": max_length}, field=field)
    if not _CODE.fullmatch(code):
        raise DomainError(_("Use lower-case letters, digits and hyphens only, such as “north-county”."), field=field)
    return code


@functools.cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value: str, *, field: str = "time_zone") -> str:
    """An IANA time zone name this machine's zoneinfo knows: calling windows and quarantine days are local."""
    name = (value or "").strip()
    if name not in time_zones():
        raise DomainError(_("This is not a time zone name, such as “America/Chicago”."), field=field)
    return name


def clean_username(value: str, *, field: str = "username") -> str:
    username = (value or "").strip()
    if not username:
        raise DomainError(_("This field is required."), field=field)
    if len(username) > 150:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": 150}, field=field)
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise DomainError(_("Use letters, digits and @ . + - _ only."), field=field) from None
    return username


def clean_email(value: str, *, field: str = "email") -> str:
    email = (value or "").strip()
    if not email:
        return ""
    if len(email) > 254:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": 254}, field=field)
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(_("Enter a valid e-mail address."), field=field) from None
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"

"""Sign-in throttling: a few failures per account and address, then a pause."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(username: str, ip: str | None) -> str:
    # Hashed so that the cache (possibly a shared Redis) never holds user names.
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip or ''}".encode()).hexdigest()
    return f"login-failures:{digest}"


def login_is_locked(username: str, ip: str | None) -> bool:
    return int(cache.get(_key(username, ip), 0)) >= settings.LOGIN_MAX_FAILURES


def login_failed(username: str, ip: str | None) -> None:
    key = _key(username, ip)
    if cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_succeeded(username: str, ip: str | None) -> None:
    cache.delete(_key(username, ip))

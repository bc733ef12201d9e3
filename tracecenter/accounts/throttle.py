"""Sign-in throttling: limits on failed sign-ins that hold across every process.

Three counters, each a window of LOGIN_FAILURE_WINDOW_SECONDS from its first failure:

- per account and address (LOGIN_MAX_FAILURES): someone mistyping, or one guesser at one account;
- per account, from any address (LOGIN_MAX_FAILURES_PER_ACCOUNT): one account guessed from many addresses;
- per address, for any account (LOGIN_MAX_FAILURES_PER_ADDRESS): password spraying, a few guesses at
  many accounts from one address.

A sign-in is refused while any of them is used up, before the password is even checked. Only a
successful sign-in clears the first; the other two run out with their window. The counters live in
core.ratelimit (the database, or Redis), never in the per-process cache.
"""

from __future__ import annotations

from django.conf import settings

from tracecenter.core import ratelimit


def _limits(username: str, ip: str | None) -> list[tuple[str, str, int]]:
    account = username.strip().lower()
    address = ip or ""
    return [
        ("account and address", f"login:pair:{account}|{address}", settings.LOGIN_MAX_FAILURES),
        ("account", f"login:account:{account}", settings.LOGIN_MAX_FAILURES_PER_ACCOUNT),
        ("address", f"login:address:{address}", settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


def login_locked_by(username: str, ip: str | None) -> str | None:
    """Which limit refuses a sign-in to `username` from `ip` now ("account and address", "account", "address"), if any."""
    for name, key, limit in _limits(username, ip):
        if ratelimit.exceeded(key, limit):
            return name
    return None


def login_is_locked(username: str, ip: str | None) -> bool:
    return login_locked_by(username, ip) is not None


def login_failed(username: str, ip: str | None) -> None:
    for _name, key, limit in _limits(username, ip):
        ratelimit.hit(key, limit, settings.LOGIN_FAILURE_WINDOW_SECONDS)


def login_succeeded(username: str, ip: str | None) -> None:
    _name, key, _limit = _limits(username, ip)[0]
    ratelimit.reset(key)


def api_token_locked(ip: str | None) -> bool:
    """Bearer tokens tried from `ip` failed too often: refuse every token from there until the window ends."""
    return ratelimit.exceeded(f"api-token:address:{ip or ''}", settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS)


def api_token_failed(ip: str | None) -> None:
    ratelimit.hit(
        f"api-token:address:{ip or ''}", settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS, settings.API_TOKEN_FAILURE_WINDOW_SECONDS
    )


def api_token_retry_after(ip: str | None) -> int:
    """Seconds until the bad tokens counted from `ip` are forgotten: what a refused client is told to wait."""
    return ratelimit.retry_after(f"api-token:address:{ip or ''}")


def second_factor_locked(user_id: int) -> bool:
    """Too many wrong second-factor codes for this account: the second step is refused until the window ends.

    Per account, whatever the address: whoever holds the password can change addresses, not accounts.
    """
    return ratelimit.exceeded(f"mfa:account:{user_id}", settings.MFA_MAX_FAILURES)


def second_factor_failed(user_id: int) -> None:
    ratelimit.hit(f"mfa:account:{user_id}", settings.MFA_MAX_FAILURES, settings.LOGIN_FAILURE_WINDOW_SECONDS)


def second_factor_succeeded(user_id: int) -> None:
    ratelimit.reset(f"mfa:account:{user_id}")

"""Whether the signed-in session has passed its second factor, and by which means.

A password sign-in opens a session that is good only for the second step (a TOTP code, a security
key or a recovery code); the middleware (workspace.middleware.SecondFactorRequiredMiddleware) keeps
every other page closed until it is passed. A single sign-on through the state's identity provider
passes it at once: the provider applies its own multi-factor policy (docs/sso.md).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

PASSED = "_tracecenter_second_factor"
METHODS = frozenset({"totp", "security_key", "recovery_code", "sso"})


def second_factor_passed(session: SessionBase, method: str) -> None:
    """The session passed its second factor by `method` (one of METHODS)."""
    if method not in METHODS:
        raise ValueError(f"unknown second factor {method!r}")
    session[PASSED] = method


def second_factor_method(session: SessionBase) -> str | None:
    """How the session passed its second factor, or None when it has not."""
    method = session.get(PASSED)
    return method if method in METHODS else None


def second_factor_required(role: str) -> bool:
    """Whether users of `role` must pass a second factor (MFA_REQUIRED_ROLES: every role unless narrowed)."""
    required = settings.MFA_REQUIRED_ROLES
    return required == "all" or role in required

"""Signing out at the provider too (RP-initiated logout), for a session signed in through it."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.shortcuts import resolve_url

from tracecenter.accounts.sso.config import SsoUnavailable, enabled, endpoints
from tracecenter.core import crypto

# The session keeps the ID token (encrypted: it carries the person's name and e-mail) for signing out at the provider.
ID_TOKEN_SESSION_KEY = "_tracecenter_sso_id_token"  # noqa: S105 - the name of a session key, not a secret
_ID_TOKEN_CONTEXT = "session.sso_id_token"  # noqa: S105 - the encryption context's name, not a secret


def remember_id_token(session: SessionBase, id_token: str) -> None:
    session[ID_TOKEN_SESSION_KEY] = crypto.encrypt(id_token, context=_ID_TOKEN_CONTEXT)


def signed_in_through_sso(session: SessionBase) -> bool:
    return ID_TOKEN_SESSION_KEY in session


def provider_logout_url(request: HttpRequest) -> str | None:
    """Where to send the browser to sign out at the provider too (RP-initiated logout), or None.

    Only for a session signed in through the provider, and a provider that offers `end_session_endpoint`.
    Usable as mozilla-django-oidc's OIDC_OP_LOGOUT_URL_METHOD.
    """
    if not enabled() or not signed_in_through_sso(request.session):
        return None
    try:
        endpoint = endpoints().end_session_endpoint
    except SsoUnavailable:
        return None
    if not endpoint:
        return None
    params = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL)),
    }
    # A key rotated away since the sign-in leaves no hint: the provider then asks the person to confirm.
    with contextlib.suppress(crypto.DecryptionError, TypeError):
        params["id_token_hint"] = crypto.decrypt(request.session[ID_TOKEN_SESSION_KEY], context=_ID_TOKEN_CONTEXT)
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

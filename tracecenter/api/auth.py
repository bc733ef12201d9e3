"""Who is calling: a personal API token (`Authorization: Bearer ...`) or the signed-in session.

A session is an ambient credential the browser sends by itself, so unsafe methods
with a session need the CSRF token; a bearer token is sent only on purpose and
needs none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from ninja.errors import AuthenticationError, HttpError
from ninja.openapi.views import openapi_view
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from tracecenter.accounts import throttle
from tracecenter.accounts.models import User
from tracecenter.api.services import api_token_known, api_token_user
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. A bearer header with a bad token is refused outright (no fallback)."""

    def __call__(self, request: HttpRequest) -> Any:
        value = request.headers.get(self.header)
        if not value:
            return None
        scheme, _sep, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User:
        ip = request.META.get("REMOTE_ADDR")
        if throttle.api_token_locked(ip):
            audit_record(
                actor=None,
                action=Action.LOGIN_FAILED,
                object_type="api_token",
                detail="refused during a lock-out (too many bad API tokens from this address)",
            )
            raise HttpError(429, gettext("Too many failed attempts from this address. Wait 15 minutes and try again."))
        user = api_token_user(token)
        if user is None:
            throttle.api_token_failed(ip)
            # Never the token itself: only that a bad one was tried, from where (the audit keeps the address),
            # and, for a token that was once good, whose it is, so that the holder's auditors see it.
            known = api_token_known(token)
            audit_record(
                actor=None,
                action=Action.LOGIN_FAILED,
                object_type="api_token",
                object_id=known.pk if known is not None else "",
                jurisdiction_id=known.user.jurisdiction_id if known is not None else None,
                detail="invalid API token" if known is None else f"refused API token of user {known.user_id}",
            )
            raise AuthenticationError()
        request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The Django session of a signed-in user; unsafe methods must carry the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header with the token of this session.")
        return user

    def _get_key(self, request: HttpRequest) -> str | None:  # pragma: no cover - __call__ does the work
        return None

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover
        return None


def signed_in_or_token[V: Callable[..., HttpResponse]](view: V) -> V:
    """For the schema and the docs page (NinjaAPI's docs_decorator): a signed-in user or a valid bearer token.

    The schema lists every endpoint and field: nothing for the anonymous. Without credentials the schema
    answers 401 like any endpoint, and the docs page sends the browser to sign in.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            try:
                user = BearerTokenAuth()(request)
            except HttpError as exc:  # a bad token (401, audited and counted), or too many of them (429)
                return _refusal(exc.status_code, str(exc))
        if user is None or not user.is_authenticated:
            if getattr(view, "func", None) is openapi_view:
                return redirect_to_login(request.get_full_path())
            return _refusal(401, gettext("Sign in, or send a personal API token."))
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _refusal(status: int, detail: str) -> HttpResponse:
    response = JsonResponse({"detail": detail, "field": None}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="tracecenter"'
    return response


def current_user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    return user

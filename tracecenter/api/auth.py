"""Who is calling: a personal API token (`Authorization: Bearer ...`) or the signed-in session.

A session is an ambient credential the browser sends by itself, so unsafe methods
with a session need the CSRF token; a bearer token is sent only on purpose and
needs none.

A token is checked, in this order: that its address is not locked out for guessing (429), that
it is valid (401: unknown, revoked, expired, its holder inactive), that it is within its rate
(429 with Retry-After), and that it carries the scope the endpoint needs (403). Each operation
is wrapped by `each_operation`, which tells the check which scope (api/scopes.py) and counts
the call on the token's use afterwards, let in or refused.
"""

from __future__ import annotations

import functools
import inspect
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
from tracecenter.api import scopes as token_scopes
from tracecenter.api.errors import InsufficientScope, TooManyRequests
from tracecenter.api.models import ApiToken
from tracecenter.api.scopes import TokenScope
from tracecenter.api.services import (
    api_token_lookup,
    api_token_refuse_scope,
    api_token_throttle,
    api_token_use_record,
)
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record

# What a request carries between the steps of one call (attributes of the request, set here only).
_ENDPOINT = "_tc_endpoint"  # (scope needed, endpoint name), set by each_operation before authentication
_TOKEN = "_tc_api_token"  # noqa: S105 - an attribute name; the ApiToken presented, once known (valid or refused)
# Answers that refuse the caller, counted as refusals on the token's use.
REFUSED_STATUSES = frozenset({401, 403, 429})


def presented_token(request: HttpRequest) -> ApiToken | None:
    token = getattr(request, _TOKEN, None)
    return token if isinstance(token, ApiToken) else None


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
            raise TooManyRequests(
                gettext("Too many failed attempts from this address. Wait and try again."),
                retry_after=throttle.api_token_retry_after(ip),
            )
        lookup = api_token_lookup(token)
        if lookup.user is None:
            throttle.api_token_failed(ip)
            # Never the token itself: only that a bad one was tried, from where (the audit keeps the address),
            # and, for a token that was once good, whose it is and why it was refused, so that the holder's
            # auditors see it and the holder sees it counted on the token.
            known = lookup.token
            if known is not None:
                setattr(request, _TOKEN, known)
            audit_record(
                actor=None,
                action=Action.LOGIN_FAILED,
                object_type="api_token",
                object_id=known.pk if known is not None else "",
                jurisdiction_id=known.user.jurisdiction_id if known is not None else None,
                detail="invalid API token" if known is None else f"refused API token of user {known.user_id}: {lookup.refusal}",
            )
            raise AuthenticationError()
        api_token = lookup.token
        if api_token is None:  # a lookup that let the caller in found their token
            raise AuthenticationError()
        setattr(request, _TOKEN, api_token)
        wait = api_token_throttle(api_token)
        if wait is not None:
            raise TooManyRequests(
                gettext("This token made more than %(n)d requests in a minute. Wait %(s)d seconds and try again.")
                % {"n": api_token.rate_limit, "s": wait},
                retry_after=wait,
            )
        needed: tuple[TokenScope, str] | None = getattr(request, _ENDPOINT, None)
        if needed is not None and not api_token.has_scope(needed[0]):
            api_token_refuse_scope(api_token, needed[0], needed[1])
            raise InsufficientScope(
                gettext("This API token lacks the “%(scope)s” scope, which this endpoint needs (the token has: %(has)s).")
                % {"scope": needed[0].value, "has": ", ".join(api_token.scope_labels())},
                scope=needed[0].value,
            )
        request.user = api_token.user
        return api_token.user


def each_operation(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wraps every API operation (NinjaAPI.add_decorator, mode "view"): the scope it needs, and the use it makes.

    Applied once per operation when the API is built, so an endpoint missing from api/scopes.py stops the
    API from loading. The scope is also written into the operation's schema (`x-token-scope`).
    """
    operation = inspect.unwrap(run).__self__  # type: ignore[attr-defined]  # the Operation whose bound `run` this is
    endpoint = inspect.unwrap(operation.view_func).__name__
    scope = token_scopes.required(endpoint)
    operation.openapi_extra = {**(operation.openapi_extra or {}), "x-token-scope": scope.value}

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        setattr(request, _ENDPOINT, (scope, endpoint))
        response = run(request, *args, **kwargs)
        note_use(request, response)
        return response

    return wrapper


def note_use(request: HttpRequest, response: HttpResponse) -> None:
    """Count the call on the token presented, if any: refused or let in."""
    token = presented_token(request)
    if token is not None:
        api_token_use_record(
            token=token, address=request.META.get("REMOTE_ADDR"), refused=response.status_code in REFUSED_STATUSES
        )


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
            # Any scope may read the schema: it describes the API, and says which scope each endpoint needs.
            try:
                user = BearerTokenAuth()(request)
            except HttpError as exc:  # a bad token (401, audited and counted), or too many of them (429)
                response = _refusal(exc)
                note_use(request, response)
                return response
        if user is None or not user.is_authenticated:
            if getattr(view, "func", None) is openapi_view:
                return redirect_to_login(request.get_full_path())
            return _refusal(AuthenticationError(401, gettext("Sign in, or send a personal API token.")))
        response = view(request, *args, **kwargs)
        note_use(request, response)
        return response

    return wrapper  # type: ignore[return-value]


def _refusal(exc: HttpError) -> HttpResponse:
    response = JsonResponse({"detail": str(exc), "field": None}, status=exc.status_code)
    if exc.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="tracecenter"'
    if isinstance(exc, TooManyRequests):
        response["Retry-After"] = str(exc.retry_after)
    return response


def current_user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    return user

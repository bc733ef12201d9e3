"""How the API answers when something is wrong: JSON with `detail`, and `field` when one input is at fault."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tracecenter.core.errors import DomainError

MAX_BODY_BYTES = 1024 * 1024


class TooManyRequests(HttpError):
    """429, with the seconds to wait in `Retry-After` (RFC 9110): a token over its rate, or an address locked out."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(429, message)
        self.retry_after = max(1, int(retry_after))


class InsufficientScope(HttpError):
    """403 for a token that lacks the scope an endpoint needs; `WWW-Authenticate` names the scope (RFC 6750)."""

    def __init__(self, message: str, *, scope: str) -> None:
        super().__init__(403, message)
        self.scope = scope


def _field_of(loc: list[Any] | tuple[Any, ...]) -> str:
    """("body", "payload", "person", "first_name") -> "person.first_name"; ("query", "page") -> "page"."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:]
    elif parts:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def validation_error(request: HttpRequest, exc: ValidationError, *, api: NinjaAPI) -> HttpResponse:
    errors = [
        {"field": _field_of(error.get("loc", ())), "message": str(error.get("msg", "")), "type": str(error.get("type", ""))}
        for error in exc.errors
    ]
    first = errors[0] if errors else {"field": "body", "message": _("The input is not valid.")}
    return api.create_response(request, {"detail": first["message"], "field": first["field"], "errors": errors}, status=422)


def domain_error(request: HttpRequest, exc: DomainError, *, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, {"detail": exc.message, "field": exc.field}, status=422)


def permission_denied(request: HttpRequest, exc: PermissionDenied, *, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, {"detail": _("You are not allowed to do this."), "field": None}, status=403)


def not_found(request: HttpRequest, exc: Http404, *, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, {"detail": _("Not found."), "field": None}, status=404)


def too_big(request: HttpRequest, exc: RequestDataTooBig, *, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, {"detail": _("The request body is too large."), "field": "body"}, status=413)


def http_error(request: HttpRequest, exc: HttpError, *, api: NinjaAPI) -> HttpResponse:
    field = "body" if exc.status_code == 400 else None
    response = api.create_response(request, {"detail": str(exc), "field": field}, status=exc.status_code)
    if isinstance(exc, AuthenticationError):
        response["WWW-Authenticate"] = 'Bearer realm="tracecenter"'
    elif isinstance(exc, InsufficientScope):
        response["WWW-Authenticate"] = f'Bearer realm="tracecenter", error="insufficient_scope", scope="{exc.scope}"'
    elif isinstance(exc, TooManyRequests):
        response["Retry-After"] = str(exc.retry_after)
    return response


def install(api: NinjaAPI) -> None:
    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (ValidationError, validation_error),
        (DomainError, domain_error),
        (PermissionDenied, permission_denied),
        (Http404, not_found),
        (RequestDataTooBig, too_big),
        (HttpError, http_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, functools.partial(handler, api=api))


def limit_body_size(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse bodies over 1 MB before anything reads them (applied to every operation, before validation)."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": _("The Content-Length header is not a number."), "field": "body"}, status=400)
        if length > MAX_BODY_BYTES:
            return JsonResponse(
                {"detail": _("The request body is too large (at most %(n)d bytes).") % {"n": MAX_BODY_BYTES}, "field": "body"},
                status=413,
            )
        return run(request, *args, **kwargs)

    return wrapper

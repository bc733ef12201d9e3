from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from tracecenter.core import request_context


class RequestContextMiddleware:
    """Records the client address, channel and user of each request for the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # REMOTE_ADDR is the peer; behind a proxy the deployment's proxy sets it right
        # (trusting X-Forwarded-For blindly would let anyone forge the audit address).
        channel = "api" if request.path.startswith("/api/") else "web"
        user = getattr(request, "user", None)
        actor_id = user.pk if user is not None and user.is_authenticated else None
        token = request_context.set_current(
            request_context.RequestContext(ip_address=request.META.get("REMOTE_ADDR"), channel=channel, actor_id=actor_id)
        )
        try:
            return self.get_response(request)
        finally:
            request_context.reset(token)


class NoStoreForSignedInMiddleware:
    """Every response to a signed-in user (a session, or an API token) says `Cache-Control: no-store`.

    Pages and API answers carry personal data: no browser cache, disk cache or shared proxy may keep
    them, where the next user of a shared computer, or the proxy's operator, could read them. Checked
    after the view, so that a user an API token signed in counts too. A response marked `public` on
    purpose (the bundled assets of the API docs) keeps its caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "public" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response

"""A user holding a temporary password chooses their own before anything else."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from tracecenter.accounts import sessions
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record


class SessionLimitsMiddleware:
    """A signed-in session past its absolute lifetime (SESSION_ABSOLUTE_SECONDS from the sign-in) is signed out
    before the request goes on, as if it had never been signed in: a page sends the browser to sign in, the API
    answers 401. Runs after AuthenticationMiddleware. The limit on sessions per user is kept at sign-in
    (accounts/sessions.py): an ended session is gone from the store, so its next request is simply signed out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session and sessions.past_absolute_lifetime(session):
            user = request.user
            audit_record(
                actor=user,
                action=Action.LOGOUT,
                jurisdiction_id=getattr(user, "jurisdiction_id", None),
                detail="session ended: its absolute lifetime is over",
            )
            logout(request)
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """Every page but the password change itself (and signing out, and the language switch) sends a
    user whose password an administrator issued to Django's password change view, until it is done.

    A temporary password was seen by the administrator and perhaps written down: it must not stay
    the key to personal data. Runs after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        held = user is not None and user.is_authenticated and getattr(user, "must_change_password", False)
        if held and not request.path.startswith(self._open_paths()):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Change your temporary password on the sign-in page first."}, status=403)
            return redirect("accounts:password_change")
        return self.get_response(request)

    @staticmethod
    def _open_paths() -> tuple[str, ...]:
        return (
            reverse("accounts:password_change"),
            reverse("accounts:logout"),
            reverse("set_language"),
            "/" + settings.STATIC_URL.lstrip("/"),
        )

"""What a signed-in session must do before anything else: pass its second factor, choose its own password; and its limits."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from tracecenter.accounts import sessions
from tracecenter.accounts.second_factor import second_factor_method, second_factor_required
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


class SecondFactorRequiredMiddleware:
    """A user signed in with their password alone sees only the second step of the sign-in (accounts/mfa.py)
    until they pass it: a code, a security key or a recovery code, or, with no factor yet, enrolment.

    Runs after AuthenticationMiddleware and before the password-change one: the second factor proves who is
    there before anything else, a temporary password included. A page sends the browser to the second step;
    the API answers 403 to a session that has not passed it (a bearer token is a credential of its own).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        held = (
            user is not None
            and user.is_authenticated
            and second_factor_required(getattr(user, "role", ""))
            and second_factor_method(request.session) is None
        )
        if held and not request.path.startswith(self._open_paths()):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Pass the second step of the sign-in first.", "field": None}, status=403)
            target = reverse("accounts:second_factor")
            if request.method == "GET" and request.path != "/":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)

    @staticmethod
    def _open_paths() -> tuple[str, ...]:
        return (
            reverse("accounts:second_factor"),  # the second step, enrolment and the security-key check under it
            reverse("accounts:logout"),
            reverse("set_language"),
            "/" + settings.STATIC_URL.lstrip("/"),
        )


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
            reverse("accounts:second_factor"),  # the second factor comes first
            reverse("accounts:logout"),
            reverse("set_language"),
            "/" + settings.STATIC_URL.lstrip("/"),
        )

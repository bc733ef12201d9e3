from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts import services, sessions, sso, throttle
from tracecenter.accounts.second_factor import second_factor_required
from tracecenter.accounts.selectors import account_named
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.workspace.views.common import signed_in

# How much of a username as typed the trail keeps: enough to tell whom a guess aimed at, not a whole
# password typed into the wrong box.
TYPED_USERNAME_CHARS = 40


def as_typed(username: str) -> str:
    """A typed username for the trail: truncated, with invisible and control characters shown as "?"."""
    shown = "".join("?" if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} else ch for ch in username)
    return shown if len(shown) <= TYPED_USERNAME_CHARS else shown[:TYPED_USERNAME_CHARS] + "…"


def audit_sign_in_refused(username: str, why: str) -> None:
    """A failed or refused sign-in, naming the account it aimed at, for that account's auditors.

    The requester is told the same whether the account exists or not; only the trail knows.
    """
    account = account_named(username)
    audit_record(
        actor=None,
        action=Action.LOGIN_FAILED,
        object_type="user",
        object_id=account.pk if account is not None else "",
        jurisdiction_id=account.jurisdiction_id if account is not None else None,
        detail=f"{why}; username typed: {as_typed(username)}",
    )


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed attempts. Wait 15 minutes and try again, or ask your supervisor."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = self.request.META.get("REMOTE_ADDR") if self.request else None
        locked_by = throttle.login_locked_by(username, ip) if username else None
        if locked_by is not None:
            audit_sign_in_refused(username, f"refused during a lock-out (too many failures for this {locked_by})")
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.login_failed(username, ip)
            audit_sign_in_refused(username, "invalid credentials")
            raise
        # Only a sign-in that succeeded clears the count: a post with a field missing (no password checked) must not.
        if self.get_user() is not None:
            throttle.login_succeeded(username, ip)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Which ways in the page offers: the password form (LOCAL_SIGN_IN), the identity provider (docs/sso.md), or both.
        return {
            **super().get_context_data(**kwargs),
            "local_sign_in": settings.LOCAL_SIGN_IN,
            "sso_provider_name": sso.provider_name() if sso.enabled() else "",
        }

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LOCAL_SIGN_IN:
            # No password is checked, so nothing is counted against the account; the attempt is still audited.
            audit_sign_in_refused(str(request.POST.get("username", "")), "password sign-in is turned off (single sign-on only)")
            messages.error(
                request, gettext("Password sign-in is turned off: sign in with %(provider)s.") % {"provider": sso.provider_name()}
            )
            return self.render_to_response(self.get_context_data(), status=403)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = self.request.user
        needs_second = second_factor_required(getattr(user, "role", ""))
        audit_record(
            actor=user,
            action=Action.LOGIN,
            jurisdiction_id=getattr(user, "jurisdiction_id", None),
            detail="password accepted; second factor next" if needs_second else "",
        )
        if needs_second:
            # The password opened the second step only (workspace.middleware.SecondFactorRequiredMiddleware).
            return HttpResponseRedirect(reverse("accounts:second_factor") + "?" + urlencode({"next": self.get_success_url()}))
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        at_provider = sso.provider_logout_url(request)  # read before the session is emptied
        if request.user.is_authenticated:
            audit_record(actor=request.user, action=Action.LOGOUT, jurisdiction_id=getattr(request.user, "jurisdiction_id", None))
        response = super().post(request, *args, **kwargs)
        # Signed in through the identity provider: sign out there too, which sends the browser back to sign-in.
        return HttpResponseRedirect(at_provider) if at_provider else response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change (current password, two new ones, the validators), saved through the
    accounts service so the change is audited and a temporary password's flag is cleared."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("workspace:my_work")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        try:
            user = services.user_password_change(actor=signed_in(self.request), new_password=form.cleaned_data["new_password1"])
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.form_invalid(form)
        # The new password changes the session's hash: keep this session (under a new key), end the others.
        old_key = self.request.session.session_key
        update_session_auth_hash(self.request, user)
        sessions.session_rekeyed(old_key=old_key, new_key=self.request.session.session_key)
        messages.success(self.request, gettext("Your password was changed."))
        return HttpResponseRedirect(self.get_success_url())

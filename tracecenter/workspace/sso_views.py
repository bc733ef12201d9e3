"""Signing in through the state's identity provider: the start (to the provider) and the callback (back from it).

mozilla-django-oidc's views, with what a refused sign-in needs here: every refusal (a state this browser did not
start, an answer that does not verify, claims that place the person nowhere) lands on the sign-in page with a
message that says what is wrong, and in the audit trail, instead of a 400 or a 500; and a sign-in that succeeds has
passed its second factor, which the provider applies by its own policy (docs/sso.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from tracecenter.accounts import sso
from tracecenter.accounts.models import User
from tracecenter.accounts.second_factor import second_factor_passed
from tracecenter.accounts.sso.config import setting, unreachable
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import ratelimit
from tracecenter.workspace.auth_views import as_typed

_STATES = "oidc_states"  # where mozilla-django-oidc keeps each started sign-in's state, nonce and PKCE verifier


def audit_sso_refused(refused: sso.SsoRefused) -> None:
    """A refused single sign-on, naming the account it aimed at when known, for the auditors of where it belongs."""
    subject = f"; subject: {as_typed(refused.subject)}" if refused.subject else ""
    audit_record(
        actor=None,
        action=Action.LOGIN_FAILED,
        object_type="user" if refused.account is not None else "",
        object_id=refused.account.pk if refused.account is not None else "",
        jurisdiction_id=refused.jurisdiction_id,
        detail=f"single sign-on refused: {refused.reason}"[: 200 - len(subject)] + subject,
    )


def _refused(request: HttpRequest, refused: sso.SsoRefused) -> HttpResponse:
    audit_sso_refused(refused)
    messages.error(request, refused.message)
    return redirect("accounts:login")


class SsoStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with a new state, nonce and PKCE challenge (kept in the session)."""

    def __init__(self, **kwargs: Any) -> None:
        # The library reads the provider's endpoint here; it is resolved per request instead (discovery may fail).
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return setting(attr, *args)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404
        # Each start opens a session to hold its state: bounded per address, so that no one fills the session store.
        key = f"sso-start:{request.META.get('REMOTE_ADDR') or ''}"
        limit = settings.OIDC_MAX_STARTS_PER_ADDRESS
        if not ratelimit.hit(key, limit, settings.LOGIN_FAILURE_WINDOW_SECONDS):
            if ratelimit.count(key) == limit + 1:  # audited once per window, not once per request of a flood
                audit_sso_refused(sso.SsoRefused("", "too many sign-ins started from this address"))
            messages.error(request, _("Too many sign-ins were started from here. Wait 15 minutes and try again."))
            return redirect("accounts:login")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = sso.endpoints().authorization_endpoint
        except sso.SsoUnavailable as exc:
            return _refused(request, sso.SsoRefused(unreachable(), f"provider configuration unavailable: {exc}"))
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        response: HttpResponse = super().get(request)
        return response


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer: checked, the account settled, the session signed in with its second factor passed."""

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return setting(attr, *args)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404
        try:
            user = self._authenticated(request)
        except sso.SsoRefused as refused:
            return _refused(request, refused)
        login(request, user)  # Django's user_logged_in: the session limits count this session too
        second_factor_passed(request.session, "sso")
        audit_record(actor=user, action=Action.LOGIN, jurisdiction_id=user.jurisdiction_id, detail="single sign-on")
        return HttpResponseRedirect(self.success_url)

    def _authenticated(self, request: HttpRequest) -> User:
        name = sso.provider_name()
        started = request.session.get(_STATES)
        state = request.GET.get("state", "")
        # A state is good once: taken out of the session before the provider is asked anything, so a replayed answer
        # (or a second tab) finds it gone.
        entry = started.pop(state, None) if isinstance(started, dict) and state else None
        if entry is not None:
            request.session.modified = True
            request.session.save()
        error = request.GET.get("error")
        if error:
            raise sso.SsoRefused(
                _("%(provider)s did not sign you in (%(error)s).") % {"provider": name, "error": sso.shown(error)},
                f"the provider answered error {sso.shown(error)}",
            )
        if not isinstance(entry, dict):
            raise sso.SsoRefused(
                _("This sign-in was not started in this browser, or was already used. Start again."),
                "the state is not one this session started" if state else "the answer carries no state",
            )
        if not request.GET.get("code"):
            raise sso.SsoRefused(
                _("The answer from %(provider)s was incomplete. Start again.") % {"provider": name},
                "the answer carries no code",
            )
        user = authenticate(request=request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier"))
        if not isinstance(user, User):
            raise sso.SsoRefused(unreachable(), "no account came of the provider's answer")
        return user

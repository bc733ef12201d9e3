"""The second step of a sign-in, enrolment, and each user's own sign-in security page (accounts/mfa.py).

The second step (a code, a security key, or enrolment for a user with no factor yet) is open to a
session that passed its password only; everything else here needs the second factor passed.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tracecenter.accounts import mfa, sessions
from tracecenter.accounts.second_factor import second_factor_method, second_factor_passed
from tracecenter.core.errors import DomainError
from tracecenter.workspace.views.common import signed_in

CHALLENGE = "_tracecenter_webauthn_challenge"
CHALLENGE_SECONDS = 5 * 60
# A registration or sign-in answer from a browser is a few kilobytes.
MAX_JSON_BODY = mfa.MAX_CREDENTIAL_JSON + 1024


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=40, strip=True)


# --- helpers -----------------------------------------------------------------------------------------


def _next(request: HttpRequest) -> str:
    """Where to go after the second step: the page asked for, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("workspace:my_work")


def _pass(request: HttpRequest, method: str) -> None:
    """Mark the session as past its second factor, under a new session key (its privileges just grew)."""
    old_key = request.session.session_key
    request.session.cycle_key()
    sessions.session_rekeyed(old_key=old_key, new_key=request.session.session_key)
    second_factor_passed(request.session, method)


def _passed(request: HttpRequest) -> bool:
    return second_factor_method(request.session) is not None


def _relying_party(request: HttpRequest) -> tuple[str, str]:
    """The WebAuthn relying party id (a host name) and the origin the browser reports."""
    host = request.get_host()
    name = host.rsplit("]", 1)[0] + "]" if host.startswith("[") else host.rsplit(":", 1)[0]
    return settings.WEBAUTHN_RP_ID or name, f"{request.scheme}://{host}"


def _keep_challenge(request: HttpRequest, purpose: str, challenge: bytes) -> None:
    request.session[CHALLENGE] = {"purpose": purpose, "challenge": base64.b64encode(challenge).decode(), "at": int(time.time())}


def _take_challenge(request: HttpRequest, purpose: str) -> bytes:
    """The challenge given for `purpose`, once: a second answer to the same challenge is refused."""
    kept = request.session.pop(CHALLENGE, None)
    if not isinstance(kept, dict) or kept.get("purpose") != purpose or int(kept.get("at", 0)) < time.time() - CHALLENGE_SECONDS:
        raise DomainError(_("The security key request has expired: try again."))
    return base64.b64decode(kept["challenge"])


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_JSON_BODY:
        raise DomainError(_("The request is too large."))
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise DomainError(_("The request is not JSON.")) from None
    if not isinstance(data, dict):
        raise DomainError(_("The request is not a JSON object."))
    return data


def _refused(exc: DomainError, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": exc.message}, status=429 if isinstance(exc, mfa.SecondFactorLocked) else status)


def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff"))


# --- the second step ----------------------------------------------------------------------------------


@login_required
@never_cache
def second_factor(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if _passed(request):
        return HttpResponseRedirect(_next(request))
    if not mfa.has_second_factor(user):
        return redirect(reverse("accounts:second_factor_setup") + _query_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            method = mfa.code_check(user=user, code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            _pass(request, method)
            if method == "recovery_code":
                messages.warning(
                    request,
                    _(
                        "You signed in with a recovery code; %(n)d are left. "
                        "Set up your authenticator again on your sign-in security page."
                    )
                    % {"n": mfa.recovery_codes_left(user)},
                )
            return HttpResponseRedirect(_next(request))
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "next": _next(request),
            "has_keys": bool(mfa.security_keys(user)),
            "has_app": mfa.authenticator(user) is not None,
        },
    )


def _query_next(request: HttpRequest) -> str:
    target = request.GET.get("next")
    return (
        "?" + urlencode({"next": target})
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        else ""
    )


@login_required
@never_cache
def second_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: at the first sign-in (no factor yet), or later to replace one.

    With a factor already, only a session past it may set up another: a password alone must never be
    enough to add an attacker's authenticator.
    """
    user = signed_in(request)
    if mfa.has_second_factor(user) and not _passed(request):
        return redirect(reverse("accounts:second_factor") + _query_next(request))
    device = mfa.authenticator_enrolment(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa.authenticator_confirm(actor=user, code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            if not _passed(request):
                _pass(request, "totp")
            if codes:
                return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)})
            messages.success(request, _("Your authenticator app is set up."))
            return HttpResponseRedirect(_next(request))
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "accounts/second_factor_setup.html",
        {
            "form": form,
            "next": _next(request),
            "qr_svg": _qr_svg(device.config_url),
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "first": not mfa.has_second_factor(user),
        },
    )


@login_required
@require_POST
@never_cache
def security_key_challenge(request: HttpRequest) -> JsonResponse:
    """The options for navigator.credentials.get(): the user's registered keys and a fresh challenge."""
    user = signed_in(request)
    if not mfa.security_keys(user):
        return JsonResponse({"detail": _("You have no security key registered.")}, status=400)
    rp_id, _origin = _relying_party(request)
    ceremony = mfa.security_key_challenge(user, rp_id=rp_id)
    _keep_challenge(request, "sign_in", ceremony.challenge)
    return JsonResponse(json.loads(ceremony.options_json))


@login_required
@require_POST
@never_cache
def security_key_check(request: HttpRequest) -> JsonResponse:
    user = signed_in(request)
    rp_id, origin = _relying_party(request)
    try:
        data = _json_body(request)
        challenge = _take_challenge(request, "sign_in")
        mfa.security_key_check(
            user=user, credential_json=json.dumps(data.get("credential")), challenge=challenge, rp_id=rp_id, origin=origin
        )
    except DomainError as exc:
        return _refused(exc)
    _pass(request, "security_key")
    return JsonResponse({"redirect": _next(request)})


# --- the user's own sign-in security --------------------------------------------------------------
# The middleware keeps a session that has not passed its second factor away from these pages.


@login_required
@never_cache
def security(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    return render(
        request,
        "accounts/security.html",
        {
            "app": mfa.authenticator(user),
            "keys": mfa.security_keys(user),
            "codes_left": mfa.recovery_codes_left(user),
            "method": mfa.METHOD_LABELS.get(second_factor_method(request.session) or "", ""),
        },
    )


@login_required
@require_POST
@never_cache
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    codes = mfa.recovery_codes_issue(actor=user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": reverse("accounts:security")})


@login_required
@require_POST
@never_cache
def security_key_options(request: HttpRequest) -> JsonResponse:
    """The options for navigator.credentials.create(): a fresh challenge, the keys already registered excluded."""
    user = signed_in(request)
    rp_id, _origin = _relying_party(request)
    ceremony = mfa.security_key_registration(user, rp_id=rp_id)
    _keep_challenge(request, "register", ceremony.challenge)
    return JsonResponse(json.loads(ceremony.options_json))


@login_required
@require_POST
@never_cache
def security_key_add(request: HttpRequest) -> JsonResponse:
    user = signed_in(request)
    rp_id, origin = _relying_party(request)
    try:
        data = _json_body(request)
        challenge = _take_challenge(request, "register")
        key = mfa.security_key_add(
            actor=user,
            name=str(data.get("name") or ""),
            credential_json=json.dumps(data.get("credential")),
            challenge=challenge,
            rp_id=rp_id,
            origin=origin,
        )
    except DomainError as exc:
        return _refused(exc)
    messages.success(request, _("Security key “%(name)s” added.") % {"name": key.name})
    return JsonResponse({"redirect": reverse("accounts:security")})


@login_required
@require_POST
def security_key_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    try:
        mfa.security_key_remove(actor=user, key_id=pk)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Security key removed."))
    return redirect("accounts:security")

"""mozilla-django-oidc's backend, made strict: the ID token verified in full, the account found by its link."""

from __future__ import annotations

from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from tracecenter.accounts.models import User
from tracecenter.accounts.sso.config import (
    SsoRefused,
    SsoUnavailable,
    enabled,
    get_json,
    provider_name,
    setting,
    shown,
    unreachable,
)
from tracecenter.accounts.sso.logout import remember_id_token
from tracecenter.accounts.sso.provisioning import user_for_claims

TOKEN_MAX_CHARS = 64 * 1024  # an ID token is a few kilobytes; anything near this is not one


def _token_refused(reason: str, **values: str) -> SsoRefused:
    """The ID token is not accepted: `reason` (marked with gettext_noop) goes to the trail in English, to the person
    in their language."""
    return SsoRefused(
        _("The answer from %(provider)s could not be trusted: %(why)s. Nothing was changed; start again.")
        % {"provider": provider_name(), "why": _(reason) % values},
        f"ID token refused: {reason % values}",
    )


class SsoBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, answering only the callback of a sign-in started here (sso_views)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django builds every backend for every authenticate(), password sign-ins too: nothing here may reach the
        # provider or need it configured. The library's own set-up runs in authenticate(), for a callback only.
        self.UserModel = get_user_model()

    @staticmethod
    def get_settings(attr: str, *args: Any) -> Any:
        return setting(attr, *args)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or not enabled() or set(kwargs) != {"nonce", "code_verifier"}:
            return None
        try:
            OIDCAuthenticationBackend.__init__(self)
        except SsoUnavailable as exc:
            raise SsoRefused(unreachable(), f"provider configuration unavailable: {exc}") from None
        try:
            user: User | None = super().authenticate(request, **kwargs)
        except requests.RequestException as exc:
            status = getattr(exc.response, "status_code", None)
            raise SsoRefused(
                unreachable(), f"the provider's answer failed: {type(exc).__name__}{f' {status}' if status else ''}"
            ) from None
        return user

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        token_info = super().get_token(payload)
        if not isinstance(token_info, dict):
            raise SsoRefused(unreachable(), "the token endpoint's answer is not a JSON object")
        return token_info

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        """The ID token's claims, once everything OpenID Connect Core 3.1.3.7 asks of a client holds."""
        if not isinstance(token, str) or not token or len(token) > TOKEN_MAX_CHARS:
            raise _token_refused(gettext_noop("no usable ID token"))
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _token_refused(gettext_noop("it is malformed")) from None
        algorithm = header.get("alg")
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise _token_refused(
                gettext_noop("it is signed with %(used)s, not %(expected)s"),
                used=shown(algorithm),
                expected=self.OIDC_RP_SIGN_ALGO,
            )
        key = self._signing_key(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            raise _token_refused(gettext_noop("its signature does not verify")) from None
        except jwt.ExpiredSignatureError:
            raise _token_refused(gettext_noop("it has expired")) from None
        except jwt.InvalidAudienceError:
            raise _token_refused(gettext_noop("it was issued to another application")) from None
        except jwt.InvalidIssuerError:
            raise _token_refused(gettext_noop("it comes from another issuer")) from None
        except jwt.MissingRequiredClaimError as exc:
            raise _token_refused(gettext_noop("it lacks the claim %(claim)s"), claim=shown(exc.claim)) from None
        except jwt.ImmatureSignatureError:
            raise _token_refused(gettext_noop("it is dated in the future")) from None
        except jwt.PyJWTError as exc:
            raise _token_refused(gettext_noop("it is invalid (%(error)s)"), error=type(exc).__name__) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise _token_refused(gettext_noop("it was authorized for another application"))
        nonce = kwargs.get("nonce")
        if not nonce or claims.get("nonce") != nonce:
            raise _token_refused(gettext_noop("its nonce is not the one this sign-in sent"))
        required_amr = settings.OIDC_REQUIRED_AMR
        if required_amr:
            amr = claims.get("amr")
            if not (isinstance(amr, list) and required_amr in amr):
                raise SsoRefused(
                    _("This sign-in at %(provider)s did not use multi-factor authentication, which TraceCenter requires.")
                    % {"provider": provider_name()},
                    f"the ID token's amr lacks {shown(required_amr)}",
                    subject=claims["sub"] if isinstance(claims.get("sub"), str) else "",
                )
        return claims

    def _signing_key(self, header: dict[str, Any]) -> Any:
        try:
            key_set = get_json(self.OIDC_OP_JWKS_ENDPOINT)
        except (requests.RequestException, ValueError) as exc:
            raise SsoRefused(unreachable(), f"the provider's keys could not be read: {type(exc).__name__}") from None
        keys = key_set.get("keys") if isinstance(key_set, dict) else None
        kid = header.get("kid")
        for jwk in keys if isinstance(keys, list) else []:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            if (kid is not None and jwk.get("kid") != kid) or jwk.get("alg", header["alg"]) != header["alg"]:
                continue
            try:
                return jwt.PyJWK(jwk, algorithm=header["alg"]).key
            except jwt.PyJWTError:
                continue
        raise _token_refused(gettext_noop("it is signed with a key the provider does not publish"))

    def get_userinfo(self, access_token: str | None, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The ID token's claims, completed by the userinfo endpoint's (the signed token wins where both speak)."""
        claims = dict(payload)
        if not self.OIDC_OP_USER_ENDPOINT or not access_token:
            return claims
        response = requests.get(
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=settings.OIDC_TIMEOUT,
        )
        response.raise_for_status()
        if not response.headers.get("content-type", "").lower().startswith("application/json"):
            raise SsoRefused(unreachable(), "the userinfo answer is not JSON (signed userinfo is not supported)")
        info = response.json()
        # OpenID Connect Core 5.3.2: userinfo about someone else must not be used.
        if not isinstance(info, dict) or info.get("sub") != payload.get("sub"):
            raise _token_refused(gettext_noop("the userinfo answer is about another subject"))
        for name, value in info.items():
            claims.setdefault(name, value)
        return claims

    def get_or_create_user(self, access_token: str | None, id_token: str, payload: dict[str, Any]) -> User:
        claims = self.get_userinfo(access_token, id_token, payload)
        user = user_for_claims(issuer=settings.OIDC_ISSUER, claims=claims)
        # Kept for signing out at the provider (an id_token_hint); encrypted, as it names the person.
        remember_id_token(self.request.session, id_token)
        return user

    def get_user(self, user_id: Any) -> User | None:
        # The library's get_user returns deactivated users too; Django's refuses them, so their sessions end.
        user: User | None = ModelBackend.get_user(self, user_id)
        return user

    def store_tokens(self, access_token: str | None, id_token: str | None) -> None:
        """Nothing is kept before the account is settled (get_or_create_user keeps the ID token, encrypted)."""

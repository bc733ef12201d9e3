"""Single sign-on's configuration: whether it is on, the provider's endpoints (discovered, cached), the start-up checks,
and the refusal every part of it raises."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.utils.translation import gettext as _
from mozilla_django_oidc.utils import import_from_settings

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Role

DOCUMENT_MAX_BYTES = 1024 * 1024  # discovery documents and key sets read from the provider
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_SHOWN_CHARS = 40  # how much of a claim value the audit trail keeps


class SsoRefused(Exception):
    """A single sign-on that is refused: `message` for the person, `reason` (English, no personal data) for the trail.

    `account` is the account the sign-in aimed at when it is known, `jurisdiction_id` where the refusal is audited
    (the account's jurisdiction, else the one the claims name if it exists), `subject` the provider's identifier as
    received (shown shortened in the trail).
    """

    def __init__(
        self,
        message: str,
        reason: str,
        *,
        account: User | None = None,
        jurisdiction_id: int | None = None,
        subject: str = "",
    ) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason
        self.account = account
        self.jurisdiction_id = jurisdiction_id if jurisdiction_id is not None or account is None else account.jurisdiction_id
        self.subject = subject


class SsoUnavailable(Exception):
    """The provider's configuration could not be read (its discovery document is unreachable or wrong)."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


def provider_name() -> str:
    return str(settings.OIDC_PROVIDER_NAME)


def shown(value: object) -> str:
    """A claim value for the trail or a message: shortened, control and invisible characters shown as "?"."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


@dataclasses.dataclass(frozen=True)
class Endpoints:
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str  # "" when the provider has none: the ID token's claims are then all there is
    jwks_uri: str
    end_session_endpoint: str  # "" when the provider offers no RP-initiated logout


_EXPLICIT = {
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
    "end_session_endpoint": "OIDC_OP_END_SESSION_ENDPOINT",
}
_REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def acceptable_url(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine (a provider run beside TraceCenter, as the tests do)."""
    parts = urlsplit(url)
    return bool(parts.netloc) and (parts.scheme == "https" or (parts.scheme == "http" and _loopback(url)))


def get_json(url: str) -> Any:
    """A JSON document from the provider, read up to DOCUMENT_MAX_BYTES."""
    with requests.get(url, timeout=settings.OIDC_TIMEOUT, stream=True, headers={"Accept": "application/json"}) as response:
        response.raise_for_status()
        body = response.raw.read(DOCUMENT_MAX_BYTES + 1, decode_content=True)
    if len(body) > DOCUMENT_MAX_BYTES:
        raise ValueError(f"the document at {url} is larger than {DOCUMENT_MAX_BYTES} bytes")
    return json.loads(body)


def _discover(issuer: str) -> dict[str, Any]:
    key = "tracecenter:oidc-discovery:" + hashlib.sha256(issuer.encode()).hexdigest()[:32]
    cached = cache.get(key)
    if isinstance(cached, dict):
        return cached
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = get_json(url)
    except (requests.RequestException, ValueError) as exc:
        raise SsoUnavailable(f"the discovery document of {issuer} could not be read: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise SsoUnavailable(f"the discovery document of {issuer} is not a JSON object")
    # OpenID Connect Discovery 4.3: the issuer it names must be the one asked, exactly, or its tokens would not verify.
    if document.get("issuer") != issuer:
        raise SsoUnavailable(f"the discovery document of {issuer} names another issuer")
    cache.set(key, document, settings.OIDC_DISCOVERY_CACHE_SECONDS)
    return document


def endpoints() -> Endpoints:
    """The provider's endpoints: those set explicitly, the rest from its discovery document (cached)."""
    values = {name: str(getattr(settings, setting_name, "") or "") for name, setting_name in _EXPLICIT.items()}
    if not all(values[name] for name in _REQUIRED):
        document = _discover(settings.OIDC_ISSUER)
        for name in values:
            found = document.get(name)
            if not values[name] and isinstance(found, str):
                values[name] = found
    for name, url in values.items():
        if not url and name in _REQUIRED:
            raise SsoUnavailable(f"the provider publishes no {name}")
        if url and not acceptable_url(url):
            raise SsoUnavailable(f"the provider's {name} is not an https address")
    return Endpoints(**values)


_MOZILLA_ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def setting(attr: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings reader, with the endpoints resolved by discovery."""
    if attr in _MOZILLA_ENDPOINTS:
        return getattr(endpoints(), _MOZILLA_ENDPOINTS[attr])
    return import_from_settings(attr, *default)


@checks.register(checks.Tags.security)
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """What would make every single sign-on fail, or succeed when it should not, said at start-up."""
    problems: list[checks.CheckMessage] = []
    role_map = settings.OIDC_ROLE_MAP
    if not isinstance(role_map, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in role_map.items()):
        return [checks.Error("OIDC_ROLE_MAP must be a JSON object of provider values to role names.", id="tracecenter.E101")]
    for value, role in role_map.items():
        if role not in Role.values:
            problems.append(
                checks.Error(f"OIDC_ROLE_MAP maps {value!r} to {role!r}, which is not a role.", id="tracecenter.E102")
            )
        elif role == Role.ADMINISTRATOR and not settings.OIDC_ALLOW_ADMINISTRATOR:
            problems.append(
                checks.Warning(
                    f"OIDC_ROLE_MAP maps {value!r} to administrator, but OIDC_ALLOW_ADMINISTRATOR is off: "
                    "such sign-ins are refused.",
                    id="tracecenter.W103",
                )
            )
    if not enabled():
        return problems
    if settings.OIDC_RP_SIGN_ALGO not in ASYMMETRIC:
        problems.append(checks.Error("OIDC_SIGN_ALGO must be an asymmetric algorithm such as RS256.", id="tracecenter.E104"))
    if not settings.OIDC_RP_CLIENT_SECRET:
        problems.append(
            checks.Error("Single sign-on needs OIDC_CLIENT_SECRET (or OIDC_CLIENT_SECRET_FILE).", id="tracecenter.E105")
        )
    if not acceptable_url(settings.OIDC_ISSUER):
        problems.append(checks.Error("OIDC_ISSUER must be an https address.", id="tracecenter.E106"))
    if not role_map:
        problems.append(checks.Error("Single sign-on needs OIDC_ROLE_MAP: no one could be given a role.", id="tracecenter.E107"))
    if not settings.LOCAL_SIGN_IN and not settings.OIDC_ALLOW_ADMINISTRATOR:
        problems.append(
            checks.Warning(
                "LOCAL_SIGN_IN and OIDC_ALLOW_ADMINISTRATOR are both off: no administrator can sign in.",
                hint="Keep password sign-in for administrators, or let the provider name them (docs/sso.md).",
                id="tracecenter.W108",
            )
        )
    return problems


def unusable_answer() -> str:
    return _("%(provider)s answered with an account TraceCenter cannot use. Tell your administrator.") % {
        "provider": provider_name()
    }


def unreachable() -> str:
    return _(
        "TraceCenter could not complete the sign-in with %(provider)s. Try again; if it keeps failing, tell your administrator."
    ) % {"provider": provider_name()}

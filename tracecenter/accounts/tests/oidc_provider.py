"""A small, real OpenID Connect provider for the tests, served over HTTP on a local port in a thread.

It speaks the authorization code flow as a state's provider does (Keycloak, Microsoft Entra ID, Okta):
a discovery document, a key set (JWKS), /authorize that signs in the configured person without a page
and sends the browser back with a code and the state, /token that checks the client's id and secret,
the code, the redirect URI and the PKCE verifier and answers with an RS256 ID token signed by joserfc,
/userinfo for the access token, and /logout (RP-initiated logout). TraceCenter reaches it through
mozilla-django-oidc's own HTTP client (requests), as it would reach the real one.

A test changes what the provider says: the person (`user`), a claim of the ID token (`id_token_changes`,
`REMOVE` to leave one out), the key it signs with (`sign_with`), an error instead of a code (`deny`).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "tracecenter"
CLIENT_SECRET = "s3cret-of-the-test-client"
REMOVE = object()  # in id_token_changes: leave this claim out


@functools.cache
def signing_key(kid: str = "k1") -> RSAKey:
    """An RSA key, made once per test run (making one takes a while)."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


@dataclasses.dataclass
class ProviderUser:
    """The person signed in at the provider, and what it says of them."""

    sub: str = "248289761001"
    claims: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {
            "groups": ["tc-tracers"],
            "jurisdiction": "xs-north",
            "team": "Team A",
            "given_name": "Jane",
            "family_name": "Doe",
            "email": "jane.doe@health.example.gov",
            "preferred_username": "jdoe",
            "amr": ["pwd", "mfa"],
        }
    )
    userinfo_only: frozenset[str] = frozenset()  # claims left out of the ID token, given by /userinfo alone


@dataclasses.dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    challenge_method: str
    user: ProviderUser


class LocalProvider:
    def __init__(self, *, redirect_uris: list[str], post_logout_redirect_uris: list[str]) -> None:
        self.redirect_uris = list(redirect_uris)
        self.post_logout_redirect_uris = list(post_logout_redirect_uris)
        self.user = ProviderUser()
        self.id_token_changes: dict[str, Any] = {}
        self.sign_with: RSAKey | None = None  # another key than the published one
        self.id_token_header: dict[str, Any] | None = None
        self.deny: str | None = None  # an OAuth error code /authorize answers instead of a code
        self.userinfo_sub: str | None = None  # /userinfo speaking of someone else
        self.hits: list[str] = []  # the paths asked, in order
        self.token_requests: list[dict[str, str]] = []
        self.logouts: list[dict[str, str]] = []
        self.issued_id_tokens: list[str] = []
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, ProviderUser] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-provider", daemon=True)

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> LocalProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def issuer(self) -> str:
        return self.url

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "end_session_endpoint": f"{self.url}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    # --- the endpoints -----------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or redirect_uri not in self.redirect_uris:
            # Never redirect to an address not registered: answer here.
            return 400, {}, {"error": "invalid_request", "error_description": "unknown client or redirect_uri"}
        back: dict[str, str] = {"state": query.get("state", "")}
        if self.deny:
            back["error"] = self.deny
        elif query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            back["error"] = "invalid_request"
        elif not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            back["error"] = "invalid_request"  # this provider, like a careful one, insists on PKCE
        else:
            code = secrets.token_urlsafe(24)
            self._grants[code] = _Grant(
                client_id=CLIENT_ID,
                redirect_uri=redirect_uri,
                nonce=query.get("nonce"),
                challenge=query["code_challenge"],
                challenge_method="S256",
                user=dataclasses.replace(self.user, claims=dict(self.user.claims)),
            )
            back["code"] = code
        return 302, {"Location": f"{redirect_uri}?{urlencode(back)}"}, None

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, str], Any]:
        self.token_requests.append(form)
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != CLIENT_ID or not secrets.compare_digest(client_secret, CLIENT_SECRET):
            return 401, {}, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {}, {"error": "unsupported_grant_type"}
        grant = self._grants.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.client_id != client_id or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {}, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or challenge != grant.challenge:
            return 400, {}, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access_token = secrets.token_urlsafe(24)
        self._access[access_token] = grant.user
        id_token = self.id_token(grant.user, nonce=grant.nonce)
        self.issued_id_tokens.append(id_token)
        return 200, {}, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}

    def id_token(self, user: ProviderUser, *, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "auth_time": now,
            **({"nonce": nonce} if nonce is not None else {}),
            **{name: value for name, value in user.claims.items() if name not in user.userinfo_only},
        }
        for name, value in self.id_token_changes.items():
            if value is REMOVE:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.sign_with or signing_key()
        header = self.id_token_header or {"alg": "RS256", "kid": key.kid}
        if header["alg"] == "none":  # an unsigned token (RFC 7519, 6.1), as a hostile provider might send
            return f"{_b64(header)}.{_b64(claims)}."
        if header["alg"] == "garbage":
            return "not-a-token"
        return jwt.encode(header, claims, key)

    def userinfo(self, authorization: str) -> tuple[int, dict[str, str], Any]:
        user = self._access.get(authorization.removeprefix("Bearer ").strip()) if authorization.startswith("Bearer ") else None
        if user is None:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {"error": "invalid_token"}
        return 200, {}, {"sub": self.userinfo_sub or user.sub, **user.claims}

    def logout(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.logouts.append(query)
        target = query.get("post_logout_redirect_uri", "")
        if target in self.post_logout_redirect_uris:
            return 302, {"Location": target}, None
        return 200, {}, {"signed_out": True}


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _handler(provider: LocalProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet in the test output
            pass

        def _answer(self, status: int, headers: dict[str, str], body: Any) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            provider.hits.append(parts.path)
            query = {name: values[0] for name, values in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._answer(200, {}, provider.discovery())
            elif parts.path == "/jwks":
                self._answer(200, {}, {"keys": [signing_key().as_dict(private=False)]})
            elif parts.path == "/authorize":
                self._answer(*provider.authorize(query))
            elif parts.path == "/userinfo":
                self._answer(*provider.userinfo(self.headers.get("Authorization", "")))
            elif parts.path == "/logout":
                self._answer(*provider.logout(query))
            else:
                self._answer(404, {}, {"error": "not_found"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            provider.hits.append(parts.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            if parts.path == "/token":
                self._answer(*provider.token(form, self.headers.get("Authorization", "")))
            else:
                self._answer(404, {}, {"error": "not_found"})

    return Handler


@contextmanager
def running_provider(*, redirect_uris: list[str], post_logout_redirect_uris: list[str]) -> Iterator[LocalProvider]:
    provider = LocalProvider(redirect_uris=redirect_uris, post_logout_redirect_uris=post_logout_redirect_uris).start()
    try:
        yield provider
    finally:
        provider.stop()


def configure(settings: Any, provider: LocalProvider, **overrides: Any) -> None:
    """Point TraceCenter's single sign-on at `provider` (pytest-django's `settings` fixture)."""
    from django.core.cache import cache

    cache.clear()  # the discovery document of an earlier test's provider
    values: dict[str, Any] = {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": "Example State ID",
        "OIDC_ROLE_MAP": {
            "tc-tracers": "contact_tracer",
            "tc-investigators": "case_investigator",
            "tc-supervisors": "supervisor",
            "tc-admins": "administrator",
        },
        "OIDC_ALLOW_ADMINISTRATOR": False,
        "OIDC_REQUIRED_AMR": "",
        "LOCAL_SIGN_IN": True,
        **overrides,
    }
    for name, value in values.items():
        setattr(settings, name, value)

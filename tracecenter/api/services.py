"""Making, checking and revoking personal API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils.translation import gettext as _

from tracecenter.accounts.models import User
from tracecenter.api.models import ApiToken
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock
from tracecenter.core.errors import DomainError

TOKEN_PREFIX = "tc_"  # noqa: S105 -- the mark every token starts with, not a token
MAX_TOKEN_LENGTH = 200
DEFAULT_LIFETIME_DAYS = 90
# How stale `last_used_at` may get before a request refreshes it (a write on every call would be wasteful).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    """The stored form of a token. Tokens carry 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def api_token_create(
    *, actor: User | None, user: User, name: str, days: int | None = DEFAULT_LIFETIME_DAYS
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the token, which is never stored or shown again."""
    name = " ".join(name.split())
    if not name:
        raise DomainError(_("Name the token."), field="name")
    if len(name) > 100:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": 100}, field="name")
    if not user.is_active:
        raise DomainError(_("This user is not active."), field="user")
    if days is not None and days <= 0:
        raise DomainError(_("Give a lifetime of at least one day."), field="days")
    if ApiToken.objects.filter(user=user, name=name, revoked=False).exists():
        raise DomainError(_("This user already has an active token with this name."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_token(raw),
        expires_at=clock.now() + dt.timedelta(days=days) if days is not None else None,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="api_token",
        object_id=token.pk,
        jurisdiction_id=user.jurisdiction_id,
        fields=["name", "expires_at"],
        detail=f"for user {user.pk}",
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    if not token.revoked:
        token.revoked = True
        token.save(update_fields=["revoked"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="api_token",
            object_id=token.pk,
            jurisdiction_id=token.user.jurisdiction_id,
            fields=["revoked"],
            detail=f"for user {token.user_id}",
        )
    return token


def api_token_known(raw: str) -> ApiToken | None:
    """The token `raw` is, whatever its state (revoked, expired): for the trail of a refused call, never to let one in."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.startswith(TOKEN_PREFIX):
        return None
    return ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()


def api_token_user(raw: str) -> User | None:
    """The active user holding the valid, unexpired, unrevoked token `raw`, or None."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    # The lookup is by hash; comparing again in constant time keeps timing from telling anything.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    now = clock.now()
    if token.revoked or (token.expires_at is not None and token.expires_at <= now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user

"""Making, checking, limiting and revoking personal API tokens, and counting their use."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import User
from tracecenter.api import scopes as token_scopes
from tracecenter.api.models import ApiToken, ApiTokenUse
from tracecenter.api.scopes import TokenScope
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, ratelimit
from tracecenter.core.errors import DomainError

TOKEN_PREFIX = "tc_"  # noqa: S105 -- the mark every token starts with, not a token
MAX_TOKEN_LENGTH = 200
MAX_NAME_LENGTH = 100
# A token's own limit may be set this high at most (about 100 requests a second); the default is far below.
MAX_RATE_PER_MINUTE = 6000
RATE_WINDOW_SECONDS = 60
# How stale `last_used_at` may get before a request refreshes it (a write on every call would be wasteful).
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    """The stored form of a token. Tokens carry 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def max_days() -> int:
    return int(settings.API_TOKEN_MAX_DAYS)


def default_days() -> int:
    return int(settings.API_TOKEN_DEFAULT_DAYS)


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise DomainError(_("Name the token."), field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_NAME_LENGTH}, field="name")
    if not name.isprintable():
        raise DomainError(_("The name may not contain control characters."), field="name")
    return name


def _clean_scopes(user: User, requested: Iterable[str]) -> frozenset[TokenScope]:
    if isinstance(requested, str):  # "read write", as the scopes are written
        requested = requested.split()
    words = [word for word in (str(item).strip().lower() for item in requested) if word]
    if not words:
        raise DomainError(_("Choose at least one scope: read, write or ingest."), field="scopes")
    known = set(TokenScope.values)
    for word in words:
        if word not in known:
            shown = word if len(word) <= 40 else word[:40] + "…"
            raise DomainError(
                _("“%(scope)s” is not a scope: choose among read, write and ingest.") % {"scope": shown}, field="scopes"
            )
    chosen = frozenset(TokenScope(word) for word in words)
    usable = token_scopes.usable_by(user)
    for scope in TokenScope:
        if scope in chosen and scope not in usable:
            raise DomainError(
                _("The role of this user cannot use the %(scope)s scope: a token with it would do nothing.")
                % {"scope": scope.value},
                field="scopes",
            )
    return chosen


def _clean_days(days: object) -> int:
    if days is None:
        raise DomainError(
            _("Every API token expires: give its lifetime in days (at most %(n)d).") % {"n": max_days()}, field="days"
        )
    if isinstance(days, bool) or not isinstance(days, int):
        raise DomainError(_("Give the lifetime as a whole number of days."), field="days")
    if days < 1:
        raise DomainError(_("Give a lifetime of at least one day."), field="days")
    if days > max_days():
        raise DomainError(
            _("A token may live at most %(n)d days (API_TOKEN_MAX_DAYS): make a new one when it expires.") % {"n": max_days()},
            field="days",
        )
    return days


def _clean_rate(rate_per_minute: object) -> int | None:
    if rate_per_minute is None:
        return None
    if (
        isinstance(rate_per_minute, bool)
        or not isinstance(rate_per_minute, int)
        or not 1 <= rate_per_minute <= MAX_RATE_PER_MINUTE
    ):
        raise DomainError(
            _("Give a limit between 1 and %(n)d requests a minute.") % {"n": MAX_RATE_PER_MINUTE}, field="rate_per_minute"
        )
    return rate_per_minute


@transaction.atomic
def api_token_create(
    *,
    actor: User | None,
    user: User,
    name: str,
    scopes: Iterable[str],
    days: int | None,
    rate_per_minute: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the row and the token, which is never stored or shown again.

    `actor` is the user themself (their API tokens page), or None for the operator's command: a token
    is a personal credential, so nobody makes one for someone else. Every token has scopes its holder's
    role can use and expires within API_TOKEN_MAX_DAYS.
    """
    if actor is not None and actor.pk != user.pk:
        raise PermissionDenied
    name = _clean_name(name)
    if not user.is_active:
        raise DomainError(_("This user is not active."), field="user")
    chosen = _clean_scopes(user, scopes)
    lifetime = _clean_days(days)
    rate = _clean_rate(rate_per_minute)
    if ApiToken.objects.filter(user=user, name=name, revoked=False).exists():
        raise DomainError(_("This user already has an active token with this name."), field="name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_token(raw),
        scopes=token_scopes.stored(chosen),
        expires_at=clock.now() + dt.timedelta(days=lifetime),
        rate_per_minute=rate,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="api_token",
        object_id=token.pk,
        jurisdiction_id=user.jurisdiction_id,
        fields=["name", "scopes", "expires_at"] + (["rate_per_minute"] if rate is not None else []),
        detail=f"for user {user.pk}, scopes {token.scopes}, {lifetime} days",
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    """Stop `token` at once. By its holder, an administrator of the holder's jurisdiction, or the operator (None)."""
    if actor is not None and not policy.may_manage_credentials(actor, token.user):
        raise PermissionDenied
    if not token.revoked:
        token.revoked = True
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked", "revoked_at"])
        by = "its holder" if actor is not None and actor.pk == token.user_id else "an administrator" if actor else "the operator"
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="api_token",
            object_id=token.pk,
            jurisdiction_id=token.user.jurisdiction_id,
            fields=["revoked"],
            detail=f"for user {token.user_id}, revoked by {by}",
        )
    return token


@dataclasses.dataclass(frozen=True)
class TokenLookup:
    """What a presented token is: the row (whatever its state) and, when it lets nobody in, why."""

    token: ApiToken | None
    refusal: str = ""  # "" when valid; else "unknown", "revoked", "expired" or "holder inactive"

    @property
    def user(self) -> User | None:
        return self.token.user if self.token is not None and not self.refusal else None


def api_token_lookup(raw: str) -> TokenLookup:
    """The token `raw` is, and whether it may be used now: unrevoked, unexpired, its holder active."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.startswith(TOKEN_PREFIX):
        return TokenLookup(None, "unknown")
    digest = hash_token(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    # The lookup is by hash; comparing again in constant time keeps timing from telling anything.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return TokenLookup(None, "unknown")
    if token.revoked:
        return TokenLookup(token, "revoked")
    if token.expired():
        return TokenLookup(token, "expired")
    if not token.user.is_active:
        return TokenLookup(token, "holder inactive")
    return TokenLookup(token)


def api_token_throttle(token: ApiToken) -> int | None:
    """Count one request of `token` against its limit a minute; the seconds to wait when it is over, else None.

    The count is shared by every process (core/ratelimit.py). The first request refused in a window is
    written to the audit trail; the rest of that window's refusals are counted on the token's use, not
    audited one by one (a runaway script would otherwise fill the trail).
    """
    limit = token.rate_limit
    # Keyed by the token's hash, not its id: ids are reused by another database (a restore, a test run) sharing Redis.
    window = ratelimit.take(f"api-token:rate:{token.token_hash}", RATE_WINDOW_SECONDS)
    if window.attempts <= limit:
        return None
    if window.attempts == limit + 1:
        audit_record(
            actor=token.user,
            action=Action.DENIED,
            object_type="api_token",
            object_id=token.pk,
            jurisdiction_id=token.user.jurisdiction_id,
            detail=f"rate limit: over {limit} requests a minute, refused for {window.resets_in} s",
        )
    return window.resets_in


def api_token_refuse_scope(token: ApiToken, needed: TokenScope, endpoint: str) -> None:
    """A call the token's scopes do not cover: written to the audit trail under the holder's jurisdiction."""
    audit_record(
        actor=token.user,
        action=Action.DENIED,
        object_type="api_token",
        object_id=token.pk,
        jurisdiction_id=token.user.jurisdiction_id,
        detail=f"scope {needed.value} missing for {endpoint} (token has {token.scopes})",
    )


def api_token_use_record(*, token: ApiToken, address: str | None, refused: bool) -> None:
    """Count one request of `token` for today, refused or not; note when and from where it was last let in.

    One upsert a request, atomic on SQLite and PostgreSQL alike; the token's own row is written at most
    once a minute, or when the address changes.
    """
    now = clock.now()
    table = connection.ops.quote_name(ApiTokenUse._meta.db_table)
    sql = (
        f"INSERT INTO {table} (token_id, day, requests, refusals) VALUES (%s, %s, 1, %s) "  # noqa: S608 (quoted identifier only)
        f"ON CONFLICT (token_id, day) DO UPDATE SET "
        f"requests = {table}.requests + 1, refusals = {table}.refusals + excluded.refusals"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [token.pk, connection.ops.adapt_datefield_value(clock.today()), 1 if refused else 0])
    if refused:
        return
    address = (address or "")[:45]
    stale = token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    if stale or token.last_used_from != address:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_from=address)
        token.last_used_at, token.last_used_from = now, address

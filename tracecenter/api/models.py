"""Personal API tokens: the key for scripts and integrations that cannot hold a session."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tracecenter.api import scopes as token_scopes
from tracecenter.api.scopes import TokenScope
from tracecenter.core import clock


class ApiToken(models.Model):
    """A bearer token of one user. Only the SHA-256 hash of the token is stored.

    The token itself is shown once, when it is made; a lost token is revoked and
    replaced, never recovered. It serves only the scopes it carries, never more than
    its holder's role allows, until it expires (every token does) or is revoked.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The scopes' names separated by spaces ("read write"), as OAuth writes them: see api/scopes.py.
    scopes = models.CharField(_("scopes"), max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    # Requests a minute; empty: API_TOKEN_RATE_PER_MINUTE.
    rate_per_minute = models.PositiveIntegerField(_("requests per minute"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_from = models.CharField(max_length=45, blank=True, default="")  # the client address, as the audit keeps it
    revoked = models.BooleanField(_("revoked"), default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], condition=Q(revoked=False), name="api_token_active_name_unique"),
            models.CheckConstraint(condition=~Q(scopes=""), name="api_token_has_a_scope"),
        ]

    def __str__(self) -> str:
        return f"API token {self.name!r} of user {self.user_id}"

    @property
    def scope_set(self) -> frozenset[TokenScope]:
        return token_scopes.parse(self.scopes)

    def has_scope(self, scope: TokenScope) -> bool:
        return scope in self.scope_set

    def scope_labels(self) -> list[str]:
        return [scope.value for scope in TokenScope if scope in self.scope_set]

    @property
    def rate_limit(self) -> int:
        return self.rate_per_minute or settings.API_TOKEN_RATE_PER_MINUTE

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at <= (now or clock.now())

    @property
    def usable(self) -> bool:
        """Neither revoked nor expired (its holder's account is asked apart)."""
        return not self.revoked and not self.expired()


class ApiTokenUse(models.Model):
    """How much one token was used on one day, and how often it was refused: for its holder and their administrators.

    One row per token and day, counted by a single upsert per request (api/services.py); the
    audit trail keeps what was read, this keeps how much and whether it was let in.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="uses")
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    # Requests refused before or by the endpoint: token expired or revoked, scope missing, role, rate limit.
    refusals = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["token", "-day"]
        constraints = [models.UniqueConstraint(fields=["token", "day"], name="api_token_use_one_per_day")]

    def __str__(self) -> str:
        return f"token {self.token_id} on {self.day}: {self.requests} requests, {self.refusals} refused"

"""Personal API tokens: the key for scripts and integrations that cannot hold a session."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A bearer token of one user. Only the SHA-256 hash of the token is stored.

    The token itself is shown once, when it is made; a lost token is revoked and
    replaced, never recovered.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        ordering = ["user", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], condition=Q(revoked=False), name="api_token_active_name_unique"),
        ]

    def __str__(self) -> str:
        return f"API token {self.name!r} of user {self.user_id}"

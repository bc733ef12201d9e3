"""For the navigation: whether a user's role has any use for an API token (then the "API tokens" link shows)."""

from __future__ import annotations

from django import template

from tracecenter.accounts.models import Viewer
from tracecenter.api import scopes as token_scopes

register = template.Library()


@register.filter
def may_hold_api_tokens(user: Viewer) -> bool:
    return bool(token_scopes.usable_by(user))

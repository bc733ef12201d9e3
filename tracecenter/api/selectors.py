"""Which persons and lab results a user may see through the API.

Cases and contacts have their own selectors; persons and lab results follow them:
a person is visible with a visible case or contact of theirs, or, neither yet, to whoever entered
them (`contacts.persons.persons_visible_to`, shared with the pages).

And the API tokens a user sees: their own, and, for an administrator, those of the accounts of
their jurisdiction and below, each with its use of the last USE_DAYS days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import F, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from tracecenter.accounts import policy
from tracecenter.accounts.models import User, Viewer
from tracecenter.api.models import ApiToken, ApiTokenUse
from tracecenter.contacts.persons import persons_visible_to
from tracecenter.core import clock
from tracecenter.intake.models import LabResult


def lab_results_visible_to(user: Viewer) -> QuerySet[LabResult]:
    return LabResult.objects.filter(person_id__in=persons_visible_to(user).values("pk"))


# API tokens -------------------------------------------------------------------

USE_DAYS = 30


def _use_since() -> dt.date:
    return clock.today() - dt.timedelta(days=USE_DAYS - 1)


def _with_recent_use(tokens: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
    """Each token with `requests_recent` and `refusals_recent`: its counts of the last USE_DAYS days, in the same query."""
    recent = Q(uses__day__gte=_use_since())
    return tokens.annotate(
        requests_recent=Coalesce(Sum("uses__requests", filter=recent), 0, output_field=IntegerField()),
        refusals_recent=Coalesce(Sum("uses__refusals", filter=recent), 0, output_field=IntegerField()),
    )


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's own tokens, those that still work first, newest first."""
    return _with_recent_use(ApiToken.objects.filter(user=user)).order_by("revoked", "-created_at", "-pk")


def api_tokens_administered_by(user: Viewer, *, usable_only: bool = True) -> QuerySet[ApiToken]:
    """The tokens of the accounts `user` administers (their jurisdiction and below), last used first."""
    tokens = policy.administered(
        ApiToken.objects.select_related("user", "user__jurisdiction"), user, jurisdiction_field="user__jurisdiction"
    )
    if usable_only:
        tokens = tokens.filter(revoked=False, expires_at__gt=clock.now())
    # Never-used tokens last, on PostgreSQL as on SQLite (which differ on where NULL sorts).
    return _with_recent_use(tokens).order_by(F("last_used_at").desc(nulls_last=True), "-created_at", "-pk")


def api_token_use_by_day(tokens: Sequence[ApiToken]) -> dict[int, list[ApiTokenUse]]:
    """The days of the last USE_DAYS on which each of `tokens` was used, newest first: one query for them all."""
    days: dict[int, list[ApiTokenUse]] = defaultdict(list)
    rows = ApiTokenUse.objects.filter(token_id__in=[t.pk for t in tokens], day__gte=_use_since()).order_by("token_id", "-day")
    for row in rows:
        days[row.token_id].append(row)
    return dict(days)

"""Identity reviews and merges a user may see: their jurisdiction's, with the review capability."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.roles import Capability
from tracecenter.people.models import MatchReview, PersonMerge


def match_reviews_visible_to(user: Any) -> QuerySet[MatchReview]:
    if not getattr(user, "is_authenticated", False) or not user.has_capability(Capability.REVIEW_MATCHES):
        return MatchReview.objects.none()
    return MatchReview.objects.filter(policy.jurisdiction_q(user)).select_related("incoming", "candidate")


def merges_visible_to(user: Any) -> QuerySet[PersonMerge]:
    if not getattr(user, "is_authenticated", False) or not user.has_capability(Capability.REVIEW_MATCHES):
        return PersonMerge.objects.none()
    return PersonMerge.objects.filter(policy.jurisdiction_q(user, "survivor__jurisdiction"))

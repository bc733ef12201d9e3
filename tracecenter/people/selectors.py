"""Identity reviews and merges a user may see: their jurisdiction's, with the review capability."""

from __future__ import annotations

from django.db.models import QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.people.models import MatchReview, PersonMerge


def match_reviews_visible_to(user: Viewer) -> QuerySet[MatchReview]:
    if not policy.has(user, Capability.REVIEW_MATCHES):
        return MatchReview.objects.none()
    return MatchReview.objects.filter(policy.jurisdiction_q(user)).select_related("incoming", "candidate")


def merges_visible_to(user: Viewer) -> QuerySet[PersonMerge]:
    if not policy.has(user, Capability.REVIEW_MATCHES):
        return PersonMerge.objects.none()
    return PersonMerge.objects.filter(policy.jurisdiction_q(user, "survivor__jurisdiction"))

"""Identity reviews and merges a user may see, and which side of each: the access policy decides.

A review is listed in the jurisdiction it was routed to (one that covers both records); each
row comes annotated by the policy with which of its records the user may see and whether they
may decide it (`policy.identity_decisions`).
"""

from __future__ import annotations

from django.db.models import QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.people.models import MatchReview, PersonMerge

REVIEW_SIDES = {"incoming": "incoming__jurisdiction", "candidate": "candidate__jurisdiction"}
MERGE_SIDES = {"survivor": "survivor__jurisdiction", "merged": "merged__jurisdiction"}


def match_reviews_visible_to(user: Viewer) -> QuerySet[MatchReview]:
    reviews = policy.identity_decisions(MatchReview.objects.all(), user, sides=REVIEW_SIDES, routed="jurisdiction")
    return reviews.select_related("incoming__jurisdiction", "candidate__jurisdiction")


def merges_visible_to(user: Viewer) -> QuerySet[PersonMerge]:
    return policy.identity_decisions(PersonMerge.objects.all(), user, sides=MERGE_SIDES)

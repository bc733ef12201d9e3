"""Reads of contacts and places, always through the access policy."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import User, Viewer
from tracecenter.contacts.models import Exposure, ExposureStatus


def exposure_assigned_to(user: User) -> Q:
    """The tracer following the contact, the investigator who owns its case, the follower of its parent contact."""
    return Q(owner=user.pk) | Q(case__owner=user.pk) | Q(parent_exposure__owner=user.pk)


def case_linked_to(user: User) -> Q:
    """A case whose contact `user` follows: they see it through that contact, in part (`policy.Act.SEE_LINKED`)."""
    return Q(exposures__owner=user.pk)


def exposures_visible_to(user: Viewer) -> QuerySet[Exposure]:
    return policy.permitted(Exposure.objects.all(), user, policy.Act.READ)


def my_open_exposures(user: Viewer) -> QuerySet[Exposure]:
    return (
        Exposure.objects.filter(owner=user.pk)
        .exclude(status__in=[ExposureStatus.BECAME_CASE, ExposureStatus.RELEASED])
        .filter(policy.jurisdiction_q(user))
        .select_related("person")
        .order_by("quarantine_end", "pk")
    )

"""Reads of contacts and places, always through the access policy."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.contacts.models import Exposure, ExposureStatus


def exposures_visible_to(user: Viewer) -> QuerySet[Exposure]:
    assigned = Q()
    if getattr(user, "is_authenticated", False):
        # The tracer following the contact, and the investigator who holds the source case.
        assigned = Q(owner=user.pk) | Q(case__owner=user.pk) | Q(parent_exposure__owner=user.pk)
    return policy.scope(Exposure.objects.all(), user, assigned=assigned)


def my_open_exposures(user: Viewer) -> QuerySet[Exposure]:
    return (
        Exposure.objects.filter(owner=user.pk)
        .exclude(status__in=[ExposureStatus.BECAME_CASE, ExposureStatus.RELEASED])
        .filter(policy.jurisdiction_q(user))
        .select_related("person")
        .order_by("quarantine_end", "pk")
    )

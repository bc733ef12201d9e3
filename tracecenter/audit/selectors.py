"""Reads of the audit trail."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User, Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.core import clock


def audit_entries_visible_to(user: Viewer) -> QuerySet[AuditEntry]:
    """The entries of the auditor's jurisdiction and everything below it, newest first."""
    require_audited(user, Capability.VIEW_AUDIT, object_type="audit_log")
    auditor = policy.signed_in(user)
    if auditor is None or auditor.jurisdiction is None:
        raise PermissionDenied
    subtree = Jurisdiction.objects.filter(path__startswith=auditor.jurisdiction.path).values("pk")
    return AuditEntry.objects.filter(jurisdiction_id__in=subtree).order_by("-at", "-pk")


def access_review(viewer: Viewer, *, days: int = 30) -> QuerySet[User]:
    """Every account of the viewer's jurisdiction and below, with its recent reads and refusals (the periodic review)."""
    reviewer = policy.signed_in(viewer)
    if reviewer is None or reviewer.jurisdiction is None or not reviewer.has_capability(Capability.VIEW_AUDIT):
        return User.objects.none()
    since = clock.now() - dt.timedelta(days=days)
    entries = AuditEntry.objects.filter(actor_id=OuterRef("pk"), at__gte=since)

    def count(action: str) -> Subquery:
        return Subquery(entries.filter(action=action).order_by().values("actor_id").annotate(n=Count("pk")).values("n")[:1])

    return (
        User.objects.filter(jurisdiction__path__startswith=reviewer.jurisdiction.path)
        .select_related("jurisdiction", "team")
        .annotate(reads=Coalesce(count(Action.READ), 0), refusals=Coalesce(count(Action.DENIED), 0))
        .order_by("jurisdiction__path", "username")
    )

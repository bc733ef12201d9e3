"""Reads of the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from tracecenter.accounts.models import Jurisdiction
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import AuditEntry


def audit_entries_visible_to(user: Any) -> QuerySet[AuditEntry]:
    """The entries of the auditor's jurisdiction and everything below it, newest first."""
    require_audited(user, Capability.VIEW_AUDIT, object_type="audit_log")
    if user.jurisdiction is None:
        raise PermissionDenied
    subtree = Jurisdiction.objects.filter(path__startswith=user.jurisdiction.path).values("pk")
    return AuditEntry.objects.filter(jurisdiction_id__in=subtree).order_by("-at", "-pk")

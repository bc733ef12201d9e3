"""Reads of the audit trail."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import AuditEntry


def audit_entries_visible_to(user: Viewer) -> QuerySet[AuditEntry]:
    """The entries of the auditor's jurisdiction and everything below it (`policy.audit_entries_q`), newest first."""
    require_audited(user, Capability.VIEW_AUDIT, object_type="audit_log")
    auditor = policy.signed_in(user)
    if auditor is None or auditor.jurisdiction is None:
        raise PermissionDenied
    return AuditEntry.objects.filter(policy.audit_entries_q(auditor)).order_by("-at", "-pk")

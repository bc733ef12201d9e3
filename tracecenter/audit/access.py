"""Fetching one record for a user: capability, scope, and the audit entry, in one call.

It lives beside the audit trail because every fetch is audited.

Views, the API and exports all fetch records through `get_for`, so a record that
the policy hides cannot be reached by any door, and every read is audited.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record


def audit_denied(user: Viewer, capability: Capability, *, object_type: str, object_id: object = "") -> None:
    """A refusal, in the trail under the refused user's jurisdiction, so their jurisdiction's auditors see it."""
    audit_record(
        actor=user,
        action=Action.DENIED,
        object_type=object_type,
        object_id=object_id,
        jurisdiction_id=getattr(user, "jurisdiction_id", None),
        detail=str(capability),
    )


def require_audited(user: Viewer, capability: Capability, *, object_type: str, object_id: object = "") -> None:
    """`policy.require`, with a refusal written to the audit trail."""
    try:
        policy.require(user, capability)
    except PermissionDenied:
        audit_denied(user, capability, object_type=object_type, object_id=object_id)
        raise


def get_for[M: Model](
    user: Viewer,
    visible: QuerySet[M],
    pk: object,
    *,
    object_type: str,
    capability: Capability = Capability.VIEW_RECORDS,
    audit: bool = True,
) -> M:
    """The row `pk` of `visible` (already scoped to `user`), audited; else 403 for a capability the user lacks,
    and 404 for a record that does not exist or that the user may not see.

    The same 404 for both, so that the answer never tells which ids exist; the trail still records the
    refusal of a record that exists.
    """
    base = visible.model._default_manager
    require_audited(user, capability, object_type=object_type, object_id=pk)
    try:
        obj = visible.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, TypeError):
        if str(pk).isdigit() and base.filter(pk=pk).exists():
            audit_denied(user, capability, object_type=object_type, object_id=pk)
        raise Http404 from None
    # Reads are audited here; writes are audited by the service that makes them, with the fields changed.
    if audit and capability == Capability.VIEW_RECORDS:
        audit_record(
            actor=user,
            action=Action.READ,
            object_type=object_type,
            object_id=obj.pk,
            jurisdiction_id=getattr(obj, "jurisdiction_id", None),
        )
    return obj

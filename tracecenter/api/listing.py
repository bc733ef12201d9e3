"""Paginated, audited lists: the one way the API hands out more than one record."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record


def audited_page[M: Model](
    user: User,
    visible: QuerySet[M],
    *,
    object_type: str,
    page: int,
    page_size: int,
    action: str = Action.READ,
    fields: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One page of `visible` (already scoped to `user`), with one audit entry saying how many records it held."""
    require_audited(user, Capability.VIEW_RECORDS, object_type=object_type)
    count = visible.count()
    start = (page - 1) * page_size
    items = list(visible[start : start + page_size])
    # How many, never which values: the entry is for the trail, the records' own reads are audited when opened.
    audit_record(
        actor=user,
        action=action,
        object_type=object_type,
        jurisdiction_id=user.jurisdiction_id,
        fields=fields,
        detail=f"{len(items)} ids (page {page}, {count} in all)",
    )
    return {"items": items, "count": count, "page": page, "page_size": page_size}

"""Paginated, audited lists: the one way the API hands out more than one record."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record, audit_record_many


def audited_page[M: Model](
    user: User,
    visible: QuerySet[M],
    *,
    object_type: str,
    record_type: str,
    page: int,
    page_size: int,
    action: str = Action.READ,
    fields: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One page of `visible` (already scoped to `user`), audited: which records it held, and how many.

    One entry for the list itself (`object_type`: what was asked, how many came back) and one per
    record returned (`record_type` and its id, under the record's jurisdiction), so that "who saw
    this person" finds an API list or search the same way it finds the opening of the record, and
    the record's own auditors see it. Never values: `fields` names what a search was by.
    """
    require_audited(user, Capability.VIEW_RECORDS, object_type=object_type)
    count = visible.count()
    start = (page - 1) * page_size
    items = list(visible[start : start + page_size])
    audit_record(
        actor=user,
        action=action,
        object_type=object_type,
        jurisdiction_id=user.jurisdiction_id,
        fields=fields,
        detail=f"{len(items)} ids (page {page}, {count} in all)",
    )
    how = "found by an API search" if action == Action.SEARCH else "in an API list"
    audit_record_many(
        actor=user,
        action=action,
        object_type=record_type,
        items=[(item.pk, getattr(item, "jurisdiction_id", None)) for item in items],
        fields=fields,
        detail=f"{how} (page {page})",
    )
    return {"items": items, "count": count, "page": page, "page_size": page_size}

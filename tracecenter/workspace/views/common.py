"""What every screen module shares: the signed-in user, list sizes, the audit of a list read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from tracecenter.accounts.models import User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record, audit_record_many

PAGE_SIZE = 50


def signed_in(request: HttpRequest) -> User:
    """The signed-in user of a view behind login_required."""
    user = request.user
    if not isinstance(user, User):  # never behind login_required; a view without it refuses rather than serves
        raise PermissionDenied
    return user


def htmx_target(request: HttpRequest) -> str:
    """The id of the element an htmx request swaps its answer into; "" for an ordinary request.

    A page that updates a part of itself with htmx asks its own view, which then renders only that part, after the
    same checks and with the same audit as the whole page: there is no other address for the part.
    """
    if request.headers.get("HX-Request") != "true":
        return ""
    return request.headers.get("HX-Target", "")


def render_page_or_part(
    request: HttpRequest, page: str, part: str, part_id: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """`page`, or only `part` when htmx asks for the element `part_id`; the answer varies with those headers."""
    alone = htmx_target(request) == part_id
    response = render(request, part if alone else page, {**context, "htmx_part": alone}, status=status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def audit_list(user: User, object_type: str, ids: list[int], *, records: Sequence[Model] = (), record_type: str = "") -> None:
    """A list read: one entry naming the ids, and, for lists of person records, one entry per record shown.

    The entry per record (`record_type`, under the record's own jurisdiction) is what makes "who saw
    this person" find a list the same way it finds the opening of the record, for its auditors.
    """
    if not ids:
        return
    audit_record(
        actor=user,
        action=Action.READ,
        object_type=object_type,
        detail=("ids " + ",".join(map(str, ids)))[:200],
        jurisdiction_id=user.jurisdiction_id,
    )
    if records and record_type:
        audit_record_many(
            actor=user,
            action=Action.READ,
            object_type=record_type,
            items=[(record.pk, getattr(record, "jurisdiction_id", None)) for record in records],
            detail=f"shown in {object_type}",
        )

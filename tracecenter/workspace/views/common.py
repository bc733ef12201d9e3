"""What every screen module shares: the signed-in user, list sizes, the audit of a list read."""

from __future__ import annotations

from django.http import HttpRequest

from tracecenter.accounts.models import User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record

PAGE_SIZE = 50


def signed_in(request: HttpRequest) -> User:
    """The signed-in user of a view behind login_required."""
    user = request.user
    assert isinstance(user, User), "views that call signed_in are behind login_required"
    return user


def audit_list(user: User, object_type: str, ids: list[int]) -> None:
    """A list of records read is one audit entry naming their ids."""
    if ids:
        audit_record(
            actor=user,
            action=Action.READ,
            object_type=object_type,
            detail=("ids " + ",".join(map(str, ids)))[:200],
            jurisdiction_id=user.jurisdiction_id,
        )

"""The audit trail, for auditors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracecenter.audit.models import Action
from tracecenter.audit.selectors import audit_entries_visible_to
from tracecenter.audit.services import audit_record
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    page = Paginator(audit_entries_visible_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        actor=user,
        action=Action.READ,
        object_type="audit_log",
        detail=f"page {page.number}",
        jurisdiction_id=user.jurisdiction_id,
    )
    return render(request, "workspace/audit_log.html", {"page": page})

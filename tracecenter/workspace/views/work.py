"""My work: the start page of everyone who works on cases and contacts, kept current by live pushes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tracecenter.accounts.roles import Capability, Scope
from tracecenter.cases.models import OPEN_STATUSES
from tracecenter.cases.selectors import my_open_cases
from tracecenter.contacts.persons import persons_of_exposures
from tracecenter.contacts.selectors import my_open_exposures
from tracecenter.core import clock, push
from tracecenter.workspace.views.cases import case_queryset
from tracecenter.workspace.views.common import PAGE_SIZE, audit_list, signed_in

# The parts a live push refreshes: what the browser fetches again, through this same view and its audit.
PARTS = {
    "cases": "workspace/parts/my_cases.html",
    "contacts": "workspace/parts/my_contacts.html",
    "queue": "workspace/parts/queue.html",
}


@login_required
def my_work(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    part = request.GET.get("part")
    if part is not None and part not in PARTS:
        raise Http404
    context: dict[str, Any] = {"scope": user.scope}
    if user.scope == Scope.ASSIGNED:
        if part in (None, "cases"):
            cases = list(my_open_cases(user)[:200])
            audit_list(user, "case_list", [c.pk for c in cases], records=cases, record_type="case")
            context["cases"] = cases
        if part in (None, "contacts"):
            exposures = list(my_open_exposures(user)[:200])
            audit_list(user, "contact_list", [e.pk for e in exposures], records=exposures, record_type="contact")
            context["exposures"] = exposures
            context["contacts_by_person"] = persons_of_exposures(exposures)
    elif user.scope in (Scope.TEAM, Scope.JURISDICTION):
        queue = case_queryset(user).filter(status__in=OPEN_STATUSES).order_by("priority", "owner", "opened_at")
        page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
        audit_list(user, "case_list", [c.pk for c in page.object_list], records=list(page.object_list), record_type="case")
        context.update(page=page, can_assign=user.has_capability(Capability.ASSIGN))
    if part is not None:
        return render(request, PARTS[part], context)
    # Pushes after this moment are replayed to the page when its socket connects, even if they come first.
    context["live_after"] = push.latest_id()
    context["live_since"] = int(clock.now().timestamp() * 1000)
    return render(request, "workspace/my_work.html", context)

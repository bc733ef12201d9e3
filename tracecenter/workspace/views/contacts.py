"""The contact's screens."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracecenter.accounts import policy
from tracecenter.audit.access import get_for
from tracecenter.cases.selectors import cases_permitted
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.people.models import ContactPoint
from tracecenter.workspace.views.common import signed_in


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    visible = exposures_visible_to(user).select_related("person", "case", "parent_exposure", "owner", "rules", "jurisdiction")
    exposure: Exposure = get_for(user, visible, pk, object_type="contact")
    # The case it came from, seen through this contact: its summary (policy.Act.SEE_LINKED), at least.
    case_visible = (
        exposure.case_id is not None and cases_permitted(user, policy.Act.SEE_LINKED).filter(pk=exposure.case_id).exists()
    )
    secondary = list(exposures_visible_to(user).filter(parent_exposure=exposure).select_related("person"))
    phones = [cp for cp in exposure.person.contact_points.all() if cp.kind == ContactPoint.Kind.PHONE]
    return render(
        request,
        "workspace/contact_detail.html",
        {
            "exposure": exposure,
            "person": exposure.person,
            "case_visible": case_visible,
            "secondary": secondary,
            "phones": phones,
        },
    )

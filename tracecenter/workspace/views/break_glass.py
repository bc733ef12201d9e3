"""Breaking the glass: a worker opens a record outside their reach with a reason; the privacy officer reviews.

The grant lets its holder read the record (never change it) for a short while; the policy does the
rest (accounts.policy.permitted). The request page shows only what the user typed and their own
grants; nothing here reveals whether a number exists outside the user's jurisdiction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import AccessGrant
from tracecenter.accounts.roles import Capability
from tracecenter.accounts.selectors import access_grants_of, access_grants_to_review
from tracecenter.accounts.services import BREAK_GLASS_MINUTES, access_grant_break_glass, access_grant_review
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.workspace.form_limits import SaysItsLimits
from tracecenter.workspace.views.common import PAGE_SIZE, audit_list, signed_in

# What can be opened, and the page that shows it.
OPENABLE = {
    "cases.case": (gettext_lazy("Case"), "workspace:case_detail"),
    "contacts.exposure": (gettext_lazy("Contact"), "workspace:contact_detail"),
}


def _named(grants: Iterable[AccessGrant]) -> None:
    """Each grant with the record's kind in words and the page that shows it, for the tables."""
    for grant in grants:
        name, url = OPENABLE.get(grant.record_type, (grant.record_type, ""))
        grant.record_name = str(name)  # type: ignore[attr-defined]
        grant.record_url = reverse(url, args=[grant.object_id]) if url else ""  # type: ignore[attr-defined]


class BreakGlassForm(forms.Form):
    record_type = forms.ChoiceField(label=gettext_lazy("Record"))
    object_id = forms.IntegerField(label=gettext_lazy("Its number"), min_value=1, max_value=2**63 - 1)
    reason = forms.CharField(label=gettext_lazy("Why you need it"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        types = policy.breakable()
        self.fields["record_type"].choices = [(label, name) for label, (name, _url) in OPENABLE.items() if label in types]  # type: ignore[attr-defined]


class ReviewForm(SaysItsLimits, forms.Form):
    note = forms.CharField(label=gettext_lazy("Review note"), max_length=1000, required=False)


@login_required
def break_glass(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if not policy.may_break_glass(user, user.jurisdiction):
        audit_record(actor=user, action=Action.DENIED, object_type="access_grant", detail="break glass")
        raise PermissionDenied
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            grant = access_grant_break_glass(
                actor=user, record_type=data["record_type"], object_id=data["object_id"], reason=data["reason"]
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.warning(
                request,
                _("You may read this record for %(minutes)d minutes. Your reason is kept, and the privacy officer reviews it.")
                % {"minutes": BREAK_GLASS_MINUTES},
            )
            return redirect(OPENABLE[grant.record_type][1], pk=grant.object_id)
    page = Paginator(access_grants_of(user), PAGE_SIZE).get_page(request.GET.get("page"))
    _named(page.object_list)
    return render(request, "workspace/break_glass.html", {"form": form, "page": page, "minutes": BREAK_GLASS_MINUTES})


@login_required
def break_glass_reviews(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.REVIEW_ACCESS, object_type="access_grant")
    page = Paginator(access_grants_to_review(user), PAGE_SIZE).get_page(request.GET.get("page"))
    _named(page.object_list)
    audit_list(user, "access_grant_list", [grant.pk for grant in page.object_list])
    return render(request, "workspace/break_glass_reviews.html", {"page": page, "review_form": ReviewForm()})


@login_required
@require_POST
def break_glass_review(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.REVIEW_ACCESS, object_type="access_grant", object_id=pk)
    grant = get_object_or_404(access_grants_to_review(user), pk=pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            access_grant_review(actor=user, grant=grant, note=form.cleaned_data["note"])
            messages.success(request, _("Review saved."))
        except DomainError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, " ".join(str(e) for e in form.errors["note"]))
    return redirect("workspace:break_glass_reviews")

"""The privacy officer's screens: retention (periods, the dry run, legal holds) and the access review.

Nothing here shows a person: the dry run counts records, holds name a person by number.
Purging is a deliberate act run as `manage.py retention --purge` by whoever operates the
center, after this page's dry run has been read.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tracecenter.accounts.jobs import INACTIVE_DAYS
from tracecenter.accounts.models import Jurisdiction
from tracecenter.accounts.roles import Capability
from tracecenter.audit import retention, selectors
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action, LegalHold
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in


def _jurisdictions(request: HttpRequest) -> list[Jurisdiction]:
    user = signed_in(request)
    if user.jurisdiction is None:
        raise PermissionDenied
    return list(Jurisdiction.objects.filter(path__startswith=user.jurisdiction.path).order_by("path"))


class RuleForm(forms.Form):
    jurisdiction = forms.ModelChoiceField(label=gettext_lazy("Jurisdiction"), queryset=Jurisdiction.objects.none())
    record_type = forms.ChoiceField(label=gettext_lazy("Records"))
    keep_days = forms.IntegerField(label=gettext_lazy("Kept for (days)"), min_value=1, max_value=36_500)

    def __init__(self, *args: object, jurisdictions: list[Jurisdiction], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["jurisdiction"].queryset = Jurisdiction.objects.filter(pk__in=[j.pk for j in jurisdictions])  # type: ignore[attr-defined]
        self.fields["record_type"].choices = [(t.name, t.label) for t in retention.record_types().values()]  # type: ignore[attr-defined]


class HoldForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason for the hold"), max_length=500)
    jurisdiction = forms.ModelChoiceField(
        label=gettext_lazy("Everything of a jurisdiction"), queryset=Jurisdiction.objects.none(), required=False
    )
    person_id = forms.IntegerField(label=gettext_lazy("Or everything of a person (number)"), min_value=1, required=False)
    record_type = forms.ChoiceField(label=gettext_lazy("Or one record: its type"), required=False)
    object_id = forms.CharField(label=gettext_lazy("and its number"), max_length=20, required=False)

    def __init__(self, *args: object, jurisdictions: list[Jurisdiction], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["jurisdiction"].queryset = Jurisdiction.objects.filter(pk__in=[j.pk for j in jurisdictions])  # type: ignore[attr-defined]
        self.fields["record_type"].choices = [("", "—")] + [(t.name, t.label) for t in retention.record_types().values()]  # type: ignore[attr-defined]


@login_required
def retention_page(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.RETENTION, object_type="retention")
    jurisdictions = _jurisdictions(request)
    if user.jurisdiction is None:  # _jurisdictions refused it already
        raise PermissionDenied
    steps = retention.plan(user.jurisdiction)
    audit_record(
        actor=user, action=Action.READ, object_type="retention_plan", jurisdiction_id=user.jurisdiction_id, detail="dry run"
    )
    context = {
        "steps": steps,
        "types": list(retention.record_types().values()),
        "holds": LegalHold.objects.filter(placed_by__jurisdiction__path__startswith=user.jurisdiction.path)[:200],
        "rule_form": RuleForm(jurisdictions=jurisdictions),
        "hold_form": HoldForm(jurisdictions=jurisdictions),
    }
    return render(request, "workspace/retention.html", context)


@login_required
@require_POST
def retention_rule(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.RETENTION, object_type="retention")
    form = RuleForm(request.POST, jurisdictions=_jurisdictions(request))
    if form.is_valid():
        try:
            retention.rule_set(
                actor=user,
                jurisdiction=form.cleaned_data["jurisdiction"],
                record_type=form.cleaned_data["record_type"],
                keep_days=form.cleaned_data["keep_days"],
            )
            messages.success(request, _("Retention period saved."))
        except DomainError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Choose a jurisdiction and a kind of record, and give a period between 1 and 36,500 days."))
    return redirect("workspace:retention")


@login_required
@require_POST
def legal_hold_place(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.RETENTION, object_type="legal_hold")
    form = HoldForm(request.POST, jurisdictions=_jurisdictions(request))
    if form.is_valid():
        data = form.cleaned_data
        try:
            retention.legal_hold_place(
                actor=user,
                reason=data["reason"],
                jurisdiction=data["jurisdiction"],
                person_id=data["person_id"],
                record_type=data["record_type"] or "",
                object_id=(data["object_id"] or "").strip(),
            )
            messages.success(request, _("Legal hold placed."))
        except DomainError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Give the reason for the hold, and what it keeps."))
    return redirect("workspace:retention")


@login_required
@require_POST
def legal_hold_lift(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.RETENTION, object_type="legal_hold", object_id=pk)
    if user.jurisdiction is None:
        raise PermissionDenied
    hold = get_object_or_404(LegalHold, pk=pk, placed_by__jurisdiction__path__startswith=user.jurisdiction.path)
    retention.legal_hold_lift(actor=user, hold=hold)
    messages.success(request, _("Legal hold lifted."))
    return redirect("workspace:retention")


@login_required
def access_review(request: HttpRequest) -> HttpResponse:
    """Who can do what, and what they did lately: for the periodic review of access."""
    user = signed_in(request)
    require_audited(user, Capability.VIEW_AUDIT, object_type="access_review")
    page = Paginator(selectors.access_review(user), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        actor=user,
        action=Action.READ,
        object_type="access_review",
        jurisdiction_id=user.jurisdiction_id,
        detail=f"page {page.number}",
    )
    return render(request, "workspace/access_review.html", {"page": page, "inactive_days": INACTIVE_DAYS})

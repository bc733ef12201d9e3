"""The contact's screens: the contact page and what a tracer does there all day (status with a reason,
call attempts, exposure corrections) and what a supervisor does (reassign)."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import User
from tracecenter.audit.access import get_for
from tracecenter.cases.selectors import cases_permitted
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.contacts.services import (
    exposure_assign,
    exposure_assignees,
    exposure_call_record,
    exposure_change_status,
    exposure_next_statuses,
    exposure_update_dates,
)
from tracecenter.core.errors import DomainError
from tracecenter.people.models import ContactPoint
from tracecenter.workspace import forms
from tracecenter.workspace.views.common import signed_in
from tracecenter.workspace.views.desk import held_work

_RELATED = ("person", "case", "parent_exposure", "owner", "rules", "jurisdiction")


def _exposures(user: User) -> QuerySet[Exposure]:
    return policy.with_acts(Exposure.objects.all(), user).select_related(*_RELATED)


def _page(
    request: HttpRequest, user: User, exposure: Exposure, bound: dict[str, django_forms.Form] | None = None, status: int = 200
) -> HttpResponse:
    """The contact page; `bound` replaces the blank form of an action with the one just refused, errors on it."""
    allowed = policy.acts(user, exposure)
    # The case it came from, seen through this contact: its summary (policy.Act.SEE_LINKED), at least.
    case_visible = (
        exposure.case_id is not None and cases_permitted(user, policy.Act.SEE_LINKED).filter(pk=exposure.case_id).exists()
    )
    secondary = list(exposures_visible_to(user).filter(parent_exposure=exposure).select_related("person"))
    phones = [cp for cp in exposure.person.contact_points.all() if cp.kind == ContactPoint.Kind.PHONE]
    can_edit, can_assign = policy.Act.EDIT in allowed, policy.Act.ASSIGN in allowed
    statuses = exposure_next_statuses(exposure)
    context: dict[str, Any] = {
        "exposure": exposure,
        "person": exposure.person,
        "case_visible": case_visible,
        "secondary": secondary,
        "phones": phones,
        "history": list(exposure.activities.select_related("actor")[:100]),
        "can_edit": can_edit,
        "can_assign": can_assign,
    }
    if can_edit:
        context["status_form"] = forms.ContactStatusForm(statuses=statuses) if statuses else None
        context["call_form"] = forms.CallAttemptForm()
        context["dates_form"] = forms.ExposureDatesForm(
            initial={"last_exposure_date": exposure.last_exposure_date, "first_exposure_date": exposure.first_exposure_date}
        )
    if can_assign:
        context["assign_form"] = forms.AssignForm(assignees=exposure_assignees(exposure), initial={"assignee": exposure.owner_id})
    context.update(held_work(user, exposure_id=exposure.pk))
    context.update(bound or {})
    return render(request, "workspace/contact_detail.html", context, status=status)


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    exposure: Exposure = get_for(user, _exposures(user), pk, object_type="contact")
    return _page(request, user, exposure)


def _for(request: HttpRequest, pk: int, act: policy.Act) -> tuple[User, Exposure]:
    """The contact, if the user may `act` on it (refused, and audited, otherwise)."""
    user = signed_in(request)
    visible = policy.permitted(Exposure.objects.all(), user, act).select_related(*_RELATED)
    return user, get_for(user, visible, pk, object_type="contact", capability=policy.needs(act))


def _attach(form: django_forms.Form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _refused(request: HttpRequest, user: User, pk: int, name: str, form: django_forms.Form) -> HttpResponse:
    # Shown again from the database: the refused change left nothing behind.
    exposure = get_for(user, _exposures(user), pk, object_type="contact", audit=False)
    messages.error(request, _("Nothing was saved: correct what is marked below."))
    return _page(request, user, exposure, {name: form}, status=422)


@login_required
@require_POST
def contact_status(request: HttpRequest, pk: int) -> HttpResponse:
    user, exposure = _for(request, pk, policy.Act.EDIT)
    form = forms.ContactStatusForm(request.POST, statuses=exposure_next_statuses(exposure))
    if form.is_valid():
        try:
            exposure_change_status(
                actor=user, exposure=exposure, to_status=form.cleaned_data["status"], reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Status changed."))
            return redirect("workspace:contact_detail", pk=pk)
    return _refused(request, user, pk, "status_form", form)


@login_required
@require_POST
def contact_call(request: HttpRequest, pk: int) -> HttpResponse:
    user, exposure = _for(request, pk, policy.Act.EDIT)
    form = forms.CallAttemptForm(request.POST)
    if form.is_valid():
        try:
            exposure_call_record(
                actor=user, exposure=exposure, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Call attempt recorded."))
            return redirect("workspace:contact_detail", pk=pk)
    return _refused(request, user, pk, "call_form", form)


@login_required
@require_POST
def contact_exposure(request: HttpRequest, pk: int) -> HttpResponse:
    user, exposure = _for(request, pk, policy.Act.EDIT)
    form = forms.ExposureDatesForm(request.POST)
    if form.is_valid():
        try:
            exposure_update_dates(
                actor=user,
                exposure=exposure,
                last_exposure_date=form.cleaned_data["last_exposure_date"],
                first_exposure_date=form.cleaned_data["first_exposure_date"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Exposure updated; the quarantine end follows it."))
            return redirect("workspace:contact_detail", pk=pk)
    return _refused(request, user, pk, "dates_form", form)


@login_required
@require_POST
def contact_assign(request: HttpRequest, pk: int) -> HttpResponse:
    user, exposure = _for(request, pk, policy.Act.ASSIGN)
    form = forms.AssignForm(request.POST, assignees=exposure_assignees(exposure))
    if form.is_valid():
        try:
            exposure_assign(actor=user, exposure=exposure, assignee=form.cleaned_data["assignee"])
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Assignment saved."))
            return redirect("workspace:contact_detail", pk=pk)
    return _refused(request, user, pk, "assign_form", form)

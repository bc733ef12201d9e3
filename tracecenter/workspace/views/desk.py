"""The tracer's live workspace: their state, offers pushed to them with a countdown, accept, decline with a
reason, the attempt's wrap-up with its disposition, and "next task" for pull-style work.

Business rules are routing's (claims, attempts); these views only read forms and say what happened.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.calling_windows import zone_named
from tracecenter.core.errors import DomainError
from tracecenter.routing import attempts, claims
from tracecenter.routing.desk import held_on
from tracecenter.routing.models import WorkItem, WorkStatus
from tracecenter.workspace import work_forms
from tracecenter.workspace.views.common import signed_in


def record_url(item: WorkItem) -> str:
    if item.exposure_id is not None:
        return reverse("workspace:contact_detail", args=[item.exposure_id])
    return reverse("workspace:case_detail", args=[item.case_id])


def held_work(user: User, *, case_id: int | None = None, exposure_id: int | None = None) -> dict[str, Any]:
    """What a case or contact page adds when the reader holds work on it: the attempt and its wrap-up form."""
    held = held_on(user, case_id=case_id, exposure_id=exposure_id)
    if held is None:
        return {}
    zone = held.time_zone or Jurisdiction.objects.get(pk=held.jurisdiction_id).time_zone
    return {"held": held, "wrap_up_form": work_forms.WrapUpForm(zone=zone)}


def _taker(request: HttpRequest, object_type: str = "agent_status", object_id: object = "") -> User:
    """The signed-in user, if their role takes routed work (case investigators, contact tracers, supervisors);
    anyone else is refused, and the refusal is in the trail."""
    user = signed_in(request)
    if not policy.may_own_work(user):
        audit_record(
            actor=user,
            action=Action.DENIED,
            object_type=object_type,
            object_id=object_id,
            jurisdiction_id=user.jurisdiction_id,
            detail="takes no routed work",
        )
        raise PermissionDenied
    return user


def _errors(form: Form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@login_required
@require_POST
def agent_state(request: HttpRequest) -> HttpResponse:
    user = _taker(request)
    form = work_forms.AgentStateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Your state was not changed: %(why)s") % {"why": _errors(form)})
        return redirect("workspace:my_work")
    try:
        status = claims.agent_set_state(
            actor=user, agent=user, state=form.cleaned_data["state"], reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("You are now: %(state)s.") % {"state": status.get_state_display()})
    return redirect("workspace:my_work")


@login_required
@require_POST
def offer_accept(request: HttpRequest, pk: int) -> HttpResponse:
    user = _taker(request, "offer", pk)
    try:
        item = claims.offer_accept(actor=user, offer_id=pk)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("workspace:my_work")
    messages.success(request, _("The work is yours: call, then record how it went."))
    return redirect(record_url(item))


@login_required
@require_POST
def offer_reject(request: HttpRequest, pk: int) -> HttpResponse:
    user = _taker(request, "offer", pk)
    form = work_forms.RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Not declined: %(why)s") % {"why": _errors(form)})
        return redirect("workspace:my_work")
    try:
        claims.offer_reject(actor=user, offer_id=pk, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Declined; it goes to someone else."))
    return redirect("workspace:my_work")


@login_required
@require_POST
def wrap_up(request: HttpRequest, pk: int) -> HttpResponse:
    user = _taker(request, "work_item", pk)
    item = WorkItem.objects.select_related("jurisdiction").filter(pk=pk, holder=user).first()
    if item is None:
        messages.error(request, _("This work is not yours to finish."))
        return redirect("workspace:my_work")
    form = work_forms.WrapUpForm(request.POST, zone=item.time_zone or item.jurisdiction.time_zone)
    back = request.POST.get("from") == "record"
    if not form.is_valid():
        messages.error(request, _("Nothing was recorded: %(why)s") % {"why": _errors(form)})
        return redirect(record_url(item) if back else "workspace:my_work")
    try:
        item = attempts.work_wrap_up(
            actor=user,
            item_id=item.pk,
            disposition=form.cleaned_data["disposition"],
            callback_at=form.cleaned_data["callback_at"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(record_url(item) if back else "workspace:my_work")
    if item.status == WorkStatus.QUEUED and item.not_before is not None:
        local = item.not_before.astimezone(zone_named(form.zone))
        when = f"{formats.date_format(local, 'Y-m-d H:i')} ({form.zone})"
        messages.success(request, _("Attempt %(n)d recorded. It comes back %(when)s.") % {"n": item.attempts, "when": when})
    else:
        messages.success(request, _("Attempt %(n)d recorded. This work is done.") % {"n": item.attempts})
    return redirect("workspace:my_work")


@login_required
@require_POST
def next_task(request: HttpRequest) -> HttpResponse:
    user = _taker(request, "work_item")
    try:
        item = claims.work_next(actor=user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("workspace:my_work")
    if item is None:
        messages.info(request, _("Nothing is waiting for you now. You are available: new work will be offered here."))
        return redirect("workspace:my_work")
    messages.success(request, _("The work is yours: call, then record how it went."))
    return redirect(record_url(item))

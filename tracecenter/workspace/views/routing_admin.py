"""Administration of routing: a state's queues and their workflows, the preview of whom they reach, surge mode.

Who may do what (each refusal written to the audit trail):

- administrators and supervisors see their state's queues and its surge mode (supervisors need them to
  understand where work goes, and may switch surge mode when they supervise the whole state);
- the state's administrators change its queues; a county's administrator opens them and previews
  them on the tracers of their county, and changes nothing;
- an administrator of the state or a supervisor of the state switches surge mode, with a reason.

The services (routing/queue_config.py, routing/surge.py) ask the same questions again and audit every
change with the names of the fields changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import audit_denied
from tracecenter.core.codes import language_name
from tracecenter.core.errors import DomainError
from tracecenter.routing import queue_config, surge
from tracecenter.routing.models import WorkKind
from tracecenter.routing.queues import specs_for
from tracecenter.workspace import routing_forms
from tracecenter.workspace.views.common import audit_list, signed_in

T = "workspace/administration/"


def _viewer(request: HttpRequest) -> User:
    """An administrator or a supervisor: the roles that set or watch routing."""
    user = signed_in(request)
    if not (policy.has(user, Capability.MANAGE_USERS) or policy.has(user, Capability.ASSIGN)):
        audit_denied(user, Capability.MANAGE_USERS, object_type="routing")
        raise PermissionDenied
    return user


def _state(user: User, pk: int, capability: Capability) -> Jurisdiction:
    """The state `pk` if `user` works in it; else 404 (audited when it exists), as for any record out of reach."""
    state = Jurisdiction.objects.filter(pk=pk, parent__isnull=True).first()
    if state is None or user.jurisdiction is None or not policy.covers(state, user.jurisdiction):
        if state is not None:
            audit_denied(user, capability, object_type="routing", object_id=pk)
        raise Http404
    return state


def _refuse(user: User, capability: Capability, state: Jurisdiction) -> None:
    audit_denied(user, capability, object_type="routing", object_id=state.pk)
    raise PermissionDenied


def _kind(value: str | None) -> str:
    kind = value or WorkKind.CASE_INTERVIEW.value
    if kind not in WorkKind.values:
        raise Http404
    return kind


def _surge_form(state: Jurisdiction, data: Any = None) -> routing_forms.SurgeForm:
    setting = surge.surge_setting(state)
    initial = {
        "active": setting.active,
        "recent_first": setting.recent_first,
        "recent_days": setting.recent_days,
        "household_first": setting.household_first,
        "high_risk_first": setting.high_risk_first,
    }
    return routing_forms.SurgeForm(data, initial=initial, prefix="surge")


def _overview(request: HttpRequest, user: User, state: Jurisdiction, surge_form: routing_forms.SurgeForm) -> HttpResponse:
    specs = specs_for(state)
    context = {
        "state": state,
        "queues": [(WorkKind(kind).label, spec) for kind, spec in specs.items()],
        "may_edit": policy.may_administer(user, state),
        "may_open": user.can_administer,
        "may_switch": surge.may_switch(user, state),
        "setting": surge.surge_setting(state),
        "surge_form": surge_form,
        "surge": surge,
    }
    return render(request, T + "routing_queues.html", context, status=422 if surge_form.errors else 200)


@login_required
def routing_queues(request: HttpRequest) -> HttpResponse:
    """The signed-in user's state: its queues with their workflows, and its surge mode."""
    user = _viewer(request)
    states = queue_config.states_of(user)
    if not states:
        return render(request, T + "routing_queues.html", {"state": None})
    return _overview(request, user, states[0], _surge_form(states[0]))


def _queue_page(
    request: HttpRequest,
    user: User,
    state: Jurisdiction,
    kind: str,
    forms: tuple[routing_forms.QueueForm, Any, routing_forms.SampleForm],
    preview: queue_config.Preview | None = None,
    error: str = "",
) -> HttpResponse:
    form, steps, sample = forms
    spec = specs_for(state)[kind]
    invalid = bool(error or form.errors or steps.total_error_count() or sample.errors)
    lang = translation.get_language() or "en"
    rows = []
    if preview is not None:
        rows = [
            {
                "user": row.user,
                "languages": [f"{language_name(code, lang)} ({level})" for code, level in sorted(row.languages.items())],
                "matches": row.matches,
            }
            for row in preview.rows
        ]
    context = {
        "state": state,
        "kind": kind,
        "kind_label": WorkKind(kind).label,
        "spec": spec,
        "form": form,
        "steps": steps,
        "sample": sample,
        "preview": preview,
        "preview_rows": rows,
        "error": error,
        "may_edit": policy.may_administer(user, state),
        "max_steps": queue_config.MAX_STEPS,
    }
    return render(request, T + "routing_queue_form.html", context, status=422 if invalid else 200)


def _forms(
    request: HttpRequest, state: Jurisdiction, kind: str, bound: bool
) -> tuple[routing_forms.QueueForm, Any, routing_forms.SampleForm]:
    data = request.POST if bound else None
    initial, step_rows = routing_forms.queue_initial(specs_for(state)[kind])
    jurisdictions = Jurisdiction.objects.filter(path__startswith=state.path)
    teams = Team.objects.filter(jurisdiction__path__startswith=state.path).select_related("jurisdiction")
    return (
        routing_forms.QueueForm(data, initial=initial),
        routing_forms.StepFormSet(data, prefix="steps", initial=None if bound else step_rows),
        routing_forms.SampleForm(
            data, prefix="sample", jurisdictions=jurisdictions, teams=teams, initial={"jurisdiction": state.pk}
        ),
    )


def _input(form: routing_forms.QueueForm, steps: Any) -> queue_config.QueueInput:
    data = form.cleaned_data
    return queue_config.QueueInput(
        expression=data["expression"],
        steps=steps.steps(),
        aging_points=data["aging_points"],
        aging_cap=data["aging_cap"],
        offer_seconds=data["offer_seconds"],
        active=data["active"],
    )


def _attach(form: routing_forms.QueueForm, exc: DomainError) -> str:
    """The service's message on its field of the form; else returned, for above the form (the rows' own problems
    were found by the step rows' formset already, with the same checks)."""
    if exc.field in form.fields:
        form.add_error(exc.field, exc.message)
        return ""
    return exc.message


@login_required
def routing_queue(request: HttpRequest, pk: int) -> HttpResponse:
    """One kind of work's queue in a state: the form, its preview, and saving or returning to the defaults."""
    user = _viewer(request)
    if not user.can_administer:  # a supervisor: the queues on the overview, not their settings
        audit_denied(user, Capability.MANAGE_USERS, object_type="routing", object_id=pk)
        raise PermissionDenied
    state = _state(user, pk, Capability.MANAGE_USERS)
    kind = _kind(request.POST.get("kind") if request.method == "POST" else request.GET.get("kind"))
    if request.method != "POST":
        return _queue_page(request, user, state, kind, _forms(request, state, kind, bound=False))
    action = request.POST.get("action", "")
    if action in ("save", "reset") and not policy.may_administer(user, state):
        _refuse(user, Capability.MANAGE_USERS, state)
    if action == "reset":
        if queue_config.queue_config_reset(actor=user, state=state, kind=kind):
            messages.success(request, _("%(kind)s: the defaults apply again.") % {"kind": WorkKind(kind).label})
        return redirect("workspace:admin_routing")
    forms = _forms(request, state, kind, bound=True)
    form, steps, sample = forms
    if not (form.is_valid() and steps.is_valid()):
        return _queue_page(request, user, state, kind, forms)
    if action == "save":
        try:
            queue_config.queue_config_save(actor=user, state=state, kind=kind, data=_input(form, steps))
        except DomainError as exc:
            return _queue_page(request, user, state, kind, forms, error=_attach(form, exc))
        messages.success(request, _("%(kind)s: saved. It applies from the next routing pass.") % {"kind": WorkKind(kind).label})
        return redirect("workspace:admin_routing")
    if not sample.is_valid():
        return _queue_page(request, user, state, kind, forms)
    try:
        checked = queue_config.checked(_input(form, steps))
    except DomainError as exc:
        return _queue_page(request, user, state, kind, forms, error=_attach(form, exc))
    work = queue_config.SampleWork(
        jurisdiction=sample.cleaned_data["jurisdiction"] or state,
        team_id=sample.cleaned_data["team"].pk if sample.cleaned_data["team"] else None,
        language=sample.cleaned_data["language"] or "",
    )
    preview = queue_config.queue_preview(viewer=user, state=state, spec=queue_config.spec_from_input(kind, checked), work=work)
    # The preview names users: a list read, in the trail like any other.
    audit_list(user, "routing_preview", [row.user.pk for row in preview.rows])
    return _queue_page(request, user, state, kind, forms, preview=preview)


@login_required
@require_POST
def routing_surge(request: HttpRequest, pk: int) -> HttpResponse:
    """Surge mode of a state on or off (and its rules), with a reason."""
    user = _viewer(request)
    state = _state(user, pk, Capability.ASSIGN)
    if not surge.may_switch(user, state):
        _refuse(user, Capability.ASSIGN, state)
    form = _surge_form(state, request.POST)
    if form.is_valid():
        try:
            surge.surge_switch(
                actor=user,
                state=state,
                active=form.cleaned_data["active"],
                reason=form.cleaned_data["reason"],
                rules=form.rules(),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            if form.cleaned_data["active"]:
                messages.success(request, _("Surge mode is on: the waiting work was re-prioritised."))
            else:
                messages.success(request, _("Surge mode is off: the waiting work has its ordinary priorities again."))
            return redirect("workspace:admin_routing")
    return _overview(request, user, state, form)

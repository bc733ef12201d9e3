"""The supervisor's routing board: the queues, the tracers and the waiting work of their reach, live; and, for a
supervisor, three routing actions (force a tracer's state, re-prioritise work, move work to a named tracer).

The figures come from routing.board (grouped queries), the actions from routing.supervision (each checked and
audited there); this view checks who may open the board, reads and validates the input, and renders. Each region
of the page is one part (`?part=`), fetched again through this same view, with the same checks and audit, when a
"work.board" push says something changed (workspace/live_board.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import audit_denied, require_audited
from tracecenter.core import clock, push
from tracecenter.core.errors import DomainError
from tracecenter.routing import board, supervision
from tracecenter.routing.models import AgentStateChoice
from tracecenter.workspace import board_forms
from tracecenter.workspace.views.common import audit_list, signed_in

# The regions a push refreshes: what the browser fetches again, through this same view and its audit.
PARTS = {
    "queues": "workspace/parts/board_queues.html",
    "agents": "workspace/parts/board_agents.html",
    "waiting": "workspace/parts/board_waiting.html",
}
ACTIONS = ("state", "priority", "move")


def _filters(request: HttpRequest) -> board_forms.BoardFilterForm:
    return board_forms.BoardFilterForm(request.GET if ("kind" in request.GET or "state" in request.GET) else None)


def _query(data: dict[str, Any], **pages: object) -> str:
    """The filters (codes only) and the other list's page, for a pager's or a part's address."""
    pairs = {name: data[name] for name in ("kind", "state") if data.get(name)}
    pairs.update({name: str(value) for name, value in pages.items() if value not in (None, "", 1, "1")})
    return urlencode(pairs)


def _regions(request: HttpRequest, user: User, part: str | None, data: dict[str, Any], context: dict[str, Any]) -> None:
    now = clock.now()
    context["now"] = now
    page_number, agent_number = request.GET.get("page"), request.GET.get("apage")
    if part in (None, "queues"):
        context["queues"] = board.queue_rows(user, now=now)
        context["target_minutes"] = board.SERVICE_TARGET_MINUTES
    if part in (None, "agents"):
        context["agent_states"] = board.agents_by_state(user)
        context["agent_page"], context["agents"] = board.agent_page(user, agent_number, now=now, state=data.get("state", ""))
    if part in (None, "waiting"):
        page, rows = board.waiting_page(user, page_number, now=now, kind=data.get("kind", ""))
        context["waiting_page"], context["waiting"] = page, rows
        # Work numbers and case or contact numbers, no person: the ids listed are all there is to audit.
        audit_list(user, "work_item_list", [row.item_id for row in rows])
    waiting_number = context["waiting_page"].number if "waiting_page" in context else page_number
    agents_number = context["agent_page"].number if "agent_page" in context else agent_number
    context["waiting_query"] = _query(data, apage=agents_number)
    context["agents_query"] = _query(data, page=waiting_number)
    context["waiting_part_query"] = _query(data, page=waiting_number)
    context["agents_part_query"] = _query(data, apage=agents_number)


def _initial(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and 0 < int(value) <= board_forms.ID_MAX else None


def _action_forms(request: HttpRequest, user: User, bound: tuple[str, forms.Form] | None = None) -> dict[str, forms.Form]:
    tracers = board_forms.tracer_choices(board.tracers_in_reach(user))
    item, agent = _initial(request, "item"), _initial(request, "agent")
    made: dict[str, forms.Form] = {
        "state": board_forms.ForceStateForm(prefix="state", tracers=tracers, initial={"agent": agent}),
        "priority": board_forms.PriorityForm(prefix="priority", initial={"item": item}),
        "move": board_forms.MoveForm(prefix="move", tracers=tracers, initial={"item": item, "agent": agent}),
    }
    if bound is not None:
        made[bound[0]] = bound[1]
    return made


def _page(request: HttpRequest, user: User, *, bound: tuple[str, forms.Form] | None = None, status: int = 200) -> HttpResponse:
    filters = _filters(request)
    data = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    context: dict[str, Any] = {"filters": filters, "can_act": board.may_act(user)}
    _regions(request, user, None, data, context)
    if context["can_act"]:
        context["action_forms"] = _action_forms(request, user, bound)
    # Pushes after this moment are replayed to the page when its socket connects, even if they come first.
    context["live_after"] = push.latest_id()
    context["live_since"] = int(clock.now().timestamp() * 1000)
    if filters.errors and status == 200:
        status = 400
    return render(request, "workspace/routing_board.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def routing_board(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if not board.may_watch(user):
        audit_denied(user, Capability.ASSIGN, object_type="routing_board")
        raise PermissionDenied
    if request.method == "POST":
        return _act(request, user)
    part = request.GET.get("part")
    if part is None:
        return _page(request, user)
    if part not in PARTS:
        raise Http404
    filters = _filters(request)
    data = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    context: dict[str, Any] = {"filters": filters, "can_act": board.may_act(user)}
    _regions(request, user, part, data, context)
    return render(request, PARTS[part], context)


# --- The actions: each through its service, which checks the reach and audits; errors shown on their fields.


def _force_state(user: User, form: forms.Form) -> str:
    status = supervision.agent_force_state(
        actor=user, agent_id=form.cleaned_data["agent"], state=form.cleaned_data["state"], reason=form.cleaned_data["reason"]
    )
    return _("The tracer's state is now %(state)s.") % {"state": AgentStateChoice(status.state).label}


def _reprioritise(user: User, form: forms.Form) -> str:
    item = supervision.work_item_reprioritise(
        actor=user, item_id=form.cleaned_data["item"], priority=form.cleaned_data["priority"], reason=form.cleaned_data["reason"]
    )
    return _("Work %(id)d now has priority %(priority)d.") % {"id": item.pk, "priority": item.priority}


def _move(user: User, form: forms.Form) -> str:
    offer = supervision.work_item_move(actor=user, item_id=form.cleaned_data["item"], agent_id=form.cleaned_data["agent"])
    return _("Work %(id)d is offered to the tracer; they have %(n)d seconds to accept it.") % {
        "id": offer.item_id,
        "n": round((offer.expires_at - offer.offered_at).total_seconds()),
    }


_DO: dict[str, Callable[[User, forms.Form], str]] = {"state": _force_state, "priority": _reprioritise, "move": _move}


def _act(request: HttpRequest, user: User) -> HttpResponse:
    # Epidemiologists watch the board; only a supervisor acts on it.
    require_audited(user, Capability.ASSIGN, object_type="routing_board")
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, _("Choose one of the board's actions."))
        return _page(request, user, status=400)
    tracers = board_forms.tracer_choices(board.tracers_in_reach(user)) if action in ("state", "move") else []
    form: forms.Form
    if action == "state":
        form = board_forms.ForceStateForm(request.POST, prefix="state", tracers=tracers)
    elif action == "priority":
        form = board_forms.PriorityForm(request.POST, prefix="priority")
    else:
        form = board_forms.MoveForm(request.POST, prefix="move", tracers=tracers)
    if form.is_valid():
        try:
            messages.success(request, _DO[action](user, form))
            return redirect("workspace:routing_board")
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return _page(request, user, bound=(action, form), status=400)

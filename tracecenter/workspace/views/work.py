"""My work: the start page of everyone who works on cases and contacts, kept current by live pushes.

A worker sees their open cases and contacts, most pressing first with the reason in words, then what
they finished lately. A supervisor (or an epidemiologist) sees the open work of their reach, filtered
and sorted, the caseload of each worker, and (the supervisor) assigns what is ticked, in bulk.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import ASSIGNABLE_ROLES, Capability, Scope
from tracecenter.audit.access import require_audited
from tracecenter.cases.models import OPEN_STATUSES, Case, CaseStatus
from tracecenter.cases.services import cases_assign_bulk
from tracecenter.contacts.models import OPEN_EXPOSURE_STATUSES, Exposure
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.contacts.services import exposures_assign_bulk
from tracecenter.core import clock, push
from tracecenter.routing.desk import desk_of
from tracecenter.routing.models import AgentStateChoice
from tracecenter.workspace import forms, worklist
from tracecenter.workspace.views.cases import case_queryset
from tracecenter.workspace.views.common import PAGE_SIZE, audit_list, render_page_or_part, signed_in

# The parts a live push refreshes: what the browser fetches again, through this same view and its audit.
PARTS = {
    "cases": "workspace/parts/my_cases.html",
    "contacts": "workspace/parts/my_contacts.html",
    "queue": "workspace/parts/queue.html",
    "routing": "workspace/parts/my_desk.html",
}
OPEN_CONTACT = OPEN_EXPOSURE_STATUSES  # the same list as the index of open contacts, so that the database uses it
FINISHED_DAYS = 14
MY_LIMIT = 200
_ORDER = {
    "newest": ("-{date}", "-pk"),
    "oldest": ("{date}", "pk"),
    "worker": ("owner__last_name", "owner__first_name", "{date}", "pk"),
}


def workers_of(user: User) -> QuerySet[User]:
    """Who may hold work in `user`'s jurisdiction and below: the worker filter and the bulk assignment offer these."""
    if user.jurisdiction is None:
        return User.objects.none()
    return User.objects.filter(
        is_active=True, role__in=ASSIGNABLE_ROLES, jurisdiction__path__startswith=user.jurisdiction.path
    ).order_by("last_name", "first_name", "pk")


def jurisdictions_of(user: User) -> QuerySet[Jurisdiction]:
    if user.jurisdiction is None:
        return Jurisdiction.objects.none()
    return Jurisdiction.objects.filter(path__startswith=user.jurisdiction.path).order_by("path")


def filtered[M: (Case, Exposure)](qs: QuerySet[M], data: dict[str, Any], *, arrived: str) -> QuerySet[M]:
    """The filters of a work list, on a list the policy already narrowed (`arrived`: when the work came in)."""
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    worker = data.get("worker")
    if worker == "none":
        qs = qs.filter(owner__isnull=True)
    elif worker:
        qs = qs.filter(owner_id=int(worker))
    if data.get("jurisdiction") is not None:
        qs = qs.filter(jurisdiction__path__startswith=data["jurisdiction"].path)
    if data.get("date_from"):
        qs = qs.filter(**{f"{arrived}__date__gte": data["date_from"]})
    if data.get("date_to"):
        qs = qs.filter(**{f"{arrived}__date__lte": data["date_to"]})
    return qs


def _sorted[M: (Case, Exposure)](qs: QuerySet[M], sort: str, *, arrived: str, priority: tuple[str, ...]) -> QuerySet[M]:
    fields = _ORDER.get(sort)
    return qs.order_by(*(f.format(date=arrived) for f in fields) if fields else priority)


def _query(form: forms.WorkFilterForm) -> str:
    """The filters as a query string for the pager: codes, ids and dates only."""
    if not form.is_valid():
        return ""
    pairs = {name: form.data.get(name, "") for name in form.fields if form.data.get(name)}
    return urlencode(pairs)


def _by_person(items: list[Any]) -> list[tuple[Any, list[Any]]]:
    """Work items grouped by their person, in the order each person first comes: the same person named as a contact
    by several cases is one line with all of their contacts, ranked by the most pressing one."""
    grouped: dict[int, tuple[Any, list[Any]]] = {}
    for item in items:
        grouped.setdefault(item.record.person_id, (item.record.person, []))[1].append(item)
    return list(grouped.values())


def _desk(user: User, context: dict[str, Any]) -> None:
    """The tracer's routing desk: offers (record numbers and languages: audited as read), held work, state."""
    desk = desk_of(user)
    audit_list(user, "work_desk", desk.item_ids)
    context.update(desk=desk, state_choices=AgentStateChoice.choices)


def _mine(user: User, data: dict[str, Any], part: str | None, context: dict[str, Any]) -> None:
    today = clock.today()
    sort = data.get("sort") or "priority"
    if part in (None, "routing") and policy.may_own_work(user):
        _desk(user, context)
    if part in (None, "cases"):
        cases = filtered(
            Case.objects.filter(owner=user.pk, status__in=OPEN_STATUSES).filter(policy.jurisdiction_q(user)),
            data,
            arrived="opened_at",
        )
        rows = list(
            _sorted(cases.select_related("person"), sort, arrived="opened_at", priority=("priority", "opened_at"))[:MY_LIMIT]
        )
        items = [worklist.case_item(c, today) for c in rows]
        context["cases"] = worklist.ordered(items) if sort == "priority" else items
        audit_list(user, "case_list", [c.pk for c in rows], records=rows, record_type="case")
    if part in (None, "contacts"):
        exposures = filtered(
            Exposure.objects.filter(owner=user.pk, status__in=OPEN_CONTACT).filter(policy.jurisdiction_q(user)),
            data,
            arrived="created_at",
        )
        rows_e = list(
            _sorted(exposures.select_related("person"), sort, arrived="created_at", priority=("quarantine_end", "pk"))[:MY_LIMIT]
        )
        items = [worklist.contact_item(e, today) for e in rows_e]
        context["exposures"] = worklist.ordered(items) if sort == "priority" else items
        context["contacts_by_person"] = _by_person(context["exposures"])
        audit_list(user, "contact_list", [e.pk for e in rows_e], records=rows_e, record_type="contact")
    if part is None:
        since = clock.now() - dt.timedelta(days=FINISHED_DAYS)
        done_cases = list(
            Case.objects.filter(owner=user.pk, status=CaseStatus.CLOSED, updated_at__gte=since)
            .filter(policy.jurisdiction_q(user))
            .order_by("-updated_at")[:50]
        )
        done_contacts = list(
            Exposure.objects.filter(owner=user.pk, updated_at__gte=since)
            .exclude(status__in=OPEN_CONTACT)
            .filter(policy.jurisdiction_q(user))
            .order_by("-updated_at")[:50]
        )
        # Record numbers and statuses only: no names, so nothing more to audit than the ids listed.
        audit_list(user, "finished_list", [c.pk for c in done_cases] + [e.pk for e in done_contacts])
        context.update(finished_cases=done_cases, finished_contacts=done_contacts, finished_days=FINISHED_DAYS)


def _reach(user: User, request: HttpRequest, data: dict[str, Any], part: str | None, context: dict[str, Any]) -> None:
    sort = data.get("sort") or "priority"
    cases = filtered(case_queryset(user).filter(status__in=OPEN_STATUSES), data, arrived="opened_at")
    queue = _sorted(cases, sort, arrived="opened_at", priority=("priority", "owner", "opened_at", "pk"))
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_list(user, "case_list", [c.pk for c in page.object_list], records=list(page.object_list), record_type="case")
    today = clock.today()
    context.update(
        page=page,
        queue_items=[worklist.case_item(c, today) for c in page.object_list],
        can_assign=user.has_capability(Capability.ASSIGN),
        can_export=user.has_capability(Capability.EXPORT),
    )
    if context["can_assign"]:
        context["bulk_form"] = forms.BulkAssignForm(assignees=workers_of(user))
    if part is not None:
        return
    contacts = filtered(
        exposures_visible_to(user).filter(status__in=OPEN_CONTACT).select_related("person", "owner", "jurisdiction"),
        data,
        arrived="created_at",
    )
    contacts = _sorted(contacts, sort, arrived="created_at", priority=("quarantine_end", "pk"))
    contact_page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("cpage"))
    shown = list(contact_page.object_list)
    audit_list(user, "contact_list", [e.pk for e in shown], records=shown, record_type="contact")
    context.update(contact_page=contact_page, contact_items=[worklist.contact_item(e, today) for e in shown])
    context["caseload"] = _caseload(user)


@dataclasses.dataclass
class Load:
    worker: User | None  # None: the unassigned work
    cases: int
    contacts: int


def _caseload(user: User) -> list[Load]:
    """Open cases and contacts per worker, over what the user may see: two grouped counts, however many rows."""
    cases: dict[int | None, int] = dict(
        case_queryset(user)
        .filter(status__in=OPEN_STATUSES)
        .order_by()
        .values_list("owner")
        .annotate(n=Count("pk"))
        .values_list("owner", "n")
    )
    contacts: dict[int | None, int] = dict(
        exposures_visible_to(user)
        .filter(status__in=OPEN_CONTACT)
        .order_by()
        .values_list("owner")
        .annotate(n=Count("pk"))
        .values_list("owner", "n")
    )
    # Every worker of the reach, idle ones too (whom to give work to), and any other owner of a listed record.
    workers = {u.pk: u for u in workers_of(user)[:MY_LIMIT]}
    others = [pk for pk in {*cases, *contacts} if pk is not None and pk not in workers]
    workers.update({u.pk: u for u in User.objects.filter(pk__in=others)})
    rows = [Load(w, cases.get(pk, 0), contacts.get(pk, 0)) for pk, w in workers.items()]
    rows.sort(key=lambda row: (-(row.cases + row.contacts), row.worker.display_name if row.worker else ""))
    if None in cases or None in contacts:
        rows.append(Load(None, cases.get(None, 0), contacts.get(None, 0)))
    return rows


@login_required
def my_work(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    part = request.GET.get("part")
    if part is not None and part not in PARTS:
        raise Http404
    # A worker's own lists have no worker to choose; the supervisor's and the epidemiologist's do.
    workers = User.objects.none() if user.scope == Scope.ASSIGNED else workers_of(user)
    filters = forms.WorkFilterForm(request.GET or None, workers=workers, jurisdictions=jurisdictions_of(user))
    # A filter that does not hold is named on its field, and the list is shown unfiltered rather than empty.
    data = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    context: dict[str, Any] = {"scope": user.scope, "filters": filters, "query": _query(filters)}
    if user.scope == Scope.ASSIGNED:
        _mine(user, data, part, context)
    elif user.scope in (Scope.TEAM, Scope.JURISDICTION):
        _reach(user, request, data, part, context)
    if part is not None:
        return render(request, PARTS[part], context)
    # Pushes after this moment are replayed to the page when its socket connects, even if they come first.
    context["live_after"] = push.latest_id()
    context["live_since"] = int(clock.now().timestamp() * 1000)
    return render_page_or_part(
        request,
        "workspace/my_work.html",
        "workspace/parts/work_lists.html",
        "work-lists",
        context,
        status=400 if filters.errors else 200,
    )


@login_required
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    """Assign every ticked case (or contact) to one worker; each is checked and audited on its own."""
    user = signed_in(request)
    require_audited(user, Capability.ASSIGN, object_type="work_list")
    form = forms.BulkAssignForm(request.POST, assignees=workers_of(user))
    if not form.is_valid():
        problems = [str(e) for errors in form.errors.values() for e in errors]
        messages.error(request, _("Nothing was assigned: %(problems)s") % {"problems": " ".join(problems)})
        return redirect("workspace:my_work")
    ids, assignee = form.cleaned_data["ids"], form.cleaned_data["assignee"]
    if form.cleaned_data["kind"] == "cases":
        outcome = cases_assign_bulk(actor=user, case_ids=ids, assignee=assignee)
    else:
        outcome = exposures_assign_bulk(actor=user, exposure_ids=ids, assignee=assignee)
    if outcome.done:
        messages.success(request, _("Assigned %(n)d.") % {"n": len(outcome.done)})
    if outcome.refused:
        messages.error(
            request,
            _("Not assigned: %(ids)s (%(why)s).")
            % {"ids": ", ".join(map(str, outcome.refused[:20])), "why": "; ".join(outcome.reasons)},
        )
    return redirect("workspace:my_work")

"""The audit trail, for auditors and the privacy officer: the log, and who accessed a person or what a user accessed."""

from __future__ import annotations

import csv
import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.audit.selectors import audit_entries_filtered, audit_entries_visible_to, chain_state, trail_removed_up_to
from tracecenter.audit.selectors import person_access as person_access_entries
from tracecenter.audit.selectors import user_access as user_access_entries
from tracecenter.audit.services import audit_check_latest, audit_record
from tracecenter.workspace import forms
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    entries = audit_entries_visible_to(user)
    filters = forms.AuditFilterForm(request.GET or None)
    query = ""
    if filters.is_bound and filters.is_valid():
        data = filters.cleaned_data
        entries = audit_entries_filtered(
            entries,
            username=data["username"].strip(),
            object_type=data["object_type"],
            object_id=data["object_id"],
            action=data["action"],
            since=_day_start(data["date_from"]) if data["date_from"] else None,
            until=_day_start(data["date_to"] + dt.timedelta(days=1)) if data["date_to"] else None,
        )
        query = urlencode({name: value for name, value in request.GET.items() if name in filters.fields and value})
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    # Read before the read is recorded: the page is what was there when it was asked for (counted and shown alike).
    page.object_list = list(page.object_list)
    audit_record(
        actor=user,
        action=Action.READ,
        object_type="audit_log",
        # The filters are the auditor's question: kept with the read (codes, numbers and dates; a staff user name).
        detail=f"page {page.number} {query}"[:200],
        jurisdiction_id=user.jurisdiction_id,
    )
    return render(
        request,
        "workspace/audit_log.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "check": audit_check_latest(),
            "chain": chain_state(),
            "removed": trail_removed_up_to(),
        },
        status=400 if filters.errors else 200,
    )


CSV_COLUMNS = [
    "at",
    "actor_username",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "jurisdiction_id",
    "channel",
    "ip_address",
    "fields",
    "detail",
    "seq",
]


def _report(request: HttpRequest, entries: QuerySet[AuditEntry], *, title: str, about: str, filename: str) -> HttpResponse:
    """One access report: a page of it, or all of it as CSV (an export, audited as one)."""
    user = signed_in(request)
    if request.GET.get("format") == "csv":
        audit_record(
            actor=user, action=Action.EXPORT, object_type="access_report", detail=about, jurisdiction_id=user.jurisdiction_id
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for entry in entries.iterator(chunk_size=2000):
            writer.writerow([_csv_safe(getattr(entry, column)) for column in CSV_COLUMNS])
        return response
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        actor=user,
        action=Action.READ,
        object_type="access_report",
        detail=f"{about}, page {page.number}",
        jurisdiction_id=user.jurisdiction_id,
    )
    return render(
        request,
        "workspace/access_report.html",
        {"page": page, "title": title, "query": request.GET, "removed": trail_removed_up_to()},
    )


def _csv_safe(value: object) -> str:
    """A cell as text that a spreadsheet will not run as a formula."""
    text = ",".join(value) if isinstance(value, list) else "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required
def person_access(request: HttpRequest) -> HttpResponse:
    """Who accessed this person: every entry about them or any record of theirs, for the requests a privacy officer receives."""
    user = signed_in(request)
    require_audited(user, Capability.VIEW_AUDIT, object_type="access_report")
    raw = request.GET.get("person", "").strip()
    if not raw:
        return render(
            request, "workspace/access_report.html", {"page": None, "title": _("Who accessed a person"), "query": request.GET}
        )
    if not raw.isdigit() or len(raw) > 18:
        return render(
            request,
            "workspace/access_report.html",
            {"page": None, "title": _("Who accessed a person"), "query": request.GET, "error": _("Give the person's number.")},
            status=400,
        )
    return _report(
        request,
        person_access_entries(user, int(raw)),
        title=_("Who accessed person %(id)s") % {"id": raw},
        about=f"person {raw}",
        filename=f"person-{raw}-access",
    )


@login_required
def user_access(request: HttpRequest) -> HttpResponse:
    """What one user accessed: everything they did, in the viewer's jurisdiction and below."""
    user = signed_in(request)
    require_audited(user, Capability.VIEW_AUDIT, object_type="access_report")
    username = request.GET.get("username", "").strip()[:150]
    if not username:
        return render(
            request, "workspace/access_report.html", {"page": None, "title": _("What a user accessed"), "query": request.GET}
        )
    target = User.objects.filter(username__iexact=username).first()
    entries = user_access_entries(user, target.pk) if target is not None else AuditEntry.objects.none()
    return _report(
        request,
        entries,
        title=_("What %(name)s accessed") % {"name": username},
        about=f"user {target.pk if target else '?'}",
        filename=f"user-{target.pk if target else 'unknown'}-access",
    )

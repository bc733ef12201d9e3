"""Line-list downloads (CSV and Excel) for those whose role exports: see workspace/line_list.py."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.cases.models import OPEN_STATUSES
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.core import clock
from tracecenter.workspace import forms, line_list
from tracecenter.workspace.views.cases import case_queryset
from tracecenter.workspace.views.common import signed_in
from tracecenter.workspace.views.work import OPEN_CONTACT, filtered, jurisdictions_of, workers_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
@require_GET
def line_list_download(request: HttpRequest) -> HttpResponseBase:
    user = signed_in(request)
    require_audited(user, Capability.EXPORT, object_type="line_list")
    kind, fmt = request.GET.get("kind", "cases"), request.GET.get("format", "csv")
    if kind not in ("cases", "contacts") or fmt not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("Choose cases or contacts, as csv or xlsx."), content_type="text/plain; charset=utf-8")
    filters = forms.WorkFilterForm(request.GET, workers=workers_of(user), jurisdictions=jurisdictions_of(user))
    if not filters.is_valid():
        problems = "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in filters.errors.items())
        return HttpResponseBadRequest(
            _("The filters do not hold: %(problems)s") % {"problems": problems}, content_type="text/plain; charset=utf-8"
        )
    columns = line_list.columns_for(user, kind)
    records: QuerySet[Any]
    if kind == "cases":
        cases = filtered(case_queryset(user).filter(status__in=OPEN_STATUSES), filters.cleaned_data, arrived="opened_at")
        records, object_type = line_list.prepared(cases, columns), "case"
    else:
        contacts = filtered(
            exposures_visible_to(user).filter(status__in=OPEN_CONTACT), filters.cleaned_data, arrived="created_at"
        )
        records, object_type = line_list.prepared(contacts, columns), "contact"
    # The file's name says what and when, never whom.
    name = f"{kind}-{clock.today().isoformat()}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            line_list.csv_lines(user, records, columns, object_type=object_type), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(
        line_list.workbook(user, records, columns, object_type=object_type), as_attachment=True, filename=name, content_type=XLSX
    )

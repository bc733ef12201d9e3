"""The platform at work, for administrators: workers, periodic jobs, event deliveries and tasks that failed.

Nothing here is personal: events carry ids, errors are kept as a class and a place in the
code. Sending failed work again is audited.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import relay, selectors, tasks
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in


@login_required
def system(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.OPERATE, object_type="system")
    dead = Paginator(selectors.dead_deliveries(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "workers": selectors.workers(),
        "jobs": selectors.periodic_jobs(),
        "deliveries": selectors.delivery_counts(),
        "dead": dead,
        "page": dead,
        "tasks": selectors.task_counts(),
        "failed_tasks": list(selectors.failed_tasks()[:PAGE_SIZE]),
    }
    return render(request, "workspace/system.html", context)


def _ids(request: HttpRequest, name: str, limit: int = 1000) -> list[str]:
    return [value for value in request.POST.getlist(name)[:limit] if value.strip()]


@login_required
@require_POST
def system_retry(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.OPERATE, object_type="system")
    delivery_ids = [int(v) for v in _ids(request, "delivery") if v.isdigit()]
    task_ids = _ids(request, "task")
    sent = relay.deliveries_retry(delivery_ids) if delivery_ids else 0
    try:
        ran = tasks.tasks_retry(task_ids) if task_ids else 0
    except (ValueError, ValidationError):  # a task id that is not a UUID: nothing to run again
        ran = 0
    if sent or ran:
        audit_record(
            actor=user,
            action=Action.UPDATE,
            object_type="system",
            detail=f"sent again: {sent} event deliveries, {ran} tasks",
        )
        messages.success(request, _("Sent again: %(d)d event deliveries, %(t)d tasks.") % {"d": sent, "t": ran})
    else:
        messages.error(request, _("Choose failed work to send again."))
    return redirect("workspace:system")

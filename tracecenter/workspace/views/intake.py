"""Lab intake screens: upload, the delivery's progress and report, a rejected message and its fix."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.intake.models import InboundMessage, IntakeBatch
from tracecenter.intake.pipeline import message_fix_and_reprocess, problems_of, warnings_of
from tracecenter.intake.selectors import batches_visible_to, messages_needing_attention, messages_visible_to
from tracecenter.intake.uploads import upload_start
from tracecenter.workspace.panels import panels_for
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Lab result file"),
        help_text=gettext_lazy("HL7 v2 (.hl7, .txt), CSV (ReportStream or SimpleReport) or FHIR R4 (.json, .ndjson)."),
    )


class FixForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Corrected message"), widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"})
    )

    def clean_text(self) -> str:
        # Browsers submit every line break of a textarea as CRLF, whatever the text held. Undo that, so a
        # CSV row or FHIR Bundle sent back untouched is recognised as unchanged rather than stored as a "fix".
        text: str = self.cleaned_data["text"]
        return text.replace("\r\n", "\n")


@login_required
def intake_upload(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.INGEST, object_type="intake_batch")
    # Bound on every POST, even one without fields or files, so a missing file is an error on the field.
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.INTAKE_MAX_FILE_BYTES:
            # The limit in words ("50.0 MB", "900 bytes"): a limit below 1 MB must not read as "0 MB".
            form.add_error(
                "file", _("The file is larger than %(size)s.") % {"size": filesizeformat(settings.INTAKE_MAX_FILE_BYTES)}
            )
        elif upload.size == 0:
            form.add_error("file", _("The file is empty."))
        else:
            batch = upload_start(actor=user, data=upload.read(), filename=upload.name or "")
            return redirect("workspace:intake_batch", pk=batch.pk)
    batches = Paginator(batches_visible_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
    attention = list(messages_needing_attention(user).select_related("batch")[:50])
    return render(request, "workspace/intake_upload.html", {"form": form, "page": batches, "attention": attention})


@login_required
def intake_batch(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    batch = get_for(user, batches_visible_to(user), pk, object_type="intake_batch", capability=Capability.INGEST)
    audit_record(
        actor=user, action=Action.READ, object_type="intake_batch", object_id=batch.pk, jurisdiction_id=batch.jurisdiction_id
    )
    report = json.loads(batch.report) if batch.report else None
    context = {"batch": batch, "report": report, "panels": panels_for("intake_batch", user, batch)}
    return render(request, "workspace/intake_batch.html", context)


@login_required
def intake_batch_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """Counts only (no personal data), polled by the batch page while a file is being ingested."""
    user = signed_in(request)
    batch = get_for(user, batches_visible_to(user), pk, object_type="intake_batch", capability=Capability.INGEST)
    # An upload that crashed is marked failed without a finish time: it is over all the same, and the page
    # must stop polling and say so rather than show a bar that never moves.
    finished = batch.finished_at is not None or batch.status != IntakeBatch.Status.RUNNING
    return JsonResponse({"status": batch.status, "done": batch.units_done, "total": batch.units_total, "finished": finished})


@login_required
def intake_message(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    message = get_for(user, messages_visible_to(user), pk, object_type="inbound_message", capability=Capability.INGEST)
    # The raw message holds the patient's details: reading it is audited like opening a record.
    audit_record(
        actor=user,
        action=Action.READ,
        object_type="inbound_message",
        object_id=message.pk,
        jurisdiction_id=message.jurisdiction_id,
    )
    # HL7 segments end with CR, which a textarea would not show as lines; other formats are shown as received.
    initial = message.raw.replace("\r", "\n") if message.format == "hl7v2" else message.raw
    form = FixForm(request.POST, initial={"text": initial}) if request.method == "POST" else FixForm(initial={"text": initial})
    if form.is_valid():
        try:
            fixed = message_fix_and_reprocess(actor=user, message=message, text=form.cleaned_data["text"])
        except DomainError as exc:
            form.add_error("text", exc.message)
        else:
            messages.success(request, _("The corrected message was processed: %(state)s.") % {"state": fixed.get_state_display()})
            return redirect("workspace:intake_message", pk=fixed.pk)
    fixable = message.state in ("rejected", "failed")
    # The original of a fix links to it: whoever opens it from an old report finds what became of it.
    replaced_by = (
        InboundMessage.objects.filter(replaces=message).values_list("pk", flat=True).first()
        if message.state == InboundMessage.State.REPLACED
        else None
    )
    return render(
        request,
        "workspace/intake_message.html",
        {
            "message": message,
            "problems": problems_of(message),
            "warnings": warnings_of(message),
            "form": form,
            "fixable": fixable,
            "replaced_by": replaced_by,
        },
    )

"""Lab intake screens: upload, the delivery's progress and report, a rejected message and its fix."""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.intake.limits import FORMAT_NAMES, max_file_bytes
from tracecenter.intake.models import InboundMessage, IntakeBatch
from tracecenter.intake.pipeline import message_fix_and_reprocess, problems_of, warnings_of
from tracecenter.intake.selectors import batches_visible_to, messages_needing_attention, messages_visible_to
from tracecenter.intake.upload_handler import Refusal, SealedUpload, SealingUploadHandler
from tracecenter.intake.uploads import upload_start
from tracecenter.workspace.form_limits import SaysItsLimits
from tracecenter.workspace.panels import panels_for
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in

# A raw message is shown a part at a time: a rejected file of megabytes must not become a page of megabytes.
RAW_PART_CHARS = 64 * 1024
# The longest message offered for correction in a text box; a longer one is corrected where it came from.
FIX_MAX_CHARS = 128 * 1024


def _too_large(fmt: str | None, limit: int) -> str:
    # The limit in words ("50.0 MB", "900 bytes"): a limit below 1 MB must not read as "0 MB".
    if fmt in FORMAT_NAMES:
        return _("The file is larger than %(size)s, the limit for %(format)s files.") % {
            "size": filesizeformat(limit),
            "format": FORMAT_NAMES[fmt],
        }
    return _("The file is larger than %(size)s.") % {"size": filesizeformat(limit)}


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Lab result file"),
        help_text=gettext_lazy("HL7 v2 (.hl7, .txt), CSV (ReportStream or SimpleReport) or FHIR R4 (.json, .ndjson)."),
    )

    def __init__(self, *args: Any, refusal: Refusal | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal = refusal

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        fmt = getattr(upload, "format", None)
        if upload.size > max_file_bytes(fmt):
            raise forms.ValidationError(_too_large(fmt, max_file_bytes(fmt)))
        return upload

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.refusal is not None:
            # The file was sent, and refused while it arrived: say that, not "this field is required".
            self.errors.pop("file", None)
            self.add_error("file", _too_large(self.refusal.format, self.refusal.limit))
        return cleaned


class FixForm(SaysItsLimits, forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Corrected message"),
        max_length=FIX_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
    )

    def clean_text(self) -> str:
        # Browsers submit every line break of a textarea as CRLF, whatever the text held. Undo that, so a
        # CSV row or FHIR Bundle sent back untouched is recognised as unchanged rather than stored as a "fix".
        text: str = self.cleaned_data["text"]
        return text.replace("\r\n", "\n")


@csrf_exempt
@login_required
def intake_upload(request: HttpRequest) -> HttpResponse:
    # The file is read by our handler (limited by its format, encrypted as it arrives). Handlers must be in place
    # before anything reads the request body, and the CSRF check reads it: so the check runs just inside.
    handler = SealingUploadHandler(request)
    request.upload_handlers = [handler]
    return _intake_upload(request, handler)


@csrf_protect
def _intake_upload(request: HttpRequest, handler: SealingUploadHandler) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.INGEST, object_type="intake_batch")
    if request.method == "POST":
        # Bound on every POST, even one without fields or files, so a missing file is an error on the field.
        files = request.FILES  # reads the body: the handler has decided by now
        form = UploadForm(request.POST, files, refusal=handler.refusal)
    else:
        form = UploadForm()
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if not isinstance(upload, SealedUpload):  # the only handler of this page seals what it receives
            raise TypeError("an upload that was not sealed as it arrived")
        batch = upload_start(actor=user, data=upload.sealed(), filename=upload.name or "")
        return redirect("workspace:intake_batch", pk=batch.pk)
    batches = Paginator(batches_visible_to(user), PAGE_SIZE).get_page(request.GET.get("page"))
    # Listed by number, place and state: the encrypted texts (the raw message, its problems) are not read here.
    attention = list(messages_needing_attention(user).select_related("batch").defer("raw", "problems", "warnings")[:50])
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


def _part(request: HttpRequest, parts: int) -> int:
    try:
        return min(max(int(request.GET.get("part", "1")), 1), parts)
    except ValueError:
        return 1


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
    raw = message.raw
    fixable = message.state in ("rejected", "failed")
    # A message too long for a text box is not offered one (a rejected file can be megabytes): it is read in parts.
    editable = fixable and len(raw) <= FIX_MAX_CHARS
    form = None
    if editable:
        # HL7 segments end with CR, which a textarea would not show as lines; other formats are shown as received.
        initial = raw.replace("\r", "\n") if message.format == "hl7v2" else raw
        form = (
            FixForm(request.POST, initial={"text": initial}) if request.method == "POST" else FixForm(initial={"text": initial})
        )
        if form.is_valid():
            try:
                fixed = message_fix_and_reprocess(actor=user, message=message, text=form.cleaned_data["text"])
            except DomainError as exc:
                form.add_error("text", exc.message)
            else:
                messages.success(
                    request, _("The corrected message was processed: %(state)s.") % {"state": fixed.get_state_display()}
                )
                return redirect("workspace:intake_message", pk=fixed.pk)
    elif request.method == "POST":
        messages.error(request, _("This message is too long to be corrected here."))
        return redirect("workspace:intake_message", pk=message.pk)
    parts = max(1, math.ceil(len(raw) / RAW_PART_CHARS))
    part = _part(request, parts)
    start = (part - 1) * RAW_PART_CHARS
    shown = raw[start : start + RAW_PART_CHARS]
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
            "editable": editable,
            "replaced_by": replaced_by,
            "raw_part": shown,
            "raw_length": len(raw),
            "raw_from": start + 1,
            "raw_to": start + len(shown),
            "part": part,
            "parts": parts,
            "previous_part": part - 1 if part > 1 else None,
            "next_part": part + 1 if part < parts else None,
            "fix_max_chars": FIX_MAX_CHARS,
        },
    )

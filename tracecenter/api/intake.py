"""Lab intake through the API: a laboratory's or a state feed's script delivers a file and follows it.

The same path as the upload page: the file is stored encrypted and its ingestion queued in one
transaction (intake.uploads), a worker ingests it, and the batch says how it went. Only those whose
role may ingest (supervisors, epidemiologists), within their jurisdiction, and, with a token, only a
token with the `ingest` scope. Bodies are limited to 1 MB like every API call (errors.limit_body_size);
larger files go through the upload page or `manage.py ingest`.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from tracecenter.accounts.roles import Capability
from tracecenter.api.auth import current_user
from tracecenter.api.schemas import Id, IntakeBatchOut, IntakeFileQuery
from tracecenter.api.views import ERRORS
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.intake import detect
from tracecenter.intake.models import IntakeBatch
from tracecenter.intake.report import without_values
from tracecenter.intake.selectors import batches_visible_to
from tracecenter.intake.uploads import upload_start

# The reasons listed for one batch; the page (behind sign-in) lists them all, with the values.
MAX_REJECTIONS_LISTED = 200
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file itself: HL7 v2, a CSV of test results (ReportStream or SimpleReport), or a FHIR R4 Bundle.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}

router = Router(tags=["lab intake"])


def _batch_out(batch: IntakeBatch) -> dict[str, Any]:
    report = json.loads(batch.report) if batch.report else {}
    rejections = [
        {
            "message": int(r.get("message", 0)),
            "location": str(r.get("location", "")),
            "code": str(r.get("code", "")),
            "reason": without_values(str(r.get("reason", ""))),
        }
        for r in report.get("rejections", [])[:MAX_REJECTIONS_LISTED]
    ]
    return {
        "id": batch.pk,
        "status": batch.status,
        "format": batch.format,
        "units_total": batch.units_total,
        "units_done": batch.units_done,
        "finished": batch.finished_at is not None or batch.status != IntakeBatch.Status.RUNNING,
        "started_at": batch.started_at,
        "finished_at": batch.finished_at,
        **{name: int(report.get(name, 0)) for name in ("messages", "accepted", "rejected", "duplicates", "failed")},
        "results": {str(k): int(v) for k, v in report.get("results", {}).items()},
        "rejections": rejections,
    }


@router.post(
    "/batches",
    response={202: IntakeBatchOut, **ERRORS},
    summary="Deliver a file of lab results",
    openapi_extra=_BINARY_BODY,
)
def intake_batch_new(request: HttpRequest, query: Query[IntakeFileQuery]) -> Status[dict[str, Any]]:
    """The body is the file. It is stored before the answer (202) and ingested by a worker right after;
    follow it at `GET /api/intake/batches/{id}`."""
    user = current_user(request)
    require_audited(user, Capability.INGEST, object_type="intake_batch")
    if user.jurisdiction is None:
        raise DomainError(_("You have no jurisdiction: ask an administrator."), field="body")
    data = request.body
    if not data.strip():
        raise DomainError(_("The body is empty: send the file itself."), field="body")
    if detect.detect_format(data, query.filename) is None:
        raise DomainError(detect.UNKNOWN_REASON, field="body")
    batch = upload_start(actor=user, data=data, filename=query.filename or "api")
    return Status(202, _batch_out(batch))


@router.get("/batches/{batch_id}", response={200: IntakeBatchOut, **ERRORS}, summary="What became of a delivered file")
def intake_batch_detail(request: HttpRequest, batch_id: Path[Id]) -> dict[str, Any]:
    user = current_user(request)
    batch = get_for(user, batches_visible_to(user), batch_id, object_type="intake_batch", capability=Capability.INGEST)
    audit_record(
        actor=user, action=Action.READ, object_type="intake_batch", object_id=batch.pk, jurisdiction_id=batch.jurisdiction_id
    )
    return _batch_out(batch)

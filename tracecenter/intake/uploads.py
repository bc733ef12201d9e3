"""Files uploaded by staff: ingested in the background so the page can show progress."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import connection, transaction

from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.actors import acting_user
from tracecenter.intake.models import IntakeBatch
from tracecenter.intake.pipeline import Intake

logger = logging.getLogger(__name__)


@transaction.atomic
def upload_start(*, actor: Any, data: bytes, filename: str) -> IntakeBatch:
    """Record the upload and start ingesting it once this transaction commits.

    If the server stops mid-file, every message stored so far is kept in the "received"
    state and `manage.py intake_resume` (or the next MLLP listener start) finishes it.
    """
    user = acting_user(actor)
    if user is None or user.jurisdiction is None:
        raise PermissionError("an upload needs a signed-in user with a jurisdiction")
    batch = IntakeBatch.objects.create(
        source=IntakeBatch.Source.UPLOAD, filename=filename[:255], jurisdiction=user.jurisdiction, received_by=user
    )
    audit_record(
        actor=actor, action=Action.CREATE, object_type="intake_batch", object_id=batch.pk, jurisdiction_id=batch.jurisdiction_id
    )
    transaction.on_commit(
        lambda: threading.Thread(target=_run, args=(batch.pk, data, filename), name=f"intake-{batch.pk}", daemon=True).start()
    )
    return batch


def _run(batch_id: int, data: bytes, filename: str) -> None:
    try:
        batch = IntakeBatch.objects.select_related("jurisdiction", "received_by").get(pk=batch_id)
        run = Intake(root=batch.jurisdiction, actor=batch.received_by, batch=batch)
        run.ingest_bytes(data, filename=filename)
        run.finish()
    except Exception:
        logger.exception("upload %s failed", batch_id)
        IntakeBatch.objects.filter(pk=batch_id).update(status=IntakeBatch.Status.FAILED)
    finally:
        connection.close()

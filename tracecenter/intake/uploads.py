"""Files uploaded by staff: stored before the request returns, ingested by a worker.

The request only stores the file (encrypted) and queues its ingestion in the same
transaction, so an accepted upload cannot be lost: if the worker dies mid-file, the task
runs again and carries on where it stopped (units already stored are recognised; see
pipeline.store_units). The page reads its progress from the batch row.
"""

from __future__ import annotations

import logging

from django.db import transaction

from tracecenter.accounts.models import User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, crypto, tasks
from tracecenter.core.blobs import blob_read, blob_write
from tracecenter.core.relay import describe
from tracecenter.intake.models import IntakeBatch, IntakeUpload
from tracecenter.intake.pipeline import Intake

logger = logging.getLogger(__name__)


@transaction.atomic
def upload_start(*, actor: User, data: bytes | crypto.Sealed, filename: str) -> IntakeBatch:
    """Store the uploaded file and queue its ingestion; both commit with the request, or neither.

    `data` is the file, or (from the upload page) the file already sealed as it arrived
    (intake.upload_handler): then its clear text is never whole in the web process.
    """
    from tracecenter.intake.tasks import ingest_upload

    if not actor.is_authenticated or actor.jurisdiction is None:
        raise PermissionError("an upload needs a signed-in user with a jurisdiction")
    batch = IntakeBatch.objects.create(
        source=IntakeBatch.Source.UPLOAD, filename=filename[:255], jurisdiction=actor.jurisdiction, received_by=actor
    )
    if not isinstance(data, crypto.Sealed):
        context = IntakeUpload._meta.get_field("data").crypto_context  # type: ignore[attr-defined]
        data = crypto.Sealed(blob=crypto.seal_bytes(data, context=context), size=len(data))
    upload = IntakeUpload.objects.create(batch=batch, data=None, size=data.size)
    # Written apart: on PostgreSQL the ORM would hold the file several times over to send it (core/blobs.py).
    blob_write(IntakeUpload, pk=upload.pk, field="data", value=data)
    audit_record(
        actor=actor, action=Action.CREATE, object_type="intake_batch", object_id=batch.pk, jurisdiction_id=batch.jurisdiction_id
    )
    tasks.enqueue(ingest_upload, batch.pk)
    return batch


def upload_ingest(*, batch_id: int) -> None:
    """Ingest a stored upload (a worker's task); run again after a crash it finishes the file."""
    batch = IntakeBatch.objects.select_related("jurisdiction", "received_by").get(pk=batch_id)
    upload = IntakeUpload.objects.filter(batch=batch).defer("data").first()
    data = blob_read(IntakeUpload, pk=upload.pk, field="data") if upload is not None else None
    if batch.status == IntakeBatch.Status.DONE or upload is None or data is None:
        return  # done already (a task delivered twice)
    if batch.status == IntakeBatch.Status.FAILED:
        # Sent again from the System page after its retries were spent: the page shows it running again.
        IntakeBatch.objects.filter(pk=batch.pk).update(status=IntakeBatch.Status.RUNNING, finished_at=None)
        batch.status = IntakeBatch.Status.RUNNING
    run = Intake(root=batch.jurisdiction, actor=batch.received_by, batch=batch)
    try:
        run.ingest_bytes(data, filename=batch.filename)
    except Exception as exc:
        # Its class and place, not its message (which may quote the file): the task is retried.
        logger.error("upload %s failed (%s); the file is kept and will be tried again", batch_id, describe(exc))
        raise
    with transaction.atomic():
        run.finish()
        IntakeUpload.objects.filter(pk=upload.pk).update(data=None, ingested_at=clock.now())


def upload_failed(*, batch_id: int) -> None:
    """The last attempt failed too: the page stops waiting (the file stays stored for a later try)."""
    IntakeBatch.objects.filter(pk=batch_id, status=IntakeBatch.Status.RUNNING).update(status=IntakeBatch.Status.FAILED)

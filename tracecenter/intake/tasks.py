"""Intake's background work: thin, idempotent, retried."""

from __future__ import annotations

from tracecenter.core.tasks import task


def _upload_given_up(batch_id: int) -> None:
    from tracecenter.intake.uploads import upload_failed

    upload_failed(batch_id=batch_id)


@task(retries=3, give_up=_upload_given_up)
def ingest_upload(batch_id: int) -> None:
    from tracecenter.intake.uploads import upload_ingest

    upload_ingest(batch_id=batch_id)

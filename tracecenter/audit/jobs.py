"""The audit trail's periodic job: entries are sealed into the chain by a worker, never by a request."""

from __future__ import annotations

import datetime as dt

from tracecenter.audit.services import seal_all
from tracecenter.core.env import env_int
from tracecenter.core.schedule import periodic


@periodic(
    "audit.seal",
    every=dt.timedelta(seconds=env_int("AUDIT_SEAL_SECONDS", 2)),
    description="New audit entries are sealed into the tamper-evident chain",
)
def seal() -> None:
    seal_all()

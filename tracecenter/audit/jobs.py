"""The audit trail's periodic job: entries are sealed into the chain by a worker, never by a request."""

from __future__ import annotations

import datetime as dt

from tracecenter.audit.services import AuditEntriesRefused, seal_all_reporting
from tracecenter.core.env import env_int
from tracecenter.core.schedule import periodic


@periodic(
    "audit.seal",
    every=dt.timedelta(seconds=env_int("AUDIT_SEAL_SECONDS", 2)),
    description="New audit entries are sealed into the tamper-evident chain",
)
def seal() -> None:
    _sealed, refused = seal_all_reporting()
    if refused:
        # Everything else is sealed; the failure is for the System page, where administrators look.
        raise AuditEntriesRefused(f"{refused} audit entries refused: their HMAC does not hold; run manage.py audit_verify")

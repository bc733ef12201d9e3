"""The audit trail's periodic jobs: entries are sealed into the chain by a worker, never by a request, and
the whole trail is verified on a schedule, its finding kept for the auditors (45 CFR 164.312(b), (c)(1))."""

from __future__ import annotations

import datetime as dt

from tracecenter.audit.services import AuditChainBroken, AuditEntriesRefused, audit_check_run, seal_all_reporting
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


@periodic(
    "audit.verify",
    every=dt.timedelta(hours=env_int("AUDIT_VERIFY_HOURS", 24)),
    description="The whole audit trail is verified; a break is shown to auditors",
)
def verify() -> None:
    check = audit_check_run()
    if not check.ok:
        # Failing the job also puts it on the System page, beside the banner auditors see on the trail.
        raise AuditChainBroken(f"audit trail verification found {check.problems} problem(s): {check.first_problem}")

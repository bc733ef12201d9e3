"""The accounts' periodic job: accounts left unused are deactivated (the access review of 45 CFR 164.308)."""

from __future__ import annotations

import datetime as dt

from tracecenter.core.env import env_int
from tracecenter.core.schedule import periodic

# Days without a sign-in after which an account stops working; 0 turns the job off.
INACTIVE_DAYS = env_int("ACCOUNT_INACTIVE_DAYS", 90)


@periodic("accounts.disable_unused", every=dt.timedelta(hours=6), description="Accounts not used for a long time are deactivated")
def disable_unused() -> int:
    from tracecenter.accounts.services import users_disable_unused

    return len(users_disable_unused(days=INACTIVE_DAYS)) if INACTIVE_DAYS > 0 else 0


@periodic("sessions.prune", every=dt.timedelta(hours=1), description="Sessions that ended by themselves are removed")
def prune_sessions() -> int:
    from tracecenter.accounts.sessions import sessions_prune

    return sessions_prune()

"""Routing's periodic job: offers that ran out return their work, and workflow steps that ended move on."""

from __future__ import annotations

import datetime as dt

from tracecenter.core.schedule import periodic


@periodic("routing.pass", every=dt.timedelta(seconds=15), description="Offers past their time return; waiting work is routed")
def routing_pass() -> int:
    from tracecenter.routing.claims import offers_expire, route

    expired = offers_expire()
    return expired + len(route())

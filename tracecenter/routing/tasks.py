"""Routing's background tasks: a routing pass at the moment work comes due again (a callback, a retry)."""

from __future__ import annotations

from tracecenter.core.tasks import task


@task(retries=2)
def route_due() -> int:
    """Route what is waiting now: enqueued to run at a callback's or retry's time, so that it is offered
    then and not at the next periodic pass (which still catches it if this task is lost)."""
    from tracecenter.routing.claims import route

    return len(route())

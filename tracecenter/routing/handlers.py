"""What routing does when the case's flow moves: work is created, closed, follows its owner, and is routed."""

from __future__ import annotations

from collections.abc import Sequence

from tracecenter.cases.events import CaseAssigned, CaseOpened, CaseStatusChanged
from tracecenter.contacts.events import ContactElicited, ExposureAssigned, ExposureStatusChanged
from tracecenter.core import events
from tracecenter.routing.events import AgentStateChanged, OfferAnswered, WorkItemCreated, WorkItemRequeued


def on_case_opened(event: CaseOpened) -> None:
    from tracecenter.routing.work import work_open_for_case

    work_open_for_case(case_id=event.case_id)


def on_cases_opened(batch: Sequence[CaseOpened]) -> None:
    """A surge's cases get their interviews in a few statements (the relay falls back to one by one on failure)."""
    from tracecenter.routing.work import work_open_for_cases

    work_open_for_cases(case_ids=[event.case_id for event in batch])


def on_contact_elicited(event: ContactElicited) -> None:
    from tracecenter.routing.work import work_open_for_exposure

    work_open_for_exposure(exposure_id=event.exposure_id)


def on_case_status_changed(event: CaseStatusChanged) -> None:
    from tracecenter.routing.work import work_close_for_case

    work_close_for_case(case_id=event.case_id, status=event.to_status)


def on_exposure_status_changed(event: ExposureStatusChanged) -> None:
    from tracecenter.routing.work import work_close_for_exposure

    work_close_for_exposure(exposure_id=event.exposure_id, status=event.to_status)


def on_case_assigned(event: CaseAssigned) -> None:
    from tracecenter.routing.work import work_follow_owner

    work_follow_owner(case_id=event.case_id, owner_id=event.owner_id)


def on_exposure_assigned(event: ExposureAssigned) -> None:
    from tracecenter.routing.work import work_follow_owner

    work_follow_owner(exposure_id=event.exposure_id, owner_id=event.owner_id)


def on_work_waiting(event: WorkItemCreated | OfferAnswered | AgentStateChanged) -> None:
    """New work, or work back in its queue: route at once rather than at the next periodic pass."""
    from tracecenter.routing.claims import route

    route()


def on_work_waiting_batch(batch: Sequence[WorkItemCreated | OfferAnswered | AgentStateChanged]) -> None:
    """A surge's new work is routed by one pass, not one pass per item."""
    from tracecenter.routing.claims import route

    route()


def on_work_requeued(event: WorkItemRequeued) -> None:
    """A retry or a callback: routed at its time by a task that runs then (the periodic pass is the safety net)."""
    from tracecenter.core import clock
    from tracecenter.routing.attempts import route_at
    from tracecenter.routing.claims import route

    if event.not_before <= clock.now():
        route()
    else:
        route_at(event.not_before)


def _back_in_queue(event: OfferAnswered) -> bool:
    return event.status in ("rejected", "timed_out")


def register() -> None:
    events.subscribe(CaseOpened, on_case_opened, batch=on_cases_opened, name="tracecenter.routing.handlers.on_case_opened")
    events.subscribe(ContactElicited, on_contact_elicited)
    events.subscribe(CaseStatusChanged, on_case_status_changed)
    events.subscribe(ExposureStatusChanged, on_exposure_status_changed)
    events.subscribe(CaseAssigned, on_case_assigned, name="tracecenter.routing.handlers.on_case_assigned")
    events.subscribe(ExposureAssigned, on_exposure_assigned, name="tracecenter.routing.handlers.on_exposure_assigned")
    # Routing is not atomic with the event's delivery: a pass claims in transactions of its own.
    events.subscribe(
        WorkItemCreated,
        on_work_waiting,
        batch=on_work_waiting_batch,
        atomic=False,
        name="tracecenter.routing.handlers.on_work_created",
    )
    events.subscribe(
        OfferAnswered,
        on_work_waiting,
        when=_back_in_queue,
        batch=on_work_waiting_batch,
        atomic=False,
        name="tracecenter.routing.handlers.on_offer_returned",
    )
    events.subscribe(WorkItemRequeued, on_work_requeued, atomic=False, name="tracecenter.routing.handlers.on_work_requeued")
    events.subscribe(
        AgentStateChanged,
        on_work_waiting,
        when=lambda event: event.state == "available",
        batch=on_work_waiting_batch,
        atomic=False,
        name="tracecenter.routing.handlers.on_agent_available",
    )

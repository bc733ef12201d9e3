from __future__ import annotations

from tracecenter.core import events


def on_case_opened(event: events.CaseOpened) -> None:
    from tracecenter.contacts.services import link_new_case_to_exposures

    link_new_case_to_exposures(case_id=event.case_id)


def register() -> None:
    events.subscribe(events.CaseOpened, on_case_opened)

"""What contacts does when other apps announce something."""

from __future__ import annotations

from tracecenter.cases.events import CaseOpened
from tracecenter.core import events


def on_case_opened(event: CaseOpened) -> None:
    from tracecenter.contacts.services import link_new_case_to_exposures

    link_new_case_to_exposures(case_id=event.case_id)


def register() -> None:
    events.subscribe(CaseOpened, on_case_opened)

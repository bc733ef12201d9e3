"""What contacts does when other apps announce something."""

from __future__ import annotations

from collections.abc import Sequence

from tracecenter.cases.events import CaseOpened
from tracecenter.contacts.events import ContactElicited
from tracecenter.core import events


def on_case_opened(event: CaseOpened) -> None:
    from tracecenter.contacts.services import link_new_case_to_exposures

    link_new_case_to_exposures(case_id=event.case_id)


def on_cases_opened(batch: Sequence[CaseOpened]) -> None:
    from tracecenter.contacts.services import link_new_cases_to_exposures

    link_new_cases_to_exposures(case_ids=[event.case_id for event in batch])


def on_contact_entered(event: ContactElicited) -> None:
    from tracecenter.contacts.services import exposure_identity_check

    exposure_identity_check(exposure_id=event.exposure_id)


def _entered(event: ContactElicited) -> bool:
    return event.person_entered


def register() -> None:
    events.subscribe(CaseOpened, on_case_opened, batch=on_cases_opened)
    # Every contact entered by hand is checked against the registry the same way, after the commit.
    events.subscribe(ContactElicited, on_contact_entered, when=_entered)

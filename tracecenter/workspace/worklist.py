"""The order of a worker's open work, and why each item stands where it does, in words.

A tracer opens "My work" many times a day and must be able to trust its order: each row says why it
is where it is ("new positive, specimen 2 days ago", "overdue since 2026-11-28"), and the order
follows the same facts. Overdue work first (the oldest first), then by the case's priority (the
CDC's prioritization, `cases.engine.priority`), then what falls due soonest.

Due dates are the center's timeliness targets: a case interviewed within a day of being opened, a
contact notified within a day of being named (CDC's case investigation and contact tracing
metrics), a person released when their isolation or quarantine ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tracecenter.cases.models import Case, CaseStatus
from tracecenter.contacts.models import Exposure, ExposureStatus

DAY = dt.timedelta(days=1)
NOT_YET_INTERVIEWED = (CaseStatus.NEW, CaseStatus.ASSIGNED, CaseStatus.ATTEMPTING)
ISOLATING = (CaseStatus.INTERVIEWED, CaseStatus.IN_ISOLATION)
FOLLOWED = (ExposureStatus.NOTIFIED, ExposureStatus.MONITORING)
# A new contact is as urgent as a priority-2 case: exposed people reached late have exposed others.
NEW_CONTACT_PRIORITY = 2
CONTACT_PRIORITY = 3


@dataclasses.dataclass(frozen=True)
class WorkItem:
    record: Case | Exposure
    why: list[str]
    due: dt.date | None
    overdue: bool
    priority: int

    @property
    def rank(self) -> tuple[int, str, int, str, int]:
        due = self.due.isoformat() if self.due else "9999-12-31"
        # Overdue first, the longest overdue first; then priority; then what is due soonest.
        return (0 if self.overdue else 1, due if self.overdue else "", self.priority, due, self.record.pk)


def _days_ago(day: dt.date, today: dt.date) -> str:
    n = (today - day).days
    if n <= 0:
        return _("today")
    return ngettext("%(n)d day ago", "%(n)d days ago", n) % {"n": n}


def _age(born: dt.date | None, today: dt.date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def case_item(case: Case, today: dt.date) -> WorkItem:
    why: list[str] = []
    due: dt.date | None = None
    if case.status in NOT_YET_INTERVIEWED:
        due = timezone.localdate(case.opened_at) + DAY
        if today > due:
            why.append(_("overdue since %(date)s: the interview was due a day after the case opened") % {"date": due.isoformat()})
        if case.specimen_collection_date is not None:
            why.append(_("new positive, specimen %(ago)s") % {"ago": _days_ago(case.specimen_collection_date, today)})
        else:
            why.append(_("new case, not yet interviewed"))
    elif case.status in ISOLATING and case.isolation_end is not None:
        due = case.isolation_end
        if today > due:
            why.append(_("isolation ended %(date)s: release or follow up") % {"date": due.isoformat()})
        else:
            why.append(_("in isolation until %(date)s") % {"date": due.isoformat()})
    elif case.status == CaseStatus.UNREACHABLE:
        why.append(_("unreachable: try another way to reach them"))
    elif case.status == CaseStatus.REFUSED:
        why.append(_("refused the interview: close or try again"))
    elif case.status == CaseStatus.RELEASED:
        why.append(_("released: close the case"))
    if case.congregate_setting:
        why.append(_("lives or works in a congregate setting"))
    if case.hospitalized:
        why.append(_("hospitalized"))
    age = _age(case.person.date_of_birth, today)
    if age is not None and age >= 65:
        why.append(_("aged 65 or over"))
    return WorkItem(record=case, why=why, due=due, overdue=due is not None and today > due, priority=case.priority)


def contact_item(exposure: Exposure, today: dt.date) -> WorkItem:
    why: list[str] = []
    due: dt.date | None = None
    priority = CONTACT_PRIORITY
    if exposure.status == ExposureStatus.NEW:
        priority = NEW_CONTACT_PRIORITY
        due = timezone.localdate(exposure.created_at) + DAY
        if today > due:
            why.append(_("overdue since %(date)s: the contact was to be notified within a day") % {"date": due.isoformat()})
        why.append(
            _("new contact, not yet notified, last exposed %(ago)s") % {"ago": _days_ago(exposure.last_exposure_date, today)}
        )
    elif exposure.status in FOLLOWED:
        due = exposure.quarantine_end
        if today > due:
            why.append(_("quarantine ended %(date)s: release the contact") % {"date": due.isoformat()})
        else:
            why.append(_("in quarantine until %(date)s") % {"date": due.isoformat()})
    elif exposure.status == ExposureStatus.UNREACHABLE:
        why.append(_("unreachable: try again, or another way to reach them"))
    return WorkItem(record=exposure, why=why, due=due, overdue=due is not None and today > due, priority=priority)


def ordered(items: list[WorkItem]) -> list[WorkItem]:
    return sorted(items, key=lambda item: item.rank)

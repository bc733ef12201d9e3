"""A case reported by telephone or by a provider, not from a lab feed.

The person is either one the reporting user already sees (found by the person search) or entered
as told, and then kept exactly as entered: the entry is compared only with the persons the user
sees, and whether the registry already knows them elsewhere is for identity review, after the
commit (`CaseReported` -> `people.identity.match_review_for_entered`), so that nothing about
persons the user may not see reaches them, not even as a refusal or a delay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.db.models import QuerySet, TextChoices
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Scope
from tracecenter.cases.events import CaseAssigned, CaseReported
from tracecenter.cases.models import OPEN_STATUSES, Case, CaseActivity, CaseStatus
from tracecenter.cases.services import CaseFacts, case_change_status, case_open, case_record_facts
from tracecenter.core import clock, events
from tracecenter.core.errors import DomainError
from tracecenter.intake import conditions
from tracecenter.people.models import Person
from tracecenter.people.services import PersonInput, person_create, person_find_exact

MAX_REPORTER = 200


class ReportSource(TextChoices):
    PHONE = "phone", gettext_lazy("Telephone (the person or a relative)")
    PROVIDER = "provider", gettext_lazy("Healthcare provider")
    OTHER = "other", gettext_lazy("Other")


@dataclasses.dataclass
class CaseReport:
    source: str
    reporter: str = ""  # who reported it: a clinic, a physician (kept encrypted in the case's timeline)
    specimen_collection_date: dt.date | None = None
    symptom_onset: dt.date | None = None
    condition: str = "covid-19"  # a code of intake/conditions.py


def clean_case_report(report: CaseReport) -> CaseReport:
    """Validate a report's own fields; raises DomainError naming the field at fault."""
    if report.source not in ReportSource.values:
        raise DomainError(_("Choose one of the listed values."), field="source")
    if report.condition not in conditions.CATALOGUE:
        raise DomainError(_("Choose one of the listed values."), field="condition")
    reporter = " ".join((report.reporter or "").split())
    if len(reporter) > MAX_REPORTER:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_REPORTER}, field="reporter")
    if any(not ch.isprintable() for ch in reporter):
        raise DomainError(_("This cannot contain control characters."), field="reporter")
    if report.source == ReportSource.PROVIDER and not reporter:
        raise DomainError(_("Name the provider who reported the case."), field="reporter")
    today = clock.today()
    for field in ("specimen_collection_date", "symptom_onset"):
        day = getattr(report, field)
        if day is not None and day > today:
            raise DomainError(_("This date cannot be in the future."), field=field)
        if day is not None and day < today - dt.timedelta(days=365):
            raise DomainError(_("This date is more than a year ago: check it."), field=field)
    if report.specimen_collection_date is None and report.symptom_onset is None:
        raise DomainError(_("Give the specimen collection date or the symptom onset date."), field="specimen_collection_date")
    return dataclasses.replace(report, reporter=reporter)


def _person_for_report(
    actor: User, jurisdiction: Jurisdiction, person: Person | PersonInput, *, seen: QuerySet[Person]
) -> tuple[Person, bool]:
    if isinstance(person, Person):
        return person, False
    known = person_find_exact(among=seen, data=person)
    if known is not None:
        raise DomainError(
            _("This person is already among your records: find them with the search and report the case from there."),
            field="last_name",
        )
    return person_create(actor=actor, jurisdiction=jurisdiction, data=person), True


@transaction.atomic
def case_report(
    *, actor: User, jurisdiction: Jurisdiction, person: Person | PersonInput, report: CaseReport, seen: QuerySet[Person]
) -> Case:
    """Open a case reported outside the feeds. `person`: a record the caller may see, or one entered now.

    `seen`: the persons `actor` may see (the access policy's answer), the only ones an entered
    person is compared with. The reporting user owns the case when their role takes work, so that
    they see what they opened (an investigator); a supervisor's report waits for assignment as usual.
    """
    report = clean_case_report(report)
    if not policy.covers(actor.jurisdiction, jurisdiction):
        raise DomainError(_("Choose a jurisdiction you work in."), field="jurisdiction")
    subject, entered = _person_for_report(actor, jurisdiction, person, seen=seen)
    if Case.objects.filter(person=subject, status__in=OPEN_STATUSES).exists():
        raise DomainError(_("This person already has an open case: open it from their page."), field="person")
    case = case_open(
        actor=actor, person=subject, specimen_collection_date=report.specimen_collection_date, condition=report.condition
    )
    if report.symptom_onset is not None:
        case_record_facts(
            actor=actor,
            case=case,
            facts=CaseFacts(
                symptom_onset=report.symptom_onset, asymptomatic=False, symptoms=[], hospitalized=False, congregate_setting=False
            ),
        )
    source = ReportSource(report.source).label
    summary = f"{source}: {report.reporter}" if report.reporter else str(source)
    # The opening line of the timeline says where the case came from (encrypted: a reporter's name is typed).
    opened = case.activities.filter(kind=CaseActivity.Kind.OPENED).first()
    if opened is not None:
        opened.summary = _("Reported by %(source)s") % {"source": summary}
        opened.save(update_fields=["summary"])
    # Someone who sees only their own records owns what they report, or they could not see it; a supervisor,
    # who sees it anyway, leaves it for assignment.
    if actor.scope == Scope.ASSIGNED and policy.may_own_work(actor) and policy.covers(actor.jurisdiction, case.jurisdiction):
        case.owner, case.team = actor, actor.team
        case.save(update_fields=["owner", "team", "updated_at"])
        case_change_status(actor=actor, case=case, to_status=CaseStatus.ASSIGNED, reason=_("Assigned"))
        events.publish(
            CaseAssigned(
                case_id=case.pk,
                jurisdiction_id=case.jurisdiction_id,
                team_id=case.team_id,
                owner_id=actor.pk,
                previous_owner_id=None,
            )
        )
    events.publish(CaseReported(case_id=case.pk, person_id=subject.pk, person_entered=entered))
    return case


def case_report_identity_check(*, case_id: int) -> None:
    """A person entered with a reported case may be someone already known: a review, after the commit."""
    from tracecenter.people.identity import match_review_for_entered

    case = Case.objects.select_related("person").filter(pk=case_id).first()
    if case is not None:
        match_review_for_entered(person=case.person, source=f"case {case.pk}")

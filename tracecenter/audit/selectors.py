"""Reads of the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from tracecenter.accounts import policy
from tracecenter.accounts.models import User, Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import require_audited
from tracecenter.audit.models import Action, AuditCheckpoint, AuditEntry
from tracecenter.core import clock


def audit_entries_visible_to(user: Viewer) -> QuerySet[AuditEntry]:
    """The entries of the auditor's jurisdiction and everything below it (`policy.audit_entries_q`), newest first."""
    require_audited(user, Capability.VIEW_AUDIT, object_type="audit_log")
    auditor = policy.signed_in(user)
    if auditor is None or auditor.jurisdiction is None:
        raise PermissionDenied
    return AuditEntry.objects.filter(policy.audit_entries_q(auditor)).order_by("-at", "-pk")


def access_review(viewer: Viewer, *, days: int = 30) -> QuerySet[User]:
    """Every account of the viewer's jurisdiction and below, with its recent reads and refusals (the periodic review)."""
    reviewer = policy.signed_in(viewer)
    if reviewer is None or reviewer.jurisdiction is None or not reviewer.has_capability(Capability.VIEW_AUDIT):
        return User.objects.none()
    since = clock.now() - dt.timedelta(days=days)
    entries = AuditEntry.objects.filter(actor_id=OuterRef("pk"), at__gte=since)

    def count(action: str) -> Subquery:
        return Subquery(entries.filter(action=action).order_by().values("actor_id").annotate(n=Count("pk")).values("n")[:1])

    return (
        User.objects.filter(jurisdiction__path__startswith=reviewer.jurisdiction.path)
        .select_related("jurisdiction", "team")
        .annotate(reads=Coalesce(count(Action.READ), 0), refusals=Coalesce(count(Action.DENIED), 0))
        .order_by("jurisdiction__path", "username")
    )


# "Who accessed this person": each app that keeps records about persons says which of its records
# are a person's (under the object type its audit entries use), registered when it starts.
PersonRecords = Callable[[int], Iterable[int]]
_PERSON_RECORDS: dict[str, PersonRecords] = {}


def register_person_records(object_type: str, records: PersonRecords) -> None:
    _PERSON_RECORDS[object_type] = records


def about_person_q(person_id: int) -> Q | None:
    """The entries about the person or any record of theirs (None: there is no record of theirs)."""
    about = Q()
    for object_type, records in sorted(_PERSON_RECORDS.items()):
        ids = [str(pk) for pk in records(person_id)]
        if ids:
            about |= Q(object_type=object_type, object_id__in=ids)
    return about or None


def person_access(viewer: Viewer, person_id: int) -> QuerySet[AuditEntry]:
    """Every entry about the person or any record of theirs, in the viewer's jurisdiction and below, newest first."""
    about = about_person_q(person_id)
    visible = audit_entries_visible_to(viewer)
    return visible.filter(about) if about is not None else visible.none()


def user_access(viewer: Viewer, user_id: int) -> QuerySet[AuditEntry]:
    """Everything one user did, in the viewer's jurisdiction and below, newest first."""
    return audit_entries_visible_to(viewer).filter(actor_id=user_id)


def trail_removed_up_to() -> AuditCheckpoint | None:
    """The latest checkpoint of the trail's own retention: the entries up to it were removed (None: none ever were)."""
    return AuditCheckpoint.objects.order_by("-up_to_seq").first()


def audit_entries_filtered(
    entries: QuerySet[AuditEntry],
    *,
    username: str = "",
    object_type: str = "",
    object_id: str = "",
    action: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEntry]:
    """The auditor's filters, on entries the auditor may read already (`audit_entries_visible_to`)."""
    if username:
        entries = entries.filter(actor_username__iexact=username)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if action:
        entries = entries.filter(action=action)
    if since is not None:
        entries = entries.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    return entries


def chain_state() -> dict[str, int]:
    """Where the chain stands now: entries sealed, waiting for the sealer, and refused by it (HMAC did not hold)."""
    counts = AuditEntry.objects.aggregate(
        sealed=Count("pk", filter=Q(seq__isnull=False)),
        pending=Count("pk", filter=Q(seq__isnull=True, seal_refused=False)),
        refused=Count("pk", filter=Q(seal_refused=True)),
    )
    return {key: int(value or 0) for key, value in counts.items()}

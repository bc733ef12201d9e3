"""The one place where role, jurisdiction, team and assignment decide access.

Every page, API endpoint and export asks here: `require` for what the role may do,
`scope` for which rows of a record type the user may see, `may`/`acts` (one record) and
`permitted` (in bulk) for what they may do with a row: see it through a record of theirs,
read it whole, edit it, assign it. Record types pass in (or register) how their rows
relate to a user (who they are assigned to); the rules themselves stay here.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Exists, ExpressionWrapper, Model, OuterRef, Q, QuerySet, Value

from tracecenter.accounts.roles import ASSIGNABLE_ROLES, Capability, Scope

if TYPE_CHECKING:
    from tracecenter.accounts.models import Jurisdiction, User, Viewer

M = TypeVar("M", bound=Model)


def signed_in(viewer: Viewer | None) -> User | None:
    """The active, signed-in user behind `viewer`; None for anyone else (who may do nothing)."""
    from tracecenter.accounts.models import User

    if isinstance(viewer, User) and viewer.is_authenticated and viewer.is_active:
        return viewer
    return None


def has(viewer: Viewer | None, capability: Capability) -> bool:
    user = signed_in(viewer)
    return user is not None and user.has_capability(capability)


def require(user: Viewer | None, capability: Capability) -> None:
    if not has(user, capability):
        raise PermissionDenied


def jurisdiction_q(viewer: Viewer | None, field: str = "jurisdiction") -> Q:
    """This user's jurisdiction and everything below it; nothing for a user without one."""
    user = signed_in(viewer)
    if user is None or user.jurisdiction is None:
        return Q(pk__in=[])
    return Q(**{f"{field}__path__startswith": user.jurisdiction.path})


# Conditions "this user holds open work on this row", per model label ("cases.case"), registered by the
# app that manages work (routing) when it loads: a holder sees the record while the work is open, and
# the rule is still applied here, with the others.
_HOLDERS: dict[str, list[Callable[[Any], Q]]] = defaultdict(list)


def register_holder(model_label: str, condition: Callable[[Any], Q]) -> None:
    if condition not in _HOLDERS[model_label]:
        _HOLDERS[model_label].append(condition)


def scope[M: Model](
    qs: QuerySet[M],
    user: Viewer,
    *,
    assigned: Q,
    team_field: str | None = "team",
    jurisdiction_field: str = "jurisdiction",
    also: Q | None = None,
) -> QuerySet[M]:
    """Narrow `qs` to what `user` may see, in one query however long the list (docs/ownership.md).

    `assigned` is the condition "this row is the user's" for the record type: its owner (and, for
    a contact, whoever owns its case). Whoever holds open work on a row is added from the holders
    registered for its model. `also`: rows seen whatever the role's reach inside the jurisdiction
    (those opened by breaking the glass).
    """
    viewer = signed_in(user)
    if viewer is None:
        return qs.none()
    user = viewer
    role_scope = user.scope
    if role_scope == Scope.NONE:
        return qs.none()
    within = jurisdiction_q(user, jurisdiction_field)
    if role_scope == Scope.ASSIGNED:
        for holds in _HOLDERS.get(qs.model._meta.label_lower, ()):
            assigned |= holds(user)
        return qs.filter(within & (assigned | also if also is not None else assigned)).distinct()
    if role_scope == Scope.TEAM and user.team_id is not None and team_field is not None:
        # A team's supervisor sees the team's records and the ones not yet routed to a team.
        team = Q(**{team_field: user.team_id}) | Q(**{f"{team_field}__isnull": True})
        return qs.filter(within & (team | also if also is not None else team))
    return qs.filter(within)


def _broken_glass(viewer: User, label: str) -> Q:
    """The rows of `label` this user opened by breaking the glass, while the grant lasts."""
    from tracecenter.accounts.models import AccessGrant
    from tracecenter.core import clock

    ids = AccessGrant.objects.filter(user=viewer, record_type=label, expires_at__gt=clock.now()).values("object_id")
    return Q(pk__in=ids)


# --- Per record, per action (docs/ownership.md, "What each may do with a record").
#
# `scope` says which rows a user may see; a page or endpoint that acts on one record asks what the user
# may do with that record: `may(user, act, record)`, or `acts(user, record)` for all of it at once, and
# `permitted(qs, user, act)` in bulk. Each record type registers (in its app's ready) how its rows are a
# user's ("assigned"); another app may register a link, through which a user sees a row only in part.


class Act(enum.StrEnum):
    SEE_LINKED = "see_linked"  # what a record of theirs hanging off this one needs (a case, through a contact followed)
    READ = "read"  # the whole record: for a case, its person, lab results, contacts, places, timeline
    EDIT = "edit"  # change it: a case's status, interview and facts, its contacts
    ASSIGN = "assign"  # give it an owner or a team, transfer it


_NEEDS = {
    Act.SEE_LINKED: Capability.VIEW_RECORDS,
    Act.READ: Capability.VIEW_RECORDS,
    Act.EDIT: Capability.EDIT_RECORDS,
    Act.ASSIGN: Capability.ASSIGN,
}


def needs(act: Act) -> Capability:
    """The role's capability an act needs (what a refusal names in the audit trail)."""
    return _NEEDS[act]


@dataclasses.dataclass(frozen=True)
class RecordType:
    """How rows of one model relate to a user, for `permitted` (the rules stay here)."""

    assigned: Callable[[Any], Q]  # this row is the user's: they own it (or own what it hangs off)
    team_field: str | None = "team"
    jurisdiction_field: str = "jurisdiction"


_RECORDS: dict[str, RecordType] = {}
# Per model label: conditions "the user sees this row through a record of theirs linked to it" (a
# case, through a contact of it that they follow). Such a row is theirs to SEE_LINKED, nothing more.
_LINKS: dict[str, list[Callable[[Any], Q]]] = defaultdict(list)


def register_record(model_label: str, record_type: RecordType) -> None:
    _RECORDS[model_label] = record_type


def register_link(model_label: str, condition: Callable[[Any], Q]) -> None:
    if condition not in _LINKS[model_label]:
        _LINKS[model_label].append(condition)


def permitted[M: Model](qs: QuerySet[M], user: Viewer, act: Act, *, broken_glass: bool = True) -> QuerySet[M]:
    """The rows of `qs` on which `user` may `act`, in one query however long the list.

    Who sees a row at all is `scope`. On top of it: editing needs the role's EDIT_RECORDS and
    assigning its ASSIGN; a row seen only through a link (a case whose contact the user follows)
    is theirs to SEE_LINKED and to nothing else, neither READ in full nor EDIT nor ASSIGN. A row
    opened by breaking the glass (`access_grant_break_glass`) is theirs to read while the grant
    lasts, never to change.
    """
    viewer = signed_in(user)
    if viewer is None or not viewer.has_capability(_NEEDS[act]):
        return qs.none()
    label = qs.model._meta.label_lower
    record_type = _RECORDS[label]
    assigned = record_type.assigned(viewer)
    if act == Act.SEE_LINKED:
        for link in _LINKS.get(label, ()):
            assigned |= link(viewer)
    also = _broken_glass(viewer, label) if broken_glass and act in (Act.SEE_LINKED, Act.READ) else None
    return scope(
        qs,
        viewer,
        assigned=assigned,
        team_field=record_type.team_field,
        jurisdiction_field=record_type.jurisdiction_field,
        also=also,
    )


_TRUE = Value(True, output_field=BooleanField())


def with_acts[M: Model](qs: QuerySet[M], user: Viewer) -> QuerySet[M]:
    """The rows `user` may at least SEE_LINKED, each carrying whether they may READ it in full, so that
    `acts` and `may` on them ask the database nothing more (a page that fetches the record this way)."""
    rows = permitted(qs, user, Act.SEE_LINKED)
    viewer = signed_in(user)
    if viewer is None:
        return rows
    same = qs.model._default_manager.filter(pk=OuterRef("pk"))
    # Whether the row is theirs to change: read in full without breaking the glass (for those who cannot
    # break it, reading is owning, and the database need not be asked twice).
    own = Exists(permitted(same, viewer, Act.READ, broken_glass=False)) if viewer.can_break_glass else _TRUE
    if viewer.scope != Scope.ASSIGNED:
        # Beyond one's own records (a team, a jurisdiction), a row is seen whole or not at all.
        return cast("QuerySet[M]", rows.annotate(policy_reads=_TRUE, policy_own=own))
    return cast("QuerySet[M]", rows.annotate(policy_reads=Exists(permitted(same, viewer, Act.READ)), policy_own=own))


def acts(user: Viewer, record: Model) -> frozenset[Act]:
    """Everything `user` may do with `record`: one query, none for a record fetched through `with_acts`."""
    viewer = signed_in(user)
    if viewer is None:
        return frozenset()
    reads, own = getattr(record, "policy_reads", None), getattr(record, "policy_own", None)
    rows = record._meta.model._default_manager.filter(pk=record.pk)
    if reads is None:
        reads = permitted(rows, viewer, Act.READ).exists()
        if not reads and not permitted(rows, viewer, Act.SEE_LINKED).exists():
            return frozenset()
    if not reads:
        return frozenset({Act.SEE_LINKED})
    if own is None:
        own = not viewer.can_break_glass or permitted(rows, viewer, Act.READ, broken_glass=False).exists()
    if not own:
        return frozenset({Act.SEE_LINKED, Act.READ})  # opened by breaking the glass: read, never changed
    return frozenset({Act.SEE_LINKED, Act.READ} | {act for act in (Act.EDIT, Act.ASSIGN) if viewer.has_capability(_NEEDS[act])})


def may(user: Viewer, act: Act, record: Model) -> bool:
    """Whether `user` may `act` on `record` (see `acts`)."""
    return act in acts(user, record)


def covers(holder: Jurisdiction | None, jurisdiction: Jurisdiction) -> bool:
    """`jurisdiction` is `holder` or below it in the tree."""
    return holder is not None and jurisdiction.path.startswith(holder.path)


def may_assign_in(viewer: Viewer | None, jurisdiction: Jurisdiction) -> bool:
    """Giving work an owner is a supervisor's act, and only inside the supervisor's own jurisdiction."""
    user = signed_in(viewer)
    return user is not None and user.has_capability(Capability.ASSIGN) and covers(user.jurisdiction, jurisdiction)


def may_own_work(user: User) -> bool:
    """Whether `user` can be the owner of a case or contact at all (active, in a role that takes work)."""
    return user.is_active and user.role in ASSIGNABLE_ROLES


def may_administer(viewer: Viewer | None, jurisdiction: Jurisdiction | None) -> bool:
    """Setting up users, teams, skills, jurisdictions and rules is an administrator's act, and only in
    the administrator's own jurisdiction and below it: a county's administrator cannot reach another
    county or the state."""
    user = signed_in(viewer)
    return (
        user is not None
        and user.has_capability(Capability.MANAGE_USERS)
        and jurisdiction is not None
        and covers(user.jurisdiction, jurisdiction)
    )


def may_manage_credentials(viewer: Viewer | None, account: User) -> bool:
    """Seeing and stopping an account's credentials (its API tokens): the account's holder, or an administrator
    of its jurisdiction. Making one stays the holder's alone (a credential is personal)."""
    user = signed_in(viewer)
    return user is not None and (user.pk == account.pk or may_administer(user, account.jurisdiction))


def administered[M: Model](qs: QuerySet[M], user: Viewer, *, jurisdiction_field: str | None = "jurisdiction") -> QuerySet[M]:
    """Narrow `qs` to the rows in jurisdictions `user` administers: `may_administer`, asked in bulk.

    `jurisdiction_field` names the row's jurisdiction; None when the rows are jurisdictions themselves.
    """
    viewer = signed_in(user)
    if viewer is None or not viewer.has_capability(Capability.MANAGE_USERS) or viewer.jurisdiction is None:
        return qs.none()
    user = viewer
    lookup = "path__startswith" if jurisdiction_field is None else f"{jurisdiction_field}__path__startswith"
    return qs.filter(**{lookup: viewer.jurisdiction.path})


def audit_entries_q(viewer: Viewer | None, field: str = "jurisdiction_id") -> Q:
    """The audit entries `viewer` may read (the capability is asked apart): those of their jurisdiction
    and below it. An auditor of a top-level jurisdiction also reads the entries that belong to no
    jurisdiction (a failed sign-in naming no known account, work started on the server), which no
    auditor would see otherwise."""
    from tracecenter.accounts.models import Jurisdiction

    user = signed_in(viewer)
    if user is None or user.jurisdiction is None:
        return Q(pk__in=[])
    within = Q(**{f"{field}__in": Jurisdiction.objects.filter(path__startswith=user.jurisdiction.path).values("pk")})
    if user.jurisdiction.parent_id is None:
        within |= Q(**{f"{field}__isnull": True})
    return within


# --- Real-time push: who hears about which record. The same rules as `scope`, as group names.


def push_groups(user: User) -> list[str]:
    """The push groups `user`'s browser joins: exactly the records `scope` lets them see."""
    groups = [f"user.{user.pk}"]
    if not user.is_active or user.jurisdiction_id is None:
        return groups
    if user.scope == Scope.TEAM and user.team_id is not None:
        # A team's supervisor sees the team's records and the ones not yet routed to a team.
        groups += [f"team.{user.team_id}", f"jurisdiction.{user.jurisdiction_id}.unteamed"]
    elif user.scope in (Scope.TEAM, Scope.JURISDICTION):
        groups.append(f"jurisdiction.{user.jurisdiction_id}")
    return groups


def record_groups(*, jurisdiction: Jurisdiction, team_id: int | None, user_ids: Iterable[int | None] = ()) -> list[str]:
    """The push groups of everyone who may see a record of `jurisdiction` (and `team_id`), plus `user_ids`."""
    above = jurisdiction.ancestors_and_self()
    groups = [f"user.{pk}" for pk in user_ids if pk]
    groups += [f"jurisdiction.{pk}" for pk in above]
    groups += [f"team.{team_id}"] if team_id is not None else [f"jurisdiction.{pk}.unteamed" for pk in above]
    return groups


# --- Identity reviews and merges: deciding that two person records are one person (or undoing it)
# needs sight of both records, so each side is judged on its own and a review is routed to a
# jurisdiction that covers both (docs/ownership.md, "Identity reviews").


def review_route(*paths: str) -> int:
    """The jurisdiction a review of records in `paths` goes to: the deepest one covering all of them.

    Two records of one county stay with that county; a county's record and another county's (or
    the state's) go to the state, whose reviewers may see both.
    """
    parts = [path.strip("/").split("/") for path in paths]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    if not common or not common[0]:
        raise ValueError("records of different states are never compared")
    return int(common[-1])


def may_see_identity_side(viewer: Viewer | None, jurisdiction: Jurisdiction) -> bool:
    """Whether a reviewer may be shown a person record of `jurisdiction` beside another."""
    user = signed_in(viewer)
    return user is not None and user.has_capability(Capability.REVIEW_MATCHES) and covers(user.jurisdiction, jurisdiction)


def may_decide_identity(viewer: Viewer | None, *jurisdictions: Jurisdiction) -> bool:
    """Merging, keeping apart or undoing a merge: only someone who may see every record involved."""
    return bool(jurisdictions) and all(may_see_identity_side(viewer, j) for j in jurisdictions)


def identity_decisions[M: Model](
    qs: QuerySet[M], user: Viewer, *, sides: dict[str, str], routed: str | None = None
) -> QuerySet[M]:
    """The reviews or merges `user` may list, each annotated with what they may see and decide, in one query.

    `sides` names each person record of a row and the lookup of its jurisdiction
    ({"incoming": "incoming__jurisdiction", ...}); the rows come back with `<side>_visible` for
    each (`may_see_identity_side` in bulk) and `decidable` (`may_decide_identity` in bulk).
    A review is listed where it was routed (`routed`: its jurisdiction field); a merge, which
    has no route, where one of its sides is.
    """
    viewer = signed_in(user)
    if viewer is None or viewer.jurisdiction is None or not viewer.has_capability(Capability.REVIEW_MATCHES):
        return qs.none()
    seen = {name: jurisdiction_q(viewer, lookup) for name, lookup in sides.items()}
    if routed is not None:
        listed = jurisdiction_q(viewer, routed)
    else:
        listed = Q(pk__in=[])
        for condition in seen.values():
            listed |= condition
    decidable = Q()
    for condition in seen.values():
        decidable &= condition
    flags = {f"{name}_visible": ExpressionWrapper(condition, output_field=BooleanField()) for name, condition in seen.items()}
    annotated = qs.filter(listed).annotate(**flags, decidable=ExpressionWrapper(decidable, output_field=BooleanField()))
    return cast("QuerySet[M]", annotated)


# --- Breaking the glass: a record outside the user's reach, opened with a reason (docs/ownership.md).


def may_break_glass(viewer: Viewer | None, jurisdiction: Jurisdiction | None) -> bool:
    """Someone who sees only part of their jurisdiction may open one of its records outside their reach.

    Those who see the whole jurisdiction have nothing to open; those who see no records, no glass to break.
    """
    user = signed_in(viewer)
    return user is not None and user.can_break_glass and jurisdiction is not None and covers(user.jurisdiction, jurisdiction)


def breakable() -> dict[str, RecordType]:
    """The record types that can be opened by breaking the glass (those registered with the policy)."""
    return dict(_RECORDS)


def may_review_access(viewer: Viewer | None, jurisdiction: Jurisdiction) -> bool:
    """The privacy officer reviews the glass broken in their jurisdiction and below."""
    user = signed_in(viewer)
    return user is not None and user.has_capability(Capability.REVIEW_ACCESS) and covers(user.jurisdiction, jurisdiction)

"""The one place where role, jurisdiction, team and assignment decide access.

Every page, API endpoint and export asks here: `require` for what the role may do,
`scope` for which rows of a record type the user may see. Record types pass in
how their rows relate to a user (who they are assigned to); the rules themselves
stay here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet

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
    qs: QuerySet[M], user: Viewer, *, assigned: Q, team_field: str | None = "team", jurisdiction_field: str = "jurisdiction"
) -> QuerySet[M]:
    """Narrow `qs` to what `user` may see, in one query however long the list (docs/ownership.md).

    `assigned` is the condition "this row is the user's" for the record type: its owner (and, for
    a contact, whoever owns its case). Whoever holds open work on a row is added from the holders
    registered for its model.
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
        return qs.filter(within & assigned).distinct()
    if role_scope == Scope.TEAM and user.team_id is not None and team_field is not None:
        # A team's supervisor sees the team's records and the ones not yet routed to a team.
        return qs.filter(within & (Q(**{team_field: user.team_id}) | Q(**{f"{team_field}__isnull": True})))
    return qs.filter(within)


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

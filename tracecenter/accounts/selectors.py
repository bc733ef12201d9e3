"""Reads for the administration and access pages, always narrowed by the access policy."""

from __future__ import annotations

import dataclasses

from django.db.models import F, Prefetch, Q, QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import AccessGrant, Jurisdiction, Skill, Team, User, UserLanguage, Viewer


@dataclasses.dataclass
class TreeNode:
    jurisdiction: Jurisdiction
    teams: list[Team]
    children: list[TreeNode] = dataclasses.field(default_factory=list)


def account_named(username: str) -> User | None:
    """The account a sign-in names (exactly as the authentication backend looks it up), active or not."""
    return User._default_manager.filter(**{User.USERNAME_FIELD: username}).first() if username else None


def jurisdictions_administered_by(user: Viewer) -> QuerySet[Jurisdiction]:
    return policy.administered(Jurisdiction.objects.all(), user, jurisdiction_field=None).order_by("path")


def jurisdiction_tree(user: Viewer) -> list[TreeNode]:
    """The jurisdictions `user` administers as a tree (children by name), each with its teams: two queries."""
    rows = list(jurisdictions_administered_by(user).prefetch_related(Prefetch("teams", queryset=Team.objects.order_by("name"))))
    nodes = {j.pk: TreeNode(jurisdiction=j, teams=list(j.teams.all())) for j in rows}
    roots: list[TreeNode] = []
    for node in nodes.values():
        parent = nodes.get(node.jurisdiction.parent_id or 0)
        (parent.children if parent is not None else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.jurisdiction.name.casefold())
    return roots


def teams_administered_by(user: Viewer, *, keep: int | None = None) -> QuerySet[Team]:
    """The teams of `user`'s jurisdictions, and the team `keep` (the one an edited user already has)."""
    administered = policy.administered(Team.objects.all(), user).values("pk")
    return (
        Team.objects.filter(Q(pk__in=administered) | Q(pk=keep))
        .select_related("jurisdiction")
        .order_by("jurisdiction__path", "name")
    )


def skills_available_to(user: Viewer) -> QuerySet[Skill]:
    """Skills an administrator can give: those defined at their jurisdiction, above it, or below it
    (the user service then checks that a skill covers the jurisdiction of the user who gets it)."""
    admin = policy.signed_in(user)
    if admin is None or admin.jurisdiction is None or not policy.may_administer(admin, admin.jurisdiction):
        return Skill.objects.none()
    above = admin.jurisdiction.ancestors_and_self()
    return Skill.objects.filter(Q(jurisdiction_id__in=above) | Q(jurisdiction__path__startswith=admin.jurisdiction.path))


def users_administered_by(
    user: Viewer, *, jurisdiction: Jurisdiction | None = None, role: str = "", active: bool | None = None
) -> QuerySet[User]:
    """The users of `user`'s jurisdictions with what the list shows, filtered; a constant number of queries."""
    qs = policy.administered(User.objects.all(), user)
    if jurisdiction is not None:
        qs = qs.filter(jurisdiction=jurisdiction)
    if role:
        qs = qs.filter(role=role)
    if active is not None:
        qs = qs.filter(is_active=active)
    return (
        qs.select_related("jurisdiction", "team")
        .prefetch_related(
            Prefetch("spoken_languages", queryset=UserLanguage.objects.order_by("language")),
        )
        .order_by("last_name", "first_name", "username")
    )


def access_grants_to_review(user: Viewer) -> QuerySet[AccessGrant]:
    """The glass broken in the reviewer's jurisdiction and below: waiting for review first, newest first."""
    viewer = policy.signed_in(user)
    if viewer is None or not viewer.can_review_access or viewer.jurisdiction is None:
        return AccessGrant.objects.none()
    return (
        AccessGrant.objects.filter(jurisdiction__path__startswith=viewer.jurisdiction.path)
        .select_related("user", "jurisdiction", "reviewed_by")
        .order_by(F("reviewed_at").asc(nulls_first=True), "-granted_at", "-pk")
    )


def access_grants_of(user: Viewer) -> QuerySet[AccessGrant]:
    """The glass this user broke, newest first (they see their own reasons and whether they were reviewed)."""
    viewer = policy.signed_in(user)
    if viewer is None:
        return AccessGrant.objects.none()
    return AccessGrant.objects.filter(user=viewer).select_related("jurisdiction").order_by("-granted_at", "-pk")

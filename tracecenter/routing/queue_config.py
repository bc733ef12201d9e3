"""A state's queues as its administrators set them on the pages, and the preview of whom they reach.

`queue_config_save` checks everything the pages post (each expression through the skill-expression
grammar, refused with the character where it goes wrong; the workflow's shape; the numbers' ranges),
stores it and audits it with the names of the fields changed. `queue_config_reset` returns a kind of
work to the defaults of routing/queues.py. `queue_preview` says which of the state's tracers a
configuration (saved or only typed) would reach, asking the engine's own `eligible` about each of them.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, Proficiency, User, UserLanguage
from tracecenter.accounts.roles import ASSIGNABLE_ROLES
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.routing import engine
from tracecenter.routing.expressions import ExpressionError, parse
from tracecenter.routing.models import QueueConfig, WorkKind
from tracecenter.routing.queues import NEEDS, QueueSpec, Step, build, language_requirement, specs_for

MAX_STEPS = 10  # a workflow, not a program: the defaults have four
MAX_MINUTES = 7 * 24 * 60  # a step of a week at most: work is due within a day
MAX_AGING_POINTS = 100  # per 30 minutes; ten levels
MAX_AGING_CAP = 1000
MIN_OFFER_SECONDS, MAX_OFFER_SECONDS = 10, 600
MAX_PREVIEW_ROWS = 200  # the columns' counts cover everyone; the list shows this many at most
# The engine's proficiency scale (claims.agents_of reads the same): native 5, fluent 4, conversational 3.
LEVEL: dict[str, int] = {Proficiency.NATIVE: 5, Proficiency.FLUENT: 4, Proficiency.CONVERSATIONAL: 3}
CHANNELS = ("voice", "sms", "email", "chat")


@dataclasses.dataclass(frozen=True)
class QueueInput:
    expression: str
    steps: Sequence[Step]
    aging_points: int
    aging_cap: int
    offer_seconds: int
    active: bool


# --- checking ------------------------------------------------------------------------------------------


def expression_error(text: str) -> str:
    """ "" when `text` is a skill expression (or empty: anyone), else the parser's reason with its character."""
    if not text.strip():
        return ""
    try:
        parse(text)
    except ExpressionError as exc:
        return _("At character %(n)d: %(reason)s") % {"n": exc.position + 1, "reason": exc.reason}
    return ""


def _check_expression(text: str, field: str) -> str:
    error = expression_error(text)
    if error:
        raise DomainError(error, field=field)
    return text.strip()


def _check_range(value: int, low: int, high: int, field: str) -> int:
    if not low <= value <= high:
        raise DomainError(_("Between %(low)d and %(high)d.") % {"low": low, "high": high}, field=field)
    return value


def step_problems(steps: Sequence[Step]) -> list[tuple[int | None, str, str]]:
    """What is wrong with a workflow: (step index or None for the whole, field name, message), in order."""
    problems: list[tuple[int | None, str, str]] = []
    if not steps:
        return [(None, "steps", _("A workflow needs at least one step."))]
    if len(steps) > MAX_STEPS:
        return [(None, "steps", _("At most %(n)d steps.") % {"n": MAX_STEPS})]
    last = len(steps) - 1
    for index, step in enumerate(steps):
        if step.owner_only and step.expression.strip():
            problems.append((index, "expression", _("A step for the owner only has no expression: leave it empty.")))
        elif not step.owner_only:
            error = expression_error(step.expression)
            if error:
                problems.append((index, "expression", error))
        if step.needs not in ("", *NEEDS):
            problems.append((index, "needs", _("Choose one of the listed values.")))
        if index < last:
            if step.minutes is None:
                problems.append(
                    (index, "minutes", _("Say how many minutes this step lasts: only the last step lasts until taken."))
                )
            elif not 1 <= step.minutes <= MAX_MINUTES:
                problems.append((index, "minutes", _("Between %(low)d and %(high)d.") % {"low": 1, "high": MAX_MINUTES}))
        else:
            if step.minutes is not None:
                problems.append(
                    (index, "minutes", _("The last step lasts until someone takes the work: leave its minutes empty."))
                )
            if step.owner_only:
                # Work without an owner skips an owner's step: with nothing after it, it would never be offered.
                problems.append(
                    (index, "owner_only", _("The last step cannot be the owner only: work without an owner would wait for ever."))
                )
    return problems


def checked(data: QueueInput) -> QueueInput:
    """`data` as stored (expressions trimmed), or the first DomainError naming its field ("steps-2-minutes")."""
    expression = _check_expression(data.expression, "expression")
    problems = step_problems(data.steps)
    if problems:
        index, field, message = problems[0]
        raise DomainError(message, field=field if index is None else f"steps-{index}-{field}")
    return QueueInput(
        expression=expression,
        steps=[dataclasses.replace(step, expression=step.expression.strip()) for step in data.steps],
        aging_points=_check_range(data.aging_points, 0, MAX_AGING_POINTS, "aging_points"),
        aging_cap=_check_range(data.aging_cap, 0, MAX_AGING_CAP, "aging_cap"),
        offer_seconds=_check_range(data.offer_seconds, MIN_OFFER_SECONDS, MAX_OFFER_SECONDS, "offer_seconds"),
        active=data.active,
    )


def spec_from_input(kind: str, data: QueueInput) -> QueueSpec:
    return QueueSpec(
        kind=kind,
        expression=data.expression,
        steps=tuple(data.steps),
        aging_points=data.aging_points,
        aging_cap=data.aging_cap,
        offer_seconds=data.offer_seconds,
        active=data.active,
        configured=True,
    )


# --- reading and writing -------------------------------------------------------------------------------


def is_state(jurisdiction: Jurisdiction) -> bool:
    return jurisdiction.parent_id is None


def _kind(kind: str) -> str:
    if kind not in WorkKind.values:
        raise DomainError(_("Choose one of the listed values."), field="kind")
    return kind


def _require_administers(actor: User, state: Jurisdiction) -> None:
    if not is_state(state):
        raise DomainError(_("Queues are set for a state, not for a jurisdiction within it."))
    if not policy.may_administer(actor, state):
        raise PermissionDenied


def queue_spec(state: Jurisdiction, kind: str) -> QueueSpec:
    return specs_for(state)[_kind(kind)]


_FIELDS = ("expression", "steps", "aging_points", "aging_cap", "offer_seconds", "active")


def _changed(before: QueueSpec, after: QueueSpec) -> list[str]:
    return [name for name in _FIELDS if getattr(before, name) != getattr(after, name)]


@transaction.atomic
def queue_config_save(*, actor: User, state: Jurisdiction, kind: str, data: QueueInput) -> QueueConfig:
    """The state's own queue for `kind`, as `data` says; audited with the names of the fields changed."""
    _require_administers(actor, state)
    kind = _kind(kind)
    clean = checked(data)
    before = queue_spec(state, kind)
    row, created = QueueConfig.objects.select_for_update().get_or_create(
        jurisdiction=state,
        kind=kind,
        defaults={"changed_at": clock.now(), "changed_by": actor},
    )
    row.expression = clean.expression
    row.steps = [step.as_json() for step in clean.steps]
    row.aging_points, row.aging_cap, row.offer_seconds, row.active = (
        clean.aging_points,
        clean.aging_cap,
        clean.offer_seconds,
        clean.active,
    )
    row.changed_by, row.changed_at = actor, clock.now()
    row.save()
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        object_type="queue_config",
        object_id=row.pk,
        jurisdiction_id=state.pk,
        fields=_changed(before, spec_from_input(kind, clean)) or ["unchanged"],
        detail=kind,
    )
    return row


@transaction.atomic
def queue_config_reset(*, actor: User, state: Jurisdiction, kind: str) -> bool:
    """The state's queue for `kind` back to the defaults; False when it had no configuration of its own."""
    _require_administers(actor, state)
    row = QueueConfig.objects.select_for_update().filter(jurisdiction=state, kind=_kind(kind)).first()
    if row is None:
        return False
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type="queue_config",
        object_id=row.pk,
        jurisdiction_id=state.pk,
        fields=list(_FIELDS),
        detail=f"{kind}: defaults",
    )
    row.delete()
    return True


# --- the preview -----------------------------------------------------------------------------------------


def agent_attributes(users: Sequence[User]) -> dict[int, dict[str, Any]]:
    """The attributes skill expressions read, per user (as claims.agents_of gives them to the engine)."""
    ids = [user.pk for user in users]
    languages: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id, code, proficiency in UserLanguage.objects.filter(user_id__in=ids).values_list(
        "user_id", "language", "proficiency"
    ):
        languages[user_id][code] = LEVEL.get(proficiency, 3)
    skills: dict[int, list[str]] = defaultdict(list)
    for user_id, code in User.skills.through.objects.filter(user_id__in=ids).values_list("user_id", "skill__code"):
        skills[user_id].append(code)
    return {
        user.pk: {
            "role": user.role,
            "jurisdiction": user.jurisdiction.path if user.jurisdiction else "",
            "team": user.team_id,
            "languages": languages.get(user.pk, {}),
            "skills": sorted(skills.get(user.pk, [])),
        }
        for user in users
    }


def preview_users(viewer: User, state: Jurisdiction) -> QuerySet[User]:
    """Everyone who could take work in `state` (active, in a role that takes work), whatever their state of the
    moment, among the users `viewer` administers: a county's administrator previews their county's tracers."""
    users = User.objects.filter(
        is_active=True, role__in=ASSIGNABLE_ROLES, jurisdiction__path__startswith=state.path
    ).select_related("jurisdiction", "team")
    return policy.administered(users, viewer).order_by("last_name", "first_name", "pk")


@dataclasses.dataclass(frozen=True)
class SampleWork:
    """The work the preview asks about: where it is, its team, its language (the task attributes)."""

    jurisdiction: Jurisdiction
    team_id: int | None = None
    language: str = ""


@dataclasses.dataclass(frozen=True)
class PreviewColumn:
    label: str
    skipped: bool  # the step is skipped at once for this work (no team for a team's step)
    matched: int  # how many users it reaches


@dataclasses.dataclass(frozen=True)
class PreviewRow:
    user: User
    languages: Mapping[str, int]
    matches: tuple[bool, ...]  # per column


@dataclasses.dataclass(frozen=True)
class Preview:
    columns: tuple[PreviewColumn, ...]
    rows: tuple[PreviewRow, ...]  # the users at least one column reaches, at most MAX_PREVIEW_ROWS
    total: int  # how many users at least one column reaches
    considered: int  # how many users were asked


def _step_label(index: int, step: Step) -> str:
    if step.owner_only:
        return _("Step %(n)d: the record's owner") % {"n": index + 1}
    return _("Step %(n)d: %(rule)s") % {"n": index + 1, "rule": step.expression or _("anyone the queue accepts")}


def queue_preview(*, viewer: User, state: Jurisdiction, spec: QueueSpec, work: SampleWork) -> Preview:
    """Which users the queue and each of its steps would offer `work` to, by the engine's own `eligible`.

    State of the moment and capacity aside (a preview is about who, not when). For a step for the owner
    only: whom it would reach if they owned the record (they must satisfy the queue as well).
    """
    queue = build(spec)
    users = list(preview_users(viewer, state))
    attributes = agent_attributes(users)
    item = engine.Item(
        id=0,
        queue=spec.kind,
        channel="voice",
        priority=0.0,
        queued_at=0.0,
        attributes={"jurisdiction": work.jurisdiction.path, "team": work.team_id, "language": work.language, "kind": spec.kind},
        requirements=language_requirement(spec.kind, work.language),
    )
    whole = engine.Target()
    results: list[tuple[User, tuple[bool, ...]]] = []
    for user in users:
        agent = engine.Agent(
            id=user.pk,
            attributes=attributes[user.pk],
            state=engine.AgentState.AVAILABLE,
            idle_since=0.0,
            capacity=dict.fromkeys(CHANNELS, 1),
        )
        matches = [engine.eligible(agent, item, queue, whole)]
        for target in queue.targets:
            asked = dataclasses.replace(item, owner=user.pk) if target.owner_only else item
            matches.append(not target.skipped_for(asked) and engine.eligible(agent, asked, queue, target))
        results.append((user, tuple(matches)))
    labels = [_("The queue")] + [_step_label(i, step) for i, step in enumerate(spec.steps)]
    skipped = [False] + [bool(t.needs) and t.skipped_for(item) for t in queue.targets]
    columns = tuple(
        PreviewColumn(label, skip, sum(1 for _user, m in results if m[i]))
        for i, (label, skip) in enumerate(zip(labels, skipped, strict=True))
    )
    reached = [(user, m) for user, m in results if any(m)]
    rows = tuple(PreviewRow(user, attributes[user.pk]["languages"], m) for user, m in reached[:MAX_PREVIEW_ROWS])
    return Preview(columns=columns, rows=rows, total=len(reached), considered=len(users))


def states_of(user: User) -> list[Jurisdiction]:
    """The state (top-level jurisdiction) `user` works in, as a list (none for a user without a jurisdiction)."""
    if user.jurisdiction is None:
        return []
    root = user.jurisdiction.ancestors_and_self()[0]
    return list(Jurisdiction.objects.filter(pk=root, parent__isnull=True))

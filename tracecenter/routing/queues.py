"""The queues work is routed through, with their workflows: who is tried first, and for how long.

Every state starts with the defaults below, one queue per kind of work; its administrators may change
them on the routing pages (a `QueueConfig` row per state and kind, checked by routing/queue_config.py).
The default steps follow how a center works: the owner of the record first (the person who calls back
reaches someone who knows them), then the owner's team, then anyone qualified whose jurisdiction covers
the record, then anyone in the state.

`queue_set(state)` is what a routing pass reads: one small query per state, and the parsed queues are
kept per process by their content, so a pass parses nothing it parsed before and a change made on the
pages counts from the next pass, in every process, without any cache to expire.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tracecenter.accounts.models import Jurisdiction
from tracecenter.core.env import env_int
from tracecenter.routing import engine
from tracecenter.routing.expressions import ANYONE, Expression, ExpressionError, parse
from tracecenter.routing.models import QueueConfig, WorkKind

logger = logging.getLogger(__name__)

OWNER_MINUTES = env_int("ROUTING_OWNER_MINUTES", 10)
TEAM_MINUTES = env_int("ROUTING_TEAM_MINUTES", 20)
JURISDICTION_MINUTES = env_int("ROUTING_JURISDICTION_MINUTES", 60)
RESERVATION_SECONDS = env_int("ROUTING_OFFER_SECONDS", 45)
AGING_POINTS = 10  # a level of priority every 30 minutes of waiting ...
AGING_CAP = 20  # ... two levels at most

# A language asked of the tracer: conversational (3) to notify a contact, fluent (4) to interview a case.
_LEVEL = {WorkKind.CASE_INTERVIEW: 4, WorkKind.CONTACT_NOTIFICATION: 3, WorkKind.CALLBACK: 3}
_WHO = {
    WorkKind.CASE_INTERVIEW: 'role == "case_investigator"',
    WorkKind.CONTACT_NOTIFICATION: 'role == "contact_tracer" or role == "case_investigator"',
    WorkKind.CALLBACK: 'role == "contact_tracer" or role == "case_investigator"',
}
TEAM_EXPRESSION = "team == task.team"
NEEDS = ("team",)  # the task attributes a step may need (without one, the step is skipped at once)


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One step of a workflow as configured: the owner only, or the agents an expression matches ("" is anyone)."""

    owner_only: bool = False
    expression: str = ""
    minutes: int | None = None  # None: the step lasts (the last one)
    needs: str = ""  # "team": skipped at once for work without a team

    def as_json(self) -> dict[str, Any]:
        return {"owner_only": self.owner_only, "expression": self.expression, "minutes": self.minutes, "needs": self.needs}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        minutes = data.get("minutes")
        return cls(
            owner_only=bool(data.get("owner_only")),
            expression=str(data.get("expression") or ""),
            minutes=int(minutes) if minutes is not None else None,
            needs=str(data.get("needs") or ""),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class QueueSpec:
    """A queue as configured (plain values, hashable): what the pages show and what `build` turns into an engine.Queue."""

    kind: str
    expression: str
    steps: tuple[Step, ...]
    aging_points: int = AGING_POINTS  # per 30 minutes
    aging_cap: int = AGING_CAP
    offer_seconds: int = RESERVATION_SECONDS
    active: bool = True
    configured: bool = False  # a row of the state's, not the defaults


def default_spec(kind: str) -> QueueSpec:
    return QueueSpec(
        kind=kind,
        expression=_WHO[WorkKind(kind)],
        steps=(
            Step(owner_only=True, minutes=OWNER_MINUTES),
            Step(expression=TEAM_EXPRESSION, minutes=TEAM_MINUTES, needs="team"),
            Step(expression="task.jurisdiction within jurisdiction", minutes=JURISDICTION_MINUTES),
            Step(),  # the state's pool: the router only ever holds one state's agents
        ),
    )


def spec_of(row: QueueConfig) -> QueueSpec:
    return QueueSpec(
        kind=row.kind,
        expression=row.expression,
        steps=tuple(Step.from_json(step) for step in row.steps),
        aging_points=row.aging_points,
        aging_cap=row.aging_cap,
        offer_seconds=row.offer_seconds,
        active=row.active,
        configured=True,
    )


def _expression(text: str) -> Expression:
    return parse(text) if text.strip() else ANYONE


@functools.lru_cache(maxsize=512)
def build(spec: QueueSpec) -> engine.Queue:
    """The engine's queue for `spec` (kept per content: a pass parses nothing it parsed before)."""
    return engine.Queue(
        id=spec.kind,
        expression=_expression(spec.expression),
        targets=tuple(
            engine.Target(
                expression=_expression(step.expression),
                owner_only=step.owner_only,
                timeout=step.minutes * 60 if step.minutes is not None else None,
                needs=step.needs,
            )
            for step in spec.steps
        ),
        aging_per_minute=spec.aging_points / 30,
        aging_cap=spec.aging_cap,
    )


QUEUES: dict[str, engine.Queue] = {kind.value: build(default_spec(kind.value)) for kind in WorkKind}


@dataclasses.dataclass(frozen=True)
class QueueSet:
    """A state's queues as a routing pass uses them: the active ones, and how long each kind's offers last."""

    specs: Mapping[str, QueueSpec]
    queues: Sequence[engine.Queue]
    offer_seconds: Mapping[str, int]


def specs_for(state: Jurisdiction) -> dict[str, QueueSpec]:
    """Each kind's queue in `state`: its own configuration, else the default (one query)."""
    specs = {kind.value: default_spec(kind.value) for kind in WorkKind}
    for row in QueueConfig.objects.filter(jurisdiction_id=state.pk):
        if row.kind in specs:
            specs[row.kind] = spec_of(row)
    return specs


def queue_set(state: Jurisdiction) -> QueueSet:
    queues: list[engine.Queue] = []
    specs = specs_for(state)
    for kind, spec in specs.items():
        if not spec.active:
            continue  # nothing of this kind is offered: it waits for a supervisor to assign it
        try:
            queues.append(build(spec))
        except ExpressionError:
            # Checked when saved, so only a grammar changed since could do this: the defaults rather than no routing.
            logger.warning("queue %s of jurisdiction %s no longer parses; its defaults apply", kind, state.pk)
            specs[kind] = default_spec(kind)
            queues.append(build(specs[kind]))
    return QueueSet(specs=specs, queues=queues, offer_seconds={kind: spec.offer_seconds for kind, spec in specs.items()})


def queues_for(state: Jurisdiction) -> list[engine.Queue]:
    """The engine's queues of `state` (a routing pass reads them once per state)."""
    return list(queue_set(state).queues)


def language_requirement(kind: str, language: str) -> Expression:
    """What the item asks of a tracer's languages: none for the center's working language."""
    from django.conf import settings

    if not language or language in settings.ROUTING_WORKING_LANGUAGES:
        return ANYONE
    return parse(f'languages["{language}"] >= {_LEVEL.get(WorkKind(kind), 3)}')

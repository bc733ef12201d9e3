"""The queues work is routed through, with their workflows: who is tried first, and for how long.

These are the defaults every jurisdiction starts with, one queue per kind of work; configuring
queues on pages comes with the supervisor's routing pages. The steps follow how a center works: the
owner of the record first (the person who calls back reaches someone who knows them), then the
owner's team, then anyone qualified whose jurisdiction covers the record, then anyone in the state.
"""

from __future__ import annotations

from tracecenter.core.env import env_int
from tracecenter.routing import engine
from tracecenter.routing.expressions import ANYONE, Expression, parse
from tracecenter.routing.models import WorkKind

OWNER_MINUTES = env_int("ROUTING_OWNER_MINUTES", 10)
TEAM_MINUTES = env_int("ROUTING_TEAM_MINUTES", 20)
JURISDICTION_MINUTES = env_int("ROUTING_JURISDICTION_MINUTES", 60)
RESERVATION_SECONDS = env_int("ROUTING_OFFER_SECONDS", 45)

# A language asked of the tracer: conversational (3) to notify a contact, fluent (4) to interview a case.
_LEVEL = {WorkKind.CASE_INTERVIEW: 4, WorkKind.CONTACT_NOTIFICATION: 3, WorkKind.CALLBACK: 3}
_WHO = {
    WorkKind.CASE_INTERVIEW: 'role == "case_investigator"',
    WorkKind.CONTACT_NOTIFICATION: 'role == "contact_tracer" or role == "case_investigator"',
    WorkKind.CALLBACK: 'role == "contact_tracer" or role == "case_investigator"',
}


def _queue(kind: WorkKind) -> engine.Queue:
    return engine.Queue(
        id=kind.value,
        expression=parse(_WHO[kind]),
        targets=(
            engine.Target(owner_only=True, timeout=OWNER_MINUTES * 60),
            engine.Target(parse("team == task.team"), timeout=TEAM_MINUTES * 60, needs="team"),
            engine.Target(parse("task.jurisdiction within jurisdiction"), timeout=JURISDICTION_MINUTES * 60),
            engine.Target(),  # the state's pool: the router only ever holds one state's agents
        ),
        # Waiting raises priority by one level (10) every 30 minutes, by two levels at most.
        aging_per_minute=10 / 30,
        aging_cap=20,
    )


QUEUES: dict[str, engine.Queue] = {kind.value: _queue(kind) for kind in WorkKind}


def language_requirement(kind: str, language: str) -> Expression:
    """What the item asks of a tracer's languages: none for the center's working language."""
    from django.conf import settings

    if not language or language in settings.ROUTING_WORKING_LANGUAGES:
        return ANYONE
    return parse(f'languages["{language}"] >= {_LEVEL.get(WorkKind(kind), 3)}')

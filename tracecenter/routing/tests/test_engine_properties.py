"""The routing engine's rules, as properties over random states, and beside a brute-force reference.

The reference decides the same pass the slow, obvious way (every item in order, every agent scanned);
the engine's kinds, caches and heaps must give exactly the same offers.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from tracecenter.routing.engine import (
    ROUTABLE,
    Agent,
    AgentState,
    Backlog,
    Item,
    Offer,
    Queue,
    Router,
    Target,
    current_step,
    eligible,
    expire,
    order_key,
    reject,
)
from tracecenter.routing.expressions import parse

CHANNELS = ("voice", "sms")
LANGUAGES = ("en", "es", "zh")
QUEUES = {
    "interviews": Queue(
        "interviews",
        expression=parse('role == "investigator"'),
        targets=(
            Target(owner_only=True, timeout=600),
            Target(expression=parse("teams has task.team"), timeout=1200),
            Target(),
        ),
        aging_per_minute=1.0,
        aging_cap=30.0,
    ),
    "notifications": Queue(
        "notifications",
        expression=parse('role == "tracer" or role == "investigator"'),
        targets=(Target(expression=parse("task.jurisdiction within jurisdiction")),),
    ),
}
NOW = 100_000.0


@st.composite
def agents(draw):
    count = draw(st.integers(0, 12))
    out = []
    for agent_id in range(1, count + 1):
        languages = {code: draw(st.integers(1, 5)) for code in draw(st.sets(st.sampled_from(LANGUAGES), max_size=3))}
        capacity = {"voice": draw(st.integers(0, 1)), "sms": draw(st.integers(0, 3))}
        load = {channel: draw(st.integers(0, capacity[channel])) for channel in CHANNELS}
        out.append(
            Agent(
                id=agent_id,
                attributes={
                    "role": draw(st.sampled_from(["tracer", "investigator"])),
                    "languages": languages,
                    "teams": sorted(draw(st.sets(st.sampled_from(["north", "south"]), max_size=2))),
                    "jurisdiction": draw(st.sampled_from(["/ma/", "/ma/north/", "/ma/south/"])),
                },
                state=draw(st.sampled_from(list(AgentState))),
                idle_since=float(draw(st.integers(0, 50))),  # ties happen: the id decides them
                capacity=capacity,
                load=load,
            )
        )
    return out


@st.composite
def items(draw, agent_ids):
    count = draw(st.integers(0, 25))
    out = []
    for item_id in range(1, count + 1):
        language = draw(st.sampled_from(LANGUAGES))
        out.append(
            Item(
                id=item_id,
                queue=draw(st.sampled_from(sorted(QUEUES))),
                channel=draw(st.sampled_from(CHANNELS)),
                priority=float(draw(st.integers(0, 3)) * 10),
                queued_at=NOW - draw(st.integers(0, 4000)),
                attributes={
                    "language": language,
                    "team": draw(st.sampled_from(["north", "south"])),
                    "jurisdiction": draw(st.sampled_from(["/ma/north/x/", "/ma/south/y/"])),
                },
                requirements=draw(st.sampled_from([parse("languages[task.language] >= 3"), parse("true == true")])),
                owner=draw(st.one_of(st.none(), st.sampled_from(agent_ids))) if agent_ids else None,
                excluded=frozenset(draw(st.sets(st.sampled_from(agent_ids), max_size=2))) if agent_ids else frozenset(),
            )
        )
    return out


@st.composite
def states(draw):
    staff = draw(agents())
    work = draw(items([a.id for a in staff]))
    return staff, work


def reference(staff: list[Agent], work: list[Item], now: float) -> list[Offer]:
    """The same pass decided the obvious way."""
    load = {a.id: dict(a.load) for a in staff}
    # Idle since (time, then the order of this pass's offers, then id): two agents offered something in
    # the same pass are idle from the same moment, the one offered first the longer.
    idle = {a.id: (a.idle_since, 0, a.id) for a in staff}
    offers = []
    for item in sorted(work, key=lambda i: order_key(i, QUEUES[i.queue], now)):
        queue = QUEUES[item.queue]
        step = current_step(queue, item, now)
        if step is None:
            continue
        target = queue.targets[step]
        candidates = [
            a
            for a in staff
            if a.state in ROUTABLE
            and a.capacity.get(item.channel, 0) - load[a.id].get(item.channel, 0) > 0
            and eligible(a, item, queue, target)
        ]
        if not candidates:
            continue
        chosen = min(candidates, key=lambda a: idle[a.id])
        load[chosen.id][item.channel] = load[chosen.id].get(item.channel, 0) + 1
        idle[chosen.id] = (now, len(offers) + 1, chosen.id)
        offers.append(Offer(item=item.id, agent=chosen.id, step=step, expires_at=now + 30.0))
    return offers


@settings(max_examples=150, deadline=None)
@given(states())
def test_the_engine_decides_exactly_as_the_reference(state):
    staff, work = state
    assert Router(QUEUES.values(), staff).assign(work, NOW) == reference(staff, work, NOW)


@settings(max_examples=150, deadline=None)
@given(states())
def test_never_above_capacity_never_without_the_skills_never_twice(state):
    staff, work = state
    by_id = {a.id: a for a in staff}
    items_by_id = {i.id: i for i in work}
    offers = Router(QUEUES.values(), staff).assign(work, NOW)
    assert len({o.item for o in offers}) == len(offers)  # an item is offered once
    taken: dict[tuple[int, str], int] = {}
    for offer in offers:
        agent, item = by_id[offer.agent], items_by_id[offer.item]
        queue = QUEUES[item.queue]
        assert agent.state in ROUTABLE
        assert offer.agent not in item.excluded
        assert eligible(agent, item, queue, queue.targets[offer.step])
        assert item.requirements.matches(agent.attributes, item.attributes)
        taken[agent.id, item.channel] = taken.get((agent.id, item.channel), 0) + 1
    for (agent_id, channel), n in taken.items():
        assert by_id[agent_id].load.get(channel, 0) + n <= by_id[agent_id].capacity.get(channel, 0)


@settings(max_examples=150, deadline=None)
@given(states())
def test_no_item_is_passed_over_for_a_later_one_its_agent_could_have_taken(state):
    staff, work = state
    by_id = {a.id: a for a in staff}
    offers = Router(QUEUES.values(), staff).assign(work, NOW)
    offered = {o.item: o for o in offers}
    ranked = sorted(work, key=lambda i: order_key(i, QUEUES[i.queue], NOW))
    for position, waiting in enumerate(ranked):
        if waiting.id in offered:
            continue
        queue = QUEUES[waiting.queue]
        step = current_step(queue, waiting, NOW)
        for later in ranked[position + 1 :]:
            offer = offered.get(later.id)
            if offer is None or step is None or later.channel != waiting.channel:
                continue
            # The agent who got the later item had room then, so had room when the earlier one was decided.
            assert not eligible(by_id[offer.agent], waiting, queue, queue.targets[step])


@settings(max_examples=100, deadline=None)
@given(states())
def test_the_longest_idle_eligible_agent_with_room_gets_the_offer(state):
    staff, work = state
    offers = Router(QUEUES.values(), staff).assign(work, NOW)
    items_by_id = {i.id: i for i in work}
    untouched = [a for a in staff if a.id not in {o.agent for o in offers}]  # idle time and room unchanged
    seen: set[int] = set()
    for offer in offers:
        item = items_by_id[offer.item]
        queue = QUEUES[item.queue]
        winner = next(a for a in staff if a.id == offer.agent)
        # An agent offered something earlier in the pass is idle from NOW.
        winner_idle = NOW if winner.id in seen else winner.idle_since
        seen.add(winner.id)
        for other in untouched:
            if (
                other.state in ROUTABLE
                and other.room(item.channel) > 0
                and eligible(other, item, queue, queue.targets[offer.step])
            ):
                assert (winner_idle, winner.id) <= (other.idle_since, other.id)


def test_a_reservation_that_times_out_returns_the_item_to_the_next_agent():
    staff = [
        Agent(1, {"role": "tracer", "jurisdiction": "/ma/"}, AgentState.AVAILABLE, 0.0, {"voice": 1}),
        Agent(2, {"role": "tracer", "jurisdiction": "/ma/"}, AgentState.AVAILABLE, 10.0, {"voice": 1}),
    ]
    work = [Item(7, "notifications", "voice", 0.0, NOW - 5, {"jurisdiction": "/ma/north/x/"})]
    (first,) = Router(QUEUES.values(), staff).assign(work, NOW)
    assert first.agent == 1  # idle longest
    assert expire([first], {7: work[0]}, NOW + 10) == []  # not yet
    (expired,) = expire([first], {7: work[0]}, first.expires_at)
    assert expired.item.excluded == {1}
    (second,) = Router(QUEUES.values(), staff).assign([expired.item], first.expires_at)
    assert second.agent == 2
    # Rejected by the second too: nobody is left to offer it to.
    assert Router(QUEUES.values(), staff).assign([reject(expired.item, 2)], first.expires_at) == []


def test_sticky_to_the_owner_then_the_team_then_anyone():
    def investigator(agent_id: int, teams: list[str], idle: float) -> Agent:
        return Agent(agent_id, {"role": "investigator", "teams": teams}, AgentState.AVAILABLE, idle, {"voice": 1})

    staff = [investigator(1, ["south"], 0.0), investigator(2, ["north"], 5.0), investigator(3, ["north"], 9.0)]
    item = Item(1, "interviews", "voice", 0.0, NOW, {"team": "north"}, owner=3)
    router = lambda: Router(QUEUES.values(), staff)  # noqa: E731
    assert [o.agent for o in router().assign([item], NOW + 60)] == [3]  # the owner, though idle the least
    assert [o.agent for o in router().assign([item], NOW + 601)] == [2]  # after 10 minutes: the team
    assert [o.agent for o in router().assign([item], NOW + 1801)] == [1]  # after 30: anyone qualified
    ownerless = dataclasses.replace(item, owner=None)
    assert [o.agent for o in router().assign([ownerless], NOW + 1)] == [2]  # no owner: the team at once
    declined = dataclasses.replace(item, excluded=frozenset({3}))
    assert [o.agent for o in router().assign([declined], NOW + 1)] == [2]  # an owner who declined is not waited for


def test_priority_ages_with_waiting_up_to_its_cap():
    staff = [Agent(1, {"role": "investigator", "teams": ["north"]}, AgentState.AVAILABLE, 0.0, {"voice": 1})]
    north = {"team": "north"}
    old = Item(1, "interviews", "voice", 0.0, NOW - 3600, north)  # waited an hour: +30 at most
    urgent = Item(2, "interviews", "voice", 40.0, NOW, north)
    fresh = Item(3, "interviews", "voice", 20.0, NOW, north)
    assert [o.item for o in Router(QUEUES.values(), staff).assign([old, urgent], NOW)] == [2]
    assert [o.item for o in Router(QUEUES.values(), staff).assign([old, fresh], NOW)] == [1]


def test_an_agent_not_ready_or_full_gets_nothing_and_texts_share_an_agent():
    staff = [
        Agent(1, {"role": "tracer", "jurisdiction": "/ma/"}, AgentState.BREAK, 0.0, {"voice": 1, "sms": 3}),
        Agent(2, {"role": "tracer", "jurisdiction": "/ma/"}, AgentState.BUSY, 5.0, {"voice": 1, "sms": 3}, {"voice": 1}),
    ]
    texts = [Item(n, "notifications", "sms", 0.0, NOW - n, {"jurisdiction": "/ma/north/x/"}) for n in range(1, 6)]
    call = Item(9, "notifications", "voice", 99.0, NOW, {"jurisdiction": "/ma/north/x/"})
    offers = Router(QUEUES.values(), staff).assign([*texts, call], NOW)
    # Agent 1 is on a break; agent 2 is on a call (voice full) but takes three texts at once.
    assert [(o.item, o.agent) for o in offers] == [(5, 2), (4, 2), (3, 2)]


def best_for(agent: Agent, work: list[Item], now: float) -> tuple[int, int] | None:
    """The reference for one agent with room: the best-ranked item it may serve under the item's current step."""
    if agent.state not in ROUTABLE:
        return None
    for item in sorted(work, key=lambda i: order_key(i, QUEUES[i.queue], now)):
        queue = QUEUES[item.queue]
        step = current_step(queue, item, now)
        if step is not None and agent.room(item.channel) > 0 and eligible(agent, item, queue, queue.targets[step]):
            return item.id, step
    return None


@settings(max_examples=150, deadline=None)
@given(states(), st.lists(st.integers(0, 3000), min_size=1, max_size=4))
def test_an_agent_freeing_up_gets_what_the_reference_gives_as_time_passes(state, later):
    staff, work = state
    backlog = Backlog(QUEUES.values())
    for item in work:
        backlog.add(item, NOW)
    for step_forward in [0, *sorted(later)]:  # steps of workflows end as time passes
        now = NOW + step_forward
        for agent in staff:
            found = backlog.next_for(agent, now)
            assert (None if found is None else (found[0].id, found[1])) == best_for(agent, work, now)


@settings(max_examples=100, deadline=None)
@given(states())
def test_work_taken_from_the_backlog_is_never_offered_again(state):
    staff, work = state
    backlog = Backlog(QUEUES.values())
    for item in work:
        backlog.add(item, NOW)
    left = list(work)
    for agent in staff:
        found = backlog.next_for(agent, NOW)
        if found is not None:
            assert backlog.remove(found[0].id) is not None
            left = [i for i in left if i.id != found[0].id]
            again = backlog.next_for(agent, NOW)
            assert again is None or again[0].id != found[0].id
            assert (None if again is None else (again[0].id, again[1])) == best_for(agent, left, NOW)


def test_a_step_that_needs_a_task_attribute_is_skipped_without_it():
    queue = Queue(
        "q",
        targets=(Target(parse("team == task.team"), timeout=1200, needs="team"), Target(parse('role == "tracer"'))),
    )
    staff = [
        Agent(1, {"role": "tracer", "team": 7}, AgentState.AVAILABLE, 5.0, {"voice": 1}),
        Agent(2, {"role": "tracer", "team": 8}, AgentState.AVAILABLE, 0.0, {"voice": 1}),
    ]
    with_team = Item(1, "q", "voice", 0.0, NOW, {"team": 7})
    without = Item(2, "q", "voice", 0.0, NOW, {})
    assert [o.agent for o in Router([queue], staff).assign([with_team], NOW + 1)] == [1]  # the team first
    assert [(o.agent, o.step) for o in Router([queue], staff).assign([without], NOW + 1)] == [(2, 1)]  # no team: at once

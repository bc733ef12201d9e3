"""The routing engine: which waiting work is offered to which agent, now. Pure Python (no Django).

The state goes in (queues with their workflows, agents with their attributes, states, capacities and
loads, the waiting work items), offers come out. The Django layer (routing.services) reads the state,
asks `Router.assign`, and claims each offer in the database; a claim that loses a race is simply not
made, and the next pass decides again. So the engine keeps no state between calls that matters for
correctness: it may run in any process, as often as wanted.

The rules, each tested as a property (tests/test_engine_properties.py):

- An offer never takes an agent above their capacity on the item's channel (one voice call; several
  texts or chats at once), and only agents in a routable state (available, or busy on another channel
  with room on this one) receive offers.
- An item is offered only to an agent who satisfies the queue's expression, the current workflow
  step's expression and the item's own requirements (its skills: a language, a certification), and
  who has not already rejected it or let it time out.
- Strict priority, then age: items are considered by effective priority (the item's priority plus what
  it gained waiting, `Queue.aging_per_minute`, up to `Queue.aging_cap`), then by how long they waited,
  then by id; an item is never skipped in favour of a later one that an agent eligible for both could
  have taken.
- Among the eligible agents with room, the one idle longest (earliest `idle_since`) gets the offer;
  ties go to the smaller id. An agent offered something is idle from now on, so work spreads.
- Workflows: a queue tries its targets in order, each for its timeout, counted from when the item was
  queued (try the owner for 10 minutes, then the team for 20, then anyone qualified); a step
  addressed to the owner is skipped at once when the item has none, and a step that `needs` a task
  attribute (the team) when the item lacks it.
- A reservation that times out returns its item with the agent excluded (`expire`), and the agent is
  reported so the caller sets them not ready.

Speed: agents with the same attributes and capacities form one *kind*; an expression is evaluated
once per kind (and per value of the task attributes it reads), and each kind keeps its routable agents
in a heap per channel by idle time, so one decision costs a few heap operations per eligible kind,
not a scan of every agent.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tracecenter.routing.expressions import ANYONE, Expression, frozen_value


class AgentState(enum.StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    BREAK = "break"
    LUNCH = "lunch"
    TRAINING = "training"
    MEETING = "meeting"
    OFFLINE = "offline"


# States in which an agent may receive an offer (busy: working, with room left on some channel).
ROUTABLE = frozenset({AgentState.AVAILABLE, AgentState.BUSY})


@dataclasses.dataclass(frozen=True, slots=True)
class Agent:
    id: int
    attributes: Mapping[str, Any]  # languages {code: 1-5}, role, jurisdiction path, teams, certifications
    state: AgentState
    idle_since: float  # seconds (any epoch); the longest idle is offered first
    capacity: Mapping[str, int]  # channel -> items at once (voice 1, sms 3, ...)
    load: Mapping[str, int] = dataclasses.field(default_factory=dict)  # channel -> items held or reserved now

    def room(self, channel: str) -> int:
        return self.capacity.get(channel, 0) - self.load.get(channel, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """One step of a workflow: who may be offered the item, and for how long this step lasts."""

    expression: Expression = ANYONE
    owner_only: bool = False  # only the item's owner (sticky routing); skipped when the item has none
    timeout: float | None = None  # seconds; None: the step lasts (the last step should)
    needs: str = ""  # a task attribute without which the step is skipped at once ("team": no team, no team step)

    def skipped_for(self, item: Item) -> bool:
        # An owner who turned the item down (or let it time out, or lacks its language) is not waited for.
        no_owner = item.owner is None or item.owner in item.excluded
        return (self.owner_only and no_owner) or bool(self.needs and item.attributes.get(self.needs) in (None, ""))


@dataclasses.dataclass(frozen=True, slots=True)
class Queue:
    id: str
    expression: Expression = ANYONE  # agents who may serve this queue at all
    targets: tuple[Target, ...] = (Target(),)
    aging_per_minute: float = 0.0  # priority gained per minute of waiting
    aging_cap: float = 0.0  # at most this much gained


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    id: int
    queue: str
    channel: str
    priority: float
    queued_at: float  # seconds, same clock as `now`
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # language, jurisdiction, team, ...
    requirements: Expression = ANYONE  # skills the item itself needs
    owner: int | None = None  # the owning agent, for sticky steps
    excluded: frozenset[int] = frozenset()  # agents who rejected it or let an offer of it time out


@dataclasses.dataclass(frozen=True, slots=True)
class Offer:
    item: int
    agent: int
    step: int  # the workflow step the offer was made under
    expires_at: float


def effective_priority(item: Item, queue: Queue, now: float) -> float:
    waited_minutes = max(0.0, now - item.queued_at) / 60.0
    return item.priority + min(queue.aging_cap, queue.aging_per_minute * waited_minutes)


def current_step(queue: Queue, item: Item, now: float) -> int | None:
    """The index of the workflow step the item is in now, or None when every step has timed out."""
    elapsed = max(0.0, now - item.queued_at)
    start = 0.0
    for index, target in enumerate(queue.targets):
        if target.skipped_for(item):
            continue  # nobody to be sticky to, no team to try: the step takes no time
        if target.timeout is None or elapsed < start + target.timeout:
            return index
        start += target.timeout
    return None


def order_key(item: Item, queue: Queue, now: float) -> tuple[float, float, int]:
    """Sort key: strict priority (highest first), then waited longest, then id."""
    return (-effective_priority(item, queue, now), item.queued_at, item.id)


def eligible(agent: Agent, item: Item, queue: Queue, target: Target) -> bool:
    """Whether `agent` may be offered `item` under `target` (state and room aside)."""
    if agent.id in item.excluded:
        return False
    if target.owner_only and agent.id != item.owner:
        return False
    task = item.attributes
    return (
        queue.expression.matches(agent.attributes, task)
        and target.expression.matches(agent.attributes, task)
        and item.requirements.matches(agent.attributes, task)
    )


class Router:
    """One routing pass over a snapshot of agents: `assign(items, now)` returns offers in decision order.

    How it stays fast with thousands of agents and a hundred thousand waiting items: per channel, the
    agents with room are kept in one list by idle time (an agent offered something is idle from now,
    so it moves to the end: entries are appended, and an older entry of the same agent is stale). Items
    fall into buckets that answer every expression alike (the same queue, workflow step, requirements
    and task values those expressions read); whether a kind of agent (same attributes) may serve a
    bucket is evaluated once. Each bucket keeps a cursor in each channel's list: the agents before it
    are stale or cannot serve the bucket, so they are never looked at again for it.
    """

    def __init__(self, queues: Iterable[Queue], agents: Iterable[Agent], *, reservation_seconds: float = 30.0) -> None:
        self.queues = {q.id: q for q in queues}
        self.reservation_seconds = reservation_seconds
        self.agents: dict[int, Agent] = {}
        self.load: dict[int, dict[str, int]] = {}
        self.kind_of: dict[int, int] = {}
        kinds: dict[tuple[Any, ...], int] = {}
        self.kind_attributes: list[Mapping[str, Any]] = []
        waiting: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for agent in agents:
            self.agents[agent.id] = agent
            self.load[agent.id] = dict(agent.load)
            key = frozen_value(agent.attributes)
            kind = kinds.get(key)
            if kind is None:
                kind = kinds[key] = len(self.kind_attributes)
                self.kind_attributes.append(agent.attributes)
            self.kind_of[agent.id] = kind
            if agent.state in ROUTABLE:
                for channel in agent.capacity:
                    if agent.room(channel) > 0:
                        waiting[channel].append((agent.idle_since, agent.id))
        # channel -> agent ids by (idle, id); position[channel][agent] is the index of its live entry.
        self.order: dict[str, list[int]] = {}
        self.position: dict[str, dict[int, int]] = {}
        for channel, entries in waiting.items():
            entries.sort()
            self.order[channel] = [agent_id for _idle, agent_id in entries]
            self.position[channel] = {agent_id: i for i, agent_id in enumerate(self.order[channel])}
        self._buckets: dict[tuple[Any, ...], int] = {}
        self._bucket_task: list[Mapping[str, Any]] = []
        self._bucket_parts: list[tuple[tuple[Expression, tuple[Any, ...]], ...]] = []
        self._serves: dict[tuple[int, int], bool] = {}
        self._answers: dict[tuple[str, tuple[Any, ...], int], bool] = {}
        self._cursor: dict[tuple[int, str], int] = {}

    def _bucket(self, item: Item, queue: Queue, step: int, target: Target) -> int:
        task = item.attributes
        expressions = (queue.expression, target.expression, item.requirements)
        parts = tuple((expression, expression.task_key(task)) for expression in expressions)
        key = (queue.id, step, item.requirements.text, *(k for _e, k in parts))
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = len(self._bucket_parts)
            self._bucket_parts.append(parts)
            self._bucket_task.append(task)
        return bucket

    def _serves_bucket(self, bucket: int, kind: int) -> bool:
        found = self._serves.get((bucket, kind))
        if found is None:
            # Each expression answered once per kind and per value of the task attributes it reads: a
            # team's bucket and a language's bucket share the queue expression's answers.
            found = True
            for expression, task_key in self._bucket_parts[bucket]:
                cache_key = (expression.text, task_key, kind)
                answer = self._answers.get(cache_key)
                if answer is None:
                    answer = self._answers[cache_key] = expression.matches(self.kind_attributes[kind], self._bucket_task[bucket])
                if not answer:
                    found = False
                    break
            self._serves[bucket, kind] = found
        return found

    def _room(self, agent_id: int, channel: str) -> int:
        return self.agents[agent_id].capacity.get(channel, 0) - self.load[agent_id].get(channel, 0)

    def _pick(self, item: Item, queue: Queue, step: int, target: Target) -> int | None:
        channel = item.channel
        if target.owner_only:
            owner = item.owner
            if owner is None or owner in item.excluded or owner not in self.position.get(channel, {}):
                return None
            return owner if eligible(self.agents[owner], item, queue, target) else None
        order = self.order.get(channel)
        if not order:
            return None
        position = self.position[channel]
        bucket = self._bucket(item, queue, step, target)
        start = self._cursor.get((bucket, channel), 0)
        cursor = start
        moving = True  # the cursor moves only over entries that can never serve this bucket
        found: int | None = None
        for index in range(start, len(order)):
            agent_id = order[index]
            if position.get(agent_id) != index or not self._serves_bucket(bucket, self.kind_of[agent_id]):
                if moving:
                    cursor = index + 1
                continue
            if agent_id in item.excluded:
                moving = False
                continue
            found = agent_id
            break
        self._cursor[bucket, channel] = cursor
        return found

    def _reserve(self, agent_id: int, channel: str) -> None:
        self.load[agent_id][channel] = self.load[agent_id].get(channel, 0) + 1
        # Idle from now: the agent's entries move to the end of every list it has room in.
        for each, order in self.order.items():
            position = self.position[each]
            if agent_id not in position:
                continue
            if self._room(agent_id, each) > 0:
                position[agent_id] = len(order)
                order.append(agent_id)
            else:
                del position[agent_id]

    def assign(self, items: Iterable[Item], now: float) -> list[Offer]:
        """Offers for `items` (those already reserved must not be passed), in the order decided."""
        ready: list[tuple[tuple[float, float, int], Item, Queue]] = []
        for item in items:
            queue = self.queues.get(item.queue)
            if queue is not None:
                ready.append((order_key(item, queue, now), item, queue))
        ready.sort(key=lambda entry: entry[0])
        offers: list[Offer] = []
        for _key, item, queue in ready:
            if not self.position.get(item.channel):
                continue  # nobody has room on this channel any more
            step = current_step(queue, item, now)
            if step is None:
                continue
            agent_id = self._pick(item, queue, step, queue.targets[step])
            if agent_id is None:
                continue
            self._reserve(agent_id, item.channel)
            offers.append(Offer(item=item.id, agent=agent_id, step=step, expires_at=now + self.reservation_seconds))
        return offers


class Backlog:
    """Waiting work held between decisions, for the other direction: an agent has room, which item is theirs?

    When work waits (more items than agents with room), decisions are made as agents free up: `next_for`
    gives the item `Router.assign` would have given that agent first, the best-ranked item the agent may
    serve under its current workflow step. Items are grouped so that a decision looks at a few groups,
    not at every item: a group is one queue, step, channel, base priority and set of task values the
    expressions read; within it the oldest item ranks first (the same base priority, aged alike), so a
    group's rank is its first item's. Which groups a kind of agent may serve is worked out once per
    kind. Steps change with time (the owner for 10 minutes, then the team): `advance` moves the items
    whose step ended to their next group.
    """

    def __init__(self, queues: Iterable[Queue]) -> None:
        self.queues = {q.id: q for q in queues}
        self.items: dict[int, Item] = {}
        self._group_of: dict[int, int] = {}
        self._group_keys: dict[tuple[Any, ...], int] = {}
        # Per group: (queue, step, target, channel, the task of its first item, owner or None),
        # its item ids by (queued_at, id), and where its live part starts.
        self._info: list[tuple[Queue, int, Target, str, Mapping[str, Any], int | None, Expression]] = []
        self._members: list[list[tuple[float, int]]] = []
        self._start: list[int] = []
        self._by_owner: dict[int, list[int]] = defaultdict(list)  # owner -> their sticky groups
        # Which groups a kind of agent serves, without asking every group: a group is served when its queue
        # expression, its step's expression and its requirements all hold, and each of those is an
        # (expression, task values) pair shared by many groups. Per slot, the pairs known; per kind,
        # each pair's answer (evaluated once); groups by their three pairs.
        self._pairs: tuple[dict[tuple[str, Any], tuple[Expression, Mapping[str, Any]]], ...] = ({}, {}, {})
        self._by_pairs: dict[tuple[tuple[str, Any], ...], list[int]] = defaultdict(list)
        self._kind_answers: dict[tuple[Any, ...], dict[tuple[int, tuple[str, Any]], bool]] = defaultdict(dict)
        self._timeline: list[tuple[float, int]] = []  # (when the item's step ends, item id)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Item, now: float) -> None:
        queue = self.queues.get(item.queue)
        if queue is None:
            return
        self.items[item.id] = item
        self._place(item, queue, now)

    def remove(self, item_id: int) -> Item | None:
        """Take an item out (offered, closed); its entry in its group is skipped from now on."""
        self._group_of.pop(item_id, None)
        return self.items.pop(item_id, None)

    def _place(self, item: Item, queue: Queue, now: float) -> None:
        step = current_step(queue, item, now)
        if step is None:
            self._group_of.pop(item.id, None)  # every step timed out: it waits for a person to move it
            return
        target = queue.targets[step]
        owner = item.owner if target.owner_only else None
        parts = (queue.expression, target.expression, item.requirements)
        key = (
            queue.id,
            step,
            item.channel,
            item.priority,
            owner,
            item.requirements.text,
            *(expression.task_key(item.attributes) for expression in parts),
        )
        group = self._group_keys.get(key)
        if group is None:
            group = self._group_keys[key] = len(self._info)
            self._info.append((queue, step, target, item.channel, item.attributes, owner, item.requirements))
            self._members.append([])
            self._start.append(0)
            if owner is not None:
                self._by_owner[owner].append(group)
            else:
                triple = []
                for slot, expression in enumerate(parts):
                    pair = (expression.text, expression.task_key(item.attributes))
                    self._pairs[slot].setdefault(pair, (expression, item.attributes))
                    triple.append(pair)
                self._by_pairs[tuple(triple)].append(group)
        members = self._members[group]
        entry = (item.queued_at, item.id)
        if not members or members[-1] < entry:
            members.append(entry)
        else:
            bisect.insort(members, entry, lo=self._start[group])
        self._group_of[item.id] = group
        ends = _step_end(queue, item, step)
        if ends is not None:
            heapq.heappush(self._timeline, (ends, item.id))

    def advance(self, now: float) -> None:
        """Move the items whose workflow step ended by `now` to their next step's group."""
        while self._timeline and self._timeline[0][0] <= now:
            _when, item_id = heapq.heappop(self._timeline)
            item = self.items.get(item_id)
            if item is not None and item_id in self._group_of:
                self._group_of.pop(item_id)
                self._place(item, self.queues[item.queue], now)

    def _serves(self, group: int, agent: Agent) -> bool:
        queue, _step, target, _channel, task, owner, requirements = self._info[group]
        if owner is not None and agent.id != owner:
            return False
        return (
            queue.expression.matches(agent.attributes, task)
            and target.expression.matches(agent.attributes, task)
            and requirements.matches(agent.attributes, task)
        )

    def _groups_for(self, agent: Agent, kind: tuple[Any, ...]) -> list[int]:
        answers = self._kind_answers[kind]
        held: list[list[tuple[str, Any]]] = []
        for slot, pairs in enumerate(self._pairs):
            true_pairs = []
            for pair, (expression, task) in pairs.items():
                answer = answers.get((slot, pair))
                if answer is None:
                    answer = answers[slot, pair] = expression.matches(agent.attributes, task)
                if answer:
                    true_pairs.append(pair)
            if not true_pairs:
                return []
            held.append(true_pairs)
        found: list[int] = []
        for first in held[0]:
            for second in held[1]:
                for third in held[2]:
                    found.extend(self._by_pairs.get((first, second, third), ()))
        return found

    def _first(self, group: int, excluded_agent: int) -> Item | None:
        members, start = self._members[group], self._start[group]
        while start < len(members) and self._group_of.get(members[start][1]) != group:
            start += 1  # offered, closed or moved on: gone for good
        self._start[group] = start
        for index in range(start, len(members)):  # by index: a slice would copy a long group each time
            item_id = members[index][1]
            if self._group_of.get(item_id) != group:
                continue
            item = self.items[item_id]
            if excluded_agent not in item.excluded:
                return item
        return None

    def next_for(self, agent: Agent, now: float, *, kind: tuple[Any, ...] | None = None) -> tuple[Item, int] | None:
        """The item (and its step) `agent` should be offered now, or None. The caller removes it once claimed.

        `kind` (frozen_value of the agent's attributes) may be passed to save computing it.
        """
        if agent.state not in ROUTABLE:
            return None
        self.advance(now)
        kind = kind if kind is not None else frozen_value(agent.attributes)
        best: tuple[tuple[float, float, int], Item, int] | None = None
        sticky = [g for g in self._by_owner.get(agent.id, ()) if self._serves(g, agent)]
        for group in [*sticky, *self._groups_for(agent, kind)]:
            queue, step, _target, channel, _task, _owner, _requirements = self._info[group]
            if agent.room(channel) <= 0:
                continue
            item = self._first(group, agent.id)
            if item is None:
                continue
            rank = order_key(item, queue, now)
            if best is None or rank < best[0]:
                best = (rank, item, step)
        return None if best is None else (best[1], best[2])


def _step_end(queue: Queue, item: Item, step: int) -> float | None:
    """When the item's current step ends (None: it lasts)."""
    start = item.queued_at
    for index, target in enumerate(queue.targets):
        if target.skipped_for(item):
            continue
        if target.timeout is None:
            return None
        if index == step:
            return start + target.timeout
        start += target.timeout
    return None


def assign(queues: Iterable[Queue], agents: Iterable[Agent], items: Iterable[Item], now: float, **options: Any) -> list[Offer]:
    """One routing pass (see Router)."""
    return Router(queues, agents, **options).assign(items, now)


@dataclasses.dataclass(frozen=True, slots=True)
class Expired:
    offer: Offer
    item: Item  # the item back in its queue, the agent who let it time out excluded


def expire(offers: Sequence[Offer], items: Mapping[int, Item], now: float) -> list[Expired]:
    """Reservations past their time: each item returns with its agent excluded (the caller sets the
    agent not ready, with the reason)."""
    out: list[Expired] = []
    for offer in offers:
        if offer.expires_at <= now and offer.item in items:
            item = items[offer.item]
            out.append(Expired(offer, dataclasses.replace(item, excluded=item.excluded | {offer.agent})))
    return out


def reject(item: Item, agent: int) -> Item:
    """The item after `agent` declined it: back in its queue, never offered to them again."""
    return dataclasses.replace(item, excluded=item.excluded | {agent})

"""Routing speed: the pure engine deciding with 10,000 agents and 100,000 waiting items.

    python bench/routing.py [--agents 10000] [--items 100000] [--decisions 20000] [--seed 1] [--small]

Prints ONE JSON object. What it measures, in one run:

1. Backlog (the state of a busy center: more work waiting than tracers free). Every agent is busy;
   then agents free up one at a time, in random order, and each is given the item the rules make
   theirs (`Backlog.next_for`); one new item arrives for every ten decisions. `engine_p99_decision_ms`
   is the 99th percentile of one decision (an agent frees up -> its offer), and
   `engine_assignments_per_s` the decisions that found work over the time they took.
2. Batch: half the agents have room at once and `Router.assign` decides the whole backlog in one
   pass (`engine_batch_offers`, `engine_batch_seconds`).
3. Beside it, in the same run, the obvious implementation (every waiting item ranked, every rule
   evaluated for the agent, the first that fits taken) on the same decisions, on a sample
   (`naive_*`): what the engine's grouping saves. No routing engine of a product runs in-process
   here (Twilio TaskRouter, Amazon Connect are services), so the naive scan is the peer.

Items have mixed queues, channels, priorities (three levels, aging), languages (a required skill
for a third of them), teams and jurisdictions, half with an owner (a sticky first step); agents
have languages, teams, jurisdictions, roles and capacities (one call, three texts).

The claim path in the database and the offer-to-screen time come with the routing layer that uses
this engine; until then this bench reports the engine alone and says so (`db_path`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracecenter.routing.engine import (  # noqa: E402  (the project root is put on the path above)
    ROUTABLE,
    Agent,
    AgentState,
    Backlog,
    Item,
    Queue,
    Router,
    Target,
    current_step,
    eligible,
    order_key,
)
from tracecenter.routing.expressions import frozen_value, parse  # noqa: E402

LANGUAGES = ["en", "es", "zh", "ht", "pt", "ru", "vi", "ko"]


def queues() -> list[Queue]:
    return [
        Queue(
            "case_interview",
            parse('role == "case_investigator"'),
            (
                Target(owner_only=True, timeout=600),
                Target(parse("teams has task.team"), timeout=1200),
                Target(parse("task.jurisdiction within jurisdiction"), timeout=3600),
                Target(),
            ),
            aging_per_minute=1.0,
            aging_cap=30.0,
        ),
        Queue(
            "contact_notification",
            parse('role == "contact_tracer" or role == "case_investigator"'),
            (Target(owner_only=True, timeout=600), Target(parse("task.jurisdiction within jurisdiction"))),
            aging_per_minute=0.5,
            aging_cap=20.0,
        ),
    ]


def build(agent_count: int, item_count: int, seed: int, now: float) -> tuple[list[Agent], list[Item]]:
    rng = random.Random(seed)
    jurisdictions = [f"/st/county{i}/" for i in range(20)]
    teams = [f"team{i}" for i in range(50)]
    requirements = {code: parse(f"languages.{code} >= 3") for code in LANGUAGES}
    agents = []
    for agent_id in range(1, agent_count + 1):
        languages = {"en": 5}
        if rng.random() < 0.3:
            languages[rng.choice(LANGUAGES[1:])] = rng.randint(3, 5)
        attributes = {
            "role": rng.choice(["contact_tracer", "contact_tracer", "case_investigator"]),
            "languages": languages,
            "jurisdiction": rng.choice(jurisdictions),
            "teams": [rng.choice(teams)],
        }
        agents.append(
            Agent(agent_id, attributes, AgentState.BUSY, rng.random() * 1000, {"voice": 1, "sms": 3}, {"voice": 1, "sms": 3})
        )
    items = [
        new_item(rng, n, now - rng.random() * 7200, agent_count, jurisdictions, teams, requirements)
        for n in range(1, item_count + 1)
    ]
    return agents, items


def new_item(
    rng: random.Random,
    item_id: int,
    queued_at: float,
    agent_count: int,
    jurisdictions: list[str],
    teams: list[str],
    requirements: dict[str, Any],
) -> Item:
    language = "en" if rng.random() < 0.67 else rng.choice(LANGUAGES[1:])
    return Item(
        item_id,
        rng.choice(["case_interview", "contact_notification"]),
        rng.choice(["voice", "voice", "sms"]),
        float(rng.choice([0, 10, 20])),
        queued_at,
        {"language": language, "team": rng.choice(teams), "jurisdiction": rng.choice(jurisdictions) + "area/"},
        requirements[language],
        rng.choice([None, rng.randint(1, agent_count)]),
    )


def naive_next(agent: Agent, waiting: dict[int, Item], by_queue: dict[str, Queue], now: float) -> Item | None:
    """The obvious decision: rank every waiting item, take the first the agent may serve."""
    for item in sorted(waiting.values(), key=lambda i: order_key(i, by_queue[i.queue], now)):
        queue = by_queue[item.queue]
        step = current_step(queue, item, now)
        if step is not None and agent.room(item.channel) > 0 and eligible(agent, item, queue, queue.targets[step]):
            return item
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--naive-decisions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--small", action="store_true", help="CI sizes: 1,000 agents, 10,000 items, 2,000 decisions")
    args = parser.parse_args()
    if args.small:
        args.agents, args.items, args.decisions, args.naive_decisions = 1_000, 10_000, 2_000, 50
    started = time.perf_counter()
    now = 1_000_000.0
    all_queues = queues()
    by_queue = {q.id: q for q in all_queues}
    agents, items = build(args.agents, args.items, args.seed, now)
    rng = random.Random(args.seed + 1)
    jurisdictions = [f"/st/county{i}/" for i in range(20)]
    teams = [f"team{i}" for i in range(50)]
    requirements = {code: parse(f"languages.{code} >= 3") for code in LANGUAGES}

    # 1. Backlog: agents free up one at a time.
    backlog = Backlog(all_queues)
    loading = time.perf_counter()
    for item in items:
        backlog.add(item, now)
    load_seconds = time.perf_counter() - loading
    kinds = {a.id: frozen_value(a.attributes) for a in agents}
    freeing = [rng.choice(agents) for _ in range(args.decisions)]
    latencies: list[float] = []
    assigned = 0
    clock = now
    next_id = args.items + 1
    decided = time.perf_counter()
    for n, agent in enumerate(freeing):
        clock += 0.05
        free = dataclasses.replace(agent, state=AgentState.AVAILABLE, load={})
        began = time.perf_counter()
        found = backlog.next_for(free, clock, kind=kinds[agent.id])
        if found is not None:
            backlog.remove(found[0].id)
            assigned += 1
        latencies.append(time.perf_counter() - began)
        if n % 10 == 0:
            backlog.add(new_item(rng, next_id, clock, args.agents, jurisdictions, teams, requirements), clock)
            next_id += 1
    backlog_seconds = time.perf_counter() - decided

    # 3. The naive scan on a sample of the same kind of decisions (the full backlog, fresh).
    waiting = {i.id: i for i in items}
    naive_latencies: list[float] = []
    for agent in freeing[: args.naive_decisions]:
        free = dataclasses.replace(agent, state=AgentState.AVAILABLE, load={})
        began = time.perf_counter()
        chosen = naive_next(free, waiting, by_queue, now)
        naive_latencies.append(time.perf_counter() - began)
        if chosen is not None:
            del waiting[chosen.id]

    # 2. Batch: half the agents have room at once.
    rested = [
        dataclasses.replace(a, state=AgentState.AVAILABLE, load={}) if a.id % 2 else a for a in agents if a.state in ROUTABLE
    ]
    batch_started = time.perf_counter()
    offers = Router(all_queues, rested).assign(items, now)
    batch_seconds = time.perf_counter() - batch_started

    output = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "inputs": {"agents": args.agents, "items": args.items, "decisions": args.decisions, "seed": args.seed},
        "engine_agents": args.agents,
        "engine_queued": args.items,
        "engine_backlog_load_s": round(load_seconds, 2),
        "engine_assignments_per_s": round(assigned / backlog_seconds) if backlog_seconds else None,
        "engine_p50_decision_ms": round(percentile(latencies, 0.5) * 1000, 3),
        "engine_p99_decision_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "engine_decisions_with_work": assigned,
        "engine_batch_offers": len(offers),
        "engine_batch_seconds": round(batch_seconds, 2),
        "naive_decisions": len(naive_latencies),
        "naive_p50_decision_ms": round(percentile(naive_latencies, 0.5) * 1000, 1) if naive_latencies else None,
        "naive_p99_decision_ms": round(percentile(naive_latencies, 0.99) * 1000, 1) if naive_latencies else None,
        "db_path": "not measured: the claim path in the database comes with the routing layer that uses this engine",
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()

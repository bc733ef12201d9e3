"""Routing speed: the pure engine, the claim path on PostgreSQL from two processes beside its bare-SQL
ceiling, and the time from new work to its offer on a tracer's screen.

    python bench/routing.py [--agents 10000] [--items 100000] [--decisions 20000] [--seed 1]
                            [--db-agents 2000] [--db-items 20000] [--screen-samples 100]
                            [--database URL] [--no-database] [--small]

Prints ONE JSON object. What it measures, in one run:

1. Engine, backlog (the state of a busy center: more work waiting than tracers free). Every agent is
   busy; then agents free up one at a time, in random order, and each is given the item the rules
   make theirs (`Backlog.next_for`); one new item arrives for every ten decisions.
   `engine_p99_decision_ms` is the 99th percentile of one decision (an agent frees up -> its offer),
   and `engine_assignments_per_s` the decisions that found work over the time they took.
2. Engine, batch: half the agents have room at once and `Router.assign` decides the whole backlog in
   one pass (`engine_batch_offers`, `engine_batch_seconds`).
3. Beside it, in the same run, the obvious implementation (every waiting item ranked, every rule
   evaluated for the agent, the first that fits taken) on the same decisions, on a sample
   (`naive_*`): what the engine's grouping saves. No routing engine of a product runs in-process
   here (Twilio TaskRouter, Amazon Connect are services), so the naive scan is the engine's peer.

Engine items have mixed queues, channels, priorities (three levels, aging), languages (a required
skill for a third of them), teams and jurisdictions, half with an owner (a sticky first step); agents
have languages, teams, jurisdictions, roles and capacities (one call, three texts).

4. The claim path in the database (bench/routing_db.py). The bench creates its own PostgreSQL
   database (`--database`, default tracecenter_bench_routing on 127.0.0.1:5432), migrates it with
   Django's migrate and drops it at the end. In it: a state of 4 counties and 20 teams, calling hours
   all day (so that it routes whenever it is run; each item's window is still checked); `--db-agents`
   tracers (half case investigators, half contact tracers, 30% speaking a second language natively,
   fluently or conversationally) signed in to routing, available, idle for up to an hour, with the
   default capacities (one call, three texts) or, for a fifth, a planner's; `--db-items` waiting work
   items, half case interviews (each of a case), half contact notifications (each of a contact), a
   fifth of them texts, 30% in another language than the working one, priorities of the case's flow,
   waiting up to 3 hours (so every workflow step occurs), half with an owner, 5% declined before by
   someone. Then, three phases, each from the same starting state (the items waiting again, the
   tracers' idle times put back, offers, audit entries, events and pushes emptied, VACUUM, CHECKPOINT), each
   from `db_processes` (2) OS processes started together:
   - the real path (`db_claims_per_s`): each process runs routing passes (`claims.route`: the snapshot
     of tracers and of the 5,000 most urgent items that may be called now, the state's queues, the
     engine's decisions, `claims.claim` for each) until
     two passes in a row offer nothing; offers made over the time from the start to the end of the last
     pass that offered something. Both processes decide alike from alike snapshots, so they contend for
     every item, as two workers routing one state at once do;
   - the same decisions claimed with `claims.claim` alone (`db_claim_only_per_s`): the offers the
     routing phase made, in the order made, claimed by both processes in that order: the claim path
     without the snapshot and the engine, on exactly the ceiling's input;
   - the ceiling (`db_ceiling_claims_per_s`): those same (item, tracer, step) claimed by a bare loop in
     plain SQL through psycopg, no Django: per claim, the item locked with FOR UPDATE SKIP LOCKED and
     still waiting and not declined by the tracer; the tracer's status row locked FOR UPDATE, in a
     routable state, with the work held and offered on the channel counted against their capacity (one
     statement); then one statement writing what `claims.claim` writes: the offer (the reservation, with
     its deadline), the item's status, the tracer's idle time, the audit entry (the same columns, with
     the HMAC of its content under the audit chain's key, as `audit_record` writes it: the chain itself
     is linked later by the sealer, in no claim's transaction, so the copy is faithful;
     `db_ceiling_audit_entries_verify` checks every one), the OfferMade event in the outbox (and
     delivery rows, with the NOTIFY that wakes the workers, for whatever subscribers the application
     has: none today), and the push to the tracer's screen (its row: without Redis that is all a
     claim outside the web server does); then the commit. tests/test_bench_routing.py checks that it
     writes the same rows as a real claim and refuses what a real claim refuses.
   `db_vs_ceiling` is the real path over the ceiling (the aim: 0.5 or better), `db_claim_only_vs_ceiling`
   the same for the claims alone. After each phase, in SQL: `db_double_assignments` (items with more
   than one offer pending or accepted: two tracers at once, or accepted twice), `db_over_capacity`
   (tracer and channel pairs with more work held and offered than their capacity),
   `db_item_offer_mismatch` (items whose status disagrees with their pending offer), summed over the two
   real-path phases, and the ceiling's own; `db_left_for_a_final_pass` is what one more pass would still
   offer after the routing phase (0: it filled every place it could).
5. Offer to screen (bench/routing_screen.py): the real server (`manage.py serve`: uvicorn, DEBUG off,
   its two workers inside, no Redis: the embedded default) on the bench's database, emptied of the
   claim phases' work; one case investigator on, signed in (a session made as a sign-in makes it, the
   second factor passed) with a WebSocket open on /live/. A case is opened through
   `cases.services.case_open`; the clock runs from just before that call until the socket receives the
   push `work.offer` naming an offer of the case's interview to that tracer (its CaseOpened event
   creates the work, the work's event runs a routing pass, whose claim writes the push). The tracer
   then accepts and wraps the attempt up as reached, and the next case is opened 0.2 s later;
   `--screen-samples` cases after 2 not counted (the server's first deliveries load its code).
   `offer_to_screen_p50_ms`, `_p99_ms` (nearest rank), `_max_ms`; `offer_to_screen_missed` counts
   offers not heard within 10 s;
   `offer_to_screen_stages_p50_ms` splits it into its hops, from the rows' own times (case stored ->
   its work stored -> the routing pass began -> the push stored -> the socket heard it). A quiet
   center: one case at a time, no other load on the server.

Everything (PostgreSQL, the server, the claiming processes, the bench) runs on one machine and shares
its cores; the load averages before, during each phase and after are printed, as the machine is shared.
When PostgreSQL cannot be reached, `db_path` and `offer_to_screen` say why and only the engine is
measured. `--small` (CI): the engine with 1,000 agents and 10,000 items, the database with 100 tracers
and 1,000 items, 10 cases to the screen.
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

sys.path.insert(0, str(ROOT / "bench"))
import routing_db  # noqa: E402  (bench/ is on the path)
import routing_screen  # noqa: E402

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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--naive-decisions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-agents", type=int, default=2_000, help="tracers signed in to routing, in the database")
    parser.add_argument("--db-items", type=int, default=20_000, help="work items waiting, in the database")
    parser.add_argument("--screen-samples", type=int, default=100, help="cases opened one after another for offer-to-screen")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_ROUTING_DATABASE_URL", routing_db.DEFAULT_DATABASE),
        help="PostgreSQL database the bench creates, migrates and drops (its server must be reachable)",
    )
    parser.add_argument("--no-database", action="store_true", help="the pure engine only")
    parser.add_argument(
        "--small",
        action="store_true",
        help="CI sizes: 1,000 agents, 10,000 items, 2,000 decisions; in the database 100 tracers, 1,000 items, 10 cases",
    )
    args = parser.parse_args()
    if args.small:
        args.agents, args.items, args.decisions, args.naive_decisions = 1_000, 10_000, 2_000, 50
        args.db_agents, args.db_items, args.screen_samples = 100, 1_000, 10
    return args


def engine_figures(args: argparse.Namespace) -> dict[str, Any]:
    """The pure engine: backlog decisions, the batch, and the naive scan beside them."""
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

    return {
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
    }


def database_figures(args: argparse.Namespace) -> dict[str, Any]:
    """The claim path on PostgreSQL from two processes, its bare-SQL ceiling, and offer to screen."""
    if args.no_database:
        return {"db_path": "not measured: --no-database", "offer_to_screen": "not measured: --no-database"}
    reason = routing_db.unreachable(args.database)
    if reason is not None:
        return {"db_path": reason, "offer_to_screen": reason}
    began = time.perf_counter()
    routing_db.setup(args.database)
    migrated = time.perf_counter() - began
    try:
        backend = f"postgresql {routing_db.server_version()}"
        run = routing_db.measure(args.database, args.db_agents, args.db_items, args.seed)
        began = time.perf_counter()
        screen = routing_screen.measure(routing_db.environment(args.database), run["backlog"]["county"], args.screen_samples)
        run["stages"]["screen"] = round(time.perf_counter() - began, 1)
    finally:
        routing_db.drop_database(args.database)
    run["stages"] = {"create_and_migrate": round(migrated, 1), **run["stages"]}
    routed, claimed, ceiling = run["routed"], run["claim"], run["ceiling"]
    real = (run["routed_counts"], run["claim_counts"])
    ceiling_counts = run["ceiling_counts"]
    return {
        "db_path": f"measured: {backend} on this machine, database {args.database.rpartition('/')[2]} "
        "(created, migrated and dropped by this run)",
        "db_backend": backend,
        "db_processes": routing_db.PROCESSES,
        "db_agents": run["backlog"]["agents"],
        "db_queued": run["backlog"]["items"],
        "db_offers": routed["offers"],
        "db_seconds": round(routed["seconds"], 2),
        "db_claims_per_s": routed["per_s"],
        "db_double_assignments": sum(c["double"] for c in real),
        "db_over_capacity": sum(c["over"] for c in real),
        "db_item_offer_mismatch": sum(c["mismatch"] for c in real),
        "db_left_for_a_final_pass": run["routed_left"],
        "db_route_passes": routed["passes"],
        "db_claim_only_per_s": claimed["per_s"],
        "db_claim_only_offers": claimed["offers"],
        "db_ceiling_claims_per_s": ceiling["per_s"],
        "db_ceiling_offers": ceiling["offers"],
        "db_ceiling_double_assignments": ceiling_counts["double"],
        "db_ceiling_over_capacity": ceiling_counts["over"],
        "db_ceiling_audit_entries_verify": run["ceiling_audit_holds"],
        "db_vs_ceiling": round(routed["per_s"] / ceiling["per_s"], 3) if routed["per_s"] and ceiling["per_s"] else None,
        "db_claim_only_vs_ceiling": round(claimed["per_s"] / ceiling["per_s"], 3)
        if claimed["per_s"] and ceiling["per_s"]
        else None,
        "db_load_average_during": run["load"],
        "db_stage_seconds": run["stages"],
        **screen,
    }


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()
    output: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "note": "PostgreSQL, the server and both claiming processes run on this machine and share its cores",
            "load_average_before": [round(x, 2) for x in load_before],
        },
        "inputs": {
            "agents": args.agents,
            "items": args.items,
            "decisions": args.decisions,
            "seed": args.seed,
            "db_agents": args.db_agents,
            "db_items": args.db_items,
            "screen_samples": args.screen_samples,
        },
    }
    output.update(engine_figures(args))
    output.update(database_figures(args))
    output["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    output["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()

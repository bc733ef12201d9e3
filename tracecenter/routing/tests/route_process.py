"""A routing process for the concurrency test: waits for "go" on stdin, then, at once with the others, either routes
N passes (`route N`) or claims every waiting item for every agent in an order of its own (`claim SEED`), so that
processes contend for the same items and the same agents' last places.

Run as `python -m tracecenter.routing.tests.route_process route 3` with DATABASE_URL naming the test database.
"""

from __future__ import annotations

import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracecenter.settings")
    django.setup()
    import random

    from tracecenter.core import clock
    from tracecenter.routing.claims import claim, route
    from tracecenter.routing.models import AgentStatus, WorkItem

    mode, argument = sys.argv[1], int(sys.argv[2])
    items = list(WorkItem.objects.values_list("pk", flat=True))
    agents = list(AgentStatus.objects.values_list("user_id", flat=True))
    rng = random.Random(argument)  # noqa: S311 (an order to contend in, not a secret)
    rng.shuffle(items)
    print("started", flush=True)
    sys.stdin.readline()
    if mode == "route":
        offered = sum(len(route()) for _ in range(argument))
    else:
        offered = 0
        for item_id in items:
            for agent_id in rng.sample(agents, len(agents)):
                if claim(item_id=item_id, agent_id=agent_id, step=0, now=clock.now()) is not None:
                    offered += 1
                    break
    print(f"offered {offered}", flush=True)


if __name__ == "__main__":
    main()

"""The worker: one loop that runs event deliveries, tasks and periodic jobs.

Start as many as you like, on as many machines as share the database (`manage.py worker`);
they coordinate through the database alone (claims with SKIP LOCKED, compare-and-set on
periodic jobs, heartbeats). On the embedded default the worker runs as a thread inside the
web server (`manage.py serve`), so that pushes it makes reach the browsers connected there.

Each round: a heartbeat when due, the periodic jobs that are due, a batch of event
deliveries, one task. When a round found nothing, the worker sleeps until woken (a
notification after a commit) or the poll interval passes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid

from django.db import close_old_connections, connection

from tracecenter.core import clock, relay, schedule, tasks, wakeup
from tracecenter.core.env import env_int
from tracecenter.core.models import WorkerProcess

logger = logging.getLogger(__name__)

POLL_SECONDS = env_int("WORKER_POLL_MS", 1000) / 1000
HEARTBEAT_EVERY = dt.timedelta(seconds=5)


def default_batch() -> int:
    # SQLite has one writer: a long batch transaction would hold up the web requests sharing the file.
    return 20 if connection.vendor == "sqlite" else 200


class Worker:
    def __init__(self, *, worker_id: str | None = None, batch: int | None = None, poll_seconds: float = POLL_SECONDS) -> None:
        self.id = worker_id or uuid.uuid4().hex
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.scheduler = schedule.Scheduler()
        self.stop = threading.Event()
        self._last_beat: dt.datetime | None = None
        self._counts = {"deliveries": 0, "tasks": 0}

    def shutdown(self) -> None:
        """Stop after the piece of work in hand."""
        self.stop.set()
        wakeup.nudge()

    def run(self) -> None:
        """Work until `stop` is set. Never raises for a failure of one piece of work."""
        logger.info("worker %s started (pid %s)", self.id, os.getpid())
        waiter = wakeup.Waiter()
        try:
            while not self.stop.is_set():
                try:
                    did = self.run_once()
                except Exception:  # a broken connection, a database restart: log, wait, go on
                    logger.exception("worker %s: round failed", self.id)
                    did = 0
                    close_old_connections()
                    self.stop.wait(self.poll_seconds)
                if not did and not self.stop.is_set():
                    waiter.wait(self.poll_seconds)
        finally:
            waiter.close()
            self._stopped()
            logger.info("worker %s stopped", self.id)

    def run_once(self) -> int:
        """One round; returns how many pieces of work it did (0: nothing was due)."""
        close_old_connections()
        now = clock.now()
        self._heartbeat(now)
        did = self.scheduler.run_due(now)
        outcome = relay.run_round(token=self.id, limit=self.batch or default_batch())
        did += outcome.claimed
        self._counts["deliveries"] += outcome.done
        if tasks.run_next(self.id):
            self._counts["tasks"] += 1
            did += 1
        return did

    def _heartbeat(self, now: dt.datetime) -> None:
        if self._last_beat is not None and now - self._last_beat < HEARTBEAT_EVERY:
            return
        updated = WorkerProcess.objects.filter(pk=self.id).update(
            heartbeat_at=now, deliveries=self._counts["deliveries"], tasks=self._counts["tasks"]
        )
        if not updated:
            WorkerProcess.objects.create(
                id=self.id, hostname=socket.gethostname()[:200], pid=os.getpid(), started_at=now, heartbeat_at=now
            )
        self._last_beat = now

    def _stopped(self) -> None:
        try:
            WorkerProcess.objects.filter(pk=self.id).update(stopped_at=clock.now())
        except Exception:
            logger.warning("worker %s could not record its stop", self.id, exc_info=True)
        finally:
            connection.close()


def start_in_thread(*, batch: int | None = None) -> Worker:
    """A worker on a daemon thread of this process (the embedded default's web server); `shutdown()` ends it."""
    worker = Worker(batch=batch)
    thread = threading.Thread(target=worker.run, name=f"worker-{worker.id[:8]}", daemon=True)
    thread.start()
    worker.thread = thread  # type: ignore[attr-defined]
    return worker

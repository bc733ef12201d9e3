"""Waking the worker when there is work, so that it does not have to poll often.

Within one process (the embedded default runs the worker inside the web server) a
threading.Event does it. Across processes on PostgreSQL, NOTIFY/LISTEN on one channel;
the notification is sent after the commit that made the work visible, so a woken worker
always finds it. Elsewhere a worker also polls (WORKER_POLL_SECONDS), which is what
bounds the delay when a notification is lost.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import connections, transaction

logger = logging.getLogger(__name__)

CHANNEL = "tracecenter_work"
_event = threading.Event()


def signal() -> None:
    """There is new work: wake the workers of this process and, on PostgreSQL, of every process."""
    _event.set()
    connection = connections["default"]
    if connection.vendor == "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"NOTIFY {CHANNEL}")
        except Exception:  # only a wake-up: the workers' polling finds the work anyway
            logger.warning("could not notify workers", exc_info=True)


def nudge() -> None:
    """Wake this process's waiting workers only (to make them notice that they should stop)."""
    _event.set()


def signal_after_commit() -> None:
    """`signal` once the current transaction commits (once per transaction, however many publish)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(func is signal for _sids, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(signal, robust=True)


class Waiter:
    """What a worker sleeps on between rounds: a notification, or the poll interval."""

    def __init__(self) -> None:
        self._listener: Any = None
        if connections["default"].vendor == "postgresql":
            try:
                self._listener = _listen()
            except Exception:
                logger.warning("could not LISTEN for work; polling only", exc_info=True)

    def wait(self, timeout: float) -> None:
        if self._listener is not None:
            try:
                # Several notifications may be queued: take what is there, do not sleep once per notice.
                for _notice in self._listener.notifies(timeout=timeout, stop_after=1):
                    break
                for _notice in self._listener.notifies(timeout=0):
                    pass
            except Exception:
                logger.warning("lost the LISTEN connection; polling only", exc_info=True)
                self.close()
            _event.clear()
            return
        _event.wait(timeout)
        _event.clear()

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None


def _listen() -> Any:
    import psycopg

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    conn = psycopg.connect(**params, autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn

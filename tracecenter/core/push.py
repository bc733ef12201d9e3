"""Real-time push: ids and non-identifying facts, to the browsers of the people they concern.

`push(groups, kind, data)` writes one PushMessage row per group in the current transaction,
so a push exists exactly when the change it announces does, and a browser that was away
(asleep, offline, reconnecting) catches up from the rows. After the commit it reaches the
browsers through the channel layer:

- with Redis (REDIS_URL set): the pushing process sends to the group, and every web
  process's sockets in that group receive it, however many web processes there are;
- without Redis (the embedded default) the in-memory layer lives in the web server's
  process only, so the web server reads new rows from the database itself (DatabaseFanout:
  at once when its own process pushed, and twice a second for other processes: a worker
  started apart, the MLLP listener, a command) and hands them to its sockets.

A push never carries personal data: a case id and an owner id, not a name. The page fetches
what it shows through the same audited views as any page, so a push cannot bypass the
access policy or the audit trail.

Ids are not always committed in order on PostgreSQL (two transactions, the later id
committing first), so readers look back a window of ids and skip what they have sent: the
fan-out keeps the ids it sent lately, the browser the ids it has seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Coroutine, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, transaction

from tracecenter.core import clock
from tracecenter.core.env import env_int
from tracecenter.core.models import PushMessage

logger = logging.getLogger(__name__)

# How far back (in ids) readers look for pushes that committed after a later one.
LOOK_BACK = 200
FANOUT_POLL_SECONDS = env_int("PUSH_POLL_MS", 500) / 1000
RETENTION = dt.timedelta(hours=env_int("PUSH_RETENTION_HOURS", 24))


def _uses_redis() -> bool:
    return "redis" in str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).lower()


def message_of(row: PushMessage) -> dict[str, Any]:
    """What a socket sends to its browser (and what the channel layer carries, with its handler type).

    `at` (milliseconds) lets a page skip the pushes of the look-back window that it already showed.
    """
    return {"id": row.pk, "kind": row.kind, "data": row.data, "at": int(row.created_at.timestamp() * 1000)}


def push(groups: Iterable[str], kind: str, data: dict[str, Any]) -> list[PushMessage]:
    """Announce `kind` with `data` (ids and facts only) to `groups`, once the current transaction commits."""
    return push_many([(groups, kind, data)])


def push_many(pushes: Iterable[tuple[Iterable[str], str, dict[str, Any]]]) -> list[PushMessage]:
    """Several pushes in one statement (a surge of new cases)."""
    rows = [PushMessage(group=group, kind=kind, data=data) for groups, kind, data in pushes for group in dict.fromkeys(groups)]
    if not rows:
        return []
    PushMessage.objects.bulk_create(rows)  # PostgreSQL and SQLite both return the new ids
    if _uses_redis():
        sent = [(row.group, message_of(row)) for row in rows]
        transaction.on_commit(lambda: _sender().submit(_send_all(sent)), robust=True)
    else:
        transaction.on_commit(_poke_fanout, robust=True)
    return rows


def messages_after(groups: Iterable[str], after: int, *, limit: int = 500) -> list[dict[str, Any]]:
    """Pushes to `groups` since `after` (looking back a window, see the module's note), oldest first."""
    rows = PushMessage.objects.filter(group__in=list(groups), pk__gt=max(after - LOOK_BACK, 0)).order_by("pk")[:limit]
    return [message_of(row) for row in rows]


def latest_id() -> int:
    return PushMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def prune() -> int:
    return PushMessage.objects.filter(created_at__lt=clock.now() - RETENTION).delete()[0]


async def _send_all(sent: list[tuple[str, dict[str, Any]]]) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    for group, message in sent:
        await layer.group_send(group, {"type": "push.message", **message})


class _Sender:
    """One event loop on a thread of its own, for processes without one (workers) to send through Redis.

    The Redis layer keeps a connection pool per event loop: one long-lived loop keeps one pool.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="push-sender", daemon=True).start()

    def submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        future.add_done_callback(_log_failure)


def _log_failure(future: Any) -> None:
    if future.exception() is not None:
        # The rows stay: browsers catch up when they reconnect or reload.
        logger.warning("a push could not be sent through the channel layer: %s", type(future.exception()).__name__)


_sender_instance: _Sender | None = None
_sender_lock = threading.Lock()


def _sender() -> _Sender:
    global _sender_instance
    with _sender_lock:
        if _sender_instance is None:
            _sender_instance = _Sender()
        return _sender_instance


# --- Without Redis: the web server's process reads the rows and fans them out.


class DatabaseFanout:
    """Reads new PushMessage rows and hands each to this process's sockets in its group."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.sent: deque[int] = deque(maxlen=4 * LOOK_BACK)
        self.last = 0

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.last = await sync_to_async(_latest_id_closing)()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=FANOUT_POLL_SECONDS)
            self.wake.clear()
            try:
                rows = await sync_to_async(_rows_after_closing)(self.last)
            except Exception:
                logger.warning("push fan-out could not read the database; trying again", exc_info=True)
                await asyncio.sleep(FANOUT_POLL_SECONDS)
                continue
            for row in rows:
                if row.pk in self.sent:
                    continue
                self.sent.append(row.pk)
                self.last = max(self.last, row.pk)
                await self.layer.group_send(row.group, {"type": "push.message", **message_of(row)})

    def poke(self) -> None:
        if self.loop is not None and self.wake is not None:
            self.loop.call_soon_threadsafe(self.wake.set)


def _latest_id_closing() -> int:
    try:
        return latest_id()
    finally:
        close_old_connections()


def _rows_after_closing(last: int) -> list[PushMessage]:
    try:
        return list(PushMessage.objects.filter(pk__gt=max(last - LOOK_BACK, 0)).order_by("pk")[:1000])
    finally:
        close_old_connections()


_fanout: DatabaseFanout | None = None


def ensure_fanout(layer: Any) -> None:
    """Start this process's fan-out the first time a socket connects (only needed without Redis)."""
    global _fanout
    if _uses_redis() or _fanout is not None:
        return
    _fanout = DatabaseFanout(layer)
    task = asyncio.get_running_loop().create_task(_fanout.run(), name="push-fanout")
    task.add_done_callback(_fanout_stopped)


def _fanout_stopped(task: asyncio.Task[None]) -> None:
    global _fanout
    _fanout = None
    if not task.cancelled() and task.exception() is not None:
        logger.error("push fan-out stopped: %s", type(task.exception()).__name__)


def _poke_fanout() -> None:
    if _fanout is not None:
        _fanout.poke()

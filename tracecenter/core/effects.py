"""Effects outside the system (a text, an e-mail, a call) made at most once per idempotency key.

A worker can die at any moment, and the relay then runs the delivery again. For an effect in
the database that is harmless (it rolled back with the worker); a text already sent cannot be
rolled back. So an outside effect goes through `perform_once`:

1. a SideEffect row for the key is committed as "started" *before* anything leaves;
2. the action is called with the key, and the channel must be idempotent on it: a provider
   that honours idempotency keys (the recording channel does), or a channel that looks up what
   it sent under that key before sending again;
3. the row is marked "done" with the provider's receipt.

Run again with the same key, a "done" effect returns its receipt without acting; a "started"
one (the worker died between 1 and 3: did the text go out?) calls the action again with the
same key, and the channel's idempotency makes that a lookup rather than a second text.

Keys made by `key_for` inside a relay delivery are stable across retries of that delivery:
subscriber, event id and the purpose the subscriber names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from tracecenter.core import clock
from tracecenter.core.models import SideEffect


class EffectError(RuntimeError):
    pass


def key_for(purpose: str) -> str:
    """An idempotency key for `purpose` within the delivery being run (stable across its retries)."""
    from tracecenter.core.relay import current_delivery

    delivery = current_delivery()
    if delivery is None:
        raise EffectError("key_for is for subscribers run by the relay; give perform_once a key of your own")
    return f"{delivery.subscriber}/{delivery.event_id}/{purpose}"[:255]


def perform_once(key: str, action: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Do `action(key)` unless it was done before under `key`; returns its receipt (ids, never content)."""
    if transaction.get_connection().in_atomic_block:
        # The "started" mark must be committed before the effect leaves; inside a transaction it would
        # vanish with a rollback and the effect would be made again.
        raise EffectError("perform_once must run outside a transaction (subscribe with atomic=False)")
    try:
        effect, _created = SideEffect.objects.get_or_create(key=key)
    except IntegrityError:  # two workers at once: the other one's row
        effect = SideEffect.objects.get(key=key)
    if effect.state == SideEffect.State.DONE:
        return dict(effect.receipt)
    SideEffect.objects.filter(pk=effect.pk).update(attempts=effect.attempts + 1)
    receipt = action(key)
    SideEffect.objects.filter(pk=effect.pk).update(state=SideEffect.State.DONE, receipt=receipt, finished_at=clock.now())
    return receipt

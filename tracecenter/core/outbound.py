"""The seam for messages that leave the system, and its embedded stand-in.

Every channel that sends to the public (texts, e-mails, voice) implements `OutboundChannel`:
one method, idempotent on its key (core/effects.py says why). The recording channel is the
null implementation the embedded default runs with: it keeps what it would have sent, one
message per key, as a provider that honours idempotency keys would. Real providers plug in
behind the same method.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db import IntegrityError, transaction

from tracecenter.core.models import RecordedMessage


class OutboundChannel(Protocol):
    name: str

    def send(self, *, key: str, to: str, body: str) -> dict[str, Any]:
        """Send `body` to `to` once per `key`; returns the receipt (the provider's ids, never content)."""
        ...


class RecordingChannel:
    """Keeps each message instead of sending it; a second send with the same key returns the first receipt."""

    def __init__(self, name: str = "console") -> None:
        self.name = name

    def send(self, *, key: str, to: str, body: str) -> dict[str, Any]:
        existing = RecordedMessage.objects.filter(key=key).values_list("pk", flat=True).first()
        if existing is not None:
            return {"channel": self.name, "message_id": existing, "duplicate": True}
        try:
            # Its own transaction, as a remote provider's would be: committed whatever the caller does next.
            with transaction.atomic():
                message = RecordedMessage.objects.create(key=key, channel=self.name, to=to, body=body)
        except IntegrityError:
            return {"channel": self.name, "message_id": RecordedMessage.objects.get(key=key).pk, "duplicate": True}
        return {"channel": self.name, "message_id": message.pk}

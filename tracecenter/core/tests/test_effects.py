"""Effects outside the system are made once per key, even when the worker dies between sending and recording."""

from __future__ import annotations

import pytest
from django.db import transaction

from tracecenter.core import effects, outbound
from tracecenter.core.models import RecordedMessage, SideEffect

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_effect_done_before_is_not_made_again_and_its_receipt_is_returned() -> None:
    channel = outbound.RecordingChannel()
    sent = []

    def send(key: str) -> dict[str, object]:
        sent.append(key)
        return channel.send(key=key, to="+16175550100", body="Please call us back")

    first = effects.perform_once("case-7/welcome", send)
    again = effects.perform_once("case-7/welcome", send)
    assert first == again and sent == ["case-7/welcome"]
    assert RecordedMessage.objects.count() == 1 and SideEffect.objects.get().state == "done"


def test_an_effect_whose_outcome_is_unknown_is_asked_again_with_the_same_key_and_the_channel_sends_nothing_new() -> None:
    channel = outbound.RecordingChannel()
    # What a worker killed between sending and recording leaves: the text out, the effect "started".
    SideEffect.objects.create(key="case-8/welcome", attempts=1)
    channel.send(key="case-8/welcome", to="+16175550100", body="Please call us back")
    receipt = effects.perform_once(
        "case-8/welcome", lambda key: channel.send(key=key, to="+16175550100", body="Please call us back")
    )
    assert receipt["duplicate"] is True
    assert RecordedMessage.objects.count() == 1
    effect = SideEffect.objects.get()
    assert effect.state == "done" and effect.attempts == 2


def test_an_effect_inside_a_transaction_is_refused() -> None:
    with pytest.raises(effects.EffectError, match="outside a transaction"), transaction.atomic():
        effects.perform_once("k", lambda key: {})
    assert not SideEffect.objects.exists()


def test_a_key_is_made_from_the_delivery_being_run_and_only_there() -> None:
    with pytest.raises(effects.EffectError):
        effects.key_for("text")


def test_what_the_recording_channel_keeps_is_encrypted_at_rest() -> None:
    from django.db import connection

    outbound.RecordingChannel().send(key="k1", to="+16175550123", body="Your test: call 555")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + '"to"' + ", body FROM core_recordedmessage")
        to, body = cursor.fetchone()
    assert "6175550123" not in to and "call 555" not in body
    assert RecordedMessage.objects.get().to == "+16175550123"

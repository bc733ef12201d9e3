"""Bulk inserts and updates: the same rows as the ORM would write, on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tracecenter.core.bulk import insert_rows, update_rows
from tracecenter.intake.models import InboundMessage

pytestmark = pytest.mark.django_db


def message(state, key: str, raw: str = "MSH|^~\\&|A") -> InboundMessage:
    return InboundMessage(format="hl7v2", raw=raw, content_key=key, jurisdiction=state, where="message 1")


def test_inserted_rows_get_their_ids_defaults_and_encryption(state):
    rows = [message(state, f"k{i}", raw=f"MSH|secret {i}") for i in range(3)]
    insert_rows(InboundMessage, rows)
    assert all(r.pk for r in rows) and len({r.pk for r in rows}) == 3
    stored = {m.pk: m for m in InboundMessage.objects.all()}
    assert [stored[r.pk].raw for r in rows] == ["MSH|secret 0", "MSH|secret 1", "MSH|secret 2"]
    assert all(stored[r.pk].received_at is not None and stored[r.pk].state == "received" for r in rows)


def test_a_conflicting_insert_writes_nothing_and_leaves_the_objects_unsaved(state):
    insert_rows(InboundMessage, [message(state, "taken")])
    rows = [message(state, "new"), message(state, "taken")]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(InboundMessage, rows)
    assert all(r.pk is None for r in rows)
    assert not InboundMessage.objects.filter(content_key="new").exists()


def test_update_rows_writes_each_rows_own_values_and_respects_the_null_condition(state):
    rows = [message(state, f"u{i}") for i in range(3)]
    insert_rows(InboundMessage, rows)
    for i, row in enumerate(rows):
        row.state = ["processed", "rejected", "failed"][i]
        row.problems = f'[{{"location": "PID-{i}", "reason": "r", "code": "c"}}]'
        row.outcome = {"lab_results": [i]}
    assert update_rows(InboundMessage, rows, ["state", "problems", "outcome"]) == 3
    stored = {m.pk: m for m in InboundMessage.objects.all()}
    assert [stored[r.pk].state for r in rows] == ["processed", "rejected", "failed"]
    assert [stored[r.pk].outcome for r in rows] == [{"lab_results": [0]}, {"lab_results": [1]}, {"lab_results": [2]}]
    assert "PID-1" in stored[rows[1].pk].problems
    # Only rows whose processed_at is still empty.
    rows[0].state = "replaced"
    InboundMessage.objects.filter(pk=rows[1].pk).update(processed_at="2026-01-01T00:00:00Z")
    rows[1].state = "replaced"
    assert update_rows(InboundMessage, rows[:2], ["state"], where_null="processed_at") == 1
    assert InboundMessage.objects.get(pk=rows[1].pk).state == "rejected"

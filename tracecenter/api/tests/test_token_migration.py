"""Tokens made before scopes and mandatory expiry keep what they could do (read, write) and all expire within 90 days."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tracecenter.accounts.roles import Role
from tracecenter.api.models import ApiToken
from tracecenter.core import clock

BEFORE = [("tc_api", "0002_token_scopes_expiry_use")]
AFTER = [("tc_api", "0004_token_expiry_required")]


def _migrate(target: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor


@pytest.mark.django_db(transaction=True)
def test_existing_tokens_are_given_read_write_and_an_expiry_at_most_90_days_away(make_user, county):
    user = make_user(Role.CASE_INVESTIGATOR, county)
    now = clock.now()
    try:
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps.get_model("tc_api", "ApiToken")
        for name, expires in (("forever", None), ("soon", now + dt.timedelta(days=10)), ("long", now + dt.timedelta(days=400))):
            old.objects.create(user_id=user.pk, name=name, token_hash=name.ljust(64, "0"), scopes="", expires_at=expires)
    finally:
        _migrate(AFTER)
    tokens = {t.name: t for t in ApiToken.objects.all()}
    assert {t.scopes for t in tokens.values()} == {"read write"}
    grace = now + dt.timedelta(days=90)
    assert abs(tokens["forever"].expires_at - grace) < dt.timedelta(minutes=5)
    assert abs(tokens["long"].expires_at - grace) < dt.timedelta(minutes=5)
    assert abs(tokens["soon"].expires_at - (now + dt.timedelta(days=10))) < dt.timedelta(seconds=1)

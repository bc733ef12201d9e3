"""Failed sign-ins and bad API tokens are limited per address and per account, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from conftest import PASSWORD, database_url
from tracecenter.accounts.roles import Role
from tracecenter.api.services import api_token_create
from tracecenter.audit.models import Action, AuditEntry

ROOT = Path(__file__).resolve().parents[3]
LOCKED = "Too many failed attempts"


def sign_in(username: str, password: str, ip: str = "127.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.post("/accounts/login/", {"username": username, "password": password})
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_one_address_guessing_at_many_accounts_is_refused_after_the_address_limit(users, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    for role in (Role.CONTACT_TRACER, Role.CASE_INVESTIGATOR, Role.EPIDEMIOLOGIST):  # one guess each: no account locked
        sign_in(users[role].username, "Summer2026!", ip="198.51.100.9")

    supervisor = users[Role.SUPERVISOR]
    refused = sign_in(supervisor.username, PASSWORD, ip="198.51.100.9")
    assert not signed_in(refused)
    assert signed_in(sign_in(supervisor.username, PASSWORD, ip="198.51.100.10"))  # another address is not held up
    entry = AuditEntry.objects.filter(action=Action.LOGIN_FAILED).order_by("pk").last()
    assert entry.detail.startswith("refused during a lock-out (too many failures for this address)")


def test_one_account_guessed_from_many_addresses_is_refused_after_the_account_limit(users, settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 4
    tracer = users[Role.CONTACT_TRACER]
    for n in range(4):
        sign_in(tracer.username, "wrong", ip=f"203.0.113.{n}")
    assert not signed_in(sign_in(tracer.username, PASSWORD, ip="203.0.113.200"))
    assert signed_in(sign_in(users[Role.SUPERVISOR].username, PASSWORD, ip="203.0.113.200"))


def test_a_post_without_a_password_does_not_clear_the_failures(users):
    tracer = users[Role.CONTACT_TRACER]
    for _ in range(4):
        sign_in(tracer.username, "wrong")
    sign_in(tracer.username, "")  # no password: nothing is checked, so nothing may be cleared
    sign_in(tracer.username, "wrong")
    client = sign_in(tracer.username, PASSWORD)
    assert not signed_in(client)
    assert LOCKED in client.post("/accounts/login/", {"username": tracer.username, "password": PASSWORD}).content.decode()


@pytest.mark.django_db(transaction=True)
def test_failures_in_another_process_hold_the_sign_in_here(users):
    """Five failures seen by another web process lock the account and address here too."""
    tracer = users[Role.CONTACT_TRACER]
    code = (
        "import django; django.setup()\n"
        "from tracecenter.accounts import throttle\n"
        f"for _ in range(5): throttle.login_failed({tracer.username!r}, '127.0.0.1')\n"
    )
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "tracecenter.settings"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=120)

    response = Client().post("/accounts/login/", {"username": tracer.username, "password": PASSWORD})
    assert LOCKED in response.content.decode()


def test_bad_api_tokens_from_one_address_are_refused_with_429_then_even_a_good_one(users, settings):
    settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 3
    _token, good = api_token_create(actor=None, user=users[Role.EPIDEMIOLOGIST], name="nightly", scopes=["read"], days=30)
    guesser = Client(REMOTE_ADDR="192.0.2.50")
    statuses = [guesser.get("/api/cases", headers={"Authorization": f"Bearer tc_guess{n}"}).status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert guesser.get("/api/cases", headers={"Authorization": f"Bearer {good}"}).status_code == 429
    assert Client(REMOTE_ADDR="192.0.2.51").get("/api/cases", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    refused = AuditEntry.objects.filter(action=Action.LOGIN_FAILED, object_type="api_token").order_by("pk")
    assert [e.detail.startswith("refused during a lock-out") for e in refused] == [False, False, False, True, True]

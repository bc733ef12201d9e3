"""Multi-factor sign-in in a real browser: a password and a TOTP code; a security key on Chromium's virtual authenticator."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD
from tests.browser.pages import sign_in
from tracecenter.accounts.models import SecurityKey
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_wrong_code_is_refused_and_the_right_one_signs_in(page, live_server, county, team, make_user):
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.north")
    sign_in(page, live_server, tracer.username, wait=False)
    page.get_by_role("heading", level=1, name="My work").wait_for()
    page.get_by_role("button", name="Sign out").click()

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("User name").fill(tracer.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your app, or a recovery code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("alert").filter(has_text="That code is not right").wait_for()
    # The rest of the site stays closed until the second step is passed.
    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/accounts/second-factor/")
    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED, detail="wrong second-factor code").count() == 1


def _virtual_authenticator(page: Any) -> Any:
    """Chromium's virtual authenticator (DevTools protocol): a USB security key that answers at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def test_a_security_key_is_added_and_then_signs_in(page, live_server, county, team, make_user):
    # WebAuthn needs a host name for its relying party: the live server is on localhost.
    assert live_server.url.startswith("http://localhost:")
    supervisor = make_user(Role.SUPERVISOR, county, team, username="supervisor.north")
    _virtual_authenticator(page)
    sign_in(page, live_server, supervisor.username)

    page.get_by_role("link", name="Sign-in security").click()
    page.get_by_label("Name of the new key").fill("Blue key")
    page.get_by_role("button", name="Add a security key").click()
    page.get_by_text("Security key “Blue key” added.").wait_for()
    page.get_by_role("cell", name="Blue key").wait_for()
    key = SecurityKey.objects.get(user=supervisor)
    assert key.name == "Blue key"
    registered_count = key.sign_count

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("User name").fill(supervisor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Use your security key").click()
    page.get_by_role("heading", level=1, name="My work").wait_for()

    key.refresh_from_db()
    assert key.sign_count > registered_count and key.last_used_at is not None
    assert AuditEntry.objects.filter(
        action=Action.LOGIN, actor_id=supervisor.pk, detail=f"second factor passed: security key {key.pk}"
    ).exists()

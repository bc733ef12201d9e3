"""Single sign-on in a real browser: "Sign in with ..." on the sign-in page, across to a real OpenID Connect provider
on a local port (tracecenter/accounts/tests/oidc_provider.py) and back, signed in; then signed out at both ends."""

from __future__ import annotations

import pytest
from django.utils.csp import CSP

from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.accounts.roles import Role
from tracecenter.accounts.second_factor import second_factor_method
from tracecenter.accounts.tests.oidc_provider import configure, running_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_tracer_signs_in_through_the_states_provider_and_out_again(page, live_server, settings):
    state = Jurisdiction.objects.create(name="Example State", code="xs")
    county = Jurisdiction.objects.create(name="North County", code="xs-north", parent=state)
    team = Team.objects.create(name="Team A", jurisdiction=county)

    with running_provider(
        redirect_uris=[f"{live_server.url}/accounts/sso/callback/"],
        post_logout_redirect_uris=[f"{live_server.url}/accounts/login/"],
    ) as provider:
        configure(settings, provider, LOCAL_SIGN_IN=False)
        # What settings.py adds for a configured issuer: the sign-out form may lead to the provider.
        settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [CSP.SELF, provider.url]}

        page.goto(f"{live_server.url}/accounts/login/")
        assert page.get_by_label("Password").count() == 0  # local sign-in is off
        page.get_by_role("link", name="Sign in with Example State ID").click()
        page.wait_for_url(f"{live_server.url}/")
        page.get_by_role("heading", name="My work").wait_for()
        assert "Jane Doe · Contact tracer · North County" in page.locator(".who").inner_text()

        user = User.objects.get(username="jdoe")
        assert (user.role, user.jurisdiction, user.team) == (Role.CONTACT_TRACER, county, team)
        assert "/authorize" in provider.hits and "/token" in provider.hits
        session_cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
        from django.contrib.sessions.backends.db import SessionStore

        assert second_factor_method(SessionStore(session_cookie["value"])) == "sso"

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_server.url}/accounts/login/")
        assert provider.logouts and provider.logouts[-1]["id_token_hint"] == provider.issued_id_tokens[-1]
        page.get_by_role("link", name="Sign in with Example State ID").wait_for()

"""What several browser tests do on the way to what they test."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD, totp_code
from tracecenter.accounts.models import User


def sign_in(page: Any, server: Any, username: str, password: str = PASSWORD, *, wait: bool = True) -> None:
    """Sign in as users do: the password, then the 6-digit code of the user's authenticator app (set up for them
    beforehand, as the demo accounts are); with `wait`, until "My work" (where a signed-in user lands) is open."""
    user = User.objects.get(username=username)
    totp_code(user)  # the app set up before the sign-in, as the demo accounts' are
    page.goto(f"{server.url}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/accounts/second-factor/**")
    page.get_by_label("Code from your app, or a recovery code").fill(totp_code(user))
    page.get_by_role("button", name="Verify").click()
    if wait:
        page.wait_for_url(f"{server.url}/")


def sign_in_first_time(page: Any, server: Any, username: str, password: str) -> list[str]:
    """A first sign-in: the password, then setting up an authenticator app from the key the page shows (as a
    phone would read it), then the recovery codes, shown once. Returns the recovery codes; leaves the browser on
    the page the user goes to next."""
    import base64

    from django_otp.oath import TOTP

    page.goto(f"{server.url}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/accounts/second-factor/setup/**")
    assert page.locator(".qr svg").count() == 1, "no QR code to scan"
    secret = page.locator("[data-totp-secret]").get_attribute("data-totp-secret")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Type the 6-digit code the app shows").fill(f"{TOTP(key).token():06d}")
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    codes = [text.strip() for text in page.locator(".recovery-codes code").all_inner_texts()]
    page.get_by_role("link", name="I have kept them: continue").click()
    return codes


def htmx_swap(page: Any, action: Any) -> None:
    """Do `action` (a click that sends an htmx request) and wait until htmx has put the answer in the page."""
    page.evaluate(
        """() => { window.__htmxSettled = new Promise(resolve =>
            document.body.addEventListener("htmx:afterSettle", () => resolve(true), {once: true})); }"""
    )
    action()
    page.evaluate("() => window.__htmxSettled")

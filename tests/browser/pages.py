"""What several browser tests do on the way to what they test."""

from __future__ import annotations

from typing import Any

from conftest import PASSWORD


def sign_in(page: Any, server: Any, username: str, password: str = PASSWORD, *, wait: bool = True) -> None:
    """Sign in through the form; with `wait`, until "My work" (where a signed-in user lands) is open."""
    page.goto(f"{server.url}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if wait:
        page.wait_for_url(f"{server.url}/")

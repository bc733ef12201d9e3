"""Headless Chromium for the browser tests, driven by Playwright.

Uses the system's Chromium (Debian package `chromium`); Playwright's own browser
download is not needed. Without a Chromium the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Per module, not per session: while Playwright's sync API is open its event loop counts as running in
    # this thread, and tests that pytest-django orders after the browser tests could not use async_to_sync.
    if not CHROMIUM:
        pytest.skip("no Chromium found: install the 'chromium' package (or set CHROMIUM_PATH) to run browser tests")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # around it are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


class AsgiServer:
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[AsgiServer]:
    """The ASGI application (pages and the live socket) on uvicorn, with a worker beside it: what `manage.py serve` runs.

    On this test's database; the worker is the real one, on a thread, as on the embedded default.
    """
    import socket
    import threading
    import time

    import uvicorn
    from django.core.management import call_command

    from tracecenter.asgi import build
    from tracecenter.core.worker import start_in_thread

    call_command("collectstatic", "--no-input", verbosity=0)  # served by WhiteNoise, as in production

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(build(), host="127.0.0.1", port=port, ws="websockets-sansio", lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="asgi-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the ASGI server did not start"
        time.sleep(0.05)
    worker = start_in_thread()
    try:
        yield AsgiServer(f"http://127.0.0.1:{port}")
    finally:
        worker.shutdown()
        worker.thread.join(timeout=30)
        server.should_exit = True
        thread.join(timeout=30)

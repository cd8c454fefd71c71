"""The browser and the live server for the stories played in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import chromium_path, need

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server(transactional_db: None, settings) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread of this process (same test database)."""
    from pytest_django.live_server_helper import LiveServer

    # Plain HTTP on loopback: cookies may not insist on HTTPS here.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    live = LiveServer("127.0.0.1:0", start=False)
    live._live_server_modified_settings.enable()
    live.start()
    try:
        yield live.url
    finally:
        live.stop()
        live._live_server_modified_settings.disable()


@pytest.fixture
def browser(monkeypatch) -> Iterator[object]:
    need(chromium_path() is not None, "Chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # database reads between browser steps are plain synchronous calls all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield chromium
        finally:
            chromium.close()
            # While Playwright's loop runs, the test's queries go through a connection of their
            # own (Django keeps connections per context); close it here, in that context, or
            # it outlives the test and blocks dropping the test database.
            from django.db import connections

            connections.close_all()

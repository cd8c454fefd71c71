"""Helpers for tests that need a real component (a server, a browser)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def need(available: bool, what: str) -> None:
    """Skip when `what` is missing; in CI (HELPDESK_REQUIRE_ALL=1) fail instead, so that a
    missing component never passes silently."""
    if available:
        return
    if os.environ.get("HELPDESK_REQUIRE_ALL"):
        pytest.fail(f"{what} is required here (HELPDESK_REQUIRE_ALL is set)")
    pytest.skip(f"needs {what}")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium(timeout: int = 60_000) -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright; skipped (or failed under
    HELPDESK_REQUIRE_ALL) where it is missing."""
    need(chromium_path() is not None, "Chromium")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM
    # calls between browser steps are plain synchronous code all the same.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, timeout=timeout)
            try:
                yield browser
            finally:
                browser.close()
                # While Playwright's loop runs, the test's queries go through a connection of
                # their own (Django keeps connections per context); close it here, in that
                # context, or it outlives the test and blocks dropping the test database.
                connections.close_all()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Redis:
    """A private redis-server on a loopback port, started and stopped by a test (kill -9 on
    stop, as a crash would); nothing else publishes to it or consumes from it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

"""Helpers for tests that need a real component (a server, a browser)."""

from __future__ import annotations

import os
import shutil
import socket

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

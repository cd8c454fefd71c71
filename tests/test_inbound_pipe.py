"""`manage.py pipe_email`: one message on standard input, and the exit status an MTA acts on."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from inbound.models import InboundMessage
from tests import mailkit
from tests.factories import ticket_open
from tickets.models import Ticket

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def pipe(monkeypatch, raw: bytes) -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    with pytest.raises(SystemExit) as exited:
        call_command("pipe_email", stdout=io.StringIO(), stderr=io.StringIO())
    return int(exited.value.code)


def test_a_new_message_is_accepted_with_exit_status_0(monkeypatch, karen) -> None:
    assert pipe(monkeypatch, mailkit.plain("karen@example.com", "Printer", "Jammed")) == 0
    assert Ticket.objects.get().subject == "Printer"


def test_a_reply_a_duplicate_an_auto_reply_and_a_held_message_all_exit_0(monkeypatch, karen) -> None:
    ticket = ticket_open(karen)
    reply = mailkit.plain("karen@example.com", f"Re: [#{ticket.number}]", "More")
    assert pipe(monkeypatch, reply) == 0
    assert pipe(monkeypatch, reply) == 0
    assert pipe(monkeypatch, mailkit.auto_reply("karen@example.com", "x")) == 0
    assert pipe(monkeypatch, mailkit.plain("eve@example.org", f"[#{ticket.number}]", "hi")) == 0
    assert sorted(InboundMessage.objects.values_list("outcome", flat=True)) == ["appended", "ignored", "quarantined"]


def test_a_message_that_cannot_be_read_exits_65_and_is_kept(monkeypatch, seed) -> None:
    assert pipe(monkeypatch, b"garbage without headers") == 65
    assert InboundMessage.objects.get().outcome == "rejected"


def test_an_empty_input_exits_65(monkeypatch, seed) -> None:
    assert pipe(monkeypatch, b"") == 65


def test_a_message_over_the_size_limit_exits_65(monkeypatch, seed, settings) -> None:
    settings.INBOUND_MAX_BYTES = 100
    assert pipe(monkeypatch, mailkit.plain("karen@example.com", "Big", "x" * 500)) == 65


def test_a_database_error_is_a_temporary_failure_75(monkeypatch, seed) -> None:
    from django.db import OperationalError

    from inbound import services

    def down(**kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "email_ingest", down)
    assert pipe(monkeypatch, mailkit.plain("karen@example.com", "x", "y")) == 75


def test_the_command_exits_75_when_the_database_is_unreachable() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST",)}
    env.update(DEBUG="true", DATABASE_URL="postgres://nobody@127.0.0.1:9/none", REDIS_URL="")
    result = subprocess.run(
        [sys.executable, "manage.py", "pipe_email"],
        input=mailkit.plain("karen@example.com", "x", "y"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 75, result.stderr.decode()[-2000:]

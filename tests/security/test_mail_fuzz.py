"""The email parser and the mail intake under fuzzing.

The parser runs in its own process (mail_fuzz_driver.py) under hard limits, so that a message
that makes it loop or eat memory ends that process instead of the suite: RLIMIT_CPU, RLIMIT_AS,
and a wall-clock timeout. Then the whole intake (email_ingest, with the database) takes fuzzed
messages: each becomes exactly one stored outcome, nothing is raised, nothing is lost.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbound.models import InboundMessage
from inbound.services import OUTCOMES, email_ingest
from tests import mailkit

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("mail_fuzz_driver.py")
CPU_SECONDS = 120
MEMORY_BYTES = 1536 * 1024 * 1024
EXAMPLES = 150


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_driver(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER)],
        cwd=ROOT,
        env={**os.environ, **env},
        preexec_fn=limited,
        capture_output=True,
        text=True,
        timeout=CPU_SECONDS * 3,
        check=False,
    )


def test_the_parser_survives_fuzzed_mail_within_cpu_and_memory_bounds() -> None:
    done = run_driver(FUZZ_EXAMPLES=str(EXAMPLES))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines() if ": " in line)
    assert set(counts) == {"bytes", "built", "mutated"}
    for family, summary in counts.items():
        assert summary.startswith(f"{EXAMPLES} examples"), (family, summary)
    # The built and mutated families reach the parser's far end, not only its first refusal.
    assert "read" in counts["built"] and "read" in counts["mutated"]


def test_the_limits_do_stop_a_runaway_parse() -> None:
    """The bounds are real: a child that tries to hold more than the memory limit is stopped."""
    hog = f"x = bytearray({MEMORY_BYTES * 2})"
    done = subprocess.run(
        [sys.executable, "-c", hog],
        preexec_fn=limited,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "MemoryError" in done.stderr


KAREN = "Karen Doe <karen@example.com>"
SEEDS = [
    mailkit.plain(KAREN, "Printer is jammed", "It blinks red."),
    mailkit.alternative(KAREN, "Both", "text", "<p>html</p>"),
    mailkit.with_attachments(KAREN, "Files", "see", [("a.png", mailkit.PNG, "image/png")]),
    mailkit.forwarded(KAREN, "Fwd", mailkit.plain("x@example.org", "inner", "inner body")),
]


@st.composite
def fuzzed_mail(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        data[at:at] = draw(st.sampled_from([b"\r\n", b"\x00", b"--", b"=?utf-8?b?", b"<", b":", b"\xff\xfe"]))
    return bytes(data)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(raw=fuzzed_mail())
def test_every_fuzzed_message_is_kept_with_exactly_one_outcome(seed_cast, raw: bytes) -> None:
    before = InboundMessage.objects.count()
    result = email_ingest(raw=raw)
    assert result.outcome in OUTCOMES
    if result.outcome == "duplicate":  # the same bytes drawn twice
        assert InboundMessage.objects.count() == before
        return
    # Nothing a sender sent is lost: readable or not, the raw bytes are stored.
    assert InboundMessage.objects.count() == before + 1
    stored = InboundMessage.objects.latest("id")
    assert bytes(stored.raw) == raw and stored.outcome == result.outcome
    if result.outcome in ("created", "appended"):
        assert result.ticket is not None and result.entry is not None


@pytest.fixture
def seed_cast(seed: None) -> None:
    """The seed's people and departments, once for all the examples of a test."""


@pytest.mark.django_db
def test_a_multipart_whose_boundary_header_broke_is_still_read(karen) -> None:
    """Found by the fuzzer: a multipart/related part whose boundary parameter fell onto a line
    of its own made the standard library's get_body raise AttributeError, and Karen's mail was
    rejected instead of read."""
    from inbound.parse import mail_parse

    raw = mailkit.inline_image(KAREN, "Inline")
    assert b"Content-Type: multipart/related;\r\n" in raw
    broken = raw.replace(b"Content-Type: multipart/related;\r\n", b"Content-Type: multipart/related\r\n;\r\n")
    parsed = mail_parse(broken)
    assert "See the screenshot." in parsed.text
    result = email_ingest(raw=broken)
    assert result.outcome == "created" and result.ticket.requester == karen
    assert "See the screenshot." in result.entry.body


@pytest.mark.django_db
def test_nul_and_control_characters_in_headers_and_body_are_dropped_not_fatal(karen) -> None:
    """Found by the fuzzer on PostgreSQL, whose text columns cannot hold NUL: a Message-ID with
    a NUL in it made the duplicate lookup raise, and the message was neither taken in nor kept."""
    raw = (
        b"From: Karen Doe <karen\x00@example.com>\r\nTo: helpdesk@localhost\r\nSubject: Broken\x00 bytes\r\n"
        b"Message-ID: <\x00nul.1@mail.example.org>\r\nIn-Reply-To: <a\x00b@x.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe printer\x00 is jammed.\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>The printer\x00 is jammed.</p>\r\n"
        b'--b\r\nContent-Type: image/png\r\nContent-ID: <shot\x00@x>\r\nContent-Disposition: attachment; filename="a\x00.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n"
        b"--b--\r\n"
    )
    result = email_ingest(raw=raw)
    assert result.outcome == "created" and result.ticket.requester == karen
    assert "\x00" not in result.entry.body and "The printer is jammed." in result.entry.body
    assert result.entry.attachments.count() == 1
    stored = InboundMessage.objects.get()
    assert bytes(stored.raw) == raw and "\x00" not in stored.message_id + stored.subject + stored.from_address
    assert email_ingest(raw=raw).outcome == "duplicate"

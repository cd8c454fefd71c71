"""Inbound mail: 500 messages in a real IMAP mailbox (Dovecot), the fetcher (`manage.py
fetch_mail`, a process of its own) killed with `kill -9` again and again mid-fetch. Every
message becomes exactly one ticket, and none leaves the inbox before its ticket is committed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbound.models import InboundMessage, Mailbox
from tests import mailkit
from tests.processes import child_env, kill_group, manage, start
from tests.support import Redis, need
from tickets.models import EntryKind, ThreadEntry, Ticket

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TOTAL = 500
KILLS = 4
KILL_EVERY = 60  # messages committed by a run before it is killed
LEASE_SECONDS = 2


@pytest.fixture
def dovecot() -> Iterator[mailkit.Dovecot]:
    need(mailkit.dovecot_available(), "Dovecot (apt-get install dovecot-imapd), run as root")
    with mailkit.dovecot_server({"desk": "desk-password-1"}) as server:
        yield server


def _inbox_message_ids(dovecot: mailkit.Dovecot) -> set[str]:
    client = dovecot.client("desk")
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["NOT", "DELETED"])
        if not uids:
            return set()
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        return {
            bytes(data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]).decode().split(":", 1)[1].strip()
            for data in fetched.values()
        }
    finally:
        client.logout()


def test_five_hundred_messages_survive_a_fetcher_killed_again_and_again(
    dovecot: mailkit.Dovecot, redis: Redis, support, tmp_path: Path
) -> None:
    started = time.monotonic()
    Mailbox.objects.create(
        name="Support inbox",
        host="127.0.0.1",
        port=dovecot.port,
        security="none",
        username="desk",
        password="desk-password-1",
        department=support,
        after_fetch="move",
        move_to_folder="Processed",
    )
    messages = {
        f"<outage-{i}@mail.example.org>": mailkit.plain(
            f"Person {i} <p{i}@example.org>",
            f"Outage report {i}",
            f"The branch network is down ({i}).",
            message_id=f"<outage-{i}@mail.example.org>",
        )
        for i in range(TOTAL)
    }
    client = dovecot.client("desk")
    raws = list(messages.values())
    for at in range(0, TOTAL, 100):
        client.multiappend("INBOX", raws[at : at + 100])
    client.logout()
    # The alerts the new tickets plan are queued in a private Redis (no worker sends them here).
    env = child_env(tmp_path / "media", INBOUND_LEASE_SECONDS=str(LEASE_SECONDS), REDIS_URL=redis.url)

    kills = 0
    runs = 0
    deadline = time.monotonic() + 300
    while kills < KILLS:
        assert time.monotonic() < deadline, f"the fetcher made no progress ({kills} kills)"
        before = InboundMessage.objects.count()
        fetcher = start(manage("fetch_mail"), env)
        runs += 1
        try:
            while InboundMessage.objects.count() < before + KILL_EVERY and fetcher.poll() is None:
                assert time.monotonic() < deadline, "the fetcher made no progress"
                time.sleep(0.02)
        finally:
            was_running = fetcher.poll() is None
            kill_group(fetcher)
        if not was_running:
            continue  # it found the dead run's lease still held, or ran out of mail: run again
        kills += 1
        # Whatever left the inbox was committed first.
        committed = set(InboundMessage.objects.values_list("message_id", flat=True))
        gone = set(messages) - _inbox_message_ids(dovecot)
        assert gone <= committed, f"{len(gone - committed)} messages left the inbox before their commit"
        assert len(committed) < TOTAL, "the kill should fall mid-fetch"
        time.sleep(LEASE_SECONDS + 0.2)  # the dead run's lease runs out

    # A last run, not killed, takes the rest.
    while InboundMessage.objects.count() < TOTAL:
        assert time.monotonic() < deadline, "the last run did not take the rest"
        fetcher = start(manage("fetch_mail"), env)
        runs += 1
        try:
            fetcher.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            kill_group(fetcher)

    assert InboundMessage.objects.count() == TOTAL
    assert set(InboundMessage.objects.values_list("message_id", flat=True)) == set(messages)
    assert Ticket.objects.count() == TOTAL
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == sorted(
        f"Outage report {i}" for i in range(TOTAL)
    )
    entries = ThreadEntry.objects.filter(kind=EntryKind.MESSAGE)
    assert entries.count() == TOTAL
    assert set(entries.values_list("message_id", flat=True)) == set(messages)
    assert _inbox_message_ids(dovecot) == set()
    assert dovecot.count("desk", folder="Processed") == TOTAL
    print(
        f"\ninbound: {TOTAL} messages, {kills} fetcher kills, {runs} runs, {TOTAL} tickets, 0 duplicates, 0 lost, "
        f"{time.monotonic() - started:.0f} s"
    )

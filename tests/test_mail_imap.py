"""Fetching from a real IMAP server (Debian's Dovecot on a loopback port, started per test)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from inbound import services as inbound_services
from inbound.fetch import mailbox_fetch
from inbound.models import InboundMessage, Mailbox
from inbound.tasks import fetch_mailboxes
from notifications.models import Notification
from tests import mailkit
from tests.factories import ticket_open
from tests.processes import child_env
from tests.support import need
from tickets.models import EntryKind, Ticket

ROOT = Path(__file__).resolve().parent.parent
KAREN = "Karen Doe <karen@example.com>"
pytestmark = pytest.mark.integration


@pytest.fixture
def dovecot():
    need(mailkit.dovecot_available(), "Dovecot (apt-get install dovecot-imapd), run as root")
    with mailkit.dovecot_server({"desk": "desk-password-1", "other": "other-password-2"}) as server:
        yield server


@pytest.fixture
def mailbox(dovecot, support, db) -> Mailbox:
    return Mailbox.objects.create(
        name="Support inbox",
        host="127.0.0.1",
        port=dovecot.port,
        security="none",
        username="desk",
        password="desk-password-1",
        department=support,
    )


@pytest.mark.django_db
def test_new_tickets_and_replies_are_fetched_and_marked_read(dovecot, mailbox, karen) -> None:
    ticket = ticket_open(karen)
    dovecot.deliver(
        "desk",
        mailkit.plain("Paul Pierce <paul@example.net>", "Wi-Fi down on floor 3", "Since 8am."),
        mailkit.gmail_reply(KAREN, f"Re: [#{ticket.number}] Printer is jammed", "Still jammed.", "Try again"),
        mailkit.auto_reply(KAREN, f"[#{ticket.number}]"),
        mailkit.inline_image(KAREN, "Screenshot of the error"),
    )

    result = mailbox_fetch(mailbox_id=mailbox.pk)

    assert result.error == "" and result.fetched == 4
    assert result.outcomes == {"created": 2, "appended": 1, "ignored": 1}
    assert ticket.entries.last().body == "Still jammed."
    assert Ticket.objects.get(subject="Screenshot of the error").entries.get().attachments.get().content_id
    assert dovecot.count("desk", criteria="UNSEEN") == 0 and dovecot.count("desk") == 4
    mailbox.refresh_from_db()
    assert mailbox.last_success_at is not None and mailbox.backlog == 0 and mailbox.last_error == ""
    # A second run finds nothing new.
    assert mailbox_fetch(mailbox_id=mailbox.pk).fetched == 0


@pytest.mark.django_db
def test_the_periodic_task_fetches_every_active_mailbox(dovecot, mailbox, seed) -> None:
    dovecot.deliver("desk", mailkit.plain("a@example.org", "One", "1"), mailkit.plain("b@example.org", "Two", "2"))
    assert fetch_mailboxes() == 2
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_fetched_mail_can_be_moved_to_a_folder(dovecot, mailbox, seed) -> None:
    mailbox.after_fetch, mailbox.move_to_folder = "move", "Processed"
    mailbox.save()
    dovecot.deliver("desk", mailkit.plain("a@example.org", "One", "1"), mailkit.plain("b@example.org", "Two", "2"))

    assert mailbox_fetch(mailbox_id=mailbox.pk).fetched == 2
    assert dovecot.count("desk") == 0 and dovecot.count("desk", folder="Processed") == 2


@pytest.mark.django_db
def test_fetched_mail_can_be_deleted(dovecot, mailbox, seed) -> None:
    mailbox.after_fetch = "delete"
    mailbox.save()
    dovecot.deliver("desk", mailkit.plain("a@example.org", "One", "1"))

    assert mailbox_fetch(mailbox_id=mailbox.pk).fetched == 1
    assert dovecot.count("desk") == 0 and Ticket.objects.count() == 1


@pytest.mark.django_db
def test_the_backlog_is_what_one_run_left_for_the_next(dovecot, mailbox, seed, settings) -> None:
    settings.INBOUND_FETCH_MAX = 2
    dovecot.deliver("desk", *[mailkit.plain(f"p{i}@example.org", f"Issue {i}", "x") for i in range(5)])

    mailbox_fetch(mailbox_id=mailbox.pk)
    mailbox.refresh_from_db()
    assert mailbox.backlog == 3
    mailbox_fetch(mailbox_id=mailbox.pk)
    mailbox_fetch(mailbox_id=mailbox.pk)
    mailbox.refresh_from_db()
    assert mailbox.backlog == 0 and Ticket.objects.count() == 5
    # Oldest first: the tickets were opened in the order the mail arrived.
    assert list(Ticket.objects.order_by("id").values_list("subject", flat=True)) == [f"Issue {i}" for i in range(5)]


@pytest.mark.django_db
def test_the_same_message_in_the_mailbox_twice_makes_one_ticket(dovecot, mailbox, seed) -> None:
    raw = mailkit.plain("a@example.org", "Twice", "x")
    dovecot.deliver("desk", raw, raw)

    result = mailbox_fetch(mailbox_id=mailbox.pk)
    assert result.outcomes == {"created": 1, "duplicate": 1}
    assert Ticket.objects.count() == 1 and dovecot.count("desk", criteria="UNSEEN") == 0


@pytest.mark.django_db
def test_a_failure_mid_batch_leaves_the_unprocessed_mail_unread_for_the_next_run(
    dovecot, mailbox, seed, monkeypatch
) -> None:
    dovecot.deliver("desk", *[mailkit.plain(f"p{i}@example.org", f"Issue {i}", "x") for i in range(5)])
    real = inbound_services.email_ingest
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OperationalError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr("inbound.fetch.email_ingest", flaky)
    result = mailbox_fetch(mailbox_id=mailbox.pk)

    assert "OperationalError" in result.error
    assert Ticket.objects.count() == 2 and dovecot.count("desk", criteria="UNSEEN") == 3
    monkeypatch.setattr("inbound.fetch.email_ingest", real)
    assert mailbox_fetch(mailbox_id=mailbox.pk).fetched == 3
    assert Ticket.objects.count() == 5 and InboundMessage.objects.count() == 5


@pytest.mark.django_db
def test_repeated_failures_are_shown_and_alert_the_admins_once(dovecot, mailbox, admin, settings) -> None:
    settings.MAILBOX_ALERT_AFTER = 3
    mailbox.password = "wrong"
    mailbox.save()
    for _ in range(4):
        Mailbox.objects.filter(pk=mailbox.pk).update(last_error_at=None)  # past the back-off
        assert mailbox_fetch(mailbox_id=mailbox.pk).error

    mailbox.refresh_from_db()
    assert mailbox.consecutive_failures == 4 and "AUTHENTICATIONFAILED" in mailbox.last_error.upper()
    alerts = Notification.objects.filter(kind="mailbox_alert")
    assert list(alerts.values_list("recipient_email", flat=True)) == ["admin@example.com"]

    mailbox.password = "desk-password-1"
    mailbox.save()
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error_at=None)
    assert mailbox_fetch(mailbox_id=mailbox.pk).error == ""
    mailbox.refresh_from_db()
    assert mailbox.consecutive_failures == 0 and mailbox.failure_alerted_at is None


@pytest.mark.django_db
def test_a_mailbox_being_fetched_is_not_fetched_twice_at_once(dovecot, mailbox, seed) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Mailbox.objects.filter(pk=mailbox.pk).update(lease_until=timezone.now() + timedelta(minutes=1))
    assert mailbox_fetch(mailbox_id=mailbox.pk).skipped


@pytest.mark.django_db
def test_the_seed_story_karens_emailed_answer_lands_in_the_thread(
    dovecot, mailbox, karen, jane, online_banking, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    ticket = ticket_open(karen, subject="Entire mobile/online banking system is down", department=online_banking)
    with django_capture_on_commit_callbacks(execute=True):
        from tickets import services

        services.ticket_reply(ticket=ticket, actor=jane, body="We restarted the core banking service.")
    reply = next(m for m in mailoutbox if "restarted the core" in m.body)

    dovecot.deliver("desk", mailkit.reply_to(reply.message().as_bytes(), KAREN, "Confirmed, it works again!"))
    mailbox_fetch(mailbox_id=mailbox.pk)

    entry = ticket.entries.last()
    assert (entry.kind, entry.author, entry.body) == (EntryKind.MESSAGE, karen, "Confirmed, it works again!")


# ---------------------------------------------------------------- real processes (PostgreSQL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_fetcher_killed_mid_fetch_loses_and_duplicates_nothing(dovecot, mailbox, seed, tmp_path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a second process shares the database on PostgreSQL")
    total = 300
    dovecot.deliver("desk", *[mailkit.plain(f"p{i}@example.org", f"Outage report {i}", "x") for i in range(total)])
    env = child_env(tmp_path / "media", INBOUND_LEASE_SECONDS="1", REDIS_URL="")
    child = subprocess.Popen(
        [sys.executable, "manage.py", "fetch_mail"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while InboundMessage.objects.count() < 70 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    taken_before = InboundMessage.objects.count()
    unread_before = dovecot.count("desk", criteria="UNSEEN")
    assert 0 < taken_before < total, "the kill should fall mid-fetch"
    # Nothing was marked read before it was committed.
    assert total - unread_before <= taken_before

    time.sleep(1.2)  # the dead fetcher's lease runs out
    rerun = subprocess.run(
        [sys.executable, "manage.py", "fetch_mail"], cwd=ROOT, env=env, capture_output=True, timeout=300, text=True
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    assert Ticket.objects.count() == total
    assert InboundMessage.objects.count() == total
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == sorted(
        f"Outage report {i}" for i in range(total)
    )
    assert dovecot.count("desk", criteria="UNSEEN") == 0
    print(f"killed after {taken_before} committed, {total - unread_before} marked read; rerun took the rest")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_inbound_rate_through_imap(dovecot, mailbox, karen, tmp_path) -> None:
    """The inbound rate: HELPDESK_BENCH=1 (and INBOUND_BENCH_COUNT, default 1000) to run it."""
    if not os.environ.get("HELPDESK_BENCH"):
        pytest.skip("set HELPDESK_BENCH=1 to measure the inbound rate")
    if connection.vendor != "postgresql":
        pytest.skip("measured on PostgreSQL")
    count = int(os.environ.get("INBOUND_BENCH_COUNT", "1000"))
    existing = [ticket_open(karen, subject=f"Existing {i}") for i in range(50)]
    raws = []
    for i in range(count):
        if i % 2:
            ticket = existing[i % len(existing)]
            raws.append(mailkit.plain(KAREN, f"Re: [#{ticket.number}] {ticket.subject}", f"Follow-up {i}"))
        else:
            raws.append(mailkit.plain(f"Person {i} <p{i}@example.org>", f"Outage report {i}", f"Body {i}"))
    client = dovecot.client("desk")
    for start in range(0, count, 200):
        client.multiappend("INBOX", raws[start : start + 200])
    client.logout()

    # As in production: DEBUG off (no query log kept in memory).
    env = child_env(
        tmp_path / "media",
        INBOUND_FETCH_MAX=str(count),
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnop",
    )
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "manage.py", "fetch_mail"], cwd=ROOT, env=env, capture_output=True, timeout=600, text=True
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-2000:]
    assert InboundMessage.objects.count() == count
    rate = count / elapsed
    figures = {
        "messages": count,
        "seconds": round(elapsed, 2),
        "messages_per_second": round(rate, 1),
        "new_tickets": count - count // 2,
        "replies": count // 2,
        "cores": os.cpu_count(),
        "includes": "process start, IMAP login, FETCH BODY.PEEK[], ingest, STORE \\Seen, notification rows",
    }
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    (out / "inbound-bench.json").write_text(json.dumps(figures, indent=2))
    print("\nINBOUND BENCH", json.dumps(figures))

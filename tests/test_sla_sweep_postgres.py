"""The sweep on PostgreSQL with real transactions: thousands of tickets, two sweeps at once,
tickets held by agents mid-change, and the beat task through a real Celery worker on Redis
that delivers the alerts over SMTP."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from helpdesk.celery import app as celery_app
from notifications.models import Notification, NotificationState
from sla.loadtest import clocks_fall_due, open_tickets_load
from sla.models import ClockState, SLAPlan, TicketClock
from sla.services import SweepResult, sla_sweep
from tests.factories import ticket_open
from tests.processes import database_url
from tests.support import free_port, need, port_open
from tickets import services
from tickets.models import EventKind, Ticket, TicketEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the sweep's concurrency is tested on PostgreSQL")


def sweep_in_thread(barrier: threading.Barrier, batch_size: int) -> SweepResult:
    try:
        barrier.wait(timeout=30)
        return sla_sweep(batch_size=batch_size, deliver=False)
    finally:
        connections.close_all()


def test_two_sweeps_at_once_over_thousands_of_tickets_record_and_alert_each_breach_once(seed) -> None:
    due_ids = open_tickets_load(opened=3000, due=1200, assigned_share=0.7)
    clocks_fall_due(due_ids)
    barrier = threading.Barrier(2)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda size: sweep_in_thread(barrier, size), [100, 150]))

    first, second = (set(r.breached) for r in results)
    assert first.isdisjoint(second)
    assert first | second == set(due_ids)
    overdue = TicketEvent.objects.filter(kind=EventKind.OVERDUE)
    assert overdue.count() == 1200
    assert Counter(overdue.values_list("ticket_id", flat=True)).most_common(1)[0][1] == 1
    alerts = Notification.objects.filter(event__kind=EventKind.OVERDUE)
    assert alerts.count() == sum(r.alerts_planned for r in results)
    assert alerts.values("event_id", "recipient_email").distinct().count() == alerts.count()
    # Unassigned tickets alert their department's ten agents (the manager among them), assigned
    # ones their assignee and the manager.
    per_ticket = Counter(alerts.values_list("ticket_id", flat=True))
    assert set(per_ticket.values()) <= {1, 2, 10}
    assert Ticket.objects.filter(is_overdue=True).count() == 1200
    assert TicketClock.objects.filter(pk__in=due_ids, breached_at__isnull=True).count() == 0

    again = sla_sweep(deliver=False)
    assert (again.breached, again.warned) == ([], [])
    assert TicketEvent.objects.filter(kind=EventKind.OVERDUE).count() == 1200


def test_a_ticket_an_agent_is_changing_is_left_for_the_next_run_without_waiting(karen, john) -> None:
    plan = SLAPlan.objects.create(name="Ten minutes", resolution_minutes=10, warn_at_percent=None)
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        held = ticket_open(karen, sla_plan=plan, subject="Held by an agent")
        free = ticket_open(karen, sla_plan=plan, subject="Nobody touching it")
    locked, release = threading.Event(), threading.Event()

    def agent_holds_the_ticket() -> None:
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().filter(pk=held.pk).values_list("pk").get()
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    agent = threading.Thread(target=agent_holds_the_ticket)
    agent.start()
    try:
        assert locked.wait(timeout=30)
        started = time.monotonic()
        result = sla_sweep(deliver=False)
        assert time.monotonic() - started < 5  # it did not wait for the agent's lock
    finally:
        release.set()
        agent.join(timeout=30)
    breached_tickets = set(TicketClock.objects.filter(pk__in=result.breached).values_list("ticket_id", flat=True))
    assert breached_tickets == {free.pk}
    assert result.skipped == 1
    later = sla_sweep(deliver=False)
    assert set(TicketClock.objects.filter(pk__in=later.breached).values_list("ticket_id", flat=True)) == {held.pk}


def test_agents_working_due_tickets_while_the_sweep_runs_never_deadlock(karen, john) -> None:
    plan = SLAPlan.objects.create(name="Five minutes", first_response_minutes=5, resolution_minutes=5)
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        tickets = [ticket_open(karen, sla_plan=plan, subject=f"Outage {i}") for i in range(40)]
    barrier = threading.Barrier(2)

    def agent_replies() -> int:
        try:
            barrier.wait(timeout=30)
            for ticket in tickets:
                services.ticket_reply(ticket=ticket, actor=john, body="Looking into it")
            return len(tickets)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = pool.submit(agent_replies)
        sweep = pool.submit(sweep_in_thread, barrier, 5)
        assert replies.result(timeout=120) == 40
        sweep.result(timeout=120)
    sla_sweep(deliver=False)  # whatever the first one skipped
    for clock in TicketClock.objects.filter(ticket__in=tickets):
        # Met by the reply, or breached by the sweep before it (and then met late): never lost.
        assert clock.state == ClockState.MET or clock.breached_at is not None


# ---------------------------------------------------------------- a real worker on Redis


class Inbox:
    """An SMTP server on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def redis_url() -> str:
    need(port_open("127.0.0.1", 6379), "Redis")
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"


@pytest.fixture
def celery_worker(redis_url: str, smtp_server: tuple[int, Inbox]) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A helpdesk worker` on Redis and on this test's database, mailing to the test SMTP server."""
    with celery_app.connection_for_write(redis_url) as conn:
        conn.default_channel.queue_purge("celery")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "TESTING")},
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server[0]}",
        "DEBUG": "true",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "--pool=solo", "--without-mingle",
         "--without-gossip", "--without-heartbeat", "--loglevel=INFO", "-n", f"sla-test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_beat_scheduled_sweep_runs_on_a_real_worker_and_mails_the_overdue_alerts(
    karen, john, redis_url, smtp_server, celery_worker
) -> None:
    _, inbox = smtp_server
    plan = SLAPlan.objects.create(name="Thirty minutes", resolution_minutes=30)
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        ticket = ticket_open(karen, sla_plan=plan, assignee=john, subject="Core switch down", alert=False)
    entry = celery_app.conf.beat_schedule["sla-sweep"]
    assert entry["options"]["expires"] < entry["schedule"]

    # What beat does every minute: send the entry's task with the entry's options.
    with celery_app.connection_for_write(redis_url) as conn:
        celery_app.send_task(entry["task"], connection=conn, **entry["options"])

    deadline = time.monotonic() + 90
    alerts = Notification.objects.filter(ticket=ticket, event__kind=EventKind.OVERDUE)
    while time.monotonic() < deadline:
        if celery_worker.poll() is not None:
            pytest.fail(f"the Celery worker exited with {celery_worker.returncode}")
        if alerts.exists() and not alerts.exclude(state=NotificationState.SENT).exists() and len(inbox.messages) >= 2:
            break
        time.sleep(0.5)
    else:
        states = list(alerts.values_list("recipient_email", "state", "last_error"))
        pytest.fail(f"no overdue alerts delivered within 90 s: {states}, {len(inbox.messages)} mails")
    ticket.refresh_from_db()
    assert ticket.is_overdue
    assert ticket.events.filter(kind=EventKind.OVERDUE).count() == 1
    overdue_mail = {m["To"]: m["Subject"] for m in inbox.messages if m["Subject"].startswith("Overdue")}
    assert overdue_mail == {
        "John Doe <john@example.com>": f"Overdue [#{ticket.number}] Core switch down",
        "Alex Admin <admin@example.com>": f"Overdue [#{ticket.number}] Core switch down",
    }

"""SLA: three sweeps running at once, each a process of its own, killed with `kill -9` and
replaced while they work. Every breach is recorded once and alerts exactly its people once."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from notifications.models import Notification
from notifications.planner import recipients_for
from sla.loadtest import clocks_fall_due, open_tickets_load
from sla.models import TicketClock
from tests.processes import child_env, kill_group, manage, start
from tests.support import Redis
from tickets.models import EventKind, Ticket, TicketEvent

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

OPENED = 800
DUE = 400
SWEEPS = 3
KILLS = 4
KILL_EVERY = 40  # breaches recorded between kills
# A small batch: a sweep works through many transactions, and a kill falls inside one.
SWEEP = "from sla.services import sla_sweep; sla_sweep(batch_size=20)"


def test_three_sweeps_at_once_killed_and_replaced_record_and_alert_each_breach_once(
    seed, redis: Redis, tmp_path: Path
) -> None:
    started = time.monotonic()
    due_ids = open_tickets_load(opened=OPENED, due=DUE, assigned_share=0.8)
    clocks_fall_due(due_ids)
    # The sweeps enqueue delivery to a private Redis (no worker: the alerts stay in the outbox).
    env = child_env(tmp_path / "media", REDIS_URL=redis.url)
    overdue = TicketEvent.objects.filter(kind=EventKind.OVERDUE)
    unbreached = TicketClock.objects.filter(pk__in=due_ids, breached_at__isnull=True)

    sweeps: list[subprocess.Popen[bytes]] = [start(manage("shell", "-c", SWEEP), env) for _ in range(SWEEPS)]
    born = {s.pid: time.monotonic() for s in sweeps}
    runs, kills = SWEEPS, 0
    deadline = time.monotonic() + 240
    try:
        mark = overdue.count() + KILL_EVERY
        while kills < KILLS:
            assert time.monotonic() < deadline, f"the sweeps made no progress ({kills} kills)"
            assert unbreached.exists(), "the kills should fall while breaches remain"
            running = [s for s in sweeps if s.poll() is None]
            if overdue.count() >= mark and running:
                # The one running longest is past its start-up, mid-sweep.
                kill_group(min(running, key=lambda s: born[s.pid]))
                kills += 1
                mark = overdue.count() + KILL_EVERY
            # A finished or killed sweep is replaced, as beat starts one every minute.
            for i, sweep in enumerate(sweeps):
                if sweep.poll() is not None:
                    sweeps[i] = start(manage("shell", "-c", SWEEP), env)
                    born[sweeps[i].pid] = time.monotonic()
                    runs += 1
            time.sleep(0.05)
        # Then they run to the end, and new runs are started while anything is due.
        while unbreached.exists() or any(s.poll() is None for s in sweeps):
            assert time.monotonic() < deadline, "the sweeps did not finish"
            for i, sweep in enumerate(sweeps):
                if sweep.poll() is not None and unbreached.exists():
                    sweeps[i] = start(manage("shell", "-c", SWEEP), env)
                    runs += 1
            time.sleep(0.1)
    finally:
        for sweep in sweeps:
            kill_group(sweep)

    # Every breach recorded once.
    assert not unbreached.exists()
    assert overdue.count() == DUE
    assert Counter(overdue.values_list("ticket_id", flat=True)).most_common(1)[0][1] == 1
    due_tickets = set(TicketClock.objects.filter(pk__in=due_ids).values_list("ticket_id", flat=True))
    assert set(overdue.values_list("ticket_id", flat=True)) == due_tickets
    assert set(Ticket.objects.filter(is_overdue=True).values_list("pk", flat=True)) == due_tickets
    # Each alerts exactly its people (the assignee, or the department's agents; and the
    # manager), each once.
    alerts = Notification.objects.filter(event__kind=EventKind.OVERDUE)
    planned = Counter(alerts.values_list("event_id", "recipient_email"))
    assert max(planned.values()) == 1
    expected = {
        (event.pk, person.email)
        for event in overdue.select_related("ticket__department__manager", "ticket__assignee")
        for _, person in recipients_for(event)
    }
    assert set(planned) == expected
    print(
        f"\nSLA: {DUE} breaches among {OPENED} open tickets, {SWEEPS} sweeps at once, {runs} runs, {kills} kills, "
        f"{len(expected)} alerts planned once each, 0 duplicates, 0 lost, {time.monotonic() - started:.0f} s"
    )

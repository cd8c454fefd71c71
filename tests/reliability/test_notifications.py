"""Notifications: 1,000 queued in the outbox, a real Celery worker delivering them to an SMTP
server, killed with `kill -9` three times mid-batch, and Redis restarted (its queue lost)
once. The outbox resender brings every one home; a copy is sent twice only when a kill fell
between the SMTP server accepting it and the row being marked sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from accounts.models import User
from notifications.models import Notification, NotificationKind, NotificationState
from notifications.services import enqueue_delivery
from tests import mailkit
from tests.factories import ticket_open
from tests.processes import (
    Worker,
    child_env,
    delivered_copies,
    resend_pending_once,
)
from tests.support import Redis

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TICKETS = 20
TOTAL = 1000
KILLS_AT = (150, 420, 700)  # delivered so far when the worker is killed
REDIS_RESTART_AT = 560
CONCURRENCY = 2
RESEND_EVERY = 3.0


class Supervisor:
    """What runs the worker in production (compose's `restart: unless-stopped`): a worker that
    exits on its own is started again. Celery's worker can exit when the broker goes away
    while it acknowledges a task (kombu: "Unrecoverable error: AttributeError ... hostname")."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.restarts = 0
        # Rows being sent when the worker exited: like a kill, a crash after the SMTP server
        # accepted one of them may send it twice.
        self.in_flight_at_exit: set[int] = set()

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        """Until `condition`, running the outbox resender every RESEND_EVERY seconds (as beat
        would) and restarting the worker if it exited."""
        deadline = time.monotonic() + timeout
        next_resend = time.monotonic() + RESEND_EVERY
        while not condition():
            assert time.monotonic() < deadline, "no progress: delivery stalled"
            if self.worker.exited:
                self.restarts += 1
                self.in_flight_at_exit |= set(
                    Notification.objects.filter(state=NotificationState.SENDING).values_list("pk", flat=True)
                )
                self.worker.start()
            if time.monotonic() >= next_resend:
                resend_pending_once()
                next_resend = time.monotonic() + RESEND_EVERY
            time.sleep(0.02)


def test_a_thousand_notifications_survive_three_worker_kills_and_a_redis_restart(
    broker: None, redis: Redis, sink: mailkit.SmtpSink, karen: User, tmp_path: Path
) -> None:
    started = time.monotonic()
    env = child_env(
        tmp_path / "media",
        REDIS_URL=redis.url,
        EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
        NOTIFICATION_STUCK_SECONDS="3",
        NOTIFICATION_RESEND_GRACE_SECONDS="30",
    )
    worker = Worker(env, concurrency=CONCURRENCY, log=tmp_path / "worker.log")
    in_flight_at_kill: set[int] = set()
    try:
        # Queued before any worker runs: the whole batch waits in Redis.
        tickets = [ticket_open(karen, subject=f"Branch {i} cannot log in", alert=False, autorespond=False)
                   for i in range(TICKETS)]  # fmt: skip
        rows = Notification.objects.bulk_create(
            Notification(
                kind=NotificationKind.STATUS_LINK,
                ticket=tickets[i % TICKETS],
                recipient=karen,
                recipient_email=karen.email,
                context={"link_url": f"http://helpdesk.example/portal/link/{i}"},
            )
            for i in range(TOTAL)
        )
        for row in rows:
            enqueue_delivery(notification_id=row.pk)
        assert Notification.objects.count() == TOTAL
        print(f"\nqueued in {time.monotonic() - started:.0f} s")

        def delivered() -> int:
            return len(sink.received)

        supervisor = Supervisor(worker)
        worker.start()
        restarted = False
        for mark in KILLS_AT:
            if not restarted and mark > REDIS_RESTART_AT:
                supervisor.wait_for(lambda: delivered() >= REDIS_RESTART_AT, 90)
                redis.stop()  # the queued tasks are gone with it
                redis.start()
                restarted = True
            supervisor.wait_for(lambda mark=mark: delivered() >= mark, 90)
            print(f"kill at {delivered()} delivered, {time.monotonic() - started:.0f} s")
            worker.kill()
            in_flight_at_kill |= set(
                Notification.objects.filter(state=NotificationState.SENDING).values_list("pk", flat=True)
            )
            assert delivered() < TOTAL, "the kill should fall mid-batch"
            worker.start()
        assert restarted
        unsent = Notification.objects.exclude(state=NotificationState.SENT)
        supervisor.wait_for(lambda: not unsent.exists(), 150)
    finally:
        worker.kill()

    copies = delivered_copies([r.data for r in sink.received])
    rows = dict(Notification.objects.values_list("message_id", "pk"))
    assert Notification.objects.filter(state=NotificationState.SENT).count() == TOTAL
    assert len(rows) == TOTAL, "each notification has a Message-ID of its own"
    missing = [mid for mid in rows if mid not in copies]
    assert missing == []
    assert set(copies) == set(rows), "nothing reached the SMTP server that is not in the outbox"
    duplicated = {rows[mid] for mid, n in copies.items() if n > 1}
    duplicates = sum(n - 1 for n in copies.values())
    # A second copy only of what was being sent when a kill fell; at most one per pool process.
    assert duplicated <= in_flight_at_kill | supervisor.in_flight_at_exit
    assert duplicates <= (len(KILLS_AT) + supervisor.restarts) * CONCURRENCY
    assert len(sink.received) == TOTAL + duplicates
    print(
        f"\nnotifications: {TOTAL} queued, {len(sink.received)} SMTP deliveries, {len(KILLS_AT)} worker kills, "
        f"1 Redis restart ({supervisor.restarts} worker exits on it, restarted), {len(in_flight_at_kill)} in flight at a kill, {duplicates} duplicates, 0 lost, "
        f"{time.monotonic() - started:.0f} s"
    )

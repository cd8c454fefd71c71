"""Faults with real processes: a Celery worker killed mid-batch, Redis gone for a moment.

PostgreSQL (shared with the worker), a private Redis started for the test, a real Celery
worker, and the SMTP server in this process. Every notification must reach the SMTP server;
a duplicate is allowed only where a kill fell between the server accepting a message and
the row being marked sent, and the duplicates are counted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from notifications.models import Notification, NotificationState
from tests import mailkit
from tests.factories import ticket_open
from tests.processes import Worker, child_env, delivered_copies, resend_until_all_sent
from tests.support import Redis

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CONCURRENCY = 2


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the worker shares the database on PostgreSQL")


@pytest.fixture
def sink() -> Iterator[mailkit.SmtpSink]:
    with mailkit.smtp_sink() as server:
        server.delay = 0.03  # a slow server: the kill falls mid-batch
        yield server


@pytest.fixture
def worker(redis: Redis, sink: mailkit.SmtpSink, tmp_path: Path) -> Iterator[Worker]:
    env = child_env(
        tmp_path / "media",
        REDIS_URL=redis.url,
        EMAIL_URL=f"smtp://127.0.0.1:{sink.port}",
        NOTIFICATION_STUCK_SECONDS="3",
        NOTIFICATION_RESEND_GRACE_SECONDS="1",
    )
    process = Worker(env, concurrency=CONCURRENCY)
    process.start()
    yield process
    process.kill()


def _delivery_report(sink: mailkit.SmtpSink) -> tuple[int, int]:
    """(rows, duplicates): every sent row must be at the SMTP server at least once."""
    ids = Counter(delivered_copies([r.data for r in sink.received]))
    rows = list(Notification.objects.values_list("message_id", "state"))
    assert all(state == NotificationState.SENT for _, state in rows), Counter(s for _, s in rows)
    missing = [mid for mid, _ in rows if ids[mid] == 0]
    assert not missing, f"{len(missing)} notifications never reached the SMTP server"
    return len(rows), sum(n - 1 for n in ids.values())


def test_a_worker_killed_mid_batch_loses_nothing(broker, worker, sink, karen, john) -> None:
    for i in range(40):
        ticket_open(karen, subject=f"Outage {i}")
    total = Notification.objects.count()
    assert total >= 80

    deadline = time.monotonic() + 60
    while len(sink.received) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.kill()
    at_kill = len(sink.received)
    assert at_kill < total, "the kill should fall mid-batch"
    worker.start()
    resend_until_all_sent(timeout=150)

    rows, duplicates = _delivery_report(sink)
    print(f"\nworker killed after {at_kill}/{rows} delivered; duplicates after restart: {duplicates}")
    # Only a message in flight at the kill may repeat: at most one per pool process.
    assert duplicates <= CONCURRENCY


def test_redis_gone_for_a_moment_loses_nothing(broker, worker, redis, sink, karen) -> None:
    for i in range(10):
        ticket_open(karen, subject=f"Before {i}")
    redis.stop()
    # Changes go on while the broker is down: each commits, its rows wait in the outbox.
    for i in range(10):
        ticket_open(karen, subject=f"During {i}")
    time.sleep(2)
    redis.start()
    resend_until_all_sent(timeout=150)

    rows, duplicates = _delivery_report(sink)
    print(f"\nRedis down for a moment: {rows} notifications delivered, {duplicates} duplicates")
    assert duplicates <= CONCURRENCY

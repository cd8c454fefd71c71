"""The benchmark's dataset loader (bench_data) on PostgreSQL: the shape of the history it
writes, and the same rows from the same seed whatever the number of processes."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from bench.dataset import dataset_marker, load_tickets
from sla.models import TicketClock
from tickets.models import Department, EntryKind, EventKind, ThreadEntry, Ticket, TicketEvent, TicketState

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ANCHOR = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("bench_data loads with COPY into PostgreSQL")


def fingerprint() -> str:
    digest = hashlib.sha256()
    for row in Ticket.objects.order_by("id").values_list(
        "number", "subject", "state", "department_id", "assignee_id", "created_at", "due_at"
    ):
        digest.update(repr(row).encode())
    for row in ThreadEntry.objects.order_by("id").values_list("ticket_id", "kind", "author_id", "body", "created_at"):
        digest.update(repr(row).encode())
    for row in TicketEvent.objects.order_by("id").values_list("ticket_id", "kind", "to_value", "created_at"):
        digest.update(repr(row).encode())
    return digest.hexdigest()


def test_it_loads_a_realistic_history_of_three_years() -> None:
    figures = load_tickets(tickets=3000, seed=7, anchor=ANCHOR, workers=2, block=1000, log=lambda _: None)

    assert figures["tickets"] == Ticket.objects.count() == 3000
    assert Department.objects.count() == 20
    states = dict(Ticket.objects.values_list("state").annotate(n=Count("id")))
    assert set(states) == {s.value for s in TicketState}
    active = states[TicketState.OPEN] + states[TicketState.WAITING]
    assert 0.03 <= active / 3000 <= 0.08
    entries = ThreadEntry.objects.count()
    assert 4.5 <= entries / 3000 <= 5.5
    kinds = dict(ThreadEntry.objects.values_list("kind").annotate(n=Count("id")))
    assert set(kinds) == {k.value for k in EntryKind}
    # Every ticket opens with the requester's message and a "created" event pointing at it.
    first = ThreadEntry.objects.filter(ticket_id=Ticket.objects.earliest("id").id).earliest("created_at", "id")
    assert first.kind == EntryKind.MESSAGE
    assert TicketEvent.objects.filter(kind=EventKind.CREATED).count() == 3000
    assert TicketEvent.objects.filter(kind=EventKind.CREATED, entry__isnull=True).count() == 0
    assert TicketClock.objects.count() == 3000
    oldest, newest = Ticket.objects.earliest("created_at").created_at, Ticket.objects.latest("created_at").created_at
    assert (newest - oldest).days > 2 * 365
    assert newest <= ANCHOR
    # Only open tickets have a due instant, and each number is digits with no leading zero.
    assert not Ticket.objects.exclude(state=TicketState.OPEN).filter(due_at__isnull=False).exists()
    assert all(len(str(n)) == 8 for n in Ticket.objects.values_list("number", flat=True)[:100])
    assert dataset_marker()["tickets"] == 3000


def test_the_same_seed_gives_the_same_rows_whatever_the_number_of_processes() -> None:
    load_tickets(tickets=1500, seed=11, anchor=ANCHOR, workers=2, block=500, vacuum=False, log=lambda _: None)
    parallel = fingerprint()
    TicketEvent.objects.all().delete()
    TicketClock.objects.all().delete()
    ThreadEntry.objects.all().delete()
    Ticket.objects.all().delete()

    load_tickets(tickets=1500, seed=11, anchor=ANCHOR, workers=1, block=500, vacuum=False, log=lambda _: None)

    assert fingerprint() == parallel


def test_the_indexes_and_keys_are_back_after_the_load() -> None:
    def schema() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT indexname FROM pg_indexes WHERE tablename LIKE 'tickets_%%' OR tablename = 'sla_ticketclock'
                UNION ALL
                SELECT conname FROM pg_constraint WHERE contype = 'f'
                """
            )
            return {row[0] for row in cursor.fetchall()}

    before = schema()
    call_command("bench_data", "--tickets", "200", "--seed", "3", "--workers", "1", stdout=io.StringIO())

    assert schema() == before

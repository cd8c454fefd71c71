"""Concurrent creation on PostgreSQL: every ticket gets its own number, however they collide."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from accounts.models import User
from tests.factories import ticket_open
from tickets.models import Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")


def test_eight_writers_at_once_get_distinct_numbers_even_in_a_crowded_number_space(karen: User, settings) -> None:
    # Three digits leave 900 numbers for 240 tickets: collisions are certain, and each must
    # be retried rather than fail or duplicate.
    settings.TICKET_NUMBER_DIGITS = 3

    def open_many(worker: int) -> list[int]:
        try:
            return [ticket_open(karen, subject=f"Outage report {worker}-{i}").number for i in range(30)]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = [n for batch in pool.map(open_many, range(8)) for n in batch]

    assert len(numbers) == 240
    assert len(set(numbers)) == 240
    assert Ticket.objects.count() == 240
    assert all(100 <= n <= 999 for n in numbers)


def test_two_agents_changing_one_ticket_at_once_both_land_in_order(karen: User, john: User, priorities) -> None:
    from tickets import services

    ticket = ticket_open(karen)

    def set_priority(name: str) -> str:
        try:
            services.ticket_set_priority(ticket=ticket, actor=User.objects.get(pk=john.pk), priority=priorities[name])
            return name
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(set_priority, ["High", "Emergency"]))
    ticket.refresh_from_db()
    # The row lock serialises them: two events, and the version counts both.
    assert ticket.events.filter(kind="priority_changed").count() == 2
    assert ticket.version == 3

"""Every foreign key of the big tables is found through an index that leads with it, even
where its own single-column index was dropped as redundant (tickets 0004, sla 0004)."""

from __future__ import annotations

import pytest
from django.db import connection

from sla.models import TicketClock
from tickets.models import ThreadEntry, Ticket, TicketEvent


def _leading_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {c["columns"][0] for c in constraints.values() if (c["index"] or c["unique"]) and c["columns"]}


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Ticket, ThreadEntry, TicketEvent, TicketClock])
def test_every_foreign_key_of_the_big_tables_leads_an_index(model) -> None:
    leading = _leading_columns(model._meta.db_table)
    keys = [f.column for f in model._meta.concrete_fields if f.is_relation]
    assert keys
    assert [k for k in keys if k not in leading] == []


@pytest.mark.django_db
def test_no_two_indexes_of_the_thread_tables_lead_with_the_ticket_alone() -> None:
    for model in (ThreadEntry, TicketEvent, TicketClock):
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
        single = [n for n, c in constraints.items() if c["index"] and c["columns"] == ["ticket_id"]]
        assert single == [], f"{model.__name__}: {single} duplicates a composite index"

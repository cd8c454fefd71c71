"""The dashboard's figures on a known month of tickets, its charts and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from sla.services import sla_sweep
from tests.factories import ticket_open
from tickets import services
from tickets.dashboard import dashboard_for, duration_label

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, month: int = 3) -> time_machine.travel:
    return time_machine.travel(datetime(2026, month, day, hour, 0, tzinfo=UTC), tick=False)


@pytest.fixture
def month(karen, ken, john, jane, online_banking, plans):
    """A: answered in 1 h, resolved in 2 h, on time. B: answered in 3 h, resolved after 24 h,
    late against its 18 h. C: overdue on Sev-A. D: open, in time. E: Jane's, open. F: before
    the period."""
    with at(1, 9, month=2):
        f = ticket_open(ken, "F: old ticket")
        services.ticket_assign(ticket=f, actor=john, assignee=john)
    with at(2, 9, month=2):
        services.ticket_resolve(ticket=f, actor=john)
    with at(10, 9):
        a = ticket_open(karen, "A: printer")
        services.ticket_set_sla_plan(ticket=a, actor=john, sla_plan=plans["Sev-B"])
        services.ticket_assign(ticket=a, actor=john, assignee=john)
    with at(10, 10):
        services.ticket_reply(ticket=a, actor=john, body="Replacing the toner.")
    with at(10, 11):
        services.ticket_resolve(ticket=a, actor=john)
    with at(10, 12):
        b = ticket_open(ken, "B: laptop")
        services.ticket_assign(ticket=b, actor=john, assignee=john)
    with at(10, 15):
        services.ticket_reply(ticket=b, actor=john, body="Ordering a charger.")
    with at(11, 12):
        services.ticket_resolve(ticket=b, actor=john)
    with at(20, 8):
        c = ticket_open(karen, "C: server room")
        services.ticket_set_sla_plan(ticket=c, actor=john, sla_plan=plans["Sev-A"])
        services.ticket_assign(ticket=c, actor=john, assignee=john)
    with at(20, 10):
        sla_sweep()
    with at(25, 9):
        ticket_open(ken, "D: new mouse")
    with at(26, 9):
        e = ticket_open(karen, "E: card payments", department=online_banking)
        services.ticket_assign(ticket=e, actor=jane, assignee=jane)


def test_the_admin_sees_the_months_figures(month, admin) -> None:
    with time_machine.travel(NOW, tick=False):
        board = dashboard_for(user=admin)
    assert board.since == datetime(2026, 3, 2, tzinfo=UTC)
    assert [(r.department, r.open, r.waiting, r.unassigned, r.overdue) for r in board.backlog] == [
        ("Online Banking", 1, 0, 0, 0),
        ("Support", 2, 0, 1, 1),
    ]
    days = {d.day: (d.created, d.resolved) for d in board.days if d.created or d.resolved}
    assert days == {
        date(2026, 3, 10): (2, 1),
        date(2026, 3, 11): (0, 1),
        date(2026, 3, 20): (1, 0),
        date(2026, 3, 25): (1, 0),
        date(2026, 3, 26): (1, 0),
    }
    assert len(board.days) == 30
    [resolution] = board.compliance
    assert (resolution.target, resolution.met, resolution.missed, resolution.pending) == ("Resolution", 1, 2, 2)
    assert resolution.percent == 33.3
    assert board.measured_tickets == 5
    assert board.first_response_median == timedelta(hours=2)
    assert board.resolution_median == timedelta(hours=13)
    assert [(r.agent, r.open, r.overdue, r.resolved) for r in board.workload] == [
        ("Jane Doe", 1, 0, 0),
        ("John Doe", 1, 1, 2),
    ]


def test_john_sees_his_own_load_and_only_his_department(month, john) -> None:
    with time_machine.travel(NOW, tick=False):
        board = dashboard_for(user=john)
    assert (board.my_open, board.my_overdue) == (1, 1)
    assert [r.department for r in board.backlog] == ["Support"]
    assert [r.agent for r in board.workload] == ["John Doe"]
    assert sum(d.created for d in board.days) == 4


def test_the_days_are_the_agents_days(month, admin) -> None:
    admin.time_zone = "Pacific/Auckland"  # 13 hours ahead in March: 12:00 UTC on the 10th is the 11th there
    admin.save()
    from django.utils import timezone

    with time_machine.travel(NOW, tick=False), timezone.override("Pacific/Auckland"):
        board = dashboard_for(user=admin)
    days = {d.day: d.created for d in board.days if d.created}
    assert days[date(2026, 3, 10)] == 1 and days[date(2026, 3, 11)] == 1


def test_the_dashboard_page_draws_the_charts_and_tables(client, month, admin, django_assert_num_queries) -> None:
    client.force_login(admin)
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(8):
        response = client.get(reverse("staff:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html and 'class="bar-created"' in html
    assert "33.3%" in html and "13h 0m" in html and "2h 0m" in html
    assert "Online Banking" in html and "Jane Doe" in html


def test_each_dashboard_table_exports_as_csv(client, month, admin) -> None:
    client.force_login(admin)
    with time_machine.travel(NOW, tick=False):
        tables = {}
        for table in ("backlog", "flow", "sla", "workload", "times"):
            response = client.get(reverse("staff:dashboard_export", kwargs={"table": table}))
            assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
            tables[table] = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert tables["backlog"] == [
        ["Department", "Open", "Waiting on customer", "Unassigned", "Overdue"],
        ["Online Banking", "1", "0", "0", "0"],
        ["Support", "2", "0", "1", "1"],
    ]
    assert len(tables["flow"]) == 31 and ["2026-03-10", "2", "1"] in tables["flow"]
    assert tables["sla"][1] == ["Resolution", "1", "2", "2", "33.3"]
    assert tables["workload"][2] == ["John Doe", "1", "1", "2"]
    assert tables["times"][1:] == [
        ["Median first response", "2.0"],
        ["Median resolution", "13.0"],
        ["Tickets created in the period", "5"],
    ]
    assert client.get("/staff/dashboard/passwords.csv").status_code == 404


def test_an_empty_desk_has_an_empty_dashboard(client, john) -> None:
    client.force_login(john)
    response = client.get(reverse("staff:dashboard"))
    assert response.status_code == 200
    assert "No open tickets." in response.content.decode()


def test_durations_read_as_an_agent_says_them() -> None:
    assert duration_label(None) == "—"
    assert duration_label(timedelta(minutes=45)) == "45m"
    assert duration_label(timedelta(hours=3, minutes=12)) == "3h 12m"
    assert duration_label(timedelta(days=2, hours=4)) == "2d 4h"

"""CSV export of ticket lists: the agent's filters, their tickets only, no formulas."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.factories import EndUserFactory, ticket_open
from tickets.exports import csv_cell

pytestmark = pytest.mark.django_db


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Printer jammed", "Printer jammed"),
        ("a=b", "a=b"),
        (-5, -5),
        (3.5, 3.5),
        (None, ""),
        (True, "yes"),
    ],
)
def test_cells_that_spreadsheets_would_run_are_neutralised(value, written) -> None:
    assert csv_cell(value) == written


def test_the_export_has_the_queues_tickets_with_their_properties(client, karen, john) -> None:
    ticket = ticket_open(karen, "Entire mobile/online banking system is down")
    client.force_login(john)
    header, *body = rows(client.get(reverse("staff:queue_export", kwargs={"key": "open"})))
    assert header[:5] == ["Number", "Subject", "Requester", "Requester email", "Status"]
    assert body == [
        [
            str(ticket.number),
            ticket.subject,
            "Karen Doe",
            "karen@example.com",
            "Open",
            "Normal",
            "Support",
            "",
            "",
            "Web",
            *body[0][10:],
        ]
    ]
    assert body[0][12].startswith(ticket.due_at.strftime("%Y-%m-%dT%H:%M"))


def test_the_export_follows_the_filters_and_search(client, karen, ken, john) -> None:
    ticket_open(karen, "Printer jammed")
    ticket_open(ken, "Excel not working")
    client.force_login(john)
    body = rows(client.get(reverse("staff:queue_export", kwargs={"key": "all"}), {"q": "ken@example.com"}))[1:]
    assert [r[1] for r in body] == ["Excel not working"]


def test_a_malicious_subject_and_name_are_exported_as_text(client, john) -> None:
    evil = EndUserFactory(name="=cmd|' /C calc'!A0", email="evil@example.org")
    ticket_open(evil, "@SUM(1+1)*cmd|' /C calc'!A0")
    client.force_login(john)
    [row] = rows(client.get(reverse("staff:queue_export", kwargs={"key": "all"})))[1:]
    assert row[1] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row[2] == "'=cmd|' /C calc'!A0"


def test_a_saved_queue_exports_its_own_filters(client, karen, ken, john) -> None:
    ticket_open(karen, "Printer jammed")
    ticket_open(ken, "Excel not working")
    client.force_login(john)
    client.post(reverse("staff:saved_queue_save"), {"name": "Ken's", "base": "all", "params": "q=Excel"})
    from tickets.models import SavedQueue

    saved = SavedQueue.objects.get()
    body = rows(client.get(reverse("staff:saved_queue_export", kwargs={"pk": saved.pk})))[1:]
    assert [r[1] for r in body] == ["Excel not working"]


def test_the_export_of_many_tickets_costs_a_fixed_number_of_queries(
    client, karen, john, django_assert_num_queries
) -> None:
    for i in range(30):
        ticket_open(karen, f"Ticket {i}")
    client.force_login(john)
    with django_assert_num_queries(4):
        response = client.get(reverse("staff:queue_export", kwargs={"key": "all"}))
        assert len(rows(response)) == 31

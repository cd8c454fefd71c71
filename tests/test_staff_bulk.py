"""Bulk actions on a queue selection, through the same services as one by one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ticket_open
from tickets.bulk import tickets_bulk_update
from tickets.models import EventKind, Ticket, TicketState

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(karen, ken) -> list[Ticket]:
    return [
        ticket_open(karen, "Printer jammed"),
        ticket_open(ken, "Excel not working"),
        ticket_open(karen, "VPN drops"),
    ]


def post(client, tickets: list[Ticket], **data: object):
    return client.post(reverse("staff:bulk"), {"tickets": [t.number for t in tickets], **data}, follow=True)


def test_john_assigns_three_tickets_to_himself_at_once(client, three, john) -> None:
    client.force_login(john)
    response = post(
        client, three, action="assign", assignee=john.pk, next=reverse("staff:queue", kwargs={"key": "mine"})
    )
    assert response.redirect_chain[-1][0] == reverse("staff:queue", kwargs={"key": "mine"})
    assert "Updated 3 ticket(s)" in response.content.decode()
    for t in three:
        t.refresh_from_db()
        assert t.assignee == john
        assert t.events.filter(kind=EventKind.ASSIGNED).exists()


def test_bulk_unassign_transfer_priority_and_status(
    client, three, john, admin, online_banking, priorities, statuses
) -> None:
    client.force_login(admin)
    post(client, three, action="assign", assignee=john.pk)
    post(client, three, action="assign", assignee="none")
    assert not Ticket.objects.filter(assignee__isnull=False).exists()
    post(client, three, action="priority", priority=priorities["High"].pk)
    assert set(Ticket.objects.values_list("priority__name", flat=True)) == {"High"}
    post(client, three, action="status", status=statuses["waiting"].pk)
    assert set(Ticket.objects.values_list("state", flat=True)) == {TicketState.WAITING}
    post(client, three, action="transfer", department=online_banking.pk)
    assert set(Ticket.objects.values_list("department__name", flat=True)) == {"Online Banking"}
    assert all(t.events.filter(kind=EventKind.TRANSFERRED).exists() for t in Ticket.objects.all())


def test_each_failure_is_reported_and_the_rest_goes_through(client, three, john, statuses) -> None:
    from tickets import services

    services.ticket_close(ticket=three[0], actor=john)
    client.force_login(john)
    response = post(client, three, action="status", status=statuses["resolved"].pk)
    text = response.content.decode()
    assert "Updated 2 ticket(s)" in text
    assert f"#{three[0].number} not changed: A ticket that is closed cannot become" in text
    assert [Ticket.objects.get(pk=t.pk).state for t in three] == [
        TicketState.CLOSED,
        TicketState.RESOLVED,
        TicketState.RESOLVED,
    ]


def test_a_bulk_action_needs_tickets_and_a_value(client, three, john) -> None:
    client.force_login(john)
    text = post(client, [], action="assign", assignee=john.pk).content.decode()
    assert "Select at least one ticket." in text
    text = post(client, three, action="priority").content.decode()
    assert "Choose a value for this action." in text
    assert not Ticket.objects.filter(assignee__isnull=False).exists()


def test_the_bulk_service_reports_per_ticket(three, jane, john) -> None:
    result = tickets_bulk_update(
        actor=jane, numbers=[t.number for t in three] + [12345678], action="assign", assignee=jane
    )
    assert result.done == []
    assert [n for n, _ in result.failed] == [t.number for t in three] + [12345678]
    result = tickets_bulk_update(actor=john, numbers=[three[0].number], action="assign", assignee=jane)
    assert result.failed == [(three[0].number, "Jane Doe cannot take tickets of Support.")]


def test_the_next_page_must_be_ours(client, three, john) -> None:
    client.force_login(john)
    response = client.post(
        reverse("staff:bulk"),
        {"tickets": [three[0].number], "action": "assign", "assignee": john.pk, "next": "https://evil.example/"},
    )
    assert response.url == reverse("staff:home")

"""Who may reach what in the staff panel: two departments, agents with different roles, an end
user and an anonymous visitor; pages, actions, downloads and exports alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from django.db import transaction
from django.urls import reverse

from accounts.models import DepartmentMembership, Role, User
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tickets import services
from tickets.models import Attachment, EventKind, HelpTopic, Ticket

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def responder(seed, support) -> User:
    """Rita, an agent of Support whose role lets her reply and nothing more."""
    role = Role.objects.create(
        name="Responder", can_reply=True, can_assign=False, can_transfer=False, can_edit=False, can_close=False
    )
    rita = User.objects.create_user("rita@example.com", PASSWORD, name="Rita Responder", kind=User.Kind.AGENT)
    DepartmentMembership.objects.create(agent=rita, department=support, role=role, is_primary=True)
    return rita


@pytest.fixture
def tickets(karen, ken, online_banking) -> dict[str, Ticket]:
    support_ticket = ticket_open(karen, "Printer jammed", uploads=[services.Upload("jam.png", PNG)])
    return {
        "support": support_ticket,
        "support_other": ticket_open(ken, "Second printer jammed"),
        "banking": ticket_open(karen, "Card payments fail", department=online_banking),
        "banking_other": ticket_open(ken, "Card payments fail too", department=online_banking),
    }


def action_posts(
    ticket: Ticket, other: Ticket, priorities, plans, statuses, online_banking, support, jane, john
) -> dict[str, tuple[str, dict[str, object]]]:
    """A valid POST for each action on `ticket` (`other` is the ticket to merge into or link)."""
    v = ticket.version
    n = ticket.number
    transfer_to = online_banking if ticket.department_id == support.pk else support
    return {
        "reply": (reverse("staff:reply", args=[n]), {"reply-body": "On it.", "reply-version": v, "reply-seen": 10**9}),
        "note": (reverse("staff:note", args=[n]), {"note-body": "Looking."}),
        "claim": (reverse("staff:claim", args=[n]), {"version": v}),
        "assign": (reverse("staff:assign", args=[n]), {"assign-assignee": "", "assign-version": v}),
        "priority": (
            reverse("staff:priority", args=[n]),
            {"priority-priority": priorities["High"].pk, "priority-version": v},
        ),
        "sla": (reverse("staff:sla_plan", args=[n]), {"sla-sla_plan": plans["Sev-B"].pk, "sla-version": v}),
        "topic": (
            reverse("staff:help_topic", args=[n]),
            {"topic-help_topic": HelpTopic.objects.get(name="General Inquiry").pk, "topic-version": v},
        ),
        "status": (reverse("staff:status", args=[n]), {"status-status": statuses["waiting"].pk, "status-version": v}),
        "due": (
            reverse("staff:due", args=[n]),
            {"due-due_at": f"{date.today().year + 1}-01-01T10:00", "due-reason": "Parts", "due-version": v},
        ),
        "cc": (reverse("staff:collaborator_add", args=[n]), {"cc-email": "boss@example.com"}),
        "link": (reverse("staff:link", args=[n]), {"link-number": other.number}),
        "merge": (reverse("staff:merge", args=[n]), {"merge-number": other.number}),
        "transfer": (
            reverse("staff:transfer", args=[n]),
            {"transfer-department": transfer_to.pk, "transfer-version": v},
        ),
    }


ACTIONS = [
    "reply",
    "note",
    "claim",
    "assign",
    "priority",
    "sla",
    "topic",
    "status",
    "due",
    "cc",
    "link",
    "merge",
    "transfer",
]

# person -> ticket -> the actions allowed (everything else on a visible ticket is a 403)
MATRIX: dict[str, dict[str, set[str] | None]] = {
    "john": {"support": set(ACTIONS), "banking": None},
    "jane": {"support": None, "banking": set(ACTIONS)},
    "viewer": {"support": {"note", "link"}, "banking": None},
    "responder": {"support": {"reply", "note", "claim", "cc", "link"}, "banking": None},
    "admin": {"support": set(ACTIONS), "banking": set(ACTIONS)},
}


@pytest.mark.parametrize("person", list(MATRIX))
@pytest.mark.parametrize("where", ["support", "banking"])
def test_each_agent_does_only_what_their_role_allows_on_tickets_they_see(
    client,
    tickets,
    person,
    where,
    priorities,
    plans,
    statuses,
    online_banking,
    support,
    jane,
    john,
    viewer,
    responder,
    admin,
) -> None:
    agent = {"john": john, "jane": jane, "viewer": viewer, "responder": responder, "admin": admin}[person]
    allowed = MATRIX[person][where]
    client.force_login(agent)
    for action in ACTIONS:
        # Each action from the same starting point: its changes are rolled back after it.
        with transaction.atomic():
            ticket, other = Ticket.objects.get(pk=tickets[where].pk), tickets[f"{where}_other"]
            url, data = action_posts(ticket, other, priorities, plans, statuses, online_banking, support, jane, john)[
                action
            ]
            before = (ticket.version, ticket.events.count())
            response = client.post(url, data)
            fresh = Ticket.objects.get(pk=ticket.pk)
            if allowed is None:
                assert response.status_code == 404, action
            elif action in allowed:
                assert response.status_code == 302, (action, response.content.decode()[:3000])
                assert fresh.events.count() > before[1] or action == "assign", action
            else:
                assert response.status_code == 403, action
            if allowed is None or action not in allowed:
                assert (fresh.version, fresh.events.count()) == before, action
            transaction.set_rollback(True)


@pytest.mark.parametrize(
    ("person", "on_support", "on_banking"),
    [("john", 200, 404), ("jane", 404, 200), ("viewer", 200, 404), ("admin", 200, 200)],
)
def test_pages_downloads_and_the_lock_answer_by_visibility(
    client, tickets, person, on_support, on_banking, john, jane, viewer, admin
) -> None:
    client.force_login({"john": john, "jane": jane, "viewer": viewer, "admin": admin}[person])
    attachment = Attachment.objects.get(entry__ticket=tickets["support"])
    for where, expected in (("support", on_support), ("banking", on_banking)):
        number = tickets[where].number
        assert client.get(reverse("staff:ticket", args=[number])).status_code == expected
        assert client.get(reverse("staff:lock", args=[number])).status_code == expected
    download = reverse("staff:attachment", args=[tickets["support"].number, attachment.pk])
    assert client.get(download).status_code == on_support


def test_the_viewer_cannot_take_the_reply_lock(client, tickets, viewer) -> None:
    client.force_login(viewer)
    assert client.post(reverse("staff:lock", args=[tickets["support"].number])).status_code == 403


@pytest.mark.parametrize("person", ["john", "jane", "admin"])
def test_exports_hold_only_the_tickets_the_agent_sees(client, tickets, person, john, jane, admin) -> None:
    client.force_login({"john": john, "jane": jane, "admin": admin}[person])
    body = b"".join(client.get(reverse("staff:queue_export", kwargs={"key": "all"})).streaming_content).decode()
    assert ("Printer jammed" in body) == (person != "jane")
    assert ("Card payments fail" in body) == (person != "john")


def test_bulk_actions_fail_per_ticket_where_the_agent_may_not(client, tickets, viewer, john, priorities) -> None:
    client.force_login(viewer)
    numbers = [tickets["support"].number, tickets["banking"].number]
    response = client.post(
        reverse("staff:bulk"),
        {"tickets": numbers, "action": "priority", "priority": priorities["High"].pk},
        follow=True,
    )
    text = response.content.decode()
    assert f"#{tickets['support'].number} not changed: You may not edit properties ticket" in text
    assert f"#{tickets['banking'].number} not changed: No such ticket." in text
    assert not Ticket.objects.filter(priority=priorities["High"]).exists()


STAFF_URLS: list[Callable[[Ticket], str]] = [
    lambda t: reverse("staff:home"),
    lambda t: reverse("staff:queue", kwargs={"key": "all"}),
    lambda t: reverse("staff:queue_export", kwargs={"key": "all"}),
    lambda t: reverse("staff:ticket", args=[t.number]),
    lambda t: reverse("staff:lock", args=[t.number]),
    lambda t: reverse("staff:dashboard"),
    lambda t: reverse("staff:dashboard_export", kwargs={"table": "backlog"}),
    lambda t: reverse("staff:canned_list"),
    lambda t: reverse("staff:profile"),
    lambda t: reverse("staff:attachment", args=[t.number, Attachment.objects.get(entry__ticket=t).pk]),
]


@pytest.mark.parametrize("make_url", STAFF_URLS)
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, tickets, make_url) -> None:
    url = make_url(tickets["support"])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("staff:login") + "?next=")


@pytest.mark.parametrize("make_url", STAFF_URLS)
def test_karen_cannot_enter_the_staff_panel_even_for_her_own_ticket(client, tickets, karen, make_url) -> None:
    client.force_login(karen)
    assert client.get(make_url(tickets["support"])).status_code == 404


def test_anonymous_and_end_user_posts_change_nothing(
    client, tickets, karen, priorities, plans, statuses, online_banking, support, jane, john
) -> None:
    ticket = tickets["support"]
    posts = action_posts(
        ticket, tickets["support_other"], priorities, plans, statuses, online_banking, support, jane, john
    )
    before = ticket.events.count()
    for action, (url, data) in posts.items():
        client.logout()
        response = client.post(url, data)
        assert response.status_code == 302 and response.url.startswith(reverse("staff:login")), action
        client.force_login(karen)
        assert client.post(url, data).status_code == 404, action
    assert Ticket.objects.get(pk=ticket.pk).events.count() == before
    assert not ticket.events.filter(kind=EventKind.RESPONSE).exists()

"""Collision avoidance: the reply lock, and a reply posted over what the agent has not seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from accounts.models import DepartmentMembership, Role
from tests.factories import ticket_open
from tickets import services
from tickets.locks import ticket_lock_acquire, ticket_lock_release, ticket_lock_state
from tickets.models import EntryKind, Ticket, TicketLock

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ticket(karen) -> Ticket:
    return ticket_open(karen, "Entire mobile/online banking system is down")


@pytest.fixture
def alex(admin, support):
    """The admin, here as a second agent of Support working the same queue as John."""
    assert DepartmentMembership.objects.filter(agent=admin, department=support).exists()
    return admin


def test_the_first_agent_takes_the_lock_and_the_second_is_told_who_holds_it(ticket, john, alex) -> None:
    with time_machine.travel(T0, tick=False):
        mine = ticket_lock_acquire(ticket=ticket, agent=john)
        theirs = ticket_lock_acquire(ticket=ticket, agent=alex)
    assert mine.held and mine.expires_at == T0 + timedelta(seconds=180)
    assert not theirs.held and theirs.holder == "John Doe"
    assert TicketLock.objects.get().agent == john


def test_typing_renews_the_lock(ticket, john, alex) -> None:
    with time_machine.travel(T0, tick=False):
        ticket_lock_acquire(ticket=ticket, agent=john)
    with time_machine.travel(T0 + timedelta(seconds=150), tick=False):
        renewed = ticket_lock_acquire(ticket=ticket, agent=john)
    assert renewed.expires_at == T0 + timedelta(seconds=330)
    with time_machine.travel(T0 + timedelta(seconds=200), tick=False):
        assert ticket_lock_state(ticket=ticket, agent=alex).holder == "John Doe"


def test_a_lapsed_lock_is_taken_over_without_any_clean_up(ticket, john, alex) -> None:
    with time_machine.travel(T0, tick=False):
        ticket_lock_acquire(ticket=ticket, agent=john)
    with time_machine.travel(T0 + timedelta(seconds=181), tick=False):
        assert ticket_lock_state(ticket=ticket, agent=alex).holder == ""
        taken = ticket_lock_acquire(ticket=ticket, agent=alex)
        assert taken.held
        assert ticket_lock_state(ticket=ticket, agent=john).holder == "Alex Admin"
    assert TicketLock.objects.count() == 1


def test_releasing_frees_the_lock_only_for_its_holder(ticket, john, alex) -> None:
    ticket_lock_acquire(ticket=ticket, agent=john)
    ticket_lock_release(ticket=ticket, agent=alex)
    assert ticket_lock_state(ticket=ticket, agent=alex).holder == "John Doe"
    ticket_lock_release(ticket=ticket, agent=john)
    assert not TicketLock.objects.exists()


def test_the_lock_endpoints_answer_in_json(client, ticket, john, alex) -> None:
    url = reverse("staff:lock", args=[ticket.number])
    client.force_login(john)
    taken = client.post(url).json()
    assert taken["held"] is True and taken["holder"] == ""
    client.force_login(alex)
    assert client.get(url).json()["holder"] == "John Doe"
    assert client.post(url).json() == {**client.get(url).json(), "held": False}
    page = client.get(reverse("staff:ticket", args=[ticket.number]))
    assert "John Doe is writing a reply to this ticket." in page.content.decode()
    client.force_login(john)
    client.post(reverse("staff:lock_release", args=[ticket.number]))
    client.force_login(alex)
    assert client.get(url).json()["holder"] == ""


def reply(client, ticket: Ticket, body: str, seen: int, **extra: object):
    return client.post(
        reverse("staff:reply", args=[ticket.number]),
        {"reply-body": body, "reply-version": Ticket.objects.get(pk=ticket.pk).version, "reply-seen": seen, **extra},
    )


def test_a_reply_over_a_message_john_has_not_seen_asks_him_to_confirm(client, ticket, john, karen) -> None:
    client.force_login(john)
    seen = client.get(reverse("staff:ticket", args=[ticket.number])).context["forms"]["reply"].initial["seen"]
    newer = services.ticket_add_message(ticket=ticket, author=karen, body="Actually it is back up now.")
    response = reply(client, ticket, "Rebooting the servers now.", seen)
    assert response.status_code == 409
    html = response.content.decode()
    assert "New posts arrived while you were writing" in html
    assert "Send anyway" in html
    assert "Rebooting the servers now." in html  # what he wrote is kept
    assert response.context["unseen"] == {newer.pk}
    assert f'id="entry-{newer.pk}"' in html and "entry-unseen" in html
    assert not ticket.entries.filter(kind=EntryKind.RESPONSE).exists()
    # He read it and sends anyway: the form now knows what he has seen.
    form = response.context["forms"]["reply"]
    again = {k: form.data[k] for k in form.data if k.startswith("reply-")}
    assert client.post(reverse("staff:reply", args=[ticket.number]), again).status_code == 302
    assert ticket.entries.filter(kind=EntryKind.RESPONSE, body="Rebooting the servers now.").exists()


def test_johns_own_posts_and_notes_do_not_ask_for_confirmation(client, ticket, john, alex) -> None:
    client.force_login(john)
    seen = ticket.entries.latest("id").pk
    services.ticket_add_note(ticket=ticket, actor=alex, body="FYI: network team informed.")
    services.ticket_reply(ticket=ticket, actor=john, body="First answer.")
    assert reply(client, ticket, "Second answer.", seen).status_code == 302


def test_a_reply_while_someone_else_holds_the_lock_asks_to_confirm(client, ticket, john, alex) -> None:
    ticket_lock_acquire(ticket=ticket, agent=alex)
    client.force_login(john)
    seen = ticket.entries.latest("id").pk
    response = reply(client, ticket, "Answer from John.", seen)
    assert response.status_code == 409
    assert "Alex Admin is writing a reply to this ticket right now." in response.content.decode()
    assert reply(client, ticket, "Answer from John.", seen, **{"reply-confirmed": "1"}).status_code == 302


def test_sending_a_reply_releases_the_senders_lock(client, ticket, john) -> None:
    client.force_login(john)
    client.post(reverse("staff:lock", args=[ticket.number]))
    assert TicketLock.objects.filter(agent=john).exists()
    assert reply(client, ticket, "Done.", ticket.entries.latest("id").pk).status_code == 302
    assert not TicketLock.objects.exists()


def test_a_reply_and_set_status_on_a_stale_page_is_refused_and_keeps_the_text(
    client, ticket, john, alex, statuses, priorities
) -> None:
    client.force_login(john)
    loaded = Ticket.objects.get(pk=ticket.pk).version
    services.ticket_set_priority(ticket=ticket, actor=alex, priority=priorities["High"])
    response = client.post(
        reverse("staff:reply", args=[ticket.number]),
        {
            "reply-body": "Fixed.",
            "reply-status": statuses["resolved"].pk,
            "reply-version": loaded,
            "reply-seen": ticket.entries.latest("id").pk,
        },
    )
    assert response.status_code == 409
    assert "was changed by someone else" in response.content.decode()
    assert "Fixed." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).state == "open"


def test_a_role_that_may_not_reply_gets_no_lock_and_no_reply(client, ticket, viewer) -> None:
    client.force_login(viewer)
    assert client.post(reverse("staff:lock", args=[ticket.number])).status_code == 403
    assert reply(client, ticket, "Hi", 0).status_code == 403
    assert not Role.objects.get(name="Read only").can_reply

"""Checking a ticket without an account, and the secret links it mails: the same answer for any
pair, links that expire and are replaced by newer ones, and what a link lets its holder do."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import User
from notifications.models import Notification, NotificationKind
from tests.factories import ticket_open
from tickets import services
from tickets.models import AccessLink, EntryKind, Ticket, TicketState

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s\"<>]+/t/([A-Za-z0-9_-]+)/")


def ask_for_link(client, email: str, number: object, capture) -> object:
    with capture(execute=True):
        return client.post(reverse("portal:status"), {"email": email, "number": str(number)})


def mailed_token(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to[0]][-1]
    return LINK.search(message.body).group(1)


# ---------------------------------------------------------------- the status check


def test_the_status_check_mails_a_link_to_the_requester(client, karen, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen, "VPN drops every hour")
    mail.outbox.clear()
    response = ask_for_link(client, "KAREN@example.com ", f"#{ticket.number}", django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"] == reverse("portal:status_sent")
    [message] = mail.outbox
    assert message.to == ["Karen Doe <karen@example.com>"] and str(ticket.number) in message.subject
    assert Notification.objects.get(kind=NotificationKind.STATUS_LINK).state == "sent"
    page = client.get(f"/t/{mailed_token('karen@example.com')}/")
    assert page.status_code == 200 and "VPN drops every hour" in page.content.decode()


def test_the_status_check_answers_the_same_for_any_pair(client, karen, ken, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    mail.outbox.clear()
    answers = []
    for email, number in [
        ("karen@example.com", ticket.number),  # the real pair
        ("ken@example.com", ticket.number),  # someone else's ticket
        ("nobody@example.com", ticket.number),  # an unknown address
        ("karen@example.com", 12345678),  # a number that does not exist
        ("karen@example.com", 9999999999999999999),  # past the column's range
    ]:
        response = ask_for_link(client, email, number, django_capture_on_commit_callbacks)
        answers.append((response.status_code, response["Location"]))
        answers.append(client.get(response["Location"]).content)
    assert len(set(answers)) == 2
    assert [m.to for m in mail.outbox] == [["Karen Doe <karen@example.com>"]]


def test_a_collaborator_can_ask_for_their_own_link(client, karen, ken, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen, collaborators=[ken])
    mail.outbox.clear()
    ask_for_link(client, "ken@example.com", ticket.number, django_capture_on_commit_callbacks)
    page = client.get(f"/t/{mailed_token('ken@example.com')}/")
    assert page.status_code == 200 and page.context["access"].person == ken


@pytest.mark.parametrize(
    ("email", "number", "field"),
    [("karen", "12345678", "email"), ("karen@example.com", "12ab", "number"), ("karen@example.com", "0123", "number")],
)
def test_bad_status_check_input_is_named_beside_its_field(client, karen, email, number, field) -> None:
    response = client.post(reverse("portal:status"), {"email": email, "number": number})
    assert response.status_code == 400 and list(response.context["form"].errors) == [field]
    assert not AccessLink.objects.exists()


def test_status_checks_are_throttled_per_address_whatever_the_pair(
    client, karen, settings, django_capture_on_commit_callbacks
) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "links_per_address": "3/h"}
    ticket = ticket_open(karen)
    mail.outbox.clear()
    for number in (11111111, 22222222, ticket.number):
        assert ask_for_link(client, "karen@example.com", number, django_capture_on_commit_callbacks).status_code == 302
    response = ask_for_link(client, "karen@example.com", ticket.number, django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert len(mail.outbox) == 1


def test_status_checks_are_throttled_per_client_ip(client, karen, settings, django_capture_on_commit_callbacks) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "links_per_ip": "2/h"}
    for n in range(2):
        ask_for_link(client, f"probe{n}@example.com", 11111111, django_capture_on_commit_callbacks)
    response = ask_for_link(client, "probe9@example.com", 11111111, django_capture_on_commit_callbacks)
    assert response.status_code == 429


# ---------------------------------------------------------------- the links


def test_a_link_expires_after_ticket_link_days(client, karen, settings) -> None:
    settings.TICKET_LINK_DAYS = 30
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        ticket = ticket_open(karen)
        token = services.access_link_issue(ticket=ticket, recipient=karen)
    with time_machine.travel(datetime(2026, 3, 31, 9, tzinfo=UTC), tick=False):
        assert client.get(f"/t/{token}/").status_code == 200
    with time_machine.travel(datetime(2026, 4, 1, 9, tzinfo=UTC), tick=False):
        expired = client.get(f"/t/{token}/")
    assert expired.status_code == 404
    assert "This link does not work any more" in expired.content.decode()
    assert reverse("portal:status") in expired.content.decode()


def test_a_new_status_check_link_revokes_the_older_ones(client, karen, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_open(karen)
    from_auto_response = mailed_token("karen@example.com")
    assert client.get(f"/t/{from_auto_response}/").status_code == 200
    ask_for_link(client, "karen@example.com", ticket.number, django_capture_on_commit_callbacks)
    newest = mailed_token("karen@example.com")
    assert newest != from_auto_response
    assert client.get(f"/t/{from_auto_response}/").status_code == 404
    assert client.post(f"/t/{from_auto_response}/reply/", {"body": "Still there?"}).status_code == 404
    assert client.get(f"/t/{newest}/").status_code == 200


@pytest.mark.parametrize("token", ["x", "A" * 43, "A" * 500, "%3Cscript%3E"])
def test_a_made_up_link_is_a_404_that_reveals_nothing(client, karen, token) -> None:
    ticket_open(karen)
    response = client.get(f"/t/{token}/")
    assert response.status_code == 404
    assert "This link does not work any more" in response.content.decode()


def test_a_link_of_a_disabled_person_stops_working(client, karen) -> None:
    ticket = ticket_open(karen)
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    User.objects.filter(pk=karen.pk).update(is_active=False)
    assert client.get(f"/t/{token}/").status_code == 404


def test_the_link_holder_replies_without_signing_in(client, karen, john, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/t/{token}/reply/", {"body": "It is back up for me."})
    assert response.status_code == 302 and response["Location"] == f"/t/{token}/"
    entry = ticket.entries.last()
    assert entry.kind == EntryKind.MESSAGE and entry.author == karen and entry.body == "It is back up for me."
    page = client.get(response["Location"]).content.decode()
    assert "It is back up for me." in page and "Your reply was added to the ticket." in page
    assert "_auth_user_id" not in client.session


def test_the_link_holder_closes_and_then_rates_the_ticket(client, karen, john) -> None:
    ticket = ticket_open(karen)
    services.ticket_reply(ticket=ticket, actor=john, body="Fixed the router.")
    services.ticket_resolve(ticket=ticket, actor=john)
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    page = client.get(f"/t/{token}/").content.decode()
    assert "My problem is solved" in page and "Rate the help" in page
    assert client.post(f"/t/{token}/close/").status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == TicketState.CLOSED
    assert client.post(f"/t/{token}/rate/", {"rating": "5", "comment": "Quick and kind."}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.satisfaction_rating, ticket.satisfaction_comment) == (5, "Quick and kind.")
    page = client.get(f"/t/{token}/").content.decode()
    assert "5 out of 5" in page and "Send my rating" not in page and "My problem is solved" not in page


def test_a_collaborators_link_lets_them_reply_but_not_close_or_rate(client, karen, ken, john) -> None:
    ticket = ticket_open(karen, collaborators=[ken])
    services.ticket_resolve(ticket=ticket, actor=john)
    token = services.access_link_issue(ticket=ticket, recipient=ken)
    page = client.get(f"/t/{token}/").content.decode()
    assert "My problem is solved" not in page and "Send my rating" not in page and "Send reply" in page
    refused = client.post(f"/t/{token}/close/")
    assert refused.status_code == 403
    assert client.post(f"/t/{token}/rate/", {"rating": "1"}).status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == TicketState.RESOLVED and ticket.rated_at is None


def test_a_link_reaches_only_its_own_tickets_files(client, karen, ken) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    karens = ticket_open(karen)
    kens = ticket_open(ken)
    client.force_login(ken)
    client.post(
        reverse("portal:ticket_reply", args=[kens.number]),
        {"body": "log", "attachments": [SimpleUploadedFile("ken.txt", b"secret of ken", "text/plain")]},
    )
    client.logout()
    attachment = kens.entries.last().attachments.get()
    token = services.access_link_issue(ticket=karens, recipient=karen)
    assert client.get(f"/t/{token}/attachments/{attachment.pk}/").status_code == 404
    ken_token = services.access_link_issue(ticket=kens, recipient=ken)
    download = client.get(f"/t/{ken_token}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"secret of ken"


def test_an_agents_link_never_shows_internal_notes(client, karen, john, admin) -> None:
    ticket = ticket_open(karen, collaborators=[admin])
    services.ticket_add_note(ticket=ticket, actor=john, body="Karen's branch is on the old firmware.")
    token = services.access_link_issue(ticket=ticket, recipient=admin)
    page = client.get(f"/t/{token}/").content.decode()
    assert "old firmware" not in page


def test_ticket_status_link_mail_uses_the_newest_link_only(karen, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    with django_capture_on_commit_callbacks(execute=True):
        services.access_link_send(ticket=ticket, recipient=karen)
        services.access_link_send(ticket=ticket, recipient=karen)
    links = AccessLink.objects.filter(ticket=ticket, recipient=karen).order_by("id")
    assert [link.revoked_at is None for link in links] == [False, True]


def test_a_stranger_with_a_guessed_number_learns_nothing_from_the_link_pages(client, karen) -> None:
    ticket = ticket_open(karen, "Payroll export fails")
    for path in (f"/t/{ticket.number}/", f"/t/{ticket.pk}/"):
        response = client.get(path)
        assert response.status_code == 404 and "Payroll" not in response.content.decode()
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("replies", [1, 10])
def test_the_link_page_costs_the_same_queries_however_long_the_thread(
    client, karen, john, replies, django_assert_num_queries
) -> None:
    ticket = ticket_open(karen)
    for n in range(replies):
        services.ticket_reply(ticket=ticket, actor=john, body=f"Reply {n}")
    token = services.access_link_issue(ticket=ticket, recipient=karen)
    # the link, the ticket, its entries, their attachments
    with django_assert_num_queries(4):
        response = client.get(f"/t/{token}/")
    assert len(response.context["entries"]) == 1 + replies

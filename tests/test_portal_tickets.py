"""My tickets and a ticket's page for signed-in end users: what they see, what they may do,
and a fixed number of queries however long the list or the thread."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import EndUserFactory, ticket_open
from tickets import services
from tickets.attachments import Upload
from tickets.models import EntryKind, Ticket, TicketState

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def numbers(response) -> list[int]:
    return [t.number for t in response.context["page"].object_list]


# ---------------------------------------------------------------- My tickets


def test_my_tickets_lists_karens_own_and_collaborating_tickets_only(client, karen, ken) -> None:
    own = ticket_open(karen, "Laptop will not start")
    copied = ticket_open(ken, "Shared drive is full", collaborators=[karen])
    kens = ticket_open(ken, "Excel not working")
    client.force_login(karen)
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 200
    assert set(numbers(response)) == {own.number, copied.number}
    page = response.content.decode()
    assert "Excel not working" not in page and str(kens.number) not in page
    assert "copied in" in page


def test_my_tickets_filters_open_and_closed(client, karen, john) -> None:
    open_one = ticket_open(karen, "Open one")
    resolved = ticket_open(karen, "Resolved one")
    services.ticket_resolve(ticket=resolved, actor=john)
    closed = ticket_open(karen, "Closed one")
    services.ticket_close(ticket=closed, actor=karen)
    client.force_login(karen)
    assert numbers(client.get(reverse("portal:tickets"))) == [open_one.number]
    assert set(numbers(client.get(reverse("portal:tickets") + "?status=closed"))) == {resolved.number, closed.number}
    assert len(numbers(client.get(reverse("portal:tickets") + "?status=all"))) == 3
    assert numbers(client.get(reverse("portal:tickets") + "?status=bogus")) == [open_one.number]
    counts = client.get(reverse("portal:tickets")).context["counts"]
    assert counts == {"open": 1, "closed": 2, "all": 3}


def test_my_tickets_searches_numbers_summaries_and_the_public_thread_but_not_notes(client, karen, john) -> None:
    printer = ticket_open(karen, "Printer jams", body="The tray on floor 3 jams.")
    vpn = ticket_open(karen, "VPN drops")
    services.ticket_add_note(ticket=vpn, actor=john, body="Suspect the firewall upgrade.")
    services.ticket_reply(ticket=vpn, actor=john, body="Please try the new client.")
    client.force_login(karen)

    def search(q: str) -> list[int]:
        return numbers(client.get(reverse("portal:tickets"), {"status": "all", "q": q}))

    assert search("printer") == [printer.number]
    assert search(str(vpn.number)) == [vpn.number]
    assert search(f"#{vpn.number}") == [vpn.number]
    assert search("floor 3") == [printer.number]
    assert search("new client") == [vpn.number]
    assert search("firewall") == []
    assert search("'; DROP TABLE tickets_ticket; --") == []


def test_my_tickets_pages_through_long_lists(client, karen) -> None:
    for n in range(23):
        ticket_open(karen, f"Ticket {n}")
    client.force_login(karen)
    first = client.get(reverse("portal:tickets"))
    second = client.get(reverse("portal:tickets"), {"page": 2})
    assert len(numbers(first)) == 20 and len(numbers(second)) == 3
    assert not set(numbers(first)) & set(numbers(second))
    assert "Page 1 of 2" in first.content.decode()
    assert len(numbers(client.get(reverse("portal:tickets"), {"page": "999"}))) == 3
    assert len(numbers(client.get(reverse("portal:tickets"), {"page": "x"}))) == 20


@pytest.mark.parametrize("count", [1, 30])
def test_my_tickets_costs_the_same_queries_however_many_tickets(
    client, karen, ken, count, django_assert_num_queries
) -> None:
    for n in range(count):
        ticket_open(karen, f"Ticket {n}", collaborators=[ken] if n % 2 else [])
    client.force_login(karen)
    # session, user, the tab counts, the page's count, the page
    with django_assert_num_queries(4):
        response = client.get(reverse("portal:tickets") + "?status=all&q=Ticket")
    assert response.status_code == 200


def test_visitors_are_sent_to_sign_in_and_agents_to_the_staff_panel(client, karen, john) -> None:
    ticket = ticket_open(karen)
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login") + "?next=")
    response = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))
    client.force_login(john)
    assert client.get(reverse("portal:tickets"))["Location"] == reverse("staff:home")
    assert client.get(reverse("portal:ticket", args=[ticket.number]))["Location"] == reverse(
        "staff:ticket", args=[ticket.number]
    )


# ---------------------------------------------------------------- a ticket's page


def test_the_ticket_page_shows_its_properties_and_the_public_thread_only(client, karen, john, jane) -> None:
    ticket = ticket_open(karen, "Entire mobile/online banking system is down", body="Nobody can sign in.")
    services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    services.ticket_add_note(ticket=ticket, actor=john, body="Internal: core banking DB is failing over.")
    services.ticket_reply(ticket=ticket, actor=john, body="We are on it.")
    client.force_login(karen)
    response = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("Entire mobile/online banking system is down", "Nobody can sign in.", "We are on it.", "John Doe"):
        assert shown in page
    assert "Support" in page and "Open" in page and f"#{ticket.number}" in page
    assert "core banking DB" not in page
    assert [e.kind for e in response.context["entries"]] == [EntryKind.MESSAGE, EntryKind.RESPONSE]
    for event_word in ("Response sent", "Internal note", "Message received"):
        assert event_word not in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_an_unassigned_ticket_says_so(client, karen) -> None:
    ticket = ticket_open(karen)
    client.force_login(karen)
    assert "Not assigned yet" in client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()


@pytest.mark.parametrize("entries", [1, 12])
def test_the_ticket_page_costs_the_same_queries_however_long_the_thread(
    client, karen, john, entries, django_assert_num_queries
) -> None:
    ticket = ticket_open(karen, uploads=[Upload("shot.png", PNG)])
    for n in range(entries):
        services.ticket_reply(ticket=ticket, actor=john, body=f"Reply {n}", uploads=[Upload(f"r{n}.png", PNG)])
        services.ticket_add_message(ticket=ticket, author=karen, body=f"Answer {n}")
    client.force_login(karen)
    # session, user, ticket, entries, their attachments
    with django_assert_num_queries(4):
        response = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert len(response.context["entries"]) == 1 + 2 * entries


def test_a_collaborators_ticket_page_costs_one_more_query_to_know_they_may_write(
    client, karen, ken, django_assert_num_queries
) -> None:
    ticket = ticket_open(karen, collaborators=[ken])
    client.force_login(ken)
    with django_assert_num_queries(5):
        response = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert "Send reply" in response.content.decode() and "My problem is solved" not in response.content.decode()


def test_another_users_ticket_is_a_404_whatever_the_number(client, karen, ken) -> None:
    kens = ticket_open(ken, "Excel not working")
    client.force_login(karen)
    for number in (kens.number, 12345678, 1, 9999999999999999999, kens.pk):
        for suffix in ("", "reply/", "close/", "rate/"):
            method = client.post if suffix else client.get
            response = method(f"/tickets/{number}/{suffix}", {"body": "hi", "rating": "5"})
            assert response.status_code == 404, (number, suffix)
            assert "Excel" not in response.content.decode()
    kens.refresh_from_db()
    assert kens.entries.count() == 1 and kens.state == TicketState.OPEN and kens.rated_at is None


def test_karen_replies_with_attachments(client, karen, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    client.force_login(karen)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:ticket_reply", args=[ticket.number]),
            {
                "body": "Here are the screenshots.",
                "attachments": [
                    SimpleUploadedFile("a.png", PNG, "image/png"),
                    SimpleUploadedFile("b.txt", b"error 42", "text/plain"),
                ],
            },
        )
    assert response.status_code == 302 and response["Location"] == reverse("portal:ticket", args=[ticket.number])
    entry = ticket.entries.last()
    assert entry.author == karen and sorted(a.filename for a in entry.attachments.all()) == ["a.png", "b.txt"]
    page = client.get(response["Location"]).content.decode()
    for attachment in entry.attachments.all():
        assert reverse("portal:attachment", args=[attachment.pk]) in page


def test_an_empty_or_refused_reply_is_named_beside_its_field_and_adds_nothing(client, karen) -> None:
    ticket = ticket_open(karen)
    client.force_login(karen)
    url = reverse("portal:ticket_reply", args=[ticket.number])
    empty = client.post(url, {"body": "  "})
    assert empty.status_code == 400 and empty.context["reply_form"].errors == {"body": ["This field is required."]}
    bad_file = client.post(
        url, {"body": "see file", "attachments": [SimpleUploadedFile("x.html", b"<script>", "text/html")]}
    )
    assert bad_file.status_code == 400
    assert bad_file.context["reply_form"].errors["attachments"] == ["x.html: this kind of file is not accepted."]
    assert ticket.entries.count() == 1


def test_a_reply_reopens_a_resolved_ticket_within_the_window(client, karen, john, settings) -> None:
    settings.TICKET_REOPEN_DAYS = 14
    with time_machine.travel(datetime(2026, 5, 4, 9, tzinfo=UTC), tick=False):
        ticket = ticket_open(karen)
        services.ticket_resolve(ticket=ticket, actor=john)
    client.force_login(karen)
    with time_machine.travel(datetime(2026, 5, 17, 9, tzinfo=UTC), tick=False):
        page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
        assert "Your reply reopens it." in page
        client.post(reverse("portal:ticket_reply", args=[ticket.number]), {"body": "It broke again."})
    ticket.refresh_from_db()
    assert ticket.state == TicketState.OPEN and ticket.reopened_at is not None


def test_past_the_reopen_window_the_page_says_so_and_a_reply_is_refused(client, karen, john, settings) -> None:
    settings.TICKET_REOPEN_DAYS = 14
    with time_machine.travel(datetime(2026, 5, 4, 9, tzinfo=UTC), tick=False):
        ticket = ticket_open(karen)
        services.ticket_close(ticket=ticket, actor=john)
    client.force_login(karen)
    with time_machine.travel(datetime(2026, 5, 19, 9, tzinfo=UTC), tick=False):
        page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
        assert "can no longer be reopened" in page and "Send reply" not in page
        assert reverse("portal:open") in page
        response = client.post(reverse("portal:ticket_reply", args=[ticket.number]), {"body": "Again!"})
    assert response.status_code == 409
    assert "is closed; open a new ticket" in response.content.decode()
    assert ticket.entries.count() == 1


def test_karen_closes_her_ticket_when_the_problem_is_solved(client, karen, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    client.force_login(karen)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:ticket_close", args=[ticket.number]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == TicketState.CLOSED
    assert ticket.events.filter(kind="status_changed", actor=karen).exists()
    page = client.get(response["Location"]).content.decode()
    assert "My problem is solved" not in page and "Your reply reopens it." in page
    again = client.post(reverse("portal:ticket_close", args=[ticket.number]))
    assert again.status_code == 409 and "already Closed" in again.content.decode()


def test_karen_rates_the_help_once_after_resolution(client, karen, john) -> None:
    ticket = ticket_open(karen)
    client.force_login(karen)
    url = reverse("portal:ticket_rate", args=[ticket.number])
    assert "Rate the help" not in client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    early = client.post(url, {"rating": "5"})
    assert early.status_code == 409 and "not resolved yet" in early.content.decode()
    services.ticket_resolve(ticket=ticket, actor=john)
    for bad in ("0", "6", "five", ""):
        response = client.post(url, {"rating": bad})
        assert response.status_code == 400
        assert response.context["rate_form"].errors["rating"] == ["Choose a rating from 1 to 5."]
    assert client.post(url, {"rating": "4", "comment": "Good, a bit slow."}).status_code == 302
    twice = client.post(url, {"rating": "1"})
    assert twice.status_code == 409 and "already been rated" in twice.content.decode()
    ticket.refresh_from_db()
    assert (ticket.satisfaction_rating, ticket.satisfaction_comment) == (4, "Good, a bit slow.")


def test_a_merged_ticket_points_to_the_ticket_it_went_into_and_takes_no_reply(client, karen, john) -> None:
    first = ticket_open(karen, "Printer jams")
    second = ticket_open(karen, "Printer still jams")
    services.ticket_merge(ticket=first, into=second, actor=john)
    client.force_login(karen)
    page = client.get(reverse("portal:ticket", args=[first.number])).content.decode()
    assert f"merged into ticket #{second.number}" in page
    assert reverse("portal:ticket", args=[second.number]) in page
    assert "Send reply" not in page and "My problem is solved" not in page


def test_dates_are_shown_in_the_users_time_zone(client, karen) -> None:
    karen.time_zone = "Asia/Tokyo"
    karen.save()
    with time_machine.travel(datetime(2026, 5, 4, 9, 30, tzinfo=UTC), tick=False):
        ticket = ticket_open(karen)
    client.force_login(karen)
    page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "4 May 2026, 18:30" in page


def test_a_stranger_registered_user_sees_no_one_elses_tickets(client, karen) -> None:
    ticket_open(karen, "Karen's secret")
    stranger = EndUserFactory(email="stranger@example.org")
    stranger.set_password("a-strong-password-1")
    stranger.save()
    client.force_login(stranger)
    response = client.get(reverse("portal:tickets") + "?status=all")
    assert numbers(response) == [] and "Karen's secret" not in response.content.decode()
    assert Ticket.objects.count() == 1

"""Tokens and accounts: what a ticket number, an address, a secret link and a reset link grant,
and what the sign-in, reset, register and status-check pages tell a stranger.

Every page that takes an address is asked twice, once with an address that has an account and
once with one that has none, and the two answers are compared byte for byte (less the CSRF
token and the address itself).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from notifications.models import Notification, NotificationKind
from tests.conftest import PASSWORD
from tests.factories import ticket_open
from tickets import services
from tickets.models import AccessLink, EntryKind, EventKind, HelpTopic, Ticket

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "plum-orchard-lantern-42"
LINK = re.compile(r"https?://[^\s\"<>]+/t/([A-Za-z0-9_-]+)/")
PORTAL_RESET = re.compile(r"(https?://[^/\s\"<>]+)(/password/reset/[^\s\"<>/]+/[^\s\"<>/]+/)")
STAFF_RESET = re.compile(r"(https?://[^/\s\"<>]+)(/staff/password-reset/[^\s\"<>/]+/[^\s\"<>/]+/)")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def mails_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in " ".join(m.to)]


def status_check(client: Client, capture, email: str, number: object):
    with capture(execute=True):
        return client.post(reverse("portal:status"), {"email": email, "number": str(number)})


def same_page(first, second, *addresses: str) -> bool:
    """Whether two answers are the same for a visitor: status, redirect and body, less the
    CSRF token (new on every page) and the address the visitor typed (echoed in the form)."""

    def normal(response) -> tuple[int, str, str]:
        body = CSRF.sub("", response.content.decode())
        for address in addresses:
            body = body.replace(address, "ADDRESS")
        return response.status_code, response.get("Location", ""), body

    return normal(first) == normal(second)


# ---------------------------------------------------------------- a number and an address


def test_a_ticket_number_and_the_requesters_address_grant_nothing_by_themselves(
    client, karen, ken, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_open(karen, "Payroll export is empty", "The March file has no rows.")
    mail.outbox.clear()
    answer = status_check(client, django_capture_on_commit_callbacks, "karen@example.com", ticket.number)
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:status_sent")
    sent_page = client.get(answer["Location"]).content.decode()
    assert "Payroll" not in sent_page and "/t/" not in sent_page
    # The only thing the pair did was mail Karen; the asker is not signed in and reaches nothing.
    assert [m.to for m in mail.outbox] == [["Karen Doe <karen@example.com>"]]
    assert "_auth_user_id" not in client.session
    page = client.get(reverse("portal:ticket", args=[ticket.number]))
    assert page.status_code == 302 and page["Location"].startswith(reverse("portal:login"))
    assert client.post(reverse("portal:ticket_reply", args=[ticket.number]), {"body": "hi"}).status_code == 302
    assert APIClient().get(f"/api/v1/tickets/{ticket.number}/").status_code == 401
    # Another signed-in end user who knows both gets a 404, as for a number that does not exist.
    client.force_login(ken)
    assert client.get(reverse("portal:ticket", args=[ticket.number])).status_code == 404
    assert client.get(reverse("portal:ticket", args=[ticket.number + 1])).status_code == 404
    assert ticket.entries.count() == 1


# ---------------------------------------------------------------- secret links


def test_secret_links_carry_at_least_128_random_bits_and_only_their_hash_is_stored(
    client, karen, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_open(karen)
    mail.outbox.clear()
    status_check(client, django_capture_on_commit_callbacks, "karen@example.com", ticket.number)
    token = LINK.search(mail.outbox[-1].body).group(1)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    link = AccessLink.objects.get(ticket=ticket, recipient=karen, revoked_at__isnull=True)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # The token itself is in no column of any row: neither the link's nor the outbox's.
    for table in (AccessLink._meta.db_table, Notification._meta.db_table):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table}")
            rows = cursor.fetchall()
        assert rows and not any(token in str(value) for row in rows for value in row)
    assert client.get(f"/t/{token}/").status_code == 200


def test_the_outbox_row_waiting_to_mail_a_link_holds_no_secret(karen) -> None:
    ticket = ticket_open(karen)
    services.access_link_send(ticket=ticket, recipient=karen)  # not committed: the mail is not sent yet
    waiting = Notification.objects.get(kind=NotificationKind.STATUS_LINK)
    assert waiting.state == "pending"
    assert "/t/" not in str(waiting.context)
    assert not AccessLink.objects.filter(ticket=ticket, created_at__gt=ticket.created_at).exists()


def test_secret_links_are_all_different(karen) -> None:
    ticket = ticket_open(karen)
    tokens = {services.access_link_issue(ticket=ticket, recipient=karen, revoke_older=False) for _ in range(50)}
    assert len(tokens) == 50


def test_a_link_is_bound_to_its_recipient(client, karen, ken) -> None:
    ticket = ticket_open(karen, collaborators=[ken])
    kens = services.access_link_issue(ticket=ticket, recipient=ken)
    client.post(f"/t/{kens}/reply/", {"body": "Ken here: same on my desk."})
    entry = ticket.entries.order_by("-id").first()
    assert entry.kind == EntryKind.MESSAGE and entry.author == ken
    # Ken's link does not act for Karen: only the requester may close.
    assert client.post(f"/t/{kens}/close/").status_code == 403
    # It reaches this ticket alone: another of Karen's tickets is not behind it.
    other = ticket_open(karen, "Second problem")
    assert client.get(f"/t/{kens}/").context["ticket"].pk == ticket.pk
    assert other.number not in [t.number for t in Ticket.objects.filter(pk=ticket.pk)]


def test_a_removed_collaborators_link_stops_working(client, karen, ken, john) -> None:
    ticket = ticket_open(karen, collaborators=[ken])
    kens = services.access_link_issue(ticket=ticket, recipient=ken)
    karens = services.access_link_issue(ticket=ticket, recipient=karen)
    assert client.get(f"/t/{kens}/").status_code == 200
    services.ticket_remove_collaborator(ticket=ticket, actor=john, user=ken)
    assert client.get(f"/t/{kens}/").status_code == 404
    assert client.post(f"/t/{kens}/reply/", {"body": "still here?"}).status_code == 404
    assert client.get(f"/t/{karens}/").status_code == 200
    assert ticket.entries.count() == 1


def test_a_link_expires_and_a_new_one_revokes_the_old(client, karen, settings) -> None:
    ticket = ticket_open(karen)
    first = services.access_link_issue(ticket=ticket, recipient=karen)
    second = services.access_link_issue(ticket=ticket, recipient=karen)
    assert client.get(f"/t/{first}/").status_code == 404
    assert client.get(f"/t/{second}/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=settings.TICKET_LINK_DAYS, seconds=1)):
        assert client.get(f"/t/{second}/").status_code == 404


# ---------------------------------------------------------------- password reset


def portal_reset_link(client: Client, capture, email: str, **extra: str) -> tuple[str, str]:
    with capture(execute=True):
        client.post(reverse("portal:password_reset"), {"email": email}, **extra)
    origin, path = PORTAL_RESET.search(mails_to(email)[-1].body).groups()
    return origin, path


def staff_reset_link(client: Client, email: str, **extra: str) -> tuple[str, str]:
    client.post(reverse("staff:password_reset"), {"email": email}, **extra)
    origin, path = STAFF_RESET.search(mails_to(email)[-1].body).groups()
    return origin, path


def choose_password(client: Client, path: str, password: str = NEW_PASSWORD):
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"], "the link should work"
    return client.post(form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


@pytest.mark.parametrize("side", ["portal", "staff"])
def test_a_reset_link_ignores_a_forged_host_header(
    client, karen, john, settings, side, django_capture_on_commit_callbacks
) -> None:
    # The worst case: a server that accepts any Host (a wildcard, or a proxy passing it on).
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://helpdesk.example.com"
    forged = {"HTTP_HOST": "evil.example", "HTTP_X_FORWARDED_HOST": "evil.example"}
    if side == "portal":
        origin, _ = portal_reset_link(client, django_capture_on_commit_callbacks, karen.email, **forged)
        message = mails_to(karen.email)[-1]
    else:
        origin, _ = staff_reset_link(client, john.email, **forged)
        message = mails_to(john.email)[-1]
    assert origin == "https://helpdesk.example.com"
    assert "evil.example" not in message.body + str(message.alternatives)


def test_a_portal_reset_link_works_once_and_ends_karens_other_sessions(
    karen, django_capture_on_commit_callbacks
) -> None:
    laptop, phone = Client(), Client()
    assert laptop.post(reverse("portal:login"), {"username": karen.email, "password": PASSWORD}).status_code == 302
    assert laptop.get(reverse("portal:tickets")).status_code == 200
    _, path = portal_reset_link(phone, django_capture_on_commit_callbacks, karen.email)
    assert choose_password(phone, path)["Location"] == reverse("portal:tickets")
    assert phone.get(reverse("portal:tickets")).status_code == 200  # the session that reset stays in
    ended = laptop.get(reverse("portal:tickets"))
    assert ended.status_code == 302 and ended["Location"].startswith(reverse("portal:login"))
    assert not Client().get(path, follow=True).context["validlink"]  # used once
    karen.refresh_from_db()
    assert karen.check_password(NEW_PASSWORD)


def test_a_staff_reset_link_works_once_and_ends_johns_other_sessions(john) -> None:
    desk, home = Client(), Client()
    assert desk.post(reverse("staff:login"), {"username": john.email, "password": PASSWORD}).status_code == 302
    assert desk.get(reverse("staff:home")).status_code == 200
    _, path = staff_reset_link(home, john.email)
    assert choose_password(home, path)["Location"] == reverse("staff:password_reset_complete")
    ended = desk.get(reverse("staff:home"))
    assert ended.status_code == 302 and "login" in ended["Location"]
    assert not Client().get(path, follow=True).context["validlink"]
    assert Client().post(reverse("staff:login"), {"username": john.email, "password": NEW_PASSWORD}).status_code == 302


@pytest.mark.parametrize("side", ["portal", "staff"])
def test_a_reset_link_is_short_lived(client, karen, john, settings, side, django_capture_on_commit_callbacks) -> None:
    assert settings.PASSWORD_RESET_TIMEOUT <= 3600  # an hour at most
    if side == "portal":
        _, path = portal_reset_link(client, django_capture_on_commit_callbacks, karen.email)
    else:
        _, path = staff_reset_link(client, john.email)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)):
        assert not Client().get(path, follow=True).context["validlink"]
    assert Client().get(path, follow=True).context["validlink"]


# ---------------------------------------------------------------- no account enumeration


def test_portal_sign_in_says_the_same_for_an_account_and_for_no_account(karen) -> None:
    known = Client().post(reverse("portal:login"), {"username": karen.email, "password": "wrong-guess-1"})
    unknown = Client().post(reverse("portal:login"), {"username": "nobody@example.com", "password": "wrong-guess-1"})
    assert known.status_code == 200
    assert same_page(known, unknown, karen.email, "nobody@example.com")


def test_staff_sign_in_says_the_same_for_an_agent_an_end_user_and_no_account(john, karen) -> None:
    answers = {
        address: Client().post(reverse("staff:login"), {"username": address, "password": "wrong-guess-1"})
        for address in (john.email, "nobody@example.com")
    }
    # An end user's right password is refused with the very same page.
    answers[karen.email] = Client().post(reverse("staff:login"), {"username": karen.email, "password": PASSWORD})
    first, *others = answers.values()
    assert first.status_code == 200
    assert all(same_page(first, other, *answers) for other in others)


def test_api_token_sign_in_says_the_same_for_an_account_and_for_no_account(karen) -> None:
    url = "/api/v1/auth/token/"
    known = APIClient().post(url, {"email": karen.email, "password": "wrong"}, format="json")
    unknown = APIClient().post(url, {"email": "nobody@example.com", "password": "wrong"}, format="json")
    assert known.status_code == unknown.status_code == 400 and known.content == unknown.content


@pytest.mark.parametrize(
    ("page", "field"),
    [("portal:password_reset", "email"), ("staff:password_reset", "email"), ("portal:register", "email")],
)
def test_reset_and_register_say_the_same_whoever_the_address_is(
    karen, john, page, field, django_capture_on_commit_callbacks
) -> None:
    answers = []
    for address in (karen.email, john.email, "nobody@example.com"):
        data = {field: address, "name": "Someone"}
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(reverse(page), data)
        answers.append(response)
        assert response.status_code == 302
    assert len({(r.status_code, r["Location"]) for r in answers}) == 1
    landing = [Client().get(r["Location"]).content for r in answers]
    assert len(set(landing)) == 1


def test_the_status_check_says_the_same_for_every_pair(karen, ken, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(karen)
    pairs = [
        (karen.email, ticket.number),  # the real pair
        (ken.email, ticket.number),  # an account, not on the ticket
        ("nobody@example.com", ticket.number),  # no account
        (karen.email, ticket.number + 1),  # no such ticket
    ]
    answers = [status_check(Client(), django_capture_on_commit_callbacks, *pair) for pair in pairs]
    assert {(r.status_code, r["Location"]) for r in answers} == {(302, reverse("portal:status_sent"))}
    assert len(mail.outbox) == 1  # and only the real pair mailed anyone: Karen


# ---------------------------------------------------------------- throttling


def portal_sign_in(client: Client, password: str):
    return client.post(reverse("portal:login"), {"username": "karen@example.com", "password": password})


def staff_sign_in(client: Client, password: str):
    return client.post(reverse("staff:login"), {"username": "john@example.com", "password": password})


def api_sign_in(client: Client, password: str):
    return APIClient().post("/api/v1/auth/token/", {"email": "karen@example.com", "password": password}, format="json")


@pytest.mark.parametrize("sign_in", [portal_sign_in, staff_sign_in, api_sign_in], ids=["portal", "staff", "api"])
def test_password_guessing_is_stopped_and_the_right_password_is_then_refused_too(
    karen, john, settings, sign_in
) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "logins_per_address": "10/15m"}
    settings.API_THROTTLE_LOGIN = "10/minute"
    client = Client()
    codes = [sign_in(client, f"guess-{i}").status_code for i in range(12)]
    assert 429 in codes and codes.index(429) <= 10
    assert sign_in(client, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_staff_reset_requests_are_throttled(john, settings) -> None:
    settings.THROTTLES = {**settings.THROTTLES, "links_per_address": "3/h"}
    codes = [Client().post(reverse("staff:password_reset"), {"email": john.email}).status_code for _ in range(5)]
    assert codes[:3] == [302, 302, 302] and codes[3:] == [429, 429]
    assert len(mails_to(john.email)) == 3


# ---------------------------------------------------------------- a guest using someone's address


def open_as_guest(client: Client, email: str, subject: str = "Please reset the vault PIN"):
    topic = HelpTopic.objects.get(name="Report a Problem")
    return client.post(
        reverse("portal:open"),
        {"help_topic": topic.pk, "name": "Mallory", "email": email, "subject": subject, "body": "Urgent, do it now."},
    )


def test_a_guest_cannot_file_a_ticket_under_an_agents_address(client, john, report_a_problem) -> None:
    response = open_as_guest(client, "John@Example.com")
    assert response.status_code == 400
    assert "Sign in to open a ticket with this address." in response.content.decode()
    assert not Ticket.objects.exists()
    assert not Ticket.objects.filter(requester=john).exists()
    assert "_auth_user_id" not in client.session


def test_mail_from_an_agents_address_that_answers_no_ticket_is_held(john, admin) -> None:
    from inbound.services import email_ingest, inbound_message_open_ticket

    raw = (
        b"From: John Doe <john@example.com>\r\nTo: help@example.com\r\nSubject: Wire 10k to this account\r\n"
        b"Message-ID: <forged-1@evil.example>\r\n\r\nPlease pay it today.\r\n"
    )
    result = email_ingest(raw=raw)
    assert result.outcome == "quarantined" and not Ticket.objects.exists()
    # An admin who knows it is genuine opens the ticket from it.
    opened = inbound_message_open_ticket(message=result.message, actor=admin)
    assert opened.outcome == "created" and opened.ticket.requester == john


def test_a_guest_filing_under_karens_address_gets_nothing_of_her_account(
    client, karen, report_a_problem, django_capture_on_commit_callbacks
) -> None:
    mine = ticket_open(karen, "My own private matter", "Salary details inside.")
    with django_capture_on_commit_callbacks(execute=True):
        response = open_as_guest(client, "karen@example.com", "Filed by someone else")
    assert response.status_code == 302
    filed = Ticket.objects.get(subject="Filed by someone else")
    # The ticket is Karen's, told to Karen; the guest is not signed in as her and sees nothing of hers.
    assert filed.requester == karen
    agents = {u.email for u in User.objects.filter(kind__in=[User.Kind.AGENT, User.Kind.ADMIN])}
    end_user_mail = [m for m in mail.outbox if not any(a in m.to[0] for a in agents)]
    assert [m.to for m in end_user_mail] == [["Karen Doe <karen@example.com>"]]
    assert "_auth_user_id" not in client.session
    done = client.get(reverse("portal:open_done")).content.decode()
    assert "/t/" not in done and reverse("portal:ticket", args=[filed.number]) not in done
    assert "My own private matter" not in done and "Karen Doe" not in done
    for page in (reverse("portal:tickets"), reverse("portal:ticket", args=[mine.number])):
        assert client.get(page).status_code == 302
    # The event says the ticket came in through the web form, not that Karen signed in to write it.
    created = filed.events.get(kind=EventKind.CREATED)
    assert created.data["opened_by_agent"] is False and created.data["source"] == "web"
    assert User.objects.filter(email="karen@example.com").count() == 1

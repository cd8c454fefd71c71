"""The mail admin pages under /staff/admin/mail/: admins only, fixed query counts, clear errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbound.models import InboundMessage, Mailbox
from inbound.services import email_ingest
from notifications.models import EmailTemplate, Notification, NotificationSetting, NotificationState
from tests import mailkit
from tests.conftest import PASSWORD
from tests.factories import ticket_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_admin(client, admin):
    client.force_login(admin)
    return client


def held_messages(karen, count: int) -> list[InboundMessage]:
    ticket = ticket_open(karen)
    return [
        email_ingest(raw=mailkit.plain(f"stranger{i}@example.org", f"[#{ticket.number}] hi", "let me in")).message
        for i in range(count)
    ]


@pytest.mark.parametrize(
    "name", ["mail:home", "mail:messages", "mail:outbox", "mail:settings", "mail:templates", "mail:mailbox_new"]
)
def test_only_admins_reach_the_mail_pages(client, john, karen, name) -> None:
    url = reverse(name)
    assert client.get(url).status_code == 302  # to the staff sign-in
    client.force_login(john)
    assert client.get(url).status_code == 404
    client.force_login(karen)
    assert client.get(url).status_code == 404


def test_the_admin_home_links_to_the_mail_pages(as_admin) -> None:
    assert reverse("mail:home") in as_admin.get(reverse("adminpanel:home")).content.decode()


def test_the_overview_shows_each_mailboxes_health_in_a_fixed_number_of_queries(
    as_admin, support, django_assert_num_queries
) -> None:
    def page() -> str:
        with django_assert_num_queries(4):
            return as_admin.get(reverse("mail:home")).content.decode()

    Mailbox.objects.create(name="Support inbox", host="h", username="u", password="p", department=support, backlog=7)
    page()
    for i in range(5):
        Mailbox.objects.create(
            name=f"Box {i}", host="h", username="u", password="p", department=support,
            consecutive_failures=2, last_error="LOGIN failed: bad credentials",
        )  # fmt: skip
    html = page()
    assert "Support inbox" in html and "LOGIN failed" in html and ">7<" in html


def test_held_mail_is_listed_in_a_fixed_number_of_queries(as_admin, karen, django_assert_num_queries) -> None:
    held_messages(karen, 1)
    with django_assert_num_queries(2):
        as_admin.get(reverse("mail:messages"))
    held_messages(karen, 6)
    with django_assert_num_queries(2):
        html = as_admin.get(reverse("mail:messages")).content.decode()
    assert html.count("<td>Quarantined</td>") == 7


def test_a_held_message_shows_its_headers_escaped_and_can_be_opened_as_a_new_ticket(
    as_admin, karen, django_assert_num_queries
) -> None:
    [record] = held_messages(karen, 1)
    InboundMessage.objects.filter(pk=record.pk).update(subject="<script>alert(1)</script>")
    with django_assert_num_queries(2):
        html = as_admin.get(reverse("mail:message", args=[record.pk])).content.decode()
    assert "<script>alert(1)" not in html and "stranger0@example.org" in html

    response = as_admin.post(reverse("mail:message_action", args=[record.pk, "open"]))
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.outcome == "created" and record.ticket.requester.email == "stranger0@example.org"


def test_a_rejected_message_can_be_discarded(as_admin, seed) -> None:
    record = email_ingest(raw=b"not mail").message
    as_admin.post(reverse("mail:message_action", args=[record.pk, "discard"]))
    record.refresh_from_db()
    assert record.outcome == "discarded"


def test_failed_notifications_are_listed_and_retried(as_admin, karen, django_assert_num_queries) -> None:
    ticket_open(karen)
    Notification.objects.update(state=NotificationState.FAILED, last_error="SMTPRecipientsRefused: 550")
    with django_assert_num_queries(2):
        html = as_admin.get(reverse("mail:outbox")).content.decode()
    assert "550" in html
    row = Notification.objects.get(kind="auto_response")
    as_admin.post(reverse("mail:outbox_retry", args=[row.pk]))
    row.refresh_from_db()
    assert row.state == NotificationState.PENDING and row.attempts == 0


def test_a_mailbox_is_added_with_its_password_kept_out_of_the_page(as_admin, support) -> None:
    data = {
        "name": "Support inbox", "host": "imap.example.com", "port": 993, "security": "ssl", "username": "desk",
        "password": "s3cret-pass", "folder": "INBOX", "department": support.pk, "after_fetch": "seen", "is_active": "on",
    }  # fmt: skip
    assert as_admin.post(reverse("mail:mailbox_new"), data).status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.password == "s3cret-pass"
    page = as_admin.get(reverse("mail:mailbox", args=[mailbox.pk])).content.decode()
    assert "s3cret-pass" not in page
    # Saving again without a password keeps it.
    as_admin.post(reverse("mail:mailbox", args=[mailbox.pk]), {**data, "password": "", "port": 143})
    mailbox.refresh_from_db()
    assert mailbox.password == "s3cret-pass" and mailbox.port == 143


def test_moving_fetched_mail_needs_a_folder_said_beside_the_field(as_admin, support) -> None:
    data = {
        "name": "Box", "host": "h", "port": 993, "security": "ssl", "username": "u", "password": "p",
        "folder": "INBOX", "department": support.pk, "after_fetch": "move", "move_to_folder": "",
    }  # fmt: skip
    response = as_admin.post(reverse("mail:mailbox_new"), data)
    assert response.status_code == 200
    assert "Name the folder fetched mail is moved to." in response.content.decode()
    assert not Mailbox.objects.exists()


def test_notices_are_switched_off_per_department_from_the_grid(as_admin, support, online_banking) -> None:
    page = as_admin.get(reverse("mail:settings")).content.decode()
    names = [n for n in ("auto_response:all", f"auto_response:{support.pk}") if n in page]
    assert len(names) == 2
    # Everything on except the auto-response of Online Banking.
    from notifications.models import NotificationKind

    on = {f"{k}:{d}": "on" for k in NotificationKind.values for d in ("all", support.pk, online_banking.pk)}
    on.pop(f"auto_response:{online_banking.pk}")
    as_admin.post(reverse("mail:settings"), on)
    assert list(NotificationSetting.objects.values_list("kind", "department", "enabled")) == [
        ("auto_response", online_banking.pk, False)
    ]


def test_a_template_is_previewed_then_saved(as_admin, seed) -> None:
    url = reverse("mail:template", args=["auto_response"])
    page = as_admin.get(url).content.decode()
    assert "ticket.number" in page  # the default's source, ready to edit
    data = {
        "subject": "Got it [#{{ ticket.number }}]",
        "text": "Hello {{ recipient.name }}",
        "html": "<p>Hi</p><script>x()</script>",
    }
    preview = as_admin.post(url, {**data, "preview": "1"}).content.decode()
    assert "Got it [#48151623]" in preview and "Hello Karen Doe" in preview
    assert "<script>x()" not in preview
    assert not EmailTemplate.objects.exists()

    as_admin.post(url, {**data, "save": "1"})
    assert EmailTemplate.objects.get(kind="auto_response").subject == "Got it [#{{ ticket.number }}]"


def test_a_template_error_is_shown_beside_its_field_and_nothing_is_saved(as_admin, seed) -> None:
    url = reverse("mail:template", args=["response"])
    response = as_admin.post(url, {"subject": "ok", "text": "{% if %}", "html": "<p>x</p>", "save": "1"})
    assert response.status_code == 200 and "Template error" in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_an_unknown_template_is_a_404(as_admin, seed) -> None:
    assert as_admin.get(reverse("mail:template", args=["nope"])).status_code == 404


def test_the_staff_sign_in_still_works_with_the_seed_password(client, admin) -> None:
    assert client.login(email="admin@example.com", password=PASSWORD)

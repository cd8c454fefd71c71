"""The outbox: who hears of what, once; switches and templates; headers; retries and failures."""

from __future__ import annotations

import contextlib
import smtplib
from collections import Counter
from datetime import timedelta
from email.utils import parseaddr

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from accounts.models import User
from notifications.models import EmailTemplate, Notification, NotificationKind, NotificationState
from notifications.planner import notification_plan_direct
from notifications.render import email_render, email_sample_context
from notifications.services import (
    MAX_ATTEMPTS,
    email_template_save,
    message_id_ticket_number,
    notification_retry,
    notification_send,
    notification_setting_set,
    notifications_requeue,
)
from notifications.tasks import resend_pending
from sla.services import sla_sweep
from tests.factories import ticket_open
from tickets import services
from tickets.exceptions import InvalidInput
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
SECRET = "NOTE-SECRET-7f3a"


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def inbox(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if any(address in to for to in m.to)]


def kinds_to(address: str) -> Counter[str]:
    return Counter(Notification.objects.filter(recipient_email=address).values_list("kind", flat=True))


class FailingBackend(BaseEmailBackend):
    """An SMTP server that answers with `error` (set by the test)."""

    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        raise FailingBackend.error


# ---------------------------------------------------------------- the right people, once


def test_the_seed_story_notifies_each_person_of_what_concerns_them_once(
    karen, john, jane, admin, support, online_banking, priorities, plans, delivered
) -> None:
    with delivered():
        ticket = ticket_open(karen, subject="Entire mobile/online banking system is down", department=support)
    assert kinds_to("karen@example.com") == {"auto_response": 1}
    assert kinds_to("john@example.com") == {"new_ticket_alert": 1}
    assert kinds_to("admin@example.com") == {"new_ticket_alert": 1}
    assert kinds_to("jane@example.com") == {}

    with delivered():
        services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["Emergency"])
        services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=plans["Sev-A"])
        services.ticket_transfer(ticket=ticket, actor=john, department=online_banking, note=f"For you. {SECRET}")
        # John's role is in Support alone: the department's manager assigns Jane.
        services.ticket_assign(ticket=ticket, actor=admin, assignee=jane)
    assert kinds_to("jane@example.com") == {"transfer_alert": 1, "assigned_alert": 1}
    # The transfer note reaches the department's manager; John caused it and hears nothing.
    assert kinds_to("admin@example.com") == {"new_ticket_alert": 1, "note_alert": 1, "transfer_alert": 1}
    assert kinds_to("john@example.com") == {"new_ticket_alert": 1}

    with delivered():
        services.ticket_reply(ticket=ticket, actor=jane, body="We are restarting the service.")
        services.ticket_add_note(ticket=ticket, actor=jane, body=f"John: it was the switch. {SECRET}")
    assert kinds_to("karen@example.com") == {"auto_response": 1, "response": 1}
    assert kinds_to("admin@example.com")["note_alert"] == 2

    with delivered():
        services.ticket_add_message(ticket=ticket, author=karen, body="Works again, thanks!")
        services.ticket_resolve(ticket=ticket, actor=jane)
    assert kinds_to("jane@example.com")["new_message_alert"] == 1
    assert kinds_to("karen@example.com") == {"auto_response": 1, "response": 1, "resolved_notice": 1}

    # Each row became exactly one message, and Karen's never quote a note.
    assert Notification.objects.exclude(state=NotificationState.SENT).count() == 0
    assert len(mail.outbox) == Notification.objects.count()
    assert all(SECRET not in m.body and SECRET not in m.alternatives[0][0] for m in inbox("karen@example.com"))
    assert any(SECRET in m.body for m in inbox("admin@example.com"))


def test_an_overdue_ticket_alerts_the_assignee_and_the_manager_once(karen, john, admin, delivered) -> None:
    ticket = ticket_open(karen)
    services.ticket_assign(ticket=ticket, actor=john, assignee=john)
    with time_machine.travel(timezone.now() + timedelta(days=5)), delivered():
        sla_sweep()
        sla_sweep()
    assert Notification.objects.filter(ticket=ticket, kind="overdue_alert").count() == 2
    assert {m.to[0].split("<")[-1].rstrip(">") for m in mail.outbox if m.subject.startswith("Overdue")} == {
        "john@example.com",
        "admin@example.com",
    }


def test_a_status_link_asked_for_is_sent_to_that_person(karen, delivered) -> None:
    ticket = ticket_open(karen)
    with delivered():
        notification_plan_direct(
            kind=NotificationKind.STATUS_LINK,
            recipient=karen,
            ticket_id=ticket.pk,
            context={"link_url": "https://x/t/abc/"},
        )
    assert "https://x/t/abc/" in inbox("karen@example.com")[-1].body


# ---------------------------------------------------------------- switches


def test_a_notice_switched_off_globally_is_not_planned_anywhere(karen, admin, online_banking) -> None:
    notification_setting_set(actor=admin, kind="auto_response", department=None, enabled=False)
    ticket_open(karen)
    ticket_open(karen, department=online_banking)
    assert not Notification.objects.filter(kind="auto_response").exists()


def test_a_notice_switched_off_for_one_department_still_goes_out_for_the_others(
    karen, admin, support, online_banking
) -> None:
    notification_setting_set(actor=admin, kind="auto_response", department=online_banking, enabled=False)
    ticket_open(karen, department=support)
    ticket_open(karen, department=online_banking)
    assert list(
        Notification.objects.filter(kind="auto_response").values_list("ticket__department__name", flat=True)
    ) == ["Support"]


def test_the_global_switch_wins_over_a_department_switched_on(karen, admin, support) -> None:
    notification_setting_set(actor=admin, kind="new_ticket_alert", department=support, enabled=True)
    notification_setting_set(actor=admin, kind="new_ticket_alert", department=None, enabled=False)
    ticket_open(karen)
    assert not Notification.objects.filter(kind="new_ticket_alert").exists()


# ---------------------------------------------------------------- templates


def test_an_admins_template_is_used_for_the_mail(karen, admin, delivered) -> None:
    email_template_save(
        actor=admin,
        kind="auto_response",
        subject="We got it [#{{ ticket.number }}] {{ ticket.subject }}",
        text="Hi {{ recipient.get_short_name }}, number {{ ticket.number }}.",
        html="<p>Hi {{ recipient.get_short_name }}</p>",
    )
    with delivered():
        ticket = ticket_open(karen, subject="Q&A <site> down")
    sent = inbox("karen@example.com")[0]
    assert sent.subject == f"We got it [#{ticket.number}] Q&A <site> down"
    assert sent.body == f"Hi Karen, number {ticket.number}."
    assert sent.alternatives[0][0] == "<p>Hi Karen</p>"


def test_an_edited_subject_without_the_ticket_number_gets_it_back(karen, admin, delivered) -> None:
    email_template_save(actor=admin, kind="auto_response", subject="Thanks!", text="x", html="<p>x</p>")
    with delivered():
        ticket = ticket_open(karen)
    assert inbox("karen@example.com")[0].subject == f"Thanks! [#{ticket.number}]"


def test_a_template_that_does_not_compile_is_refused_naming_the_part(admin) -> None:
    with pytest.raises(InvalidInput) as refused:
        email_template_save(actor=admin, kind="response", subject="ok", text="{% if %}", html="<p>x</p>")
    assert refused.value.field == "text"
    assert not EmailTemplate.objects.exists()


def test_a_stored_template_that_fails_at_render_time_falls_back_to_the_files(karen, delivered) -> None:
    EmailTemplate.objects.create(kind="auto_response", subject="{% bad_tag %}", text="x", html="y")
    with delivered():
        ticket = ticket_open(karen)
    assert inbox("karen@example.com")[0].subject == f"[#{ticket.number}] {ticket.subject}"


def test_every_kind_renders_a_preview_from_made_up_values() -> None:
    for kind in NotificationKind.values:
        rendered = email_render(kind, email_sample_context(kind))
        assert rendered.subject and rendered.text.strip() and "<" in rendered.html


# ---------------------------------------------------------------- what a requester's mail never holds


@pytest.mark.parametrize("kind", ["auto_response", "response", "resolved_notice", "status_link"])
def test_no_mail_to_a_requester_contains_an_internal_note_even_if_a_template_asks(kind, karen, john, admin) -> None:
    ticket = ticket_open(karen)
    note = services.ticket_add_note(ticket=ticket, actor=john, body=f"Internal: {SECRET}")
    # An admin's template that quotes the entry of whatever event it is given:
    email_template_save(
        actor=admin,
        kind=kind,
        subject="[#{{ ticket.number }}] {{ entry.body }}",
        text="{{ entry.body }} {% for e in ticket.entries.all %}{% endfor %}",
        html="<p>{{ entry.body }}</p>",
    )
    event = note.events.get()
    row = Notification.objects.create(
        kind=kind, ticket=ticket, event=event, recipient=karen, recipient_email=karen.email
    )
    mail.outbox.clear()
    assert notification_send(notification_id=row.pk)
    sent = mail.outbox[0]
    assert SECRET not in sent.subject + sent.body + sent.alternatives[0][0]


# ---------------------------------------------------------------- headers


def test_each_message_carries_a_recognisable_id_the_number_and_the_thread(karen, john, delivered) -> None:
    from inbound.services import email_ingest
    from tests import mailkit

    with delivered():
        ticket = email_ingest(raw=mailkit.plain("karen@example.com", "VPN down", "Since 9am")).ticket
        services.ticket_reply(ticket=ticket, actor=john, body="Try now.")
    auto, response = inbox("karen@example.com")
    original_id = ticket.entries.first().message_id
    for sent in (auto, response):
        headers = sent.message()
        assert message_id_ticket_number(headers["Message-ID"]) == ticket.number
        assert f"[#{ticket.number}]" in headers["Subject"]
        assert original_id in headers["References"]
    assert auto.message()["Auto-Submitted"] == "auto-generated"
    assert response.message()["Auto-Submitted"] is None
    # The response answers the latest of the conversation Karen saw: our auto-response.
    assert response.message()["In-Reply-To"] == auto.message()["Message-ID"]


def test_names_and_subjects_cannot_inject_headers(karen, john, support, delivered) -> None:
    User.objects.filter(pk=karen.pk).update(name="Karen\r\nBcc: leak@evil.example")
    support.name = "Support\nBcc: leak2@evil.example"
    support.email_address = "support@example.com"
    support.save()
    EmailTemplate.objects.create(
        kind="auto_response", subject="Hi\r\nBcc: leak3@evil.example [#{{ ticket.number }}]", text="x", html="y"
    )
    karen.refresh_from_db()
    with delivered():
        ticket_open(karen, subject="Line one\r\nBcc: leak4@evil.example")
    assert mail.outbox
    for sent in mail.outbox:
        headers = sent.message()
        assert headers["Bcc"] is None and sent.bcc == [] and len(sent.recipients()) == 1
        assert [parseaddr(r)[1] for r in sent.recipients()] in (
            ["karen@example.com"],
            ["john@example.com"],
            ["admin@example.com"],
        )
        bad = [(k, v) for k, v in headers.items() if "\n" in str(v) or "\r" in str(v)]
        assert not bad, bad


# ---------------------------------------------------------------- retries and failures


def test_an_smtp_error_leaves_the_row_pending_with_a_backoff(karen, settings, delivered) -> None:
    settings.EMAIL_BACKEND = "tests.test_notifications_outbox.FailingBackend"
    FailingBackend.error = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
    with delivered():
        ticket_open(karen)
    row = Notification.objects.get(kind="auto_response")
    assert row.state == NotificationState.PENDING and row.attempts == 1
    assert "SMTPServerDisconnected" in row.last_error
    assert timedelta(seconds=25) < row.next_attempt_at - timezone.now() <= timedelta(seconds=30)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert notification_send(notification_id=row.pk)
    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.last_error == ""


def test_a_row_failing_every_time_ends_failed_after_the_last_attempt(karen, settings) -> None:
    settings.EMAIL_BACKEND = "tests.test_notifications_outbox.FailingBackend"
    FailingBackend.error = smtplib.SMTPServerDisconnected("gone")
    ticket_open(karen)
    row = Notification.objects.get(kind="auto_response")
    moment = timezone.now()
    for _ in range(MAX_ATTEMPTS):
        moment += timedelta(hours=2)
        with contextlib.suppress(smtplib.SMTPException):
            notification_send(notification_id=row.pk, now=moment)
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED and row.attempts == MAX_ATTEMPTS


def test_a_permanent_refusal_fails_at_once(karen, settings) -> None:
    settings.EMAIL_BACKEND = "tests.test_notifications_outbox.FailingBackend"
    FailingBackend.error = smtplib.SMTPRecipientsRefused({"karen@example.com": (550, b"No such user")})
    ticket_open(karen)
    row = Notification.objects.get(kind="auto_response")
    assert notification_send(notification_id=row.pk) is False
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED and row.attempts == 1


def test_an_admin_retries_a_failed_row_and_it_is_sent(karen, admin, settings, delivered) -> None:
    ticket_open(karen)
    row = Notification.objects.get(kind="auto_response")
    Notification.objects.filter(pk=row.pk).update(state=NotificationState.FAILED, attempts=MAX_ATTEMPTS, last_error="x")
    with delivered():
        notification_retry(notification=row, actor=admin)
    row.refresh_from_db()
    assert row.state == NotificationState.SENT


def test_the_resender_sends_rows_whose_task_was_lost_and_rows_stuck_sending(karen, settings) -> None:
    ticket_open(karen)  # not committed in this test: its delivery never ran, as with a lost task
    rows = list(Notification.objects.all())
    stuck = rows[0]
    Notification.objects.filter(pk=stuck.pk).update(state=NotificationState.SENDING, claimed_at=timezone.now())
    later = timezone.now() + timedelta(seconds=settings.NOTIFICATION_STUCK_SECONDS + 5)
    with time_machine.travel(later, tick=False):
        assert sorted(notifications_requeue()) == sorted(r.pk for r in rows)
        # Listed once per grace period: a row still waiting in a long queue is not enqueued
        # again by every run.
        assert notifications_requeue() == []
    with time_machine.travel(later + timedelta(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS + 1)):
        assert resend_pending() == len(rows)
    assert Notification.objects.filter(state=NotificationState.SENT).count() == len(rows)


def test_a_row_just_written_is_left_to_its_own_task(karen) -> None:
    ticket_open(karen)
    assert notifications_requeue() == []


def test_a_row_already_sent_is_never_sent_again(karen, delivered) -> None:
    with delivered():
        ticket_open(karen)
    row = Notification.objects.get(kind="auto_response")
    assert notification_send(notification_id=row.pk) is False
    assert len(inbox("karen@example.com")) == 1


def test_the_mailbox_alert_kind_is_rendered_without_a_ticket(admin, delivered) -> None:
    with delivered():
        notification_plan_direct(
            kind=NotificationKind.MAILBOX_ALERT,
            recipient=admin,
            ticket_id=None,
            context={"mailbox": {"name": "Support inbox", "last_error": "LOGIN failed", "consecutive_failures": 5}},
        )
    sent = inbox("admin@example.com")[0]
    assert "Support inbox" in sent.subject and "LOGIN failed" in sent.body
    assert not Ticket.objects.exists()

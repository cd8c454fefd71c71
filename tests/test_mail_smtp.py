"""Outgoing mail through a real SMTP server on loopback (aiosmtpd), and the seed story's email
steps end to end: Karen's auto-response, Jane's reply reaching Karen, Karen's emailed answer
landing in the same ticket's thread."""

from __future__ import annotations

from email.utils import parseaddr

import pytest

from inbound.services import email_ingest
from notifications.models import Notification, NotificationState
from notifications.services import message_id_ticket_number
from tests import mailkit
from tickets import services
from tickets.attachments import Upload
from tickets.models import EntryKind, TicketState

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def sink(settings):
    with mailkit.smtp_sink() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_the_seed_story_by_email(
    sink, delivered, karen, john, jane, admin, online_banking, report_a_problem, priorities, plans
) -> None:
    # 1. Karen opens her ticket in the portal and gets the auto-response with its number and link.
    with delivered():
        ticket = services.ticket_create(
            requester=karen,
            subject="Entire mobile/online banking system is down",
            body="Nothing loads since 9am.",
            help_topic=report_a_problem,
            uploads=[Upload("screen.png", mailkit.PNG)],
        )
    [auto] = sink.to("karen@example.com")
    assert f"[#{ticket.number}]" in auto.message["Subject"]
    assert "/t/" in auto.message.get_body(preferencelist=("plain",)).get_content()
    assert auto.message["Auto-Submitted"] == "auto-generated"

    # 2. John works it and hands it to Online Banking; the department's manager assigns Jane.
    with delivered():
        services.ticket_set_priority(ticket=ticket, actor=john, priority=priorities["Emergency"])
        services.ticket_set_sla_plan(ticket=ticket, actor=john, sla_plan=plans["Sev-A"])
        services.ticket_transfer(
            ticket=ticket, actor=john, department=online_banking, note="Core banking, over to you."
        )
        services.ticket_assign(ticket=ticket, actor=admin, assignee=jane)
    jane_got = [r.message["Subject"] for r in sink.to("jane@example.com")]
    assert any(s.startswith("Transferred") for s in jane_got) and any(s.startswith("Assigned") for s in jane_got)

    # 3. Jane replies; Karen gets it by email; Jane's internal note never reaches her.
    with delivered():
        services.ticket_reply(ticket=ticket, actor=jane, body="We restarted the core banking service.")
        services.ticket_add_note(ticket=ticket, actor=jane, body="John: root cause was the switch firmware.")
    to_karen = sink.to("karen@example.com")
    assert len(to_karen) == 2
    reply = to_karen[-1]
    assert "We restarted the core banking service." in reply.message.get_body(preferencelist=("plain",)).get_content()
    assert all(b"switch firmware" not in r.data for r in to_karen)
    assert message_id_ticket_number(reply.message["Message-ID"]) == ticket.number

    # Karen answers the email; her answer lands in the same ticket's thread.
    with delivered():
        result = email_ingest(
            raw=mailkit.reply_to(reply.data, "Karen Doe <karen@example.com>", "Works again, thank you!")
        )
    assert result.outcome == "appended" and result.ticket == ticket
    assert ticket.entries.last().kind == EntryKind.MESSAGE and ticket.entries.last().body == "Works again, thank you!"
    assert any("Works again" in r.data.decode() for r in sink.to("jane@example.com"))

    # 4. Resolution: Karen is told, with the survey link.
    with delivered():
        services.ticket_resolve(ticket=ticket, actor=jane)
    notice = sink.to("karen@example.com")[-1]
    assert notice.message["Subject"].startswith("Resolved") and "Rate the help" in notice.data.decode()
    ticket.refresh_from_db()
    assert ticket.state == TicketState.RESOLVED

    # Every row was delivered once: the SMTP server got exactly one message per row.
    rows = Notification.objects.all()
    assert all(r.state == NotificationState.SENT for r in rows)
    assert len(sink.received) == rows.count()
    received = sorted(parseaddr(r.recipients[0])[1] for r in sink.received)
    assert received == sorted(rows.values_list("recipient_email", flat=True))


def test_a_temporary_smtp_refusal_keeps_the_row_for_a_retry(sink, delivered, karen) -> None:
    sink.fail_with = 451
    with delivered():
        services.ticket_create(requester=karen, subject="Printer", body="Jammed")
    row = Notification.objects.get(kind="auto_response")
    assert row.state == NotificationState.PENDING and "451" in row.last_error

    sink.fail_with = None
    from datetime import timedelta

    from django.utils import timezone

    from notifications.services import notification_send

    assert notification_send(notification_id=row.pk, now=timezone.now() + timedelta(minutes=1))
    assert len(sink.to("karen@example.com")) == 1


def test_a_permanent_smtp_refusal_marks_the_row_failed_for_the_admins(sink, delivered, karen) -> None:
    sink.fail_with = 550
    with delivered():
        services.ticket_create(requester=karen, subject="Printer", body="Jammed")
    row = Notification.objects.get(kind="auto_response")
    assert row.state == NotificationState.FAILED and "550" in row.last_error

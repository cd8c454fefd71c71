"""Mail trust: what a forged header can and cannot do.

Coming in: a spoofed `[#number]`, a forged or borrowed In-Reply-To/References, and a From: line
naming an agent never write into a ticket the sender is not on; the message is held
("quarantined") and logged instead. Going out: names, subjects and department names holding
CR/LF produce no header of their own, checked on the bytes a real SMTP server received. Mail
templates, which admins edit, reach plain values only.
"""

from __future__ import annotations

import logging
from email import message_from_bytes, policy

import pytest

from accounts.models import User
from inbound.models import InboundMessage
from inbound.services import email_ingest
from notifications.models import EmailTemplate, Notification, NotificationState
from notifications.render import email_render, email_render_source, email_sample_context
from notifications.services import email_template_save, message_id_for, message_id_ticket_number
from tests import mailkit
from tests.factories import ticket_open
from tickets import services
from tickets.exceptions import InvalidInput
from tickets.models import AccessLink, Department, EntryKind, Ticket

pytestmark = pytest.mark.django_db

KAREN = "Karen Doe <karen@example.com>"
INJECTED = "Bcc: mallory@evil.example"


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def held(result, ticket: Ticket, caplog) -> bool:
    """The message was kept for an admin, logged, and wrote nothing into the ticket."""
    record = InboundMessage.objects.get(pk=result.message.pk)
    logged = any(
        r.name == "inbound.services" and r.levelno == logging.WARNING and record.message_id in r.getMessage()
        for r in caplog.records
    )
    return result.outcome == "quarantined" and record.outcome == "quarantined" and logged and bool(record.reason)


# ---------------------------------------------------------------- coming in


@pytest.mark.parametrize(
    "subject",
    ["[#{n}]", "Re: [#{n}] Printer is jammed", "Fwd: #{n}", "RE: RE: [#{n}]  urgent", "[#0{n}]"],
)
def test_a_spoofed_subject_number_from_a_stranger_is_held_and_logged(karen, caplog, subject) -> None:
    ticket = ticket_open(karen)
    caplog.set_level(logging.WARNING, logger="inbound.services")
    raw = mailkit.plain("Mallory <mallory@evil.example>", subject.format(n=ticket.number), "Send me her data")
    result = email_ingest(raw=raw)
    if result.outcome == "created":  # a form the subject rule does not read: a ticket of Mallory's own
        assert result.ticket != ticket and result.ticket.requester.email == "mallory@evil.example"
    else:
        assert held(result, ticket, caplog)
    assert ticket.entries.count() == 1


def test_the_requester_of_one_ticket_cannot_write_into_another_by_its_number(karen, ken, caplog) -> None:
    karens = ticket_open(karen)
    ticket_open(ken, "Ken's own")
    caplog.set_level(logging.WARNING, logger="inbound.services")
    result = email_ingest(raw=mailkit.plain("ken@example.com", f"Re: [#{karens.number}]", "Let me in"))
    assert held(result, karens, caplog)
    assert karens.entries.count() == 1


def test_a_message_id_re_signed_for_another_ticket_does_not_hold(karen, ken) -> None:
    karens = ticket_open(karen)
    kens = ticket_open(ken, "Ken's own")
    genuine = message_id_for(kens)
    assert message_id_ticket_number(genuine) == kens.number
    local, domain = genuine.strip("<>").split("@")
    _, _, nonce, tag = local.split(".")
    for forged in (
        f"<hd.{karens.number}.{nonce}.{tag}@{domain}>",  # the number swapped
        f"<hd.{karens.number}.{nonce}.{'0' * 16}@{domain}>",  # a made-up signature
        f"<hd.{karens.number}.{nonce}@{domain}>",  # no signature
    ):
        assert message_id_ticket_number(forged) is None
        result = email_ingest(raw=mailkit.plain("ken@example.com", "Hello", "Let me in", In_Reply_To=forged))
        assert result.ticket != karens
    assert karens.entries.count() == 1


def test_borrowed_references_of_another_ticket_are_held(
    karen, ken, jane, online_banking, mailoutbox, delivered, caplog
) -> None:
    """Ken has a genuine mail of Karen's ticket (forwarded to him, say): answering it with his own
    address does not put his words into her ticket, whether he names it in In-Reply-To or deep
    in References."""
    ticket = ticket_open(karen, department=online_banking)
    with delivered():
        services.ticket_reply(ticket=ticket, actor=jane, body="Here is the fix.")
    genuine = next(m for m in mailoutbox if "Here is the fix." in m.body)
    mid = genuine.extra_headers["Message-ID"]
    caplog.set_level(logging.WARNING, logger="inbound.services")
    for headers in ({"In_Reply_To": mid}, {"References": f"<a@x.example> {mid} <b@x.example>"}):
        result = email_ingest(raw=mailkit.plain("ken@example.com", "Re: the fix", "mine now", **headers))
        assert held(result, ticket, caplog)
    assert ticket.entries.count() == 2


def test_a_reference_to_an_incoming_message_of_another_ticket_is_held(karen, ken, caplog) -> None:
    first = email_ingest(
        raw=mailkit.plain(KAREN, "Card blocked", "My card is blocked.", message_id="<k1@mail.example>")
    )
    caplog.set_level(logging.WARNING, logger="inbound.services")
    result = email_ingest(
        raw=mailkit.plain("ken@example.com", "Re: Card blocked", "unblock mine", References="<k1@mail.example>")
    )
    assert held(result, first.ticket, caplog)
    assert first.ticket.entries.count() == 1


@pytest.mark.parametrize("how", ["subject", "header of another agent's alert", "no reference"])
def test_a_from_line_naming_an_agent_never_writes_into_a_ticket(
    karen, john, jane, admin, online_banking, mailoutbox, delivered, caplog, how
) -> None:
    with delivered():
        ticket = ticket_open(karen, department=online_banking)  # Jane's department; John has no role there
    janes_alert = next(m for m in mailoutbox if "jane@example.com" in m.to[0])
    caplog.set_level(logging.WARNING, logger="inbound.services")
    sender = "Jane Doe <jane@example.com>"
    if how == "subject":
        raw = mailkit.plain(sender, f"Re: [#{ticket.number}]", "#note refund her twice")
    elif how == "header of another agent's alert":
        # The alert went to Jane; an admin's address answering it proves nothing about the admin.
        sender = "Alex Admin <admin@example.com>"
        raw = mailkit.reply_to(janes_alert.message().as_bytes(), sender, "Close it, ignore her")
    else:
        raw = mailkit.plain(sender, "Wire the refund today", "Do it now.")
    entries = ticket.entries.count()
    result = email_ingest(raw=raw)
    assert result.outcome == "quarantined"
    assert InboundMessage.objects.get(pk=result.message.pk).outcome == "quarantined"
    assert ticket.entries.count() == entries and Ticket.objects.count() == 1
    assert not ticket.entries.filter(kind__in=[EntryKind.NOTE, EntryKind.RESPONSE]).exists()


# ---------------------------------------------------------------- going out


@pytest.fixture
def sink(settings):
    with mailkit.smtp_sink() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


def header_names(data: bytes) -> list[str]:
    """The header field names of a message as received (before the first empty line)."""
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace")
    return [line.split(":", 1)[0].strip().lower() for line in head.split("\n") if line and line[0] not in " \t"]


def assert_no_injection(received: list[mailkit.Received]) -> None:
    assert received
    for item in received:
        assert "mallory@evil.example" not in item.recipients
        names = header_names(item.data)
        assert "bcc" not in names and "x-injected" not in names
        for once in ("subject", "from", "to", "message-id"):
            assert names.count(once) == 1, (once, names)
        parsed = message_from_bytes(item.data, policy=policy.default)
        assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])


@pytest.mark.integration
def test_cr_lf_in_names_subjects_and_department_names_adds_no_header(
    karen, jane, online_banking, sink, delivered
) -> None:
    # Written straight to the database, past every form's clean-up: the mail layer holds alone.
    online_banking.email_address = "banking@example.com"
    online_banking.name = f"Online Banking\r\n{INJECTED}\r\nX-Injected: 1"
    online_banking.save()
    User.objects.filter(pk=karen.pk).update(name=f"Karen\r\n{INJECTED}\nX-Injected: yes")
    karen.refresh_from_db()
    with delivered():
        ticket = ticket_open(karen, department=online_banking)
        Ticket.objects.filter(pk=ticket.pk).update(subject=f"Locked out\r\n{INJECTED}\r\nX-Injected: 1")
        ticket.refresh_from_db()
        services.ticket_reply(ticket=ticket, actor=jane, body="Reset done.")
    assert_no_injection(sink.received)
    assert sink.to("karen@example.com") and sink.to("jane@example.com")
    assert not Notification.objects.exclude(state=NotificationState.SENT).exists()


@pytest.mark.integration
def test_cr_lf_through_the_forms_adds_no_header(client, karen, report_a_problem, sink, delivered) -> None:
    with delivered():
        response = client.post(
            "/open/",
            {
                "help_topic": report_a_problem.pk,
                "name": f"Greta\r\n{INJECTED}",
                "email": "greta@example.org",
                "subject": f"Hello\r\n{INJECTED}",
                "body": "Body",
            },
        )
    assert response.status_code in (302, 400)
    with delivered():
        client.post("/register/", {"name": f"Greta\r\n{INJECTED}", "email": "greta2@example.org"})
        client.post("/password/reset/", {"email": "karen@example.com"})
    assert_no_injection(sink.received)


# ---------------------------------------------------------------- templates admins edit

PROBES = [
    "{{ recipient.password }}",
    "{{ ticket.requester.password }}",
    "{{ entry.author.password }}",
    "{{ event.actor.password }}",
    "{{ ticket.access_links.all }}",
    "{{ ticket.requester.accesslink_set.all }}",
    "{{ notification.recipient.password }}",
    "{{ ticket.entries.all }}",
    "{{ ticket.requester.memberships.all }}",
    "{{ recipient.check_password }}",
    "{{ ticket.delete }}",
    "{{ ticket.department.memberships.all }}",
]


def test_an_edited_template_reaches_plain_values_only(karen, admin, mailoutbox, delivered) -> None:
    probes = " | ".join(PROBES)
    email_template_save(
        actor=admin,
        kind="auto_response",
        subject="Got it [#{{ ticket.number }}]",
        text=f"Hi {{{{ recipient.get_short_name }}}} of {{{{ ticket.department.name }}}}: {probes}",
        html=f"<p>{probes}</p>",
    )
    with delivered():
        ticket = ticket_open(karen)
    [message] = [m for m in mailoutbox if "karen@example.com" in m.to[0]]
    everything = message.subject + message.body + message.alternatives[0][0]
    assert message.body.startswith("Hi Karen of Support: ")
    karen.refresh_from_db()
    for secret in (karen.password, *AccessLink.objects.values_list("token_hash", flat=True)):
        assert secret not in everything
    for leak in ("md5$", "pbkdf2", "QuerySet", "<class", "Thread", "Membership", "accounts.models"):
        assert leak not in everything
    assert Ticket.objects.filter(pk=ticket.pk).exists()


@pytest.mark.parametrize(
    "source",
    ["{% load log %}{% get_admin_log 5 as log %}{{ log }}", "{% debug %}", "{% load static %}{% static 'x' %}"],
)
def test_a_template_cannot_load_tag_libraries_or_debug(admin, source) -> None:
    with pytest.raises(InvalidInput):
        email_template_save(actor=admin, kind="auto_response", subject="s", text=source, html="<p>x</p>")
    assert not EmailTemplate.objects.exists()


def test_the_admins_preview_renders_plain_values_too(seed) -> None:
    source = "{{ recipient.name }}|{{ recipient.password }}|{{ ticket.requester.password }}|{{ ticket.number }}"
    rendered = email_render_source(
        {"subject": "s", "text": source, "html": "<p>h</p>"}, email_sample_context("auto_response")
    )
    assert rendered.text == "Karen Doe|||48151623"


def test_the_shipped_templates_still_render_every_kind(karen) -> None:
    from notifications.models import NotificationKind

    for kind in NotificationKind.values:
        rendered = email_render(kind, email_sample_context(kind))
        assert rendered.subject and rendered.text.strip() and rendered.html.strip()
        assert "48151623" in rendered.subject + rendered.text or kind == "mailbox_alert"


def test_department_names_reach_templates_as_text(karen, admin) -> None:
    Department.objects.filter(name="Support").update(name="Support <b>&</b>")
    email_template_save(
        actor=admin,
        kind="auto_response",
        subject="x",
        text="{{ ticket.department.name }}",
        html="<p>{{ ticket.department.name }}</p>",
    )
    ticket = ticket_open(karen)
    context = {"ticket": ticket, "recipient": karen}
    rendered = email_render("auto_response", context)
    assert rendered.text == "Support <b>&</b>"
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in rendered.html

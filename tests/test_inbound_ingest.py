"""Taking mail in: the corpus of real-world shapes, threading, duplicates, loops and forgeries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.services import end_user_get_or_create
from inbound.models import InboundMessage, Mailbox
from inbound.parse import html_trim_quoted, mail_parse, text_trim_quoted
from inbound.services import (
    email_ingest,
    inbound_message_discard,
    inbound_message_open_ticket,
    inbound_message_retry,
)
from notifications.models import Notification, NotificationKind
from tests import mailkit
from tests.factories import ticket_open
from tickets import services
from tickets.models import EntryKind, Ticket, TicketSource, TicketState
from tickets.sanitize import entry_html

KAREN = "Karen Doe <karen@example.com>"
pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(support, priorities) -> Mailbox:
    return Mailbox.objects.create(
        name="Support inbox", host="127.0.0.1", port=143, username="desk", password="x", department=support
    )


@pytest.fixture
def delivered(django_capture_on_commit_callbacks):
    """Run what the block commits, as the worker would: `with delivered(): ...`."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def sent_to(address: str, kind: str) -> Notification:
    return Notification.objects.filter(recipient_email=address, kind=kind).latest("id")


# ---------------------------------------------------------------- new tickets from the corpus


def test_a_plain_message_from_a_new_sender_opens_a_ticket_for_them(seed, mailbox) -> None:
    result = email_ingest(
        raw=mailkit.plain("Paul Pierce <paul@example.net>", "VPN drops", "Every hour."), mailbox=mailbox
    )

    assert result.outcome == "created"
    ticket = result.ticket
    assert ticket.subject == "VPN drops" and ticket.source == TicketSource.EMAIL
    assert ticket.department == mailbox.department
    assert ticket.requester.email == "paul@example.net" and ticket.requester.name == "Paul Pierce"
    assert result.entry.body == "Every hour." and result.entry.message_id.endswith("@mail.example.org>")
    stored = InboundMessage.objects.get(ticket=ticket)
    assert bytes(stored.raw).startswith(b"From:") and stored.outcome == "created"


def test_karen_gets_the_auto_response_for_a_ticket_she_opened_by_email(karen, mailbox, mailoutbox, delivered) -> None:
    with delivered():
        result = email_ingest(raw=mailkit.plain(KAREN, "Online banking is down", "Nothing loads."), mailbox=mailbox)

    to_karen = [m for m in mailoutbox if "karen@example.com" in m.to[0]]
    assert len(to_karen) == 1
    assert f"[#{result.ticket.number}]" in to_karen[0].subject


def test_multipart_alternative_keeps_both_the_text_and_the_sanitised_html(karen, mailbox) -> None:
    raw = mailkit.alternative(
        KAREN, "Hello", "Plain words", '<p onclick="steal()">Rich <b>words</b><script>alert(1)</script></p>'
    )
    entry = email_ingest(raw=raw, mailbox=mailbox).entry

    assert entry.body == "Plain words"
    assert "<b>words</b>" in entry.body_html
    assert "script" not in entry.body_html and "onclick" not in entry.body_html


def test_an_html_only_message_gets_its_text_from_the_html(karen, mailbox) -> None:
    entry = email_ingest(
        raw=mailkit.html_only(KAREN, "Hi", "<div>The <i>printer</i> is on fire</div>"), mailbox=mailbox
    ).entry

    assert "printer" in entry.body and "<" not in entry.body
    assert "<i>printer</i>" in entry.body_html


def test_a_latin1_message_with_an_encoded_subject_is_decoded(mailbox, seed) -> None:
    result = email_ingest(
        raw=mailkit.latin1("jose@example.es", "Contraseña olvidada", "No recuerdo mi contraseña, ¿ayuda?"),
        mailbox=mailbox,
    )

    assert result.ticket.subject == "Contraseña olvidada"
    assert result.entry.body == "No recuerdo mi contraseña, ¿ayuda?"


def test_a_message_labelled_with_an_unknown_charset_is_still_read(mailbox, seed) -> None:
    raw = (
        b"From: a@example.org\r\nTo: helpdesk@localhost\r\nSubject: odd\r\nMessage-ID: <odd1@example.org>\r\n"
        b"Content-Type: text/plain; charset=x-unheard-of\r\n\r\nCaf\xe9 cr\xe8me\r\n"
    )
    result = email_ingest(raw=raw, mailbox=mailbox)

    assert result.outcome == "created"
    assert result.entry.body == "Café crème"


def test_attachments_are_kept_and_refused_kinds_are_named_in_the_body(karen, mailbox) -> None:
    raw = mailkit.with_attachments(
        KAREN,
        "Logs",
        "Attached.",
        [
            ("report.pdf", mailkit.PDF, "application/pdf"),
            ("tool.exe", b"MZ\x90\x00" + b"\x00" * 64, "application/octet-stream"),
        ],
    )
    entry = email_ingest(raw=raw, mailbox=mailbox).entry

    assert [a.filename for a in entry.attachments.all()] == ["report.pdf"]
    assert "[Attachment not kept: tool.exe" in entry.body


def test_an_inline_image_is_kept_with_its_content_id_and_shown_in_place(karen, mailbox) -> None:
    entry = email_ingest(raw=mailkit.inline_image(KAREN, "Screenshot"), mailbox=mailbox).entry

    image = entry.attachments.get()
    assert image.content_id == "shot1@example.org" and image.content_type == "image/png"
    assert 'src="cid:shot1@example.org"' in entry.body_html
    # Shown in a thread, the image points at its attachment's download URL, and nowhere else.
    html = entry_html(entry, lambda pk: f"/files/{pk}/")
    assert f'src="/files/{image.pk}/"' in html and "cid:" not in html


def test_a_forwarded_message_keeps_the_original_as_an_attachment(karen, mailbox) -> None:
    inner = mailkit.plain("Boss <boss@example.com>", "Printer", "Fix the printer please.")
    entry = email_ingest(raw=mailkit.forwarded(KAREN, "Fwd: Printer", inner), mailbox=mailbox).entry

    assert entry.body == "FYI, see the message below."
    eml = entry.attachments.get()
    assert eml.filename == "Printer.eml"
    assert b"Fix the printer please." in eml.file.read()


def test_a_message_with_no_text_still_opens_a_ticket(karen, mailbox) -> None:
    raw = mailkit.with_attachments(KAREN, "scan", "", [("scan.png", mailkit.PNG, "image/png")])
    result = email_ingest(raw=raw, mailbox=mailbox)

    assert result.outcome == "created"
    assert result.entry.attachments.count() == 1


def test_the_mailbox_help_topic_and_priority_apply_to_new_tickets(karen, mailbox, report_a_problem, priorities) -> None:
    mailbox.help_topic = report_a_problem
    mailbox.priority = priorities["High"]
    mailbox.save()

    ticket = email_ingest(raw=mailkit.plain(KAREN, "Down", "Down."), mailbox=mailbox).ticket

    assert ticket.help_topic == report_a_problem and ticket.priority.name == "High"


# ---------------------------------------------------------------- threading


def test_karens_reply_to_our_mail_lands_in_the_same_ticket_by_its_headers(
    karen, jane, online_banking, mailoutbox, delivered
) -> None:
    ticket = ticket_open(karen, subject="Entire mobile/online banking system is down", department=online_banking)
    with delivered():
        services.ticket_reply(ticket=ticket, actor=jane, body="We are on it.")
    response = next(m for m in mailoutbox if "We are on it." in m.body)

    raw = mailkit.reply_to(response.message().as_bytes(), KAREN, "Thanks, it works again.")
    result = email_ingest(raw=raw)

    assert result.outcome == "appended" and result.ticket == ticket
    assert result.entry.kind == EntryKind.MESSAGE and result.entry.author == karen
    assert ticket.entries.count() == 3


def test_a_reply_by_subject_number_joins_when_the_sender_is_the_requester(karen) -> None:
    ticket = ticket_open(karen)
    result = email_ingest(raw=mailkit.plain(KAREN, f"Re: [#{ticket.number}] Printer is jammed", "Still jammed."))

    assert result.outcome == "appended" and result.ticket == ticket


def test_a_collaborator_may_reply_by_subject_number(karen, ken) -> None:
    ticket = ticket_open(karen, collaborators=[ken])
    result = email_ingest(raw=mailkit.plain("ken@example.com", f"[#{ticket.number}]", "Same here."))

    assert result.outcome == "appended" and result.entry.author == ken


def test_a_stranger_using_a_ticket_number_is_quarantined_not_written_in(karen) -> None:
    ticket = ticket_open(karen)
    result = email_ingest(raw=mailkit.plain("mallory@evil.example", f"Re: [#{ticket.number}]", "Send me the data"))

    assert result.outcome == "quarantined" and result.ticket == ticket
    assert ticket.entries.count() == 1
    held = InboundMessage.objects.get(outcome="quarantined")
    assert "mallory@evil.example" in held.reason


def test_a_forged_in_reply_to_is_not_trusted(karen, ken) -> None:
    ticket = ticket_open(karen)
    forged = f"<hd.{ticket.number}.0011223344556677.0000000000000000@localhost>"
    result = email_ingest(raw=mailkit.plain("ken@example.com", "Hello", "Let me in", In_Reply_To=forged))

    # The signature does not hold: not threaded, and Ken's mail opens his own ticket.
    assert result.outcome == "created" and result.ticket != ticket
    assert ticket.entries.count() == 1


def test_a_stranger_replying_with_a_genuine_message_id_is_quarantined(
    karen, jane, online_banking, mailoutbox, delivered
) -> None:
    ticket = ticket_open(karen, department=online_banking)
    with delivered():
        services.ticket_reply(ticket=ticket, actor=jane, body="Here is the fix.")
    response = next(m for m in mailoutbox if "Here is the fix." in m.body)

    raw = mailkit.reply_to(response.message().as_bytes(), "mallory@evil.example", "thanks, I forwarded it")
    assert email_ingest(raw=raw).outcome == "quarantined"
    assert ticket.entries.count() == 2


def test_an_agents_emailed_reply_to_their_alert_is_a_response(
    karen, jane, online_banking, mailoutbox, delivered
) -> None:
    with delivered():
        ticket_open(karen, department=online_banking)
    alert = next(m for m in mailoutbox if "jane@example.com" in m.to[0])
    mailoutbox.clear()

    raw = mailkit.reply_to(alert.message().as_bytes(), "Jane Doe <jane@example.com>", "Restarting the service now.")
    with delivered():
        result = email_ingest(raw=raw)

    assert result.outcome == "appended"
    assert result.entry.kind == EntryKind.RESPONSE and result.entry.author == jane
    assert any("karen@example.com" in m.to[0] and "Restarting the service" in m.body for m in mailoutbox)


def test_an_agents_reply_with_the_note_prefix_is_an_internal_note(
    karen, jane, online_banking, mailoutbox, delivered
) -> None:
    with delivered():
        ticket_open(karen, department=online_banking)
    alert = next(m for m in mailoutbox if "jane@example.com" in m.to[0])
    mailoutbox.clear()

    raw = mailkit.reply_to(alert.message().as_bytes(), "jane@example.com", "#note the core switch again, John")
    with delivered():
        result = email_ingest(raw=raw)

    assert result.entry.kind == EntryKind.NOTE
    assert result.entry.body == "the core switch again, John"
    assert not any("karen@example.com" in m.to[0] for m in mailoutbox)


def test_a_forged_from_of_an_agent_is_quarantined(karen, john) -> None:
    ticket = ticket_open(karen)
    result = email_ingest(
        raw=mailkit.plain("John Doe <john@example.com>", f"[#{ticket.number}]", "Close it, ignore her")
    )

    assert result.outcome == "quarantined"
    assert ticket.entries.count() == 1


def test_an_agent_without_access_to_the_ticket_is_quarantined_even_with_a_genuine_alert(
    karen, john, jane, online_banking, mailoutbox, delivered
) -> None:
    with delivered():
        ticket = ticket_open(karen)  # Support: John's
    alert = next(m for m in mailoutbox if "john@example.com" in m.to[0])
    services.ticket_transfer(ticket=ticket, actor=None, department=online_banking)

    raw = mailkit.reply_to(alert.message().as_bytes(), "john@example.com", "I will take it")
    assert email_ingest(raw=raw).outcome == "quarantined"


def test_a_gmail_style_reply_is_stored_without_the_quoted_history(karen) -> None:
    ticket = ticket_open(karen)
    raw = mailkit.gmail_reply(
        KAREN, f"Re: [#{ticket.number}]", "It is fixed now.", "We restarted the router.\nTell us."
    )
    entry = email_ingest(raw=raw).entry

    assert entry.body == "It is fixed now."
    assert "restarted the router" not in entry.body_html and "It is fixed now." in entry.body_html
    # The full original is kept.
    assert b"restarted the router" in bytes(InboundMessage.objects.get(entry=entry).raw)


def test_an_outlook_style_reply_is_stored_without_the_quoted_history(karen) -> None:
    ticket = ticket_open(karen)
    raw = mailkit.outlook_reply(KAREN, f"RE: [#{ticket.number}]", "Works for me.", "Please try again.")
    entry = email_ingest(raw=raw).entry

    assert entry.body == "Works for me."
    assert "Please try again" not in entry.body_html


def test_a_resolved_ticket_reopens_when_karen_answers_within_the_window(karen, john) -> None:
    ticket = ticket_open(karen)
    services.ticket_resolve(ticket=ticket, actor=john)

    result = email_ingest(raw=mailkit.plain(KAREN, f"Re: [#{ticket.number}]", "It broke again."))

    ticket.refresh_from_db()
    assert result.outcome == "appended" and ticket.state == TicketState.OPEN


def test_an_answer_to_a_ticket_closed_past_the_window_opens_a_new_linked_ticket(karen, john, settings) -> None:
    ticket = ticket_open(karen)
    services.ticket_close(ticket=ticket, actor=john)

    with time_machine.travel(timezone.now() + timedelta(days=settings.TICKET_REOPEN_DAYS + 1)):
        result = email_ingest(raw=mailkit.plain(KAREN, f"Re: [#{ticket.number}] Printer is jammed", "Again!"))

    assert result.outcome == "created" and result.ticket != ticket
    assert list(result.ticket.linked.all()) == [ticket]
    ticket.refresh_from_db()
    assert ticket.state == TicketState.CLOSED and ticket.entries.count() == 1


def test_mail_for_a_merged_ticket_goes_to_the_ticket_it_was_merged_into(karen, john) -> None:
    first, second = ticket_open(karen), ticket_open(karen, subject="Printer again")
    services.ticket_merge(ticket=first, into=second, actor=john)

    result = email_ingest(raw=mailkit.plain(KAREN, f"Re: [#{first.number}]", "Any news?"))
    assert result.ticket == second


# ---------------------------------------------------------------- duplicates and loops


def test_a_message_seen_before_is_acknowledged_and_ignored(karen, mailbox) -> None:
    raw = mailkit.plain(KAREN, "Twice", "Sent twice.")
    first = email_ingest(raw=raw, mailbox=mailbox)
    second = email_ingest(raw=raw, mailbox=mailbox)

    assert (first.outcome, second.outcome) == ("created", "duplicate")
    assert Ticket.objects.count() == 1


def test_a_message_without_a_message_id_is_recognised_when_it_comes_again(karen) -> None:
    raw = b"From: karen@example.com\r\nSubject: no id\r\n\r\nHello\r\n"
    assert [email_ingest(raw=raw).outcome for _ in range(2)] == ["created", "duplicate"]


@pytest.mark.parametrize(
    "raw",
    [
        mailkit.auto_reply(KAREN, "[#12345678] Printer"),
        mailkit.plain(KAREN, "Newsletter", "Deals!", Precedence="bulk"),
        mailkit.plain(KAREN, "List", "Digest", Precedence="list"),
        mailkit.plain(KAREN, "Junk", "Junk", Precedence="junk"),
        mailkit.plain(KAREN, "Away", "Away", X_Autoreply="yes"),
        mailkit.plain(KAREN, "Away", "Away", X_Autorespond="yes"),
        mailkit.bounce(mailkit.plain("helpdesk@localhost", "Your ticket", "hi")),
        mailkit.plain("MAILER-DAEMON@mx.example.org", "Failure", "Undeliverable"),
    ],
    ids=["auto-submitted", "bulk", "list", "junk", "x-autoreply", "x-autorespond", "dsn", "mailer-daemon"],
)
def test_automatic_mail_never_opens_a_ticket_nor_gets_an_answer(karen, raw, mailoutbox, delivered) -> None:
    with delivered():
        result = email_ingest(raw=raw)

    assert result.outcome == "ignored"
    assert Ticket.objects.count() == 0 and mailoutbox == []
    assert InboundMessage.objects.get().outcome == "ignored"


def test_an_auto_reply_to_a_resolved_ticket_does_not_reopen_it(karen, john, mailoutbox, delivered) -> None:
    ticket = ticket_open(karen)
    with delivered():
        services.ticket_resolve(ticket=ticket, actor=john)
    notice = next(m for m in mailoutbox if "Resolved" in m.subject)
    mailoutbox.clear()

    original = notice.message().as_bytes()
    raw = mailkit.auto_reply(KAREN, f"[#{ticket.number}]", In_Reply_To=str(notice.extra_headers["Message-ID"]))
    assert b"Message-ID" in original
    with delivered():
        assert email_ingest(raw=raw).outcome == "ignored"
    ticket.refresh_from_db()
    assert ticket.state == TicketState.RESOLVED and mailoutbox == []


def test_our_own_mail_coming_back_is_a_loop_and_ignored(karen, mailoutbox, delivered) -> None:
    with delivered():
        ticket_open(karen)
    ours = next(m for m in mailoutbox if "karen@example.com" in m.to[0]).message().as_bytes()

    assert email_ingest(raw=ours).outcome == "ignored"
    assert Ticket.objects.count() == 1


def test_mail_from_the_help_desks_own_address_is_ignored(seed) -> None:
    assert email_ingest(raw=mailkit.plain("helpdesk@localhost", "Loop", "x")).outcome == "ignored"


# ---------------------------------------------------------------- what cannot be read


def test_bytes_that_are_not_a_message_are_kept_raw_and_rejected(seed) -> None:
    result = email_ingest(raw=b"\x00\x01 this is not mail at all")

    assert result.outcome == "rejected"
    kept = InboundMessage.objects.get()
    assert kept.outcome == "rejected" and bytes(kept.raw) == b"\x00\x01 this is not mail at all"


def test_an_empty_message_is_rejected(seed) -> None:
    assert email_ingest(raw=b"").outcome == "rejected"


def test_a_message_with_no_sender_is_kept_for_an_admin(seed) -> None:
    result = email_ingest(raw=b"Subject: who am I\r\nMessage-ID: <nosender@x.org>\r\n\r\nbody\r\n")
    assert result.outcome == "rejected" and "sender" in result.reason
    assert InboundMessage.objects.filter(outcome="rejected").count() == 1


def test_a_fault_of_ours_keeps_the_message_for_a_retry(karen, monkeypatch, admin) -> None:
    from tickets import services as ticket_services

    def broken(**kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(ticket_services, "ticket_create", broken)
    result = email_ingest(raw=mailkit.plain(KAREN, "Help", "Please"))
    assert result.outcome == "rejected" and "KeyError" in result.reason
    assert Ticket.objects.count() == 0

    monkeypatch.undo()
    retried = inbound_message_retry(message=result.message, actor=admin)
    assert retried.outcome == "created" and retried.ticket.subject == "Help"


def test_an_admin_may_open_a_new_ticket_from_a_quarantined_message(karen, admin) -> None:
    ticket = ticket_open(karen)
    held = email_ingest(raw=mailkit.plain("paul@example.net", f"[#{ticket.number}]", "I have this too")).message

    result = inbound_message_open_ticket(message=held, actor=admin)

    assert result.outcome == "created" and result.ticket.requester.email == "paul@example.net"
    assert ticket.entries.count() == 1


def test_an_admin_may_retry_after_adding_the_sender_as_a_collaborator(karen, admin) -> None:
    ticket = ticket_open(karen)
    held = email_ingest(raw=mailkit.plain("paul@example.net", f"[#{ticket.number}]", "Me too")).message
    paul = end_user_get_or_create(email="paul@example.net", name="Paul Pierce")
    services.ticket_add_collaborator(ticket=ticket, actor=admin, user=paul)

    assert inbound_message_retry(message=held, actor=admin).outcome == "appended"


def test_an_admin_may_discard_a_quarantined_message(karen, admin) -> None:
    held = email_ingest(raw=mailkit.plain("x@spam.example", f"[#{ticket_open(karen).number}]", "spam")).message
    assert inbound_message_discard(message=held, actor=admin).outcome == "discarded"


def test_only_admins_handle_held_messages(karen, john) -> None:
    from tickets.exceptions import ActionNotAllowed

    held = email_ingest(raw=mailkit.plain("x@spam.example", f"[#{ticket_open(karen).number}]", "spam")).message
    with pytest.raises(ActionNotAllowed):
        inbound_message_retry(message=held, actor=john)


# ---------------------------------------------------------------- the parser alone


def test_quoted_history_trimming_keeps_a_reply_written_between_the_quotes() -> None:
    inline = "> Did you restart it?\nYes, twice.\n> And the cable?\nAlso yes."
    assert text_trim_quoted(inline) == inline
    assert (
        html_trim_quoted('<div class="gmail_quote">only a quote</div>') == '<div class="gmail_quote">only a quote</div>'
    )


def test_encoded_sender_names_are_decoded_and_made_one_line() -> None:
    raw = (
        b"From: =?utf-8?b?SsO2cmcgTcO8bGxlcg==?= <jorg@example.de>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        b"Message-ID: <a@b>\r\n\r\nhi\r\n"
    )
    parsed = mail_parse(raw)
    assert (parsed.from_name, parsed.subject) == ("Jörg Müller", "Grüße")


def test_alerts_sent_to_an_agent_record_their_message_id(karen, john, delivered) -> None:
    with delivered():
        ticket_open(karen)
    alert = sent_to("john@example.com", NotificationKind.NEW_TICKET_ALERT)
    assert alert.message_id.startswith("<hd.")

"""Taking mail in: every way in (pipe, IMAP, the API) calls `email_ingest`.

What a message becomes, in order:
1. a Message-ID seen before: acknowledged, nothing written ("duplicate");
2. mail the help desk sent itself, mail from one of its own addresses, auto-replies, bounces
   and list mail: kept, never opens or reopens a ticket, never answered ("ignored");
3. In-Reply-To/References naming one of our signed Message-IDs (or a message already in a
   thread) joins that ticket; else `[#NUMBER]` in the subject does;
4. on a ticket: the requester or a collaborator posts a message (a closed ticket past the
   reopen window gets a new ticket linked to it); an agent posts a response, or a note with
   the INBOUND_NOTE_PREFIX, only when the mail answers one we sent to that agent; anyone else
   is held for an admin ("quarantined"), so that a forged header, a spoofed `[#number]` or a
   forged agent From: never writes into a ticket;
5. otherwise a new ticket in the mailbox's department, help topic and priority; mail from an
   agent's address that answers no ticket is held for an admin instead.

The raw message is stored (InboundMessage, unique Message-ID) in the transaction that writes
the entry; a message that cannot be read is stored raw for an admin to retry ("rejected").
Database errors are not caught: the caller treats them as temporary (the MTA retries, the
IMAP message stays unread).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.models import User
from accounts.services import end_user_get_or_create
from inbound.models import InboundMessage, Mailbox, Outcome
from inbound.parse import (
    MailParseError,
    ParsedMail,
    html_trim_quoted,
    mail_parse,
    synthetic_message_id,
    text_trim_quoted,
)
from notifications.models import Notification
from notifications.services import message_id_domain, message_id_ticket_number
from tickets import services as ticket_services
from tickets.attachments import Upload, attachment_check, files_removed_on_error
from tickets.exceptions import ActionNotAllowed, InvalidInput, InvalidTransition
from tickets.models import Department, ThreadEntry, Ticket, TicketSource
from tickets.permissions import requester_may_write
from tickets.sanitize import single_line

logger = logging.getLogger(__name__)

OUTCOMES = ("created", "appended", "duplicate", "ignored", "quarantined", "rejected")


@dataclass
class IngestResult:
    outcome: str
    ticket: Ticket | None = None
    entry: ThreadEntry | None = None
    reason: str = ""
    message: InboundMessage | None = None


# ---------------------------------------------------------------- the way in


def email_ingest(*, raw: bytes, mailbox: Mailbox | None = None, via: str = "pipe") -> IngestResult:
    """Take one RFC 822 message in. See the module's docstring for what it becomes."""
    if len(raw) > settings.INBOUND_MAX_BYTES:
        limit = filesizeformat(settings.INBOUND_MAX_BYTES)
        return IngestResult(outcome=Outcome.REJECTED, reason=f"The message is larger than {limit}.")
    try:
        parsed: ParsedMail | None = mail_parse(raw)
        error = ""
    except MailParseError as exc:
        parsed, error = None, str(exc)
    except Exception as exc:  # a message that breaks the parser is kept, never dropped
        logger.exception("could not parse an incoming message")
        parsed, error = None, f"Could not read the message: {type(exc).__name__}: {exc}"
    message_id = parsed.message_id if parsed is not None else synthetic_message_id(raw)
    earlier = _seen(message_id)
    if earlier is not None:
        return earlier
    record = InboundMessage(
        message_id=message_id,
        raw=raw,
        size=len(raw),
        mailbox=mailbox,
        via=via,
        from_address=parsed.from_address if parsed else "",
        subject=parsed.subject if parsed else "",
        outcome=Outcome.REJECTED,
        reason=error,
    )
    try:
        with files_removed_on_error(), transaction.atomic():
            if parsed is None:
                logger.warning("incoming message %s rejected: %s", message_id, error)
                result = _finish(record, IngestResult(outcome=Outcome.REJECTED, reason=error))
            else:
                result = _process(record, parsed)
            # Written last, in the entry's transaction: the unique Message-ID makes the second
            # of two ingests of one message fail here and roll back whatever it wrote.
            record.save(force_insert=True)
            return result
    except IntegrityError:
        earlier = _seen(message_id)
        if earlier is not None:
            return earlier
        raise
    except DatabaseError:
        raise
    except Exception as exc:
        # A fault of ours while handling it: keep the message for an admin's retry.
        logger.exception("incoming message %s failed", message_id)
        reason = f"Internal error: {type(exc).__name__}: {exc}"
        record.pk = None
        record.outcome, record.reason = Outcome.REJECTED, reason
        record.ticket = record.entry = None
        try:
            with transaction.atomic():
                record.save(force_insert=True)
        except IntegrityError:
            return _seen(message_id) or IngestResult(
                outcome=Outcome.DUPLICATE, reason=f"{message_id} was taken in before."
            )
        return IngestResult(outcome=Outcome.REJECTED, reason=reason, message=record)


def _seen(message_id: str) -> IngestResult | None:
    """The answer for a message taken in before (naming the ticket it went to), or None.

    Every message that wrote an entry has its InboundMessage row (same transaction), so one
    indexed lookup answers; the unique index settles two ingests racing past it.
    """
    earlier = InboundMessage.objects.filter(message_id=message_id).select_related("ticket").first()
    if earlier is None:
        return None
    return IngestResult(outcome=Outcome.DUPLICATE, ticket=earlier.ticket, reason=f"{message_id} was taken in before.")


def _finish(record: InboundMessage, result: IngestResult) -> IngestResult:
    record.outcome = result.outcome
    record.reason = result.reason[:5000]
    record.ticket = result.ticket
    record.entry = result.entry
    record.processed_at = timezone.now()
    if record.pk is not None:  # an admin's retry; a new message is inserted by email_ingest
        record.save(update_fields=["outcome", "reason", "ticket", "entry", "processed_at", "attempts", "handled_by"])
    result.message = record
    if result.outcome in (Outcome.QUARANTINED, Outcome.REJECTED):
        logger.warning("incoming message %s %s: %s", record.message_id, result.outcome, result.reason)
    return result


_SYSTEM_ADDRESSES: tuple[float, set[str]] = (0.0, set())


def _system_addresses() -> set[str]:
    """The help desk's own addresses, re-read at most every 30 s (two queries a message
    otherwise, in a batch of thousands)."""
    global _SYSTEM_ADDRESSES
    read_at, cached = _SYSTEM_ADDRESSES
    if time.monotonic() - read_at < 30 and not settings.TESTING:
        return cached
    addresses = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()}
    addresses.update(
        a.lower() for a in Department.objects.exclude(email_address="").values_list("email_address", flat=True)
    )
    addresses.update(
        a.lower() for a in Mailbox.objects.filter(username__contains="@").values_list("username", flat=True)
    )
    addresses.discard("")
    _SYSTEM_ADDRESSES = (time.monotonic(), addresses)
    return addresses


def _is_own_message_id(message_id: str) -> bool:
    if message_id_ticket_number(message_id) is not None:
        return True
    local, _, domain = message_id.strip("<>").partition("@")
    return local.startswith("hd.") and domain == message_id_domain()


# ---------------------------------------------------------------- deciding


def _find_ticket(parsed: ParsedMail) -> tuple[Ticket | None, str]:
    """The ticket a message belongs to and how it was found ("header", "thread", "subject")."""
    ticket = None
    how = ""
    for mid in parsed.referenced_ids:
        number = message_id_ticket_number(mid)
        if number is not None:
            ticket = Ticket.objects.filter(number=number).first()
            if ticket is not None:
                how = "header"
                break
    if ticket is None and parsed.referenced_ids:
        entry = (
            ThreadEntry.objects.filter(message_id__in=parsed.referenced_ids[:50])
            .select_related("ticket")
            .order_by("-created_at")
            .first()
        )
        if entry is not None:
            ticket, how = entry.ticket, "thread"
    if ticket is None and parsed.subject_number is not None:
        ticket = Ticket.objects.filter(number=parsed.subject_number).first()
        how = "subject" if ticket else ""
    # A merged ticket's mail goes on in the ticket it was merged into.
    for _ in range(5):
        if ticket is None or ticket.merged_into_id is None:
            break
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket, how


def _agent_proved(parsed: ParsedMail, agent: User, ticket: Ticket) -> bool:
    """An agent's mail is trusted only as an answer to mail we sent that agent about the
    ticket: its signed Message-ID is known to their mailbox alone, unlike a From: line."""
    ours = [mid for mid in parsed.referenced_ids if message_id_ticket_number(mid) == ticket.number]
    return bool(ours) and Notification.objects.filter(message_id__in=ours, recipient_email=agent.email).exists()


def _uploads(parsed: ParsedMail) -> tuple[list[Upload], list[str]]:
    """The attachments that can be kept, and a line for each one that cannot."""
    kept: list[Upload] = []
    dropped: list[str] = []
    for upload in parsed.uploads:
        if len(kept) >= settings.ATTACHMENT_MAX_FILES:
            dropped.append(f"{upload.filename}: more than {settings.ATTACHMENT_MAX_FILES} files")
            continue
        try:
            attachment_check(upload)
        except InvalidInput as exc:
            dropped.append(exc.message)
            continue
        kept.append(upload)
    return kept, dropped


def _bodies(parsed: ParsedMail, *, trim: bool, dropped: list[str]) -> tuple[str, str]:
    text, html = parsed.text, parsed.html
    if trim:
        text = text_trim_quoted(text) if text.strip() else ""
        html = html_trim_quoted(html) if html.strip() else ""
    if dropped:
        note = "\n".join(f"[Attachment not kept: {line}]" for line in dropped)
        text = f"{text.rstrip()}\n\n{note}" if text.strip() else note
        if html:
            html += "".join(f"<p>[Attachment not kept: {single_line(line, 300)}]</p>" for line in dropped)
    if not text.strip() and not html.strip():
        text = "(The message has no text.)"
    return text, html


def _strip_note_prefix(text: str, html: str) -> tuple[bool, str, str]:
    prefix = settings.INBOUND_NOTE_PREFIX.strip()
    if not prefix:
        return False, text, html
    pattern = re.compile(rf"^\s*{re.escape(prefix)}\b[:\s]*", re.IGNORECASE)
    plain = text if text.strip() else re.sub(r"<[^>]*>", " ", html)
    if not pattern.match(plain):
        return False, text, html
    html_pattern = re.compile(rf"((?:\s|<[^>]*>)*){re.escape(prefix)}\b:?", re.IGNORECASE)
    return True, pattern.sub("", text, count=1), html_pattern.sub(r"\1", html, count=1)


def _process(record: InboundMessage, parsed: ParsedMail, *, force_new: bool = False) -> IngestResult:
    mailbox = record.mailbox
    if _is_own_message_id(parsed.message_id):
        return _finish(record, IngestResult(outcome=Outcome.IGNORED, reason="Mail the help desk sent (a mail loop)."))
    if parsed.from_address in _system_addresses():
        return _finish(
            record,
            IngestResult(
                outcome=Outcome.IGNORED, reason=f"Sent from the help desk's own address {parsed.from_address}."
            ),
        )
    if parsed.auto_reason:
        return _finish(record, IngestResult(outcome=Outcome.IGNORED, reason=f"Automatic mail: {parsed.auto_reason}."))

    ticket, how = (None, "") if force_new else _find_ticket(parsed)
    sender = User.objects.filter(email=parsed.from_address).first()
    uploads, dropped = _uploads(parsed)
    if ticket is not None:
        if sender is not None and sender.is_active and requester_may_write(sender, ticket):
            return _message(record, parsed, ticket, sender, uploads, dropped)
        if sender is not None and sender.is_agent and sender.is_active:
            return _agent_reply(record, parsed, ticket, sender, how, uploads, dropped)
        return _finish(
            record,
            IngestResult(
                outcome=Outcome.QUARANTINED,
                ticket=ticket,
                reason=f"{parsed.from_address} is not the requester or a collaborator of ticket "
                f"#{ticket.number} (matched by {how}).",
            ),
        )
    if sender is not None and sender.is_agent and not force_new:
        # A From: line is all a forger needs: a new ticket under an agent's name would read as
        # that agent's own words. An admin who knows the mail is genuine opens the ticket from it.
        return _finish(
            record,
            IngestResult(
                outcome=Outcome.QUARANTINED,
                reason=f"Mail from the agent address {parsed.from_address} that answers no ticket: "
                "held until an admin opens a ticket from it.",
            ),
        )
    return _new_ticket(record, parsed, mailbox, uploads, dropped, linked_to=None, sender=sender)


def _message(
    record: InboundMessage,
    parsed: ParsedMail,
    ticket: Ticket,
    sender: User,
    uploads: list[Upload],
    dropped: list[str],
) -> IngestResult:
    text, html = _bodies(parsed, trim=True, dropped=dropped)
    try:
        entry = ticket_services.ticket_add_message(
            ticket=ticket,
            author=sender,
            body=text,
            body_html=html,
            uploads=uploads,
            source=TicketSource.EMAIL,
            message_id=parsed.message_id,
            author_name=parsed.from_name or sender.name,
        )
    except InvalidTransition:
        # Closed past the reopen window: the answer opens a new ticket, linked to the old one.
        return _new_ticket(record, parsed, record.mailbox, uploads, dropped, linked_to=ticket, sender=sender)
    return _finish(
        record,
        IngestResult(outcome=Outcome.APPENDED, ticket=ticket, entry=entry, reason=f"Message on #{ticket.number}."),
    )


def _agent_reply(
    record: InboundMessage,
    parsed: ParsedMail,
    ticket: Ticket,
    agent: User,
    how: str,
    uploads: list[Upload],
    dropped: list[str],
) -> IngestResult:
    if how != "header" or not _agent_proved(parsed, agent, ticket):
        return _finish(
            record,
            IngestResult(
                outcome=Outcome.QUARANTINED,
                ticket=ticket,
                reason=f"Mail from the agent address {agent.email} that does not answer mail sent to "
                f"that agent about #{ticket.number} (matched by {how}).",
            ),
        )
    text, html = _bodies(parsed, trim=True, dropped=dropped)
    is_note, text, html = _strip_note_prefix(text, html)
    try:
        if is_note:
            entry = ticket_services.ticket_add_note(
                ticket=ticket,
                actor=agent,
                body=text,
                body_html=html,
                uploads=uploads,
                source=TicketSource.EMAIL,
                message_id=parsed.message_id,
            )
        else:
            entry = ticket_services.ticket_reply(
                ticket=ticket,
                actor=agent,
                body=text,
                body_html=html,
                uploads=uploads,
                source=TicketSource.EMAIL,
                message_id=parsed.message_id,
            )
    except (ActionNotAllowed, InvalidInput) as exc:
        return _finish(
            record,
            IngestResult(
                outcome=Outcome.QUARANTINED, ticket=ticket, reason=f"{agent.email} on #{ticket.number}: {exc}"
            ),
        )
    kind = "Note" if is_note else "Response"
    return _finish(
        record,
        IngestResult(
            outcome=Outcome.APPENDED, ticket=ticket, entry=entry, reason=f"{kind} by {agent.email} on #{ticket.number}."
        ),
    )


def _new_ticket(
    record: InboundMessage,
    parsed: ParsedMail,
    mailbox: Mailbox | None,
    uploads: list[Upload],
    dropped: list[str],
    *,
    linked_to: Ticket | None,
    sender: User | None = None,
) -> IngestResult:
    requester = sender or end_user_get_or_create(email=parsed.from_address, name=parsed.from_name)
    if not requester.is_active:
        return _finish(
            record, IngestResult(outcome=Outcome.QUARANTINED, reason=f"{parsed.from_address} is a deactivated account.")
        )
    text, html = _bodies(parsed, trim=linked_to is not None, dropped=dropped)
    topic = mailbox.help_topic if mailbox and mailbox.help_topic and mailbox.help_topic.is_active else None
    if topic is not None and not topic.is_public:
        topic = None
    try:
        ticket = ticket_services.ticket_create(
            requester=requester,
            subject=parsed.subject or "(no subject)",
            body=text,
            body_html=html,
            source=TicketSource.EMAIL,
            help_topic=topic,
            department=mailbox.department if mailbox else None,
            priority=mailbox.priority if mailbox else None,
            uploads=uploads,
            message_id=parsed.message_id,
        )
    except InvalidInput as exc:
        return _finish(record, IngestResult(outcome=Outcome.REJECTED, reason=f"{exc.field}: {exc.message}"))
    reason = f"New ticket #{ticket.number}."
    if linked_to is not None:
        ticket_services.ticket_link(ticket=ticket, other=linked_to, actor=None)
        reason = f"Ticket #{linked_to.number} is closed past its reopen window: new ticket #{ticket.number}, linked."
    entry = ticket.entries.order_by("id").first()
    return _finish(record, IngestResult(outcome=Outcome.CREATED, ticket=ticket, entry=entry, reason=reason))


# ---------------------------------------------------------------- admins' actions


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise ActionNotAllowed("Only admins may handle incoming mail.")


def _reprocess(*, message: InboundMessage, actor: User, force_new: bool) -> IngestResult:
    _require_admin(actor)
    with transaction.atomic():
        record = InboundMessage.objects.select_for_update(of=("self",)).select_related("mailbox").get(pk=message.pk)
        if not record.needs_attention:
            raise InvalidTransition("This message was handled already.")
        record.attempts += 1
        record.handled_by = actor
        try:
            parsed = mail_parse(bytes(record.raw))
        except MailParseError as exc:
            return _finish(record, IngestResult(outcome=Outcome.REJECTED, reason=str(exc)))
        record.from_address, record.subject = parsed.from_address, parsed.subject
        record.save(update_fields=["from_address", "subject"])
        return _process(record, parsed, force_new=force_new)


def inbound_message_retry(*, message: InboundMessage, actor: User) -> IngestResult:
    """Process a held or rejected message again (after fixing what stopped it: the sender
    added as a collaborator, a department reactivated, a parser fixed)."""
    return _reprocess(message=message, actor=actor, force_new=False)


def inbound_message_open_ticket(*, message: InboundMessage, actor: User) -> IngestResult:
    """Open a new ticket from a quarantined message instead of adding it to the ticket it named."""
    return _reprocess(message=message, actor=actor, force_new=True)


def inbound_message_discard(*, message: InboundMessage, actor: User) -> InboundMessage:
    _require_admin(actor)
    updated = InboundMessage.objects.filter(pk=message.pk, outcome__in=[Outcome.QUARANTINED, Outcome.REJECTED]).update(
        outcome=Outcome.DISCARDED, handled_by=actor, processed_at=timezone.now()
    )
    if updated != 1:
        raise InvalidTransition("This message was handled already.")
    message.refresh_from_db()
    return message


def mailbox_save(*, mailbox: Mailbox, actor: User) -> Mailbox:
    _require_admin(actor)
    if mailbox.after_fetch == "move" and not mailbox.move_to_folder.strip():
        raise InvalidInput("move_to_folder", "Name the folder fetched mail is moved to.")
    mailbox.save()
    return mailbox


__all__ = [
    "OUTCOMES",
    "IngestResult",
    "email_ingest",
    "inbound_message_discard",
    "inbound_message_open_ticket",
    "inbound_message_retry",
    "mailbox_save",
]

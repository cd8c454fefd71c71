"""Delivering the outbox.

`notification_send` claims a row with a conditional UPDATE (pending -> sending) and acts only
when it won the claim, so that two workers, or a task and the resender, never send one row
twice. A crash after the SMTP server accepted a message but before the row is marked sent
leaves it "sending"; the resender returns such rows to "pending" after a while, which may
repeat that one message and never loses it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.utils import timezone

from notifications.models import REQUESTER_KINDS, Notification, NotificationKind, NotificationState
from notifications.render import email_render
from tickets.models import EntryKind, ThreadEntry, Ticket
from tickets.sanitize import single_line

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STUCK_AFTER = timedelta(minutes=10)
# Sent on a person's behalf rather than automatically: no Auto-Submitted header.
PERSONAL_KINDS = frozenset({NotificationKind.RESPONSE})


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … up to an hour between tries."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def message_id_domain() -> str:
    address = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >")
    return address or "helpdesk.local"


def message_id_for(ticket: Ticket) -> str:
    """A Message-ID the help desk recognises as its own: it names the ticket and is signed,
    so that a forged header cannot steer a reply into another ticket."""
    nonce = secrets.token_hex(8)
    tag = hmac.new(settings.SECRET_KEY.encode(), f"{ticket.number}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"<hd.{ticket.number}.{nonce}.{tag}@{message_id_domain()}>"


def message_id_ticket_number(message_id: str) -> int | None:
    """The ticket number a Message-ID of ours names, if it is ours and its signature holds."""
    local = message_id.strip().strip("<>").split("@", 1)[0]
    parts = local.split(".")
    if len(parts) != 4 or parts[0] != "hd" or not parts[1].isdigit():
        return None
    expected = hmac.new(settings.SECRET_KEY.encode(), f"{parts[1]}.{parts[2]}".encode(), hashlib.sha256).hexdigest()[
        :16
    ]
    return int(parts[1]) if hmac.compare_digest(expected, parts[3]) else None


def _thread_references(ticket: Ticket) -> list[str]:
    ids = (
        ThreadEntry.objects.filter(ticket=ticket)
        .exclude(kind=EntryKind.NOTE)
        .exclude(message_id="")
        .order_by("created_at", "id")
        .values_list("message_id", flat=True)
    )
    return list(ids)[-10:]


def _context(notification: Notification) -> dict[str, object]:
    from tickets.services import access_link_issue

    ticket = notification.ticket
    event = notification.event
    context: dict[str, object] = {
        "notification": notification,
        "recipient": notification.recipient,
        "ticket": ticket,
        "event": event,
        "entry": event.entry if event is not None else None,
        "site_url": settings.SITE_URL,
        **notification.context,
    }
    if ticket is not None:
        context["staff_url"] = settings.SITE_URL + ticket.get_staff_url()
        if notification.kind in REQUESTER_KINDS and notification.recipient is not None and "link_url" not in context:
            token = access_link_issue(ticket=ticket, recipient=notification.recipient, revoke_older=False)
            context["link_url"] = f"{settings.SITE_URL}/t/{token}/"
    return context


def _build(notification: Notification) -> EmailMultiAlternatives:
    rendered = email_render(notification.kind, _context(notification))
    ticket = notification.ticket
    from_email = settings.DEFAULT_FROM_EMAIL
    headers: dict[str, str] = {}
    if ticket is not None:
        if ticket.department.email_address:
            from_email = formataddr((single_line(ticket.department.name, 64), ticket.department.email_address))
        references = _thread_references(ticket)
        if references:
            headers["In-Reply-To"] = references[-1]
            headers["References"] = " ".join(references)
        notification.message_id = notification.message_id or message_id_for(ticket)
    else:
        notification.message_id = notification.message_id or f"<hd.0.{secrets.token_hex(8)}@{message_id_domain()}>"
    headers["Message-ID"] = notification.message_id
    if notification.kind not in PERSONAL_KINDS:
        headers["Auto-Submitted"] = "auto-generated"
    recipient = (
        formataddr((single_line(notification.recipient.name, 64), notification.recipient_email))
        if notification.recipient
        else notification.recipient_email
    )
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=from_email,
        to=[recipient],
        headers=headers,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def notification_send(*, notification_id: int, now: datetime | None = None) -> bool:
    """Send one notification if it is pending and due. True when this call sent it."""
    now = now or timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, state=NotificationState.PENDING, next_attempt_at__lte=now
    ).update(state=NotificationState.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    if claimed != 1:
        return False
    notification = Notification.objects.select_related(
        "ticket__department", "ticket__requester", "event__entry", "recipient"
    ).get(pk=notification_id)
    try:
        message = _build(notification)
        message.send()
    except Exception as exc:  # SMTP errors, a template error, a closed connection: all retried
        failed = notification.attempts >= MAX_ATTEMPTS
        Notification.objects.filter(pk=notification_id, state=NotificationState.SENDING).update(
            state=NotificationState.FAILED if failed else NotificationState.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + backoff(notification.attempts),
            message_id=notification.message_id,
        )
        logger.warning("notification %s attempt %s failed: %s", notification_id, notification.attempts, exc)
        if failed:
            return False
        raise
    Notification.objects.filter(pk=notification_id, state=NotificationState.SENDING).update(
        state=NotificationState.SENT,
        sent_at=timezone.now(),
        context={},
        last_error="",
        message_id=notification.message_id,
    )
    return True


def notifications_requeue(*, now: datetime | None = None) -> list[int]:
    """Return rows stuck in "sending" (a worker killed mid-send) to "pending", and list the
    ids of pending rows that are due: the resender enqueues them again."""
    now = now or timezone.now()
    Notification.objects.filter(state=NotificationState.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        state=NotificationState.PENDING, next_attempt_at=now
    )
    return list(
        Notification.objects.filter(state=NotificationState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:5000]
    )

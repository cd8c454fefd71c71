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
import smtplib
from datetime import datetime, timedelta
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from notifications.models import (
    REQUESTER_KINDS,
    EmailTemplate,
    Notification,
    NotificationKind,
    NotificationSetting,
    NotificationState,
)
from notifications.render import PARTS, email_render, email_template_compile
from tickets.exceptions import ActionNotAllowed, InvalidInput
from tickets.models import Department, EntryKind, ThreadEntry, Ticket
from tickets.sanitize import single_line

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Sent on a person's behalf rather than automatically: no Auto-Submitted header.
PERSONAL_KINDS = frozenset({NotificationKind.RESPONSE})


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … up to an hour between tries."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def message_id_domain() -> str:
    address = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >")
    return address or "helpdesk.local"


def message_id_for(ticket: Ticket, notification_id: int | None = None) -> str:
    """A Message-ID the help desk recognises as its own: it names the ticket and is signed,
    so that a forged header cannot steer a reply into another ticket.

    For a notification it is derived from the row: sent again after a crash between the SMTP
    server accepting it and the row being marked sent, the copy carries the same Message-ID,
    so that mail systems (and the recipient's client) can tell it is the same message."""
    nonce = secrets.token_hex(8) if notification_id is None else _notification_nonce(notification_id)
    tag = hmac.new(settings.SECRET_KEY.encode(), f"{ticket.number}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"<hd.{ticket.number}.{nonce}.{tag}@{message_id_domain()}>"


def _notification_nonce(notification_id: int) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"notification.{notification_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


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


def _thread_references(notification: Notification) -> list[str]:
    """The Message-IDs of the conversation this recipient has seen, oldest first: the messages
    that came in by mail and what was sent to them before. Notes are never named."""
    ticket = notification.ticket
    entries = (
        ThreadEntry.objects.filter(ticket=ticket)
        .exclude(kind=EntryKind.NOTE)
        .exclude(message_id="")
        .values_list("created_at", "message_id")
    )
    sent = (
        Notification.objects.filter(
            ticket=ticket, recipient_email=notification.recipient_email, state=NotificationState.SENT
        )
        .exclude(message_id="")
        .exclude(pk=notification.pk)
        .values_list("created_at", "message_id")
    )
    ids = [mid for _, mid in sorted([*entries, *sent])]
    unique = list(dict.fromkeys(ids))
    # The first (the message that opened the thread) and the latest ones: mail clients thread on both.
    return unique if len(unique) <= 10 else [unique[0], *unique[-9:]]


def _context(notification: Notification) -> dict[str, object]:
    from tickets.services import access_link_issue

    ticket = notification.ticket
    event = notification.event
    entry = event.entry if event is not None else None
    if entry is not None and entry.kind == EntryKind.NOTE and notification.kind in REQUESTER_KINDS:
        # Whatever a template asks for, a note never reaches an end user.
        entry = None
    context: dict[str, object] = {
        "notification": notification,
        "recipient": notification.recipient,
        "ticket": ticket,
        "event": event,
        "entry": entry,
        "site_url": settings.SITE_URL,
        **notification.context,
    }
    if ticket is not None:
        context["staff_url"] = settings.SITE_URL + ticket.get_staff_url()
        if notification.kind in REQUESTER_KINDS and notification.recipient is not None and "link_url" not in context:
            # Only the status check's mail replaces the older links: a link in an earlier
            # notification keeps working when a new notification goes out.
            replace = notification.kind == NotificationKind.STATUS_LINK
            token = access_link_issue(ticket=ticket, recipient=notification.recipient, revoke_older=replace)
            context["link_url"] = settings.SITE_URL + reverse("portal:link", kwargs={"token": token})
    return context


def _build(notification: Notification) -> EmailMultiAlternatives:
    rendered = email_render(notification.kind, _context(notification))
    ticket = notification.ticket
    from_email = settings.DEFAULT_FROM_EMAIL
    headers: dict[str, str] = {}
    if ticket is not None:
        if ticket.department.email_address:
            from_email = formataddr((single_line(ticket.department.name, 64), ticket.department.email_address))
        references = _thread_references(notification)
        if references:
            headers["In-Reply-To"] = references[-1]
            headers["References"] = " ".join(references)
        notification.message_id = notification.message_id or message_id_for(ticket, notification.pk)
    else:
        nonce = _notification_nonce(notification.pk)
        notification.message_id = notification.message_id or f"<hd.0.{nonce}@{message_id_domain()}>"
    headers["Message-ID"] = notification.message_id
    if notification.kind not in PERSONAL_KINDS:
        headers["Auto-Submitted"] = "auto-generated"
        # Asks Exchange and others not to answer with out-of-office replies (mail loops).
        headers["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    recipient = (
        formataddr((single_line(notification.recipient.name, 64), notification.recipient_email))
        if notification.recipient
        else notification.recipient_email
    )
    subject = rendered.subject
    if ticket is not None and f"[#{ticket.number}]" not in subject:
        # Replies thread by this tag when a mail client drops the headers: an edited template keeps it.
        subject = single_line(f"{subject} [#{ticket.number}]", 998)
    message = EmailMultiAlternatives(
        subject=subject,
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
        failed = notification.attempts >= MAX_ATTEMPTS or _permanent(exc)
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


def _permanent(exc: Exception) -> bool:
    """An SMTP answer that a retry cannot change (5xx: no such mailbox, refused sender)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def notifications_requeue(*, now: datetime | None = None) -> list[int]:
    """Return rows stuck in "sending" (a worker killed mid-send) to "pending", and list the
    ids of pending rows left over: the resender enqueues them again.

    A pending row is left over when it has been due for a while (its task was lost with a
    broker restart or a killed worker); rows just written are still on their way.
    """
    now = now or timezone.now()
    stuck_after = timedelta(seconds=settings.NOTIFICATION_STUCK_SECONDS)
    grace = timedelta(seconds=settings.NOTIFICATION_RESEND_GRACE_SECONDS)
    Notification.objects.filter(state=NotificationState.SENDING, claimed_at__lt=now - stuck_after).update(
        state=NotificationState.PENDING, next_attempt_at=now - grace
    )
    ids = list(
        Notification.objects.filter(state=NotificationState.PENDING, next_attempt_at__lte=now - grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:5000]
    )
    # Each row is enqueued again at most once per grace period: behind a long backlog a row
    # still waiting in the queue is not enqueued over and over by every run.
    Notification.objects.filter(pk__in=ids, state=NotificationState.PENDING).update(next_attempt_at=now)
    return ids


def notification_retry(*, notification: Notification, actor: User) -> Notification:
    """An admin sends a failed notification again, from a fresh count of attempts."""
    if not actor.is_admin:
        raise ActionNotAllowed("Only admins may retry notifications.")
    with transaction.atomic():
        updated = Notification.objects.filter(pk=notification.pk, state=NotificationState.FAILED).update(
            state=NotificationState.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        if updated != 1:
            raise InvalidInput("notification", "Only a failed notification can be retried.")
        notification_id = notification.pk
        transaction.on_commit(lambda: enqueue_delivery(notification_id=notification_id))
    notification.refresh_from_db()
    return notification


def enqueue_delivery(*, notification_id: int | None = None, event_id: int | None = None) -> None:
    """Hand delivery to the worker. A broker that is down loses nothing: the row stays pending
    and the resender enqueues it again, so the caller (a committed change) is not failed."""
    from celery.exceptions import Retry

    from notifications.tasks import deliver, deliver_event

    try:
        if event_id is not None:
            deliver_event.apply_async((event_id,), retry=False)
        elif notification_id is not None:
            deliver.apply_async((notification_id,), retry=False)
    except Retry:
        pass  # run eagerly, the send failed and its retry is planned: the row says so
    except Exception as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        logger.warning("could not enqueue delivery (%s); the resender will send it", exc)


# ---------------------------------------------------------------- configuration


def notification_enabled(*, kind: str, department_id: int | None) -> bool:
    """Whether a kind is on for a department (see NotificationSetting)."""
    off = NotificationSetting.objects.filter(kind=kind, enabled=False).filter(
        Q(department__isnull=True) | Q(department_id=department_id)
    )
    return not off.exists()


def notification_setting_set(*, actor: User, kind: str, department: Department | None, enabled: bool) -> None:
    if not actor.is_admin:
        raise ActionNotAllowed("Only admins may change notifications.")
    if kind not in NotificationKind.values:
        raise InvalidInput("kind", f"Unknown notification {kind!r}.")
    NotificationSetting.objects.update_or_create(
        kind=kind, department=department, defaults={"enabled": enabled, "updated_at": timezone.now()}
    )


def email_template_save(*, actor: User, kind: str, subject: str, text: str, html: str) -> EmailTemplate:
    """Store an admin's edit of a kind's mail; InvalidInput names the part that does not compile."""
    if not actor.is_admin:
        raise ActionNotAllowed("Only admins may edit mail templates.")
    if kind not in NotificationKind.values:
        raise InvalidInput("kind", f"Unknown notification {kind!r}.")
    values = {"subject": subject, "text": text, "html": html}
    for part in PARTS:
        if not values[part].strip():
            raise InvalidInput(part, "This part cannot be empty.")
        try:
            email_template_compile(values[part])
        except Exception as exc:
            raise InvalidInput(part, f"Template error: {exc}") from None
    if "\n" in subject.strip() or "\r" in subject:
        raise InvalidInput("subject", "A subject is one line.")
    template, _ = EmailTemplate.objects.update_or_create(
        kind=kind, defaults={**values, "updated_at": timezone.now(), "updated_by": actor}
    )
    return template


def email_template_reset(*, actor: User, kind: str) -> None:
    if not actor.is_admin:
        raise ActionNotAllowed("Only admins may edit mail templates.")
    EmailTemplate.objects.filter(kind=kind).delete()

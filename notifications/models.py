"""The outbox: every notification is a row, written in the transaction of the change that
causes it, and delivered after commit by a Celery task that claims it first."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationKind(models.TextChoices):
    AUTO_RESPONSE = "auto_response", "New-ticket auto-response"
    NEW_TICKET_ALERT = "new_ticket_alert", "New-ticket alert"
    NEW_MESSAGE_ALERT = "new_message_alert", "New-message alert"
    RESPONSE = "response", "Agent response"
    NOTE_ALERT = "note_alert", "Internal-note alert"
    ASSIGNED_ALERT = "assigned_alert", "Assignment alert"
    TRANSFER_ALERT = "transfer_alert", "Transfer alert"
    OVERDUE_ALERT = "overdue_alert", "Overdue alert"
    WARNING_ALERT = "warning_alert", "SLA warning alert"
    RESOLVED_NOTICE = "resolved_notice", "Resolution notice"
    STATUS_LINK = "status_link", "Ticket link"
    MAILBOX_ALERT = "mailbox_alert", "Mail fetch failure alert"


# Alerts about the help desk itself rather than a ticket: sent to admins, not switchable per department.
SYSTEM_KINDS = frozenset({NotificationKind.MAILBOX_ALERT})

# Sent to end users: these never carry an internal note.
REQUESTER_KINDS = frozenset(
    {
        NotificationKind.AUTO_RESPONSE,
        NotificationKind.RESPONSE,
        NotificationKind.RESOLVED_NOTICE,
        NotificationKind.STATUS_LINK,
    }
)


class NotificationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(
        "tickets.TicketEvent", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient_email = models.EmailField()
    state = models.CharField(max_length=16, choices=NotificationState.choices, default=NotificationState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Values the message needs that are not in the database (a secret link): wiped once sent.
    context = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient_email"],
                condition=Q(event__isnull=False),
                name="notification_event_recipient_unique",
            )
        ]
        indexes = [
            # The resender's query: what is due for a (re)try.
            models.Index(fields=["next_attempt_at"], name="notification_pending_idx", condition=Q(state="pending")),
            models.Index(fields=["claimed_at"], name="notification_sending_idx", condition=Q(state="sending")),
            # Inbound mail proves an agent's reply by the Message-ID of the alert it answers.
            models.Index(fields=["message_id"], name="notification_message_id_idx"),
            models.Index(fields=["-created_at"], name="notification_failed_idx", condition=Q(state="failed")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient_email} ({self.state})"


class NotificationSetting(models.Model):
    """A notice or alert switched off (or back on) for the whole help desk or one department.

    With no row a kind is on. A kind is sent for a ticket when neither the global row nor the
    row of the ticket's department switches it off: the global switch is the master switch.
    """

    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    department = models.ForeignKey(
        "tickets.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "department"], condition=Q(department__isnull=False), name="notification_setting_dept"
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(department__isnull=True), name="notification_setting_global"
            ),
        ]

    def __str__(self) -> str:
        where = self.department.name if self.department_id and self.department else "everywhere"
        return f"{self.get_kind_display()} {'on' if self.enabled else 'off'} ({where})"


class EmailTemplate(models.Model):
    """An admin's edit of one kind's mail. Without a row, the files in templates/emails/ are used."""

    kind = models.CharField(max_length=32, choices=NotificationKind.choices, unique=True)
    subject = models.CharField(max_length=998)
    text = models.TextField()
    html = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"Template for {self.get_kind_display()}"

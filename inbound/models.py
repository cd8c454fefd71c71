"""Incoming mail: the mailboxes the help desk fetches, and every message it has taken in.

Every message is kept raw (InboundMessage) in the transaction that writes its ticket entry:
its Message-ID is unique, so that a message fetched twice (a crash before the mailbox was
told, two fetchers at once) is written once, and one that could not be handled is never lost.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AfterFetch(models.TextChoices):
    MARK_SEEN = "seen", "Mark as read"
    MOVE = "move", "Move to a folder"
    DELETE = "delete", "Delete"


class Security(models.TextChoices):
    SSL = "ssl", "SSL/TLS (port 993)"
    STARTTLS = "starttls", "STARTTLS (port 143)"
    NONE = "none", "None (only on a trusted network)"


class Mailbox(models.Model):
    name = models.CharField(max_length=128, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=16, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=255)
    # Kept as given: the IMAP server needs it back. Only admins see the configuration, and the
    # form never shows it again.
    password = models.CharField(max_length=255)
    folder = models.CharField(max_length=255, default="INBOX")
    department = models.ForeignKey("tickets.Department", on_delete=models.PROTECT, related_name="+")
    help_topic = models.ForeignKey(
        "tickets.HelpTopic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority = models.ForeignKey("tickets.Priority", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    after_fetch = models.CharField(max_length=16, choices=AfterFetch.choices, default=AfterFetch.MARK_SEEN)
    move_to_folder = models.CharField(max_length=255, blank=True, help_text="Where fetched mail goes (Move).")
    is_active = models.BooleanField(default=True)

    last_fetch_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failure_alerted_at = models.DateTimeField(null=True, blank=True)
    backlog = models.PositiveIntegerField(default=0, help_text="Messages left in the folder after the last fetch.")
    # A fetch holds the mailbox until then, so that two runs never read it at once.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.name


class Outcome(models.TextChoices):
    CREATED = "created", "New ticket"
    APPENDED = "appended", "Added to a ticket"
    DUPLICATE = "duplicate", "Seen before"
    IGNORED = "ignored", "Ignored (automatic mail or a loop)"
    QUARANTINED = "quarantined", "Quarantined"
    REJECTED = "rejected", "Could not be processed"
    DISCARDED = "discarded", "Discarded by an admin"


class InboundMessage(models.Model):
    message_id = models.CharField(max_length=255)
    raw = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    via = models.CharField(max_length=16, default="pipe", help_text="pipe, imap or api")
    from_address = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entry = models.ForeignKey("tickets.ThreadEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message_id"], name="inbound_message_id_unique")]
        indexes = [
            # The admins' list of what needs a look.
            models.Index(
                fields=["-received_at"],
                name="inbound_attention_idx",
                condition=Q(outcome__in=["quarantined", "rejected"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"

    @property
    def needs_attention(self) -> bool:
        return self.outcome in (Outcome.QUARANTINED, Outcome.REJECTED)

"""Tickets and what they are made of.

Only `tickets/services.py` changes a ticket's status, department, assignee, priority or SLA
plan (a test keeps it so); everything here is data and the rules that are data.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from pathlib import PurePath
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Department(models.Model):
    name = models.CharField(max_length=128, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_departments"
    )
    default_sla_plan = models.ForeignKey(
        "sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_response = models.BooleanField(default=True, help_text="Send the new-ticket auto-response to requesters.")
    email_address = models.EmailField(blank=True, help_text="Outgoing address for this department's mail.")
    signature = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Priority(models.Model):
    """Priorities sort by urgency: 1 is the most urgent."""

    name = models.CharField(max_length=32, unique=True)
    urgency = models.PositiveSmallIntegerField(unique=True)
    color = models.CharField(max_length=16, default="secondary", help_text="A Bootstrap colour name.")
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["urgency"]
        verbose_name_plural = "priorities"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_priority"
            )
        ]

    def __str__(self) -> str:
        return self.name


class TicketState(models.TextChoices):
    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting on customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Status(models.Model):
    """A named status in one of the four states; admins may add more (e.g. "In progress")."""

    # Which states a ticket may move to from each state. Moving between two statuses of the
    # same state is always allowed. Reopening is CLOSED or RESOLVED -> OPEN.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        TicketState.OPEN: frozenset({TicketState.WAITING, TicketState.RESOLVED, TicketState.CLOSED}),
        TicketState.WAITING: frozenset({TicketState.OPEN, TicketState.RESOLVED, TicketState.CLOSED}),
        TicketState.RESOLVED: frozenset({TicketState.OPEN, TicketState.CLOSED}),
        TicketState.CLOSED: frozenset({TicketState.OPEN}),
    }
    ACTIVE_STATES: ClassVar[frozenset[str]] = frozenset({TicketState.OPEN, TicketState.WAITING})

    name = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=16, choices=TicketState.choices)
    is_default = models.BooleanField(default=False, help_text="The status a ticket gets on entering this state.")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=models.Q(is_default=True), name="one_default_status_per_state"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def can_move_to(self, other: Status) -> bool:
        return other.state == self.state or other.state in self.TRANSITIONS[self.state]

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class HelpTopic(models.Model):
    name = models.CharField(max_length=128, unique=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="help_topics")
    priority = models.ForeignKey(Priority, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sla_plan = models.ForeignKey("sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    auto_assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    round_robin = models.BooleanField(
        default=False, help_text="Assign new tickets in turn among the department's available agents."
    )
    round_robin_last_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    is_public = models.BooleanField(default=True, help_text="Offered in the client portal.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TicketSource(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "Email"
    API = "api", "API"
    PHONE = "phone", "Phone"
    OTHER = "other", "Other"


class Ticket(models.Model):
    number = models.PositiveBigIntegerField(unique=True, editable=False)
    subject = models.CharField(max_length=255)
    # Indexed by ticket_requester_idx (requester_id, updated_at), which also serves lookups by
    # requester alone: a second index on the column would only slow every write.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    collaborators = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="collaborating_tickets")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tickets")
    help_topic = models.ForeignKey(HelpTopic, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    priority = models.ForeignKey(Priority, on_delete=models.PROTECT, related_name="tickets")
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="tickets")
    # Copied from status.state by the services, so that queues filter on one column.
    state = models.CharField(max_length=16, choices=TicketState.choices, default=TicketState.OPEN, editable=False)
    # Indexed by ticket_assignee_idx (assignee_id, state).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    sla_plan = models.ForeignKey(
        "sla.SLAPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    source = models.CharField(max_length=16, choices=TicketSource.choices, default=TicketSource.WEB)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    # Due instants, copied from the SLA clocks (sla.TicketClock) for sorting queues.
    due_at = models.DateTimeField(null=True, blank=True, help_text="When resolution is due.")
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    is_overdue = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)

    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged")
    linked = models.ManyToManyField("self", blank=True, symmetrical=True)

    satisfaction_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    satisfaction_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    # Incremented by every service call: a stale edit (an agent's form loaded before another
    # agent's change) is refused when it names an older version.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "department", "due_at"], name="ticket_queue_idx"),
            models.Index(fields=["assignee", "state"], name="ticket_assignee_idx"),
            models.Index(fields=["requester", "-updated_at"], name="ticket_requester_idx"),
            models.Index(fields=["-updated_at"], name="ticket_updated_idx"),
            models.Index(fields=["created_at"], name="ticket_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_active(self) -> bool:
        return self.state in Status.ACTIVE_STATES

    def get_staff_url(self) -> str:
        return reverse("staff:ticket", kwargs={"number": self.number})

    def get_portal_url(self) -> str:
        return reverse("portal:ticket", kwargs={"number": self.number})


class EntryKind(models.TextChoices):
    MESSAGE = "message", "Message"
    RESPONSE = "response", "Response"
    NOTE = "note", "Internal note"


class ThreadEntry(models.Model):
    """One post in a ticket's thread. Notes are internal: never shown to end users."""

    # Indexed by entry_ticket_idx (ticket_id, created_at).
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries", db_index=False)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The name shown for the author, kept as written (an email's From name, "System").
    author_name = models.CharField(max_length=128, blank=True)
    title = models.CharField(max_length=255, blank=True)
    # Always plain text (for search, text mail and previews); body_html is sanitised HTML or "".
    body = models.TextField()
    body_html = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=TicketSource.choices, default=TicketSource.WEB)
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "thread entries"
        indexes = [models.Index(fields=["ticket", "created_at"], name="entry_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on #{self.ticket.number}"

    @property
    def is_public(self) -> bool:
        return self.kind != EntryKind.NOTE


def attachment_path(instance: Attachment, filename: str) -> str:
    # Files are stored under generated names: the name a user gave is never a path.
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    entry = models.ForeignKey(ThreadEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=128, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content_id = models.CharField(max_length=255, blank=True, help_text="For inline images in HTML mail.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def extension(self) -> str:
        return PurePath(self.filename).suffix.lower()


class CannedResponse(models.Model):
    """A prepared reply: personal (owner set), for a department, or for everyone (neither)."""

    title = models.CharField(max_length=128)
    body = models.TextField()
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="canned_responses"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    MESSAGE = "message", "Message received"
    RESPONSE = "response", "Response sent"
    NOTE = "note", "Internal note"
    ASSIGNED = "assigned", "Assigned"
    TRANSFERRED = "transferred", "Transferred"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    SLA_CHANGED = "sla_changed", "SLA plan changed"
    HELP_TOPIC_CHANGED = "help_topic_changed", "Help topic changed"
    STATUS_CHANGED = "status_changed", "Status changed"
    DUE_OVERRIDDEN = "due_overridden", "Due date overridden"
    COLLABORATOR_ADDED = "collaborator_added", "Collaborator added"
    COLLABORATOR_REMOVED = "collaborator_removed", "Collaborator removed"
    MERGED = "merged", "Merged"
    LINKED = "linked", "Linked"
    RATED = "rated", "Rated"
    OVERDUE = "overdue", "Overdue"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_STARTED = "sla_started", "SLA clock started"
    SLA_PAUSED = "sla_paused", "SLA clock paused"
    SLA_RESUMED = "sla_resumed", "SLA clock resumed"
    SLA_MET = "sla_met", "SLA target met"
    SLA_RETARGETED = "sla_retargeted", "SLA clock retargeted"


class TicketEvent(models.Model):
    """The audit trail: who changed what, from what, to what, when. Also the source of alerts."""

    # Indexed by event_ticket_idx (ticket_id, created_at).
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    from_value = models.CharField(max_length=255, blank=True)
    to_value = models.CharField(max_length=255, blank=True)
    entry = models.ForeignKey(ThreadEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"


class AccessLink(models.Model):
    """A secret link that lets one recipient reach one ticket without signing in.

    Only a hash of the token is stored; issuing a new link for the same recipient and ticket
    revokes the older ones.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="access_links")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ticket", "recipient"], name="accesslink_ticket_idx")]

    def __str__(self) -> str:
        return f"Link to #{self.ticket_id} for {self.recipient_id}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_valid_at(self, when: datetime) -> bool:
        return self.revoked_at is None and when < self.expires_at


class SavedQueue(models.Model):
    """A queue an agent saved from a filtered list: personal, or shared with every agent.

    It only narrows: whoever opens it sees, of its tickets, those they may see anyway.
    """

    name = models.CharField(max_length=64)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queues")
    is_shared = models.BooleanField(default=False, help_text="Listed for every agent, not only its owner.")
    # The built-in queue it starts from (tickets.queues.QUEUES) and the filter form's values.
    base = models.CharField(max_length=32, default="all")
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_queue_owner_name_unique")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("staff:saved_queue", kwargs={"pk": self.pk})


class TicketLock(models.Model):
    """Who is writing a reply on a ticket, until when.

    One row per ticket. It lapses at `expires_at` unless its holder renews it (the reply box
    does while they type), so a closed browser tab never keeps others waiting for long.
    """

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="lock")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    acquired_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Lock on ticket {self.ticket_id} by {self.agent_id}"

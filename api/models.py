"""API keys for the osTicket-compatible intake (`X-API-Key`), REST API tokens, and webhooks."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


def parse_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """IPs and CIDR ranges, separated by commas, spaces or new lines."""
    networks = []
    for part in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValidationError(f"{part!r} is not an IP address or a CIDR range.") from None
    return networks


def validate_networks(value: str) -> None:
    if not parse_networks(value):
        raise ValidationError("Give at least one IP address or CIDR range.")


class ApiKey(models.Model):
    """A key is stored as its SHA-256 hash; the key itself is shown once, when it is made."""

    name = models.CharField(max_length=128)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=8, editable=False, help_text="The first characters, to recognise it.")
    allowed_addresses = models.TextField(
        validators=[validate_networks], help_text="IP addresses or CIDR ranges the key may be used from."
    )
    can_create_tickets = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.strip().encode()).hexdigest()

    def set_key(self, key: str) -> None:
        self.key_hash = self.hash_key(key)
        self.key_prefix = key.strip()[:8]

    def allows_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in parse_networks(self.allowed_addresses))


class ApiToken(models.Model):
    """A personal token for the REST API (`Authorization: Token …`).

    Like API keys, only a hash is stored: the token is shown once, when it is issued. A user
    may hold several (one per script or device); each is revoked on its own.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key_prefix}… for {self.user_id}"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.strip().encode()).hexdigest()


class WebhookEvent(models.TextChoices):
    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated"
    TICKET_REPLIED = "ticket.replied", "Ticket replied (response or message)"
    TICKET_STATUS_CHANGED = "ticket.status_changed", "Ticket status changed"
    SLA_WARNING = "sla.warning", "SLA warning"
    SLA_BREACH = "sla.breach", "SLA breach (overdue)"


def validate_webhook_events(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event.")
    unknown = [v for v in value if v not in WebhookEvent.values]
    if unknown:
        raise ValidationError(f"Unknown events: {', '.join(map(str, unknown))}.")


def validate_webhook_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Give an http:// or https:// address.")
    if parts.username or parts.password:
        raise ValidationError("Put no credentials in the address; the signature authenticates the help desk.")


class Webhook(models.Model):
    """An endpoint that hears of ticket events, signed with its own secret."""

    name = models.CharField(max_length=128)
    url = models.URLField(max_length=500, validators=[validate_webhook_url])
    # Kept in clear: the help desk needs it to sign each delivery (HMAC-SHA256).
    secret = models.CharField(max_length=128)
    events = models.JSONField(default=list, validators=[validate_webhook_events])
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the webhooks' outbox, written in the event's transaction."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32, choices=WebhookEvent.choices)
    ticket_event = models.ForeignKey(
        "tickets.TicketEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The resender's query: what is due for a (re)try.
            models.Index(fields=["next_attempt_at"], name="delivery_pending_idx", condition=Q(state="pending")),
            models.Index(fields=["claimed_at"], name="delivery_sending_idx", condition=Q(state="sending")),
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.webhook_id} ({self.state})"


class WebhookAttempt(models.Model):
    """The delivery log: one row per try, with what the endpoint answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"Attempt on {self.delivery_id}: {self.status_code or self.error[:40]}"

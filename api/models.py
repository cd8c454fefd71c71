"""API keys for the osTicket-compatible intake (`X-API-Key`)."""

from __future__ import annotations

import hashlib
import ipaddress

from django.core.exceptions import ValidationError
from django.db import models
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

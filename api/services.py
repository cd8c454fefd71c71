from __future__ import annotations

import secrets

from api.models import ApiKey


def api_key_create(
    *, name: str, allowed_addresses: str, key: str | None = None, can_create_tickets: bool = True
) -> tuple[ApiKey, str]:
    """Make a key (32 upper-case hex characters, as osTicket's) and return it with its row."""
    key = key or secrets.token_hex(16).upper()
    api_key = ApiKey(name=name, allowed_addresses=allowed_addresses, can_create_tickets=can_create_tickets)
    api_key.set_key(key)
    api_key.full_clean()
    api_key.save()
    return api_key, key

"""Ticket numbers: digits only, no leading zero, and not guessable from the previous one."""

from __future__ import annotations

import secrets

from django.conf import settings


def ticket_number_random() -> int:
    digits = settings.TICKET_NUMBER_DIGITS
    low = 10 ** (digits - 1)
    return low + secrets.randbelow(9 * low)

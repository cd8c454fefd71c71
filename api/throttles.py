"""Request limits, read from the settings when they are applied (tests and operators may change them).

A limit never fails a request because its counter store is down: the request goes through
and the failure is logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from helpdesk.network import client_ip

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int] | None:
    """ "3000/minute" -> (3000, 60); None for an empty or unreadable rate (no limit)."""
    count, _, period = (rate or "").partition("/")
    if not count.strip().isdigit() or not period.strip() or period.strip()[0] not in PERIODS:
        return None
    return int(count), PERIODS[period.strip()[0]]


class _SettingsRateThrottle(SimpleRateThrottle):
    setting = ""

    def __init__(self) -> None:
        # Read at use, not at import: SimpleRateThrottle would bind the rate once.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[arg-type]

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting, "") or None

    def get_ident(self, request: Request) -> str:
        return client_ip(request)

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache (Redis) is down: do not turn that into an error
            logger.warning("throttle %s skipped: %s", type(self).__name__, exc)
            return True


class AnonThrottle(_SettingsRateThrottle):
    scope = "anon"
    setting = "API_THROTTLE_ANON"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserThrottle(_SettingsRateThrottle):
    scope = "user"
    setting = "API_THROTTLE_USER"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class LoginAddressThrottle(_SettingsRateThrottle):
    """Token sign-in attempts per client address."""

    scope = "login-address"
    setting = "API_THROTTLE_LOGIN"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginEmailThrottle(_SettingsRateThrottle):
    """Token sign-in attempts per account, whatever address they come from."""

    scope = "login-email"
    setting = "API_THROTTLE_LOGIN"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": email.strip().lower()[:254]}

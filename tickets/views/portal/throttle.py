"""Throttles for the portal's forms: counters per address and per client IP in the cache.

A form over its limit says how long to wait and does nothing. If the cache cannot be reached
the request goes through (logged): a help desk that refuses every sign-in because Redis
restarted is worse than one that, for a moment, counts nothing.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from helpdesk.network import client_ip

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Throttle:
    group: str  # a key of settings.THROTTLES, less the "_per_…" suffix

    def rates(self) -> tuple[str, str]:
        return settings.THROTTLES[f"{self.group}_per_address"], settings.THROTTLES[f"{self.group}_per_ip"]


TICKETS = Throttle("tickets")
LINKS = Throttle("links")
LOGINS = Throttle("logins")


def _network(ip: str) -> str:
    # One IPv6 client usually holds a whole /64: count it as one.
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 64 if address.version == 6 else 32
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def throttle_wait(request: HttpRequest, throttle: Throttle, *, address: str = "", count: bool = True) -> int:
    """Seconds to wait when `request` is over either limit of `throttle`, else 0.

    `count=False` only looks (a form shown again with errors is not a new attempt)."""
    per_address, per_ip = throttle.rates()
    keys = [(f"{throttle.group}:ip", per_ip, _network(client_ip(request)))]
    if address:
        keys.append((f"{throttle.group}:address", per_address, address.strip().lower()))
    wait = 0
    for group, rate, value in keys:
        try:
            usage = get_usage(request, group=group, key=lambda _g, _r, v=value: v, rate=rate, increment=count)
        except Exception:  # the cache is down: let the request through
            logger.exception("throttle %s: the cache could not be reached", group)
            continue
        if usage is not None and usage["limit"] == 0:
            continue  # the counter could not be read or written: as if the cache were down
        if usage is not None and usage["should_limit"]:
            wait = max(wait, int(usage["time_left"]), 1)
    return wait


def throttle_message(wait: int) -> str:
    minutes = (wait + 59) // 60
    when = (
        f"{minutes} minute{'s' if minutes != 1 else ''}" if wait >= 60 else f"{wait} second{'s' if wait != 1 else ''}"
    )
    return f"Too many attempts from this address or network. Wait {when} and try again."

"""The client's address, believing X-Forwarded-For only from trusted proxies (TRUSTED_PROXIES)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The peer address, or, when the peer is a trusted proxy, the first address of
    X-Forwarded-For read from the right that is not a trusted proxy itself.

    Reading from the right matters: a client can write anything at the left of the header,
    only the hops our own proxies appended can be believed.
    """
    peer = _parse(request.META.get("REMOTE_ADDR", "")) or ipaddress.ip_address("0.0.0.0")  # noqa: S104  # nosec B104 (a fallback client address to compare, not an address to bind)
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    if not trusted or not any(peer in net for net in trusted):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        address = _parse(hop)
        if address is None:
            # An unreadable hop: nothing left of it can be believed either.
            break
        if not any(address in net for net in trusted):
            return str(address)
        peer = address
    return str(peer)

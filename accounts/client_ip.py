"""The client's IP address for login throttling (django-axes), read through the reverse proxies we trust.

Behind a proxy every request comes from the proxy's address; only a proxy listed in TRUSTED_PROXIES may
tell us who the client is, and only through the part of X-Forwarded-For that trusted proxies wrote.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES parsed once per value; a typo must stop the app, not silently trust nobody."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network") from exc
    return tuple(networks)


def _address(value: str) -> IPAddress | None:
    """The address in one header value or REMOTE_ADDR, IPv4-mapped IPv6 read as IPv4; None if invalid."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or when that is a trusted proxy the right-most X-Forwarded-For address that is not one.

    Each proxy appends the address it received the request from, so everything left of the first hop we
    do not trust was written by the client and may be forged; a value there is never used. When the hop
    we would pick is not a valid address, the proxy's own address is used instead.
    """
    remote_addr = str(request.META.get("REMOTE_ADDR") or "")
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", None) or ()))
    remote = _address(remote_addr)
    if not networks or remote is None or not _trusted(remote, networks):
        return remote_addr
    hops = [hop for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote_addr
        if not _trusted(address, networks):
            return str(address)
    # Every hop is a trusted proxy (a request from inside our own network): the first one sent it.
    first = _address(hops[0]) if hops else None
    return str(first) if first is not None else remote_addr

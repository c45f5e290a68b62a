"""Where we may send: the SSRF rules for an endpoint's URL and for the addresses its host
resolves to."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    def __init__(self, message: str, code: str = "url_refused") -> None:
        super().__init__(message)
        self.code = code


# Ranges Python's ipaddress does not already treat as non-global, or that embed another address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def address_refusal(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why we would not send to this IP address, or None for a public unicast address.

    Refused: loopback, private, shared (CGNAT), link-local (cloud metadata at 169.254.169.254 and
    fe80::/10), unique-local, multicast, unspecified, reserved and documentation ranges, for IPv4
    and IPv6, and IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) judged by
    that address. `allow_loopback` (the local stack only) lets loopback through, nothing else.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) changes nothing
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is None and (ip in _NAT64 or ip in _NAT64_LOCAL):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(str(embedded), allow_loopback=allow_loopback)
            return f"embeds {embedded}: {inner}" if inner else None
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("not globally reachable", not ip.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, no brackets
    port: int
    is_ip: bool


def check_url(url: str, *, allow_loopback: bool = False) -> Target:
    """The static rules for an endpoint URL: https, a host, no credentials, and if the host is an IP
    literal, a public one. A name is resolved and checked at every delivery (DNS can change)."""
    if len(url) > 2048:
        raise UrlRefused("the URL is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("not a valid URL") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL carries credentials")
    is_ip = _is_ip(host)
    loopback = is_ip and ipaddress.ip_address(host).is_loopback
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_loopback and loopback):
        raise UrlRefused("only https endpoints are allowed", code="url_not_https")
    if is_ip and (reason := address_refusal(host, allow_loopback=allow_loopback)):
        raise UrlRefused(f"{host} is not a public address ({reason})", code="address_refused")
    if not is_ip and (host in ("localhost", "localhost.localdomain") or host.endswith(".localhost")):
        raise UrlRefused("localhost is not a public address", code="address_refused")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), is_ip)


def check_addresses(addresses: Sequence[str], *, allow_loopback: bool = False) -> None:
    """Every address a name resolves to must be public: one private answer refuses the lot."""
    if not addresses:
        raise UrlRefused("the host resolves to no address", code="dns_failed")
    for address in addresses:
        if reason := address_refusal(address, allow_loopback=allow_loopback):
            raise UrlRefused(f"the host resolves to {address} ({reason})", code="address_refused")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True

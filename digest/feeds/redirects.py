"""Which redirects a feed fetch follows: http(s) only, at most 5, never from public to private.

A feed URL is the operator's choice, so one on a private or loopback address (an intranet feed,
a test server) is fetched as configured. A redirect is the feed server's choice: followed from a
public address to a private, loopback, link-local or otherwise special one, it would let any
feed make digest request the cloud metadata service (169.254.169.254) or the operator's own
network. The target host is resolved to decide; a host with any non-public address counts as
private. (The request resolves the name again, so a DNS answer that changes in between is not
caught here; the per-hop check still stops every plain redirect.)
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import httpx

from digest.feeds.common import FeedError

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

HostCheck = Callable[[str], bool]


def address_is_public(address: str) -> bool:
    """True for a globally routable IP address (an IPv4-mapped IPv6 address as its IPv4).

    is_global also rules out what the named properties leave, such as 100.64.0.0/10 (carrier
    NAT, often an operator's own network).
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone index is not the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
        or ip.is_multicast or ip.is_unspecified
    )


def host_is_public(host: str) -> bool:
    """True when every address the host name (or IP literal) stands for is public."""
    try:
        return address_is_public(host)
    except ValueError:
        pass  # a name, not an address
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FeedError(f"cannot resolve {host} to check a redirect: {exc}") from None
    return bool(found) and all(address_is_public(str(info[4][0])) for info in found)


def redirect_target(
    current: httpx.URL,
    location: str | None,
    redirects: int,
    is_public: HostCheck = host_is_public,
) -> httpx.URL:
    """The URL a redirect from `current` leads to, if digest follows it; FeedError says why not.

    `redirects` is how many were followed before this one.
    """
    if not location:
        raise FeedError("the feed redirects without saying where (no Location header)")
    if redirects >= MAX_REDIRECTS:
        raise FeedError(f"too many redirects (more than {MAX_REDIRECTS})")
    try:
        target = current.join(location.strip())
    except httpx.InvalidURL as exc:
        raise FeedError(f"the feed redirects to a malformed URL: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise FeedError(f"the feed redirects to {target}, which is not an http(s) URL")
    if is_public(current.host) and not is_public(target.host):
        raise FeedError(
            f"the feed redirects from a public address to {target.host}, a private, loopback "
            "or link-local one, which digest does not follow"
        )
    return target

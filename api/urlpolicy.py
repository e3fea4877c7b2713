"""The one URL policy for everything this package fetches or sends bytes to: result downloads and
each redirect hop, URL media inputs, upload URLs, base URLs.

- https to public hosts;
- plain http only to loopback (localhost, 127.0.0.0/8, ::1), for local servers and the emulator;
- never private, shared, link-local, multicast, unspecified or reserved addresses, whether written
  as a literal or resolved from the name (every address of the name is checked); loopback is the
  one exception, for local servers.

``check_url`` is the synchronous part (scheme, host form, literal addresses). ``check_url_resolved``
also resolves the name (off the event loop) and checks every address. The transport pins each
connection to an address checked here, so a name cannot resolve to a public address for the check
and to a private one for the connection (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> addresses``; the default asks the system resolver in a worker thread.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose blocks (IANA registries) that are not globally reachable, listed here as well as
# asked of ``ipaddress``: its answers differ between Python versions.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class UrlRefused(ValueError):
    """A URL (or an address it resolves to) the policy does not allow. The message names the host,
    never the query (which may hold a signature)."""


class NameNotResolved(OSError):
    """The name has no address right now (a network error, worth another try - not a refusal)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, without IPv6 brackets
    port: int
    literal: IPAddress | None  # the host when it is an IP address


def is_loopback_host(host: str | None) -> bool:
    """True for localhost (and *.localhost), 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z)."""
    if not host:
        return False
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = literal_address(host)
    return address is not None and _unmapped(address).is_loopback


def literal_address(host: str) -> IPAddress | None:
    """The host as an IP address, or None when it is a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id does not change the address
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded_v4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (6to4, Teredo, NAT64): each must be public too."""
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def address_problem(address: IPAddress | str) -> str | None:
    """Why an address may not be contacted (None when it may). Loopback is allowed."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    ip = _unmapped(ip)
    if ip.is_loopback:
        return None
    for what, bad in (
        ("an unspecified", ip.is_unspecified),
        ("a multicast", ip.is_multicast),
        ("a link-local", ip.is_link_local),
        ("a reserved", ip.is_reserved),
        ("a private", ip.is_private),
        (
            "a non-public",
            not ip.is_global or any(ip in net for net in _NOT_PUBLIC if net.version == ip.version),
        ),
    ):
        if bad:
            return f"{what} address"
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_v4(ip):
            problem = address_problem(inner)
            if problem is not None:
                return f"{problem} (inside {ip.compressed})"
    return None


def check_url(url: str) -> Target:
    """The static checks: an http(s) URL with a host; plain http only to a loopback host; a literal
    address must be allowed. Raises UrlRefused."""
    try:
        parts = urlsplit(url or "")
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:  # e.g. a port that is not a number
        raise UrlRefused(f"the URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise UrlRefused("only https URLs (plain http only for loopback hosts) are accepted")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in host):
        raise UrlRefused("the URL's host is malformed")
    if scheme == "http" and not is_loopback_host(host):
        raise UrlRefused(f"plain http to {host} is refused: only loopback hosts may use http, others https")
    literal = literal_address(host)
    if literal is not None:
        problem = address_problem(literal)
        if problem is not None:
            raise UrlRefused(f"{host} is {problem}")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), literal)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (``getaddrinfo`` runs in a worker thread)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(
    host: str, port: int, *, resolver: Resolver | None = None, scheme: str = "https"
) -> list[str]:
    """The addresses of ``host`` after checking every one of them (a literal is its own address).
    Raises UrlRefused when any is not allowed, NameNotResolved when the name has no address."""
    literal = literal_address(host.strip("[]"))
    if literal is not None:
        addresses = [literal.compressed]
    else:
        try:
            addresses = await (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise NameNotResolved(f"{host} could not be resolved ({type(exc).__name__})") from None
        if not addresses:
            raise NameNotResolved(f"{host} could not be resolved (no address)")
    check_addresses(host, addresses, scheme=scheme)
    return list(addresses)


def check_addresses(host: str, addresses: Iterable[str], *, scheme: str = "https") -> None:
    for address in addresses:
        try:
            ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        except ValueError:
            raise UrlRefused(f"{host} resolved to something that is not an address") from None
        problem = address_problem(ip)
        if problem is not None:
            raise UrlRefused(f"{host} resolves to {problem} ({ip.compressed})")
        if scheme == "http" and not _unmapped(ip).is_loopback:
            raise UrlRefused(f"{host} resolves to {ip.compressed}: plain http is only for loopback")


async def check_url_resolved(url: str, *, resolver: Resolver | None = None) -> Target:
    """``check_url`` plus every resolved address of the host. Raises UrlRefused or NameNotResolved."""
    target = check_url(url)
    await checked_addresses(target.host, target.port, resolver=resolver, scheme=target.scheme)
    return target


def host_of(url: str) -> str:
    """The host of a URL for messages (never its query, which may hold a signature)."""
    try:
        return urlsplit(url or "").hostname or "?"
    except ValueError:
        return "?"

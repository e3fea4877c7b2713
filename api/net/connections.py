"""Connections under the URL policy: every new TCP connection's name is resolved (off the event
loop), every address checked, and the socket connected to a checked address - never to whatever the
name resolves to a moment later (DNS rebinding). ``build_http`` makes the httpx client that uses it."""

from __future__ import annotations

import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from .. import urlpolicy


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0
    write: float = 120.0
    pool: float = 10.0
    download: float = 900.0  # whole download
    #: A download is stalled when fewer than ``stall_bytes`` arrive in ``stall`` seconds (a trickle
    #: of a byte every few seconds never trips a per-read timeout, so this is measured per window).
    stall: float = 60.0
    stall_bytes: int = 16 << 10


class PolicyBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the URL policy allows: the name is resolved here
    (off the event loop), every address is checked, and the socket connects to a checked address,
    never to whatever the name resolves to a moment later. ``trusted`` (host, port) pairs - the
    provider API the user configured - connect as they are."""

    def __init__(
        self, trusted: set[tuple[str, int]] | None = None, resolver: urlpolicy.Resolver | None = None
    ) -> None:
        self._inner = httpcore.AnyIOBackend()  # asyncio (ComfyUI, the CLI) through anyio
        self._trusted = trusted or set()
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        kw = dict(timeout=timeout, local_address=local_address, socket_options=socket_options)
        if (host.lower(), port) in self._trusted:
            return await self._inner.connect_tcp(host, port, **kw)
        try:
            addresses = await urlpolicy.checked_addresses(host, port, resolver=self._resolver)
        except urlpolicy.NameNotResolved as exc:  # like any connect failure: nothing was sent
            raise httpcore.ConnectError(str(exc)) from None
        if urlpolicy.is_loopback_host(host):  # a loopback name must stay on this machine
            urlpolicy.check_addresses(host, addresses, scheme="http")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, **kw)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None):  # type: ignore[no-untyped-def]
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def build_http(
    timeouts: Timeouts,
    *,
    trusted_urls: tuple[str, ...] = (),
    resolver: urlpolicy.Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
) -> tuple[httpx.AsyncClient, bool]:
    """The client every call of this package uses, and whether its connections are pinned. With a
    proxy configured in the environment the proxy resolves names, so connections cannot be pinned:
    then every URL is resolved and checked before the request instead."""
    timeout = httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
    )
    common: dict[str, Any] = {
        "timeout": timeout,
        "follow_redirects": False,
        "headers": {"User-Agent": "ltx2-nodes"},
    }
    if any(k.lower() in ("http", "https", "all") for k in urllib.request.getproxies()):
        return httpx.AsyncClient(**common), False
    trusted = set()
    for url in trusted_urls:
        _scheme, host, port = origin_of(url)
        if host and port:
            trusted.add((host, port))
    # TLS still verifies the certificate against the URL's name (SNI), not the pinned address.
    transport = httpx.AsyncHTTPTransport(verify=verify)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        return httpx.AsyncClient(**common), False  # an httpx without the known pool: check before sending
    pool._network_backend = PolicyBackend(trusted, resolver)
    return httpx.AsyncClient(transport=transport, **common), True

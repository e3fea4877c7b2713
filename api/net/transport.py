"""Connections and sending for one provider: the httpx client whose every new connection obeys the
URL policy (each address checked, the connection pinned to it), headers (the key goes to the
provider's own host only), capped JSON answers, typed and cleaned provider errors, and waits that
notice an interrupt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx

from .. import urlpolicy
from ..errors import Interrupted, LTX2Error, NetworkError, ProviderError
from ..providers.base import HttpCall, Provider
from ..redact import clean_value, redact, redact_text, strip_control
from .jsonbody import (
    MAX_ERROR_BYTES,
    MAX_JSON_BYTES,
    BadJson,
    BodyTooLarge,
    decode_body,
    parse_json,
    read_capped,
    text_of,
)
from .retry import RetryPolicy

CancelCheck = Callable[[], bool]  # True = the user asked to stop
_T = TypeVar("_T")

log = logging.getLogger("ltx2_nodes.client")

# Raised before a single byte left this machine: resending cannot cause a second paid job.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request could not even be built or written (bad scheme, bad header): retrying cannot help.
INVALID = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)
SLICE = 0.25  # longest single sleep, so cancel_check is seen several times a second
RESUMABLE = "the job continues on the provider and can be resumed ('ltx2 jobs resume ID')"


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


# --- connections under the URL policy ---------------------------------------------------------------


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


def _origin(url: str) -> tuple[str, str, int | None]:
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
        _scheme, host, port = _origin(url)
        if host and port:
            trusted.add((host, port))
    # TLS still verifies the certificate against the URL's name (SNI), not the pinned address.
    transport = httpx.AsyncHTTPTransport(verify=verify)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        return httpx.AsyncClient(**common), False  # an httpx without the known pool: check before sending
    pool._network_backend = PolicyBackend(trusted, resolver)
    return httpx.AsyncClient(transport=transport, **common), True


# --- answers ------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """A provider's answer, read within the caps."""

    status: int
    headers: httpx.Headers
    text: str
    too_large: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; BadJson (too large, not JSON, too deep) otherwise."""
        if self.too_large:
            raise BadJson(f"the answer is larger than {MAX_JSON_BYTES >> 20} MiB")
        return parse_json(self.text)

    def body(self) -> Any:
        """JSON when it parses, else the text (for error answers)."""
        return decode_body(self.text)


class Wire:
    """One provider, one key, one base URL: how a request goes out and its answer comes back."""

    def __init__(
        self,
        provider: Provider,
        api_key: str,
        base_url: str,
        *,
        http: httpx.AsyncClient | None,
        retry: RetryPolicy,
        timeouts: Timeouts,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        resolver: urlpolicy.Resolver | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeouts = timeouts
        self.key = api_key
        self.sleep = sleep
        self.clock = clock
        self.resolver = resolver
        self.owns_http = http is None
        if http is None:
            http, self.pinned = build_http(timeouts, trusted_urls=(self.base_url,), resolver=resolver)
        else:
            self.pinned = False  # a client given from outside: check every URL before using it
        self.http = http

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def display(self) -> str:
        return self.provider.display_name

    # --- URLs and headers ----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        if "://" in path:
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def is_provider_host(self, url: str) -> bool:
        return _origin(url) == _origin(self.base_url)

    def headers(self, call: HttpCall, url: str) -> dict[str, str]:
        headers: dict[str, str] = {"Accept": "application/json"} if call.response == "json" else {}
        if self.is_provider_host(url):  # the key never goes to another host
            headers.update(self.provider.auth_headers(self.key))
        headers.update(call.headers)
        return headers

    async def check_url(self, url: str) -> urlpolicy.Target:
        """The URL policy for a URL that came from outside (a provider's answer, a redirect): the
        static rules always; the resolved addresses too when connections are not pinned (pinned
        connections check them when they connect). Raises UrlRefused."""
        if self.is_provider_host(url) or self.pinned:
            return urlpolicy.check_url(url)
        try:
            return await urlpolicy.check_url_resolved(url, resolver=self.resolver)
        except urlpolicy.NameNotResolved as exc:  # a network error (retried), not a refusal
            raise httpx.ConnectError(str(exc)) from None

    # --- text ----------------------------------------------------------------------------------------
    def redact(self, value: Any) -> Any:
        return redact(value, (self.key,))

    def clean(self, text: str) -> str:
        """Provider text as it may be shown: no key, no terminal control sequences."""
        return strip_control(redact_text(text, (self.key,)))

    def log(self, level: int, text: str, *args: Any) -> None:
        if log.isEnabledFor(level):
            log.log(level, self.clean(text % args if args else text))

    @staticmethod
    def path_of(call: HttpCall) -> str:
        return urlsplit(call.path).path or call.path

    # --- sending -------------------------------------------------------------------------------------
    async def send(self, call: HttpCall) -> Answer:
        """One request; the answer read within the caps (an error answer: its first 64 KiB)."""
        url = self.url(call.path)
        if not self.is_provider_host(url):
            await self.check_url(url)
        kwargs: dict[str, Any] = {"headers": self.headers(call, url)}
        if call.json is not None:
            kwargs["json"] = call.json
        request = self.http.build_request(call.method.upper(), url, **kwargs)
        resp = await self.http.send(request, stream=True)
        async with contextlib.aclosing(resp):
            ok = resp.is_success
            try:
                raw = await read_capped(resp, MAX_JSON_BYTES if ok else MAX_ERROR_BYTES, truncate=not ok)
            except BodyTooLarge:
                return Answer(resp.status_code, resp.headers, "", too_large=True)
            return Answer(resp.status_code, resp.headers, text_of(raw, resp))

    def error(self, answer: Answer) -> LTX2Error:
        """The provider's typed error for a non-2xx answer, redacted and cleaned of control
        sequences. The parser gets the body as sent (it redacts what it keeps): redacting first
        could blur the words it reads, such as an error type, where a key shares a fragment."""
        body = answer.body()
        safe = clean_value(self.redact(body))
        try:
            err = self.provider.parse_error(answer.status, body, answer.headers)
        except Exception as exc:  # a parser bug must not hide the answer
            err = ProviderError(
                f"{self.display} answered HTTP {answer.status} ({type(exc).__name__} while reading the error).",
                provider=self.name,
                status_code=answer.status,
                raw=safe,
            )
        if err.status_code is None:
            err.status_code = answer.status
        return self.cleaned(err, fallback_raw=safe)

    def cleaned(self, err: LTX2Error, *, fallback_raw: Any = None) -> LTX2Error:
        """``err`` with its message and raw body free of keys and terminal control sequences."""
        if err.provider is None:
            err.provider = self.name
        err.raw = clean_value(self.redact(err.raw if err.raw is not None else fallback_raw))
        err.message = self.clean(err.message)
        err.args = (err.message,)
        return err

    def network_error(self, call: HttpCall, exc: BaseException, attempts: int) -> NetworkError:
        return NetworkError(
            f"{self.display} could not be reached ({call.method} {self.path_of(call)}: "
            f"{type(exc).__name__}: {self.clean(str(exc)) or 'no details'}) "
            f"after {attempts} attempt{'s' if attempts != 1 else ''}. "
            f"Check the network and the base URL {self.base_url}.",
            provider=self.name,
        )

    # --- waiting ---------------------------------------------------------------------------------------
    async def pause(
        self, seconds: float, cancel_check: CancelCheck | None = None, deadline: float | None = None
    ) -> None:
        """Sleep in short slices, checking cancel_check before each one."""
        remaining = max(0.0, seconds)
        while True:
            if cancel_check is not None and cancel_check():
                raise Interrupted(f"Stopped waiting; {RESUMABLE}.", provider=self.name)
            if remaining <= 0 or (deadline is not None and self.clock() >= deadline):
                return
            step = min(SLICE, remaining)
            await self.sleep(step)
            remaining -= step

    async def until_cancelled(self, aw: Awaitable[_T], cancel_check: CancelCheck | None, message: str) -> _T:
        """Await ``aw`` while calling cancel_check every slice: a slow answer or a stalled transfer
        never hides an interrupt. On one, ``aw`` is cancelled and Interrupted(message) raised."""
        if cancel_check is None:
            return await aw
        task = asyncio.ensure_future(aw)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=SLICE)
                if done:
                    return task.result()
                if cancel_check():
                    raise Interrupted(message, provider=self.name)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def aclose(self) -> None:
        if self.owns_http:
            await self.http.aclose()

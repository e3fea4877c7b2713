"""Sending for one provider: headers (the key goes to the provider's own host only), URLs checked
against the policy, answers read within the caps, typed provider errors cleaned of keys and control
sequences, and waits that notice an interrupt. Connections come from ``connections``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .. import urlpolicy
from ..errors import Interrupted, LTX2Error, NetworkError, ProviderError
from ..providers.base import HttpCall, Provider
from ..redact import clean_value, redact, redact_text, strip_control
from .connections import Timeouts, build_http
from .connections import origin_of as _origin
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

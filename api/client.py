"""Async HTTP client for one provider: submit, poll, download, cancel, upload. Retries follow the
money rules: status and download retry freely; a submit is resent only when it provably never
reached the server or was refused with 429/503 before any job id."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import inspect
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from .config import is_loopback_host
from .errors import (
    DownloadError,
    HostingError,
    Interrupted,
    JobCancelledError,
    JobFailedError,
    LTX2Error,
    NetworkError,
    PollTimeoutError,
    ProviderError,
    RateLimitError,
    SubmitUncertainError,
)
from .providers.base import HttpCall, Provider, UploadTicket
from .redact import redact, redact_text, register_secret
from .types import GenerationRequest, JobState, JobStatus, MediaInput, SubmittedJob

CancelCheck = Callable[[], bool]  # True = the user asked to stop
_T = TypeVar("_T")

log = logging.getLogger("ltx2_nodes.client")

# Raised before a single byte left this machine: resending cannot cause a second paid job.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request could not even be built or written (bad scheme, bad header): retrying cannot help.
_INVALID = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)
_SLICE = 0.25  # longest single sleep, so cancel_check is seen several times a second
_MIN_INTERVAL = 0.05
_UNKNOWN_STATUS_TRIES = 3  # unrecognisable status answers tolerated in a row
_MAX_REDIRECTS = 5
_CHUNK = 1 << 16
_RESUMABLE = "the job continues on the provider and can be resumed ('ltx2 jobs resume ID')"
_DOWNLOAD_STOPPED = (
    "Download stopped; the result stays with the provider and can be resumed ('ltx2 jobs resume ID')."
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # total tries for idempotent calls
    submit_attempts: int = 4  # total tries for a submit (only provably-unsent / 429 / 503)
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25  # +-25 %

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay before try ``attempt + 1`` (attempt counts from 1)."""
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0
    write: float = 120.0
    pool: float = 10.0
    download: float = 900.0  # whole download


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def check_download_url(url: str) -> str:
    """https anywhere, plain http only for loopback hosts. DownloadError naming the host otherwise."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and is_loopback_host(host):
        return url
    if parts.scheme == "http":
        raise DownloadError(
            f"Refused to download from {host}: plain http is allowed only for loopback hosts; "
            f"the provider's output URL must use https."
        )
    raise DownloadError(
        f"Refused to download {redact_text(url)!r}: only https URLs (http for localhost) are accepted."
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _decode(resp: httpx.Response) -> Any:
    """Body as JSON when it parses, else text."""
    text = resp.text
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text


class _Malformed(Exception):
    """A 2xx answer whose body is not the JSON it should be."""


class ProviderClient:
    """One provider, one key, one base URL. Use as ``async with ProviderClient(...) as c``."""

    def __init__(
        self,
        provider: Provider,
        api_key: str,
        base_url: str,
        *,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeouts: Timeouts = Timeouts(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        register_secret(api_key)
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeouts = timeouts
        self._key = api_key
        self._sleep = sleep
        self._clock = clock
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
            ),
            follow_redirects=False,
            headers={"User-Agent": "ltx2-nodes"},
        )

    def __repr__(self) -> str:  # never shows the key
        return f"ProviderClient({self.provider.name!r}, base_url={self.base_url!r})"

    @property
    def account(self) -> str:
        """A stable, non-reversible tag of the key in use (a truncated SHA-256), so per-account
        caches never hand one account's uploads to another. Never the key itself."""
        return hashlib.sha256(self._key.encode()).hexdigest()[:16]

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # --- plumbing ----------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if "://" in path:
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _is_provider_host(self, url: str) -> bool:
        return _origin(url) == _origin(self.base_url)

    def _headers(self, call: HttpCall, url: str) -> dict[str, str]:
        headers: dict[str, str] = {"Accept": "application/json"} if call.response == "json" else {}
        if self._is_provider_host(url):  # the key never goes to another host
            headers.update(self.provider.auth_headers(self._key))
        headers.update(call.headers)
        return headers

    def _log(self, level: int, text: str, *args: Any) -> None:
        if log.isEnabledFor(level):
            log.log(level, redact_text(text % args if args else text, (self._key,)))

    def _error(self, status: int, body: Any, headers: Mapping[str, str]) -> LTX2Error:
        """The provider's typed error for a non-2xx answer, with its raw body redacted. The parser gets
        the body as sent (it redacts what it keeps): redacting first could blur the words it reads,
        such as an error type, where a key happens to share a fragment with them."""
        clean = redact(body, (self._key,))
        try:
            err = self.provider.parse_error(status, body, headers)
        except Exception as exc:  # a parser bug must not hide the answer
            err = ProviderError(
                f"{self.provider.display_name} answered HTTP {status} "
                f"({type(exc).__name__} while reading the error).",
                provider=self.provider.name,
                status_code=status,
                raw=clean,
            )
        if err.status_code is None:
            err.status_code = status
        if err.provider is None:
            err.provider = self.provider.name
        err.raw = redact(err.raw if err.raw is not None else clean, (self._key,))
        err.message = redact_text(err.message, (self._key,))
        return err

    def _retry_delay(
        self, attempt: int, resp: httpx.Response | None = None, err: LTX2Error | None = None
    ) -> float:
        hinted = parse_retry_after(resp.headers.get("Retry-After")) if resp is not None else None
        if hinted is None and isinstance(err, RateLimitError):
            hinted = err.retry_after
        if hinted is not None:
            return min(self.retry.max_delay, hinted)
        return self.retry.backoff(attempt)

    async def _pause(
        self, seconds: float, cancel_check: CancelCheck | None = None, deadline: float | None = None
    ) -> None:
        """Sleep in short slices, checking cancel_check before each one."""
        remaining = max(0.0, seconds)
        while True:
            if cancel_check is not None and cancel_check():
                raise Interrupted(f"Stopped waiting; {_RESUMABLE}.", provider=self.provider.name)
            if remaining <= 0 or (deadline is not None and self._clock() >= deadline):
                return
            step = min(_SLICE, remaining)
            await self._sleep(step)
            remaining -= step

    async def _until_cancelled(self, aw: Awaitable[_T], cancel_check: CancelCheck | None, message: str) -> _T:
        """Await ``aw`` while calling cancel_check every slice: a slow answer or a stalled transfer
        never hides an interrupt. On one, ``aw`` is cancelled and Interrupted(message) raised."""
        if cancel_check is None:
            return await aw
        task = asyncio.ensure_future(aw)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=_SLICE)
                if done:
                    return task.result()
                if cancel_check():
                    raise Interrupted(message, provider=self.provider.name)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _chunks(
        self, resp: httpx.Response, cancel_check: CancelCheck | None, message: str
    ) -> AsyncIterator[bytes]:
        """The body in chunks; an interrupt is noticed even while no byte arrives."""
        chunks = resp.aiter_bytes(_CHUNK)

        async def next_chunk() -> bytes | None:
            try:
                return await chunks.__anext__()
            except StopAsyncIteration:
                return None

        while (chunk := await self._until_cancelled(next_chunk(), cancel_check, message)) is not None:
            yield chunk

    async def _send(self, call: HttpCall) -> httpx.Response:
        url = self._url(call.path)
        kwargs: dict[str, Any] = {"headers": self._headers(call, url)}
        if call.json is not None:
            kwargs["json"] = call.json
        return await self._http.request(call.method.upper(), url, **kwargs)

    def _network_error(self, call: HttpCall, exc: Exception, attempts: int) -> NetworkError:
        return NetworkError(
            f"{self.provider.display_name} could not be reached ({call.method} {self._path(call)}: "
            f"{type(exc).__name__}: {redact_text(str(exc), (self._key,)) or 'no details'}) "
            f"after {attempts} attempt{'s' if attempts != 1 else ''}. "
            f"Check the network and the base URL {self.base_url}.",
            provider=self.provider.name,
        )

    @staticmethod
    def _path(call: HttpCall) -> str:
        return urlsplit(call.path).path or call.path

    async def _idempotent(
        self, call: HttpCall, *, op: str, expect_json: bool = True, cancel_check: CancelCheck | None = None
    ) -> Any:
        """Send a call that is safe to repeat; retry network errors, timeouts, 429, 5xx and malformed JSON."""
        attempts = max(1, self.retry.attempts)
        last: LTX2Error | None = None
        for attempt in range(1, attempts + 1):
            resp: httpx.Response | None = None
            try:
                resp = await self._until_cancelled(
                    self._send(call), cancel_check, f"Stopped waiting; {_RESUMABLE}."
                )
            except _INVALID as exc:
                raise self._network_error(call, exc, attempt) from None
            except httpx.HTTPError as exc:
                self._log(
                    logging.WARNING,
                    "%s %s %s: %s (attempt %d/%d)",
                    self.provider.name,
                    call.method,
                    self._path(call),
                    type(exc).__name__,
                    attempt,
                    attempts,
                )
                last = self._network_error(call, exc, attempt)
            else:
                self._log(
                    logging.INFO,
                    "%s %s %s -> %d (attempt %d/%d)",
                    self.provider.name,
                    call.method,
                    self._path(call),
                    resp.status_code,
                    attempt,
                    attempts,
                )
                if resp.is_success:
                    if not expect_json:
                        return None
                    try:
                        text = resp.text
                        return json.loads(text) if text.strip() else None
                    except ValueError:
                        last = ProviderError(
                            f"{self.provider.display_name} answered {op} with a body that is not "
                            f"JSON (HTTP {resp.status_code}).",
                            provider=self.provider.name,
                            status_code=resp.status_code,
                            raw=redact_text(resp.text[:2000], (self._key,)),
                        )
                else:
                    err = self._error(resp.status_code, _decode(resp), resp.headers)
                    if resp.status_code != 429 and resp.status_code < 500:
                        raise err
                    last = err
            if attempt < attempts:
                await self._pause(self._retry_delay(attempt, resp, last), cancel_check)
        assert last is not None
        raise last

    # --- submit ---------------------------------------------------------------------------------------------

    async def submit(
        self, req: GenerationRequest, uris: Mapping[str, str], *, cancel_check: CancelCheck | None = None
    ) -> SubmittedJob:
        """POST the job. Resent only when it provably never arrived or was refused with 429/503.
        ``cancel_check`` is watched while waiting to send it again (nothing was accepted then); the
        POST itself is never abandoned half way, so its answer is always read."""
        call = self.provider.build_submit(req, uris)
        attempts = max(1, self.retry.submit_attempts)
        for attempt in range(1, attempts + 1):
            try:
                resp = await self._send(call)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                await self._pause_before_resend(
                    self._resend_delay(call, attempt, attempts, exc=exc), cancel_check
                )
                continue
            self._log_submit(call, resp.status_code, attempt, attempts)
            if resp.is_success:
                body = _decode(resp)
                try:
                    return self.provider.parse_submit(req, body)
                except Exception as exc:  # accepted, maybe billed, but no id we can read: never resend
                    detail = exc.message if isinstance(exc, LTX2Error) else type(exc).__name__
                    raise self._uncertain(
                        f"the answer (HTTP {resp.status_code}) carried no job id: {detail}",
                        raw=redact(body, (self._key,)),
                    ) from None
            err = self._error(resp.status_code, _decode(resp), resp.headers)
            await self._pause_before_resend(
                self._resend_delay(call, attempt, attempts, resp=resp, err=err), cancel_check
            )
        raise AssertionError("unreachable")

    async def _pause_before_resend(self, seconds: float, cancel_check: CancelCheck | None) -> None:
        if cancel_check is None:
            await self._sleep(seconds)
            return
        try:
            await self._pause(seconds, cancel_check)
        except Interrupted:
            raise Interrupted(
                f"Stopped before sending the request to {self.provider.display_name} again; it had "
                f"been refused, so nothing was billed.",
                provider=self.provider.name,
            ) from None

    def _resend_delay(
        self,
        call: HttpCall,
        attempt: int,
        attempts: int,
        *,
        exc: BaseException | None = None,
        resp: httpx.Response | None = None,
        err: LTX2Error | None = None,
    ) -> float:
        """The money rule for a submit that did not succeed: the delay before sending it again, or
        the error to raise. It is sent again only when it provably never reached the provider (no
        connection was made) or the provider refused it with 429/503 before giving any job id."""
        if exc is not None:
            if isinstance(exc, _INVALID):
                raise self._network_error(call, exc, attempt) from None
            sent = not isinstance(exc, _NOT_SENT)
            self._log(
                logging.WARNING,
                "%s submit %s %s: %s %s (attempt %d/%d)",
                self.provider.name,
                call.method,
                self._path(call),
                type(exc).__name__,
                "after sending, not resent" if sent else "not sent",
                attempt,
                attempts,
            )
            if sent:
                raise self._uncertain(
                    f"the connection broke after the request was sent ({type(exc).__name__})"
                ) from None
            if attempt >= attempts:
                raise self._network_error(call, exc, attempt) from None
            return self.retry.backoff(attempt)
        assert resp is not None and err is not None
        if resp.status_code in (429, 503):  # refused before any job id: safe to send again
            if attempt >= attempts:
                raise err
            return self._retry_delay(attempt, resp, err)
        if resp.status_code >= 500:
            raise self._uncertain(
                f"it answered HTTP {resp.status_code}: {err.message}",
                raw=err.raw,
                status_code=resp.status_code,
            ) from None
        raise err

    def _log_submit(self, call: HttpCall, status: int, attempt: int, attempts: int) -> None:
        self._log(
            logging.INFO,
            "%s submit %s %s -> %d (attempt %d/%d)",
            self.provider.name,
            call.method,
            self._path(call),
            status,
            attempt,
            attempts,
        )

    def _uncertain(
        self, what: str, *, raw: Any = None, status_code: int | None = None
    ) -> SubmitUncertainError:
        return SubmitUncertainError(
            f"The submit to {self.provider.display_name} may or may not have been accepted: "
            f"{what}. It was not resent.",
            provider=self.provider.name,
            status_code=status_code,
            raw=raw,
        )

    async def status(self, job: SubmittedJob) -> JobStatus:
        body = await self._idempotent(self.provider.build_status(job), op="the status request")
        return self._parse_status(body)

    def _parse_status(self, body: Any) -> JobStatus:
        try:
            return self.provider.parse_status(body)
        except LTX2Error:
            raise
        except Exception as exc:  # a body shape the parser did not expect
            raise ProviderError(
                f"{self.provider.display_name} sent a status answer that could not be read "
                f"({type(exc).__name__}).",
                provider=self.provider.name,
                raw=redact(body, (self._key,)),
            ) from None

    async def wait(
        self,
        job: SubmittedJob,
        *,
        interval: float | None = None,
        timeout: float = 1800.0,
        cancel_check: CancelCheck | None = None,
        on_status: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Poll until finished. Returns the SUCCEEDED status; raises JobFailedError, JobCancelledError,
        JobExpiredError, PollTimeoutError or Interrupted (cancel_check is called at least once a second)."""
        step = max(_MIN_INTERVAL, self.provider.poll_interval if interval is None else interval)
        deadline = self._clock() + timeout
        call = self.provider.build_status(job)
        unknown = 0
        name = self.provider.display_name
        while True:
            await self._pause(0, cancel_check)
            body = await self._idempotent(call, op="the status request", cancel_check=cancel_check)
            try:
                st = self._parse_status(body)
            except ProviderError as exc:
                unknown += 1
                self._log(
                    logging.WARNING,
                    "%s status of %s not understood (%d/%d): %s",
                    self.provider.name,
                    job.job_id,
                    unknown,
                    _UNKNOWN_STATUS_TRIES,
                    exc.message,
                )
                if unknown >= _UNKNOWN_STATUS_TRIES:
                    raise
            else:
                unknown = 0
                if on_status is not None:
                    on_status(st)
                if st.state is JobState.SUCCEEDED:
                    return st
                if st.state is JobState.FAILED:
                    reason = st.error or f"status '{st.raw_status or 'failed'}' without a reason"
                    raise JobFailedError(
                        f"{name} reports that job {job.job_id} failed: {reason}",
                        provider=self.provider.name,
                        raw=redact(st.raw, (self._key,)),
                    )
                if st.state is JobState.CANCELLED:
                    why = f": {st.error}" if st.error else "."
                    raise JobCancelledError(
                        f"{name} reports that job {job.job_id} was cancelled{why}",
                        provider=self.provider.name,
                        raw=redact(st.raw, (self._key,)),
                    )
            now = self._clock()
            if now >= deadline:
                raise PollTimeoutError(
                    f"{name} job {job.job_id} did not finish within {timeout:g} s "
                    f"(last status: {st.raw_status if unknown == 0 else 'not understood'}).",
                    provider=self.provider.name,
                )
            await self._pause(min(step, max(0.0, deadline - now)), cancel_check, deadline)

    # --- download --------------------------------------------------------------------------------------------

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int = 4 << 30,
        cancel_check: CancelCheck | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Stream ``url`` to ``dest`` (via ``dest.with_suffix('.part')`` and an atomic rename), with a byte
        cap, a total deadline, length checks and resumption of truncated transfers."""
        check_download_url(url)
        dest = Path(dest)
        part = dest.with_suffix(".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        deadline = self._clock() + self.timeouts.download
        attempts = max(1, self.retry.attempts)
        host = urlsplit(url).hostname
        done = 0
        can_resume = False
        last: LTX2Error | None = None
        try:
            for attempt in range(1, attempts + 1):
                resp_for_delay: httpx.Response | None = None
                offset = done if can_resume and done > 0 else 0
                try:
                    result = await self._download_once(
                        url, part, offset, max_bytes, deadline, cancel_check, on_progress
                    )
                except _Retryable as exc:
                    last, done, can_resume = exc.error, exc.done, exc.can_resume
                    resp_for_delay = exc.response
                    self._log(
                        logging.WARNING,
                        "%s download from %s: %s (attempt %d/%d)",
                        self.provider.name,
                        host,
                        last.message,
                        attempt,
                        attempts,
                    )
                else:
                    os.replace(part, dest)
                    self._log(logging.INFO, "%s download from %s: %d bytes", self.provider.name, host, result)
                    return dest
                if self._clock() >= deadline:
                    break
                if attempt < attempts:
                    await self._pause(
                        self._retry_delay(attempt, resp_for_delay, last), cancel_check, deadline
                    )
            if self._clock() >= deadline:
                raise DownloadError(
                    f"The download from {host} did not finish within {self.timeouts.download:g} s.",
                    provider=self.provider.name,
                )
            assert last is not None
            raise DownloadError(
                f"The download from {host} failed after {attempts} attempts: {last.message}",
                provider=self.provider.name,
                status_code=last.status_code,
            )
        except BaseException:
            _unlink(part)
            raise

    async def _download_once(
        self,
        url: str,
        part: Path,
        offset: int,
        max_bytes: int,
        deadline: float,
        cancel_check: CancelCheck | None,
        on_progress: Callable[[int, int | None], None] | None,
    ) -> int:
        """One GET (following safe redirects). Returns the byte count, or raises _Retryable / DownloadError."""
        target = url
        for _hop in range(_MAX_REDIRECTS + 1):
            headers: dict[str, str] = {}
            if self._is_provider_host(target):
                headers.update(self.provider.auth_headers(self._key))
            if offset:
                headers["Range"] = f"bytes={offset}-"
            host = urlsplit(target).hostname
            try:
                request = self._http.build_request("GET", target, headers=headers)
                resp = await self._until_cancelled(
                    self._http.send(request, stream=True), cancel_check, _DOWNLOAD_STOPPED
                )
                async with contextlib.aclosing(resp):
                    status = resp.status_code
                    self._log(
                        logging.INFO,
                        "%s GET %s%s -> %d",
                        self.provider.name,
                        host,
                        urlsplit(target).path,
                        status,
                    )
                    if status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                        target = check_download_url(urljoin(target, resp.headers["Location"]))
                        continue
                    if status in (403, 404, 410):
                        raise DownloadError(
                            f"The output URL on {host} has expired or is gone (HTTP {status}). If "
                            f"{self.provider.display_name} still has the job, resume it ('ltx2 jobs resume ID') "
                            f"to get a fresh URL.",
                            provider=self.provider.name,
                            status_code=status,
                        )
                    if status == 429 or status >= 500:
                        await resp.aread()
                        raise _Retryable(
                            DownloadError(f"HTTP {status} from {host}", status_code=status),
                            offset,
                            offset > 0,
                            resp,
                        )
                    if status == 416 and offset:  # the server will not resume: start again from scratch
                        raise _Retryable(DownloadError(f"HTTP 416 from {host}", status_code=status), 0, False)
                    if not resp.is_success:
                        raise DownloadError(
                            f"The download from {host} was refused with HTTP {status}.",
                            provider=self.provider.name,
                            status_code=status,
                        )
                    resumed = offset > 0 and status == 206
                    start = offset if resumed else 0
                    length = _content_length(resp)
                    total = None if length is None else start + length
                    if total is not None and total > max_bytes:
                        raise _too_large(total, max_bytes, target)
                    accept_ranges = resp.headers.get("Accept-Ranges", "").lower() == "bytes" or resumed
                    try:
                        done = await self._stream_to(
                            resp, part, start, max_bytes, target, cancel_check, on_progress, total, deadline
                        )
                    except httpx.HTTPError as exc:
                        got = part.stat().st_size if part.exists() else 0
                        raise _Retryable(
                            DownloadError(f"the transfer broke off after {got} bytes ({type(exc).__name__})"),
                            got,
                            accept_ranges,
                        ) from None
                    if total is not None and done != total:
                        raise _Retryable(
                            DownloadError(f"the transfer was truncated ({done} of {total} bytes)"),
                            done,
                            accept_ranges,
                        )
                    if done == 0:  # no video is empty: never keep (or cache) this as the result
                        raise _Retryable(DownloadError("the server sent an empty file"), 0, False)
                    return done
            except httpx.HTTPError as exc:
                got = part.stat().st_size if offset and part.exists() else 0
                raise _Retryable(
                    DownloadError(f"{type(exc).__name__} while connecting to {host}"), got, offset > 0
                ) from None
        raise DownloadError(
            f"Too many redirects while downloading from {urlsplit(url).hostname}.",
            provider=self.provider.name,
        )

    async def _stream_to(
        self,
        resp: httpx.Response,
        part: Path,
        start: int,
        max_bytes: int,
        url: str,
        cancel_check: CancelCheck | None,
        on_progress: Callable[[int, int | None], None] | None,
        total: int | None,
        deadline: float | None,
        *,
        interrupted: str = _DOWNLOAD_STOPPED,
    ) -> int:
        """Write the body to ``part`` (appending from ``start``; from scratch when 0). Returns the file size."""
        done = start
        with open(part, "r+b" if start and part.exists() else "wb") as fh:
            fh.seek(start)
            fh.truncate()
            if on_progress is not None:
                on_progress(done, total)
            async for chunk in self._chunks(resp, cancel_check, interrupted):
                done += len(chunk)
                if done > max_bytes:
                    raise _too_large(done, max_bytes, url, running=True)
                fh.write(chunk)
                if on_progress is not None:
                    on_progress(done, total)
                if cancel_check is not None and cancel_check():
                    raise Interrupted(interrupted, provider=self.provider.name)
                if deadline is not None and self._clock() > deadline:
                    raise DownloadError(
                        f"The download from {urlsplit(url).hostname} did not finish within "
                        f"{self.timeouts.download:g} s.",
                        provider=self.provider.name,
                    )
        return done

    # --- cancel / upload ------------------------------------------------------------------------------------

    async def cancel(self, job: SubmittedJob) -> bool:
        """Ask the provider to cancel. False when it has no cancel call."""
        call = self.provider.build_cancel(job)
        if call is None:
            return False
        await self._idempotent(call, op="the cancel request", expect_json=False)
        return True

    async def request_upload(self, media: MediaInput) -> UploadTicket:
        """Ask the provider for an upload slot (signed PUT URL + the URI to use afterwards)."""
        call = self.provider.build_upload(media)
        if call is None:
            raise HostingError(
                f"{self.provider.display_name} has no upload endpoint. Hosting methods that work "
                f"with it: {', '.join(self.provider.hosting_methods)}.",
                provider=self.provider.name,
            )
        body = await self._idempotent(call, op="the upload request")
        try:
            if "media" in inspect.signature(self.provider.parse_upload).parameters:
                # The PUT must carry the content type the URL was signed for: let the ticket name it.
                return self.provider.parse_upload(body, media=media)  # type: ignore[call-arg]
            return self.provider.parse_upload(body)
        except NotImplementedError:
            raise HostingError(
                f"{self.provider.display_name} has no upload endpoint.", provider=self.provider.name
            ) from None

    async def put_upload(self, ticket: UploadTicket, data: bytes, content_type: str) -> None:
        """PUT the bytes to the signed URL. No Authorization header: storage hosts get only the ticket's headers."""
        url = ticket.upload_url
        parts = urlsplit(url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))):
            raise HostingError(
                f"Refused to upload to {parts.hostname or url!r}: the upload URL must use https "
                f"(plain http only for loopback hosts).",
                provider=self.provider.name,
            )
        headers = {"Content-Type": content_type, **dict(ticket.headers)}
        host = parts.hostname
        attempts = max(1, self.retry.attempts)
        last: LTX2Error | None = None
        for attempt in range(1, attempts + 1):
            resp: httpx.Response | None = None
            try:
                resp = await self._http.put(url, content=data, headers=headers)
            except httpx.HTTPError as exc:
                last = NetworkError(
                    f"The upload to {host} failed ({type(exc).__name__}).", provider=self.provider.name
                )
            else:
                self._log(
                    logging.INFO,
                    "%s PUT %s%s -> %d (%d bytes, attempt %d/%d)",
                    self.provider.name,
                    host,
                    parts.path,
                    resp.status_code,
                    len(data),
                    attempt,
                    attempts,
                )
                if resp.is_success:
                    return
                detail = redact_text(resp.text[:300], (self._key,)).strip()
                err = HostingError(
                    f"The upload to {host} was refused with HTTP {resp.status_code}"
                    f"{': ' + detail if detail else ''}.",
                    provider=self.provider.name,
                    status_code=resp.status_code,
                    raw=detail,
                )
                if resp.status_code != 429 and resp.status_code < 500:
                    raise err
                last = err
            if attempt < attempts:
                await self._pause(self._retry_delay(attempt, resp, last))
        assert last is not None
        raise last


class _Retryable(Exception):
    """A download attempt failed in a way worth another try (``done`` bytes are in the part file)."""

    def __init__(
        self, error: LTX2Error, done: int, can_resume: bool, response: httpx.Response | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.done = done
        self.can_resume = can_resume
        self.response = response


def _content_length(resp: httpx.Response) -> int | None:
    if "Content-Encoding" in resp.headers and resp.headers["Content-Encoding"].lower() not in (
        "",
        "identity",
    ):
        return None  # the header counts encoded bytes, the stream yields decoded ones
    value = resp.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(size: int, cap: int, url: str, *, running: bool = False) -> DownloadError:
    size_text = f"more than {cap} bytes" if running else f"{size} bytes"
    return DownloadError(
        f"The file at {urlsplit(url).hostname} is {size_text}, over the download limit of {cap} bytes."
    )


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass

"""Result downloads: every URL and redirect hop under the URL policy, a size cap the user can set,
a whole-download deadline and a stall timeout that fire even on a trickle, resumption of broken
transfers with Range, and a ``.part`` file renamed into place only when complete."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import httpx

from .. import urlpolicy
from ..config import MAX_DOWNLOAD_ENV, max_download_bytes
from ..errors import DownloadError, Interrupted
from .retry import Retry, retrying
from .transport import SLICE, CancelCheck, Wire

MAX_REDIRECTS = 5
RESUME = "ltx2 jobs resume ID"
STOPPED = f"Download stopped; the result stays with the provider and can be resumed ('{RESUME}')."
_KEEPS = f"the result stays with the provider: resume it with '{RESUME}'"

Progress = Callable[[int, int | None], None]


class _Broken(Exception):
    """An attempt failed in a way worth another try; ``done`` bytes are in the part file."""

    def __init__(
        self, error: DownloadError, done: int, can_resume: bool, retry_after: str | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.done = done
        self.can_resume = can_resume
        self.retry_after = retry_after


def refused(url: str, reason: object, provider: str | None = None) -> DownloadError:
    return DownloadError(
        f"Refused to download from {urlpolicy.host_of(url)}: {reason}. The provider's output URL must "
        f"be https to a public host (plain http only for loopback).",
        provider=provider,
    )


async def download(
    wire: Wire,
    url: str,
    dest: Path,
    *,
    max_bytes: int | None = None,
    cancel_check: CancelCheck | None = None,
    on_progress: Progress | None = None,
) -> Path:
    """Stream ``url`` to ``dest`` (via ``dest.with_suffix('.part')`` and an atomic rename).
    ``max_bytes`` None: ``$LTX2_MAX_DOWNLOAD_MB`` or 4 GiB."""
    cap = max_download_bytes() if max_bytes is None else max_bytes
    try:
        urlpolicy.check_url(url)
    except urlpolicy.UrlRefused as exc:
        raise refused(url, exc, wire.name) from None
    dest = Path(dest)
    part = dest.with_suffix(".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    deadline = wire.clock() + wire.timeouts.download
    host = urlpolicy.host_of(url)
    state = {"done": 0, "can_resume": False}

    async def attempt(n: int, attempts: int) -> int:
        offset = state["done"] if state["can_resume"] and state["done"] > 0 else 0
        try:
            return await _once(wire, url, part, offset, cap, deadline, cancel_check, on_progress)
        except _Broken as exc:
            state["done"], state["can_resume"] = exc.done, exc.can_resume
            wire.log(
                logging.WARNING,
                "%s download from %s: %s (attempt %d/%d)",
                wire.name,
                host,
                exc.error.message,
                n,
                attempts,
            )
            raise Retry(exc.error, retry_after=exc.retry_after) from None

    def exhausted(last: Retry, tries: int) -> DownloadError:
        if wire.clock() >= deadline:
            return _late(wire, host)
        return DownloadError(
            f"The download from {host} failed after {tries} attempts: {last.error.message}; {_KEEPS}.",
            provider=wire.name,
            status_code=last.error.status_code,
        )

    try:
        size = await retrying(
            attempt,
            attempts=wire.retry.attempts,
            policy=wire.retry,
            pause=lambda s: wire.pause(s, cancel_check, deadline),
            give_up=lambda: wire.clock() >= deadline,
            exhausted=exhausted,
        )
        os.replace(part, dest)
    except BaseException:
        _unlink(part)
        raise
    wire.log(logging.INFO, "%s download from %s: %d bytes", wire.name, host, size)
    return dest


def _late(wire: Wire, host: str) -> DownloadError:
    return DownloadError(
        f"The download from {host} did not finish within {wire.timeouts.download:g} s; {_KEEPS}.",
        provider=wire.name,
    )


async def _once(
    wire: Wire,
    url: str,
    part: Path,
    offset: int,
    cap: int,
    deadline: float,
    cancel_check: CancelCheck | None,
    on_progress: Progress | None,
) -> int:
    """One GET, following redirects that the policy allows. Returns the byte count, or raises
    _Broken (worth another try) / DownloadError."""
    target = url
    for _hop in range(MAX_REDIRECTS + 1):
        host = urlpolicy.host_of(target)
        try:
            await wire.check_url(target)
        except urlpolicy.UrlRefused as exc:
            raise refused(target, exc, wire.name) from None
        except httpx.HTTPError as exc:
            raise _Broken(DownloadError(f"{exc} while connecting to {host}"), offset, offset > 0) from None
        headers: dict[str, str] = {}
        if wire.is_provider_host(target):
            headers.update(wire.provider.auth_headers(wire.key))
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            request = wire.http.build_request("GET", target, headers=headers)
            # A server that never answers is bounded by the deadline too, not only by the read timeout.
            answer = asyncio.wait_for(
                wire.http.send(request, stream=True), max(0.001, deadline - wire.clock())
            )
            resp = await wire.until_cancelled(answer, cancel_check, STOPPED)
        except asyncio.TimeoutError:
            raise _late(wire, host) from None
        except urlpolicy.UrlRefused as exc:  # the pinned connection refused the resolved address
            raise refused(target, exc, wire.name) from None
        except httpx.HTTPError as exc:
            got = part.stat().st_size if offset and part.exists() else 0
            raise _Broken(
                DownloadError(f"{type(exc).__name__} while connecting to {host}"), got, offset > 0
            ) from None
        async with contextlib.aclosing(resp):
            status = resp.status_code
            wire.log(logging.INFO, "%s GET %s%s -> %d", wire.name, host, httpx.URL(target).path, status)
            if status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                target = urljoin(target, resp.headers["Location"])
                continue
            if status in (403, 404, 410):
                raise DownloadError(
                    f"The output URL on {host} has expired or is gone (HTTP {status}). If {wire.display} "
                    f"still has the job, resume it ('{RESUME}') to get a fresh URL.",
                    provider=wire.name,
                    status_code=status,
                )
            if status == 429 or status >= 500:
                raise _Broken(
                    DownloadError(f"HTTP {status} from {host}", status_code=status),
                    offset,
                    offset > 0,
                    resp.headers.get("Retry-After"),
                )
            if status == 416 and offset:  # the server will not resume: start again from scratch
                raise _Broken(DownloadError(f"HTTP 416 from {host}", status_code=status), 0, False)
            if not resp.is_success:
                raise DownloadError(
                    f"The download from {host} was refused with HTTP {status}.",
                    provider=wire.name,
                    status_code=status,
                )
            resumed = offset > 0 and status == 206
            start = offset if resumed else 0
            length = _content_length(resp)
            total = None if length is None else start + length
            if total is not None and total > cap:
                raise too_large(total, cap, target, wire.name)
            accept_ranges = resp.headers.get("Accept-Ranges", "").lower() == "bytes" or resumed
            try:
                done = await _stream_to(
                    wire, resp, part, start, cap, target, deadline, cancel_check, on_progress, total
                )
            except httpx.HTTPError as exc:
                got = part.stat().st_size if part.exists() else 0
                raise _Broken(
                    DownloadError(f"the transfer broke off after {got} bytes ({type(exc).__name__})"),
                    got,
                    accept_ranges,
                ) from None
            except _Stalled as exc:
                raise _Broken(DownloadError(str(exc)), exc.done, accept_ranges) from None
            if total is not None and done != total:
                raise _Broken(
                    DownloadError(f"the transfer was truncated ({done} of {total} bytes)"),
                    done,
                    accept_ranges,
                )
            if done == 0:  # no video is empty: never keep (or cache) this as the result
                raise _Broken(DownloadError("the server sent an empty file"), 0, False)
            return done
    raise DownloadError(
        f"Too many redirects while downloading from {urlpolicy.host_of(url)}.", provider=wire.name
    )


class _Stalled(Exception):
    def __init__(self, message: str, done: int) -> None:
        super().__init__(message)
        self.done = done


async def _stream_to(
    wire: Wire,
    resp: httpx.Response,
    part: Path,
    start: int,
    cap: int,
    url: str,
    deadline: float,
    cancel_check: CancelCheck | None,
    on_progress: Progress | None,
    total: int | None,
) -> int:
    """Write the body to ``part`` (appending from ``start``; from scratch when 0). Returns the file
    size. The deadline, the stall window and cancel_check are watched while no byte arrives, so a
    server that sends a byte every few seconds is stopped all the same."""
    stall, stall_bytes = wire.timeouts.stall, wire.timeouts.stall_bytes
    chunks = resp.aiter_bytes()

    async def next_chunk() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    done = start
    window_start, window_bytes = wire.clock(), 0
    pending: asyncio.Future[bytes | None] | None = None
    try:
        with open(part, "r+b" if start and part.exists() else "wb") as fh:
            fh.seek(start)
            fh.truncate()
            if on_progress is not None:
                on_progress(done, total)
            while True:
                if cancel_check is not None and cancel_check():
                    raise Interrupted(STOPPED, provider=wire.name)
                now = wire.clock()
                if now > deadline:
                    raise _late(wire, urlpolicy.host_of(url))
                if now - window_start >= stall:
                    if window_bytes < stall_bytes:
                        raise _Stalled(
                            f"the transfer from {urlpolicy.host_of(url)} stalled (less than "
                            f"{stall_bytes} bytes in {stall:g} s)",
                            done,
                        )
                    window_start, window_bytes = now, 0
                if pending is None:
                    pending = asyncio.ensure_future(next_chunk())
                wait = min(SLICE, max(0.0, deadline - now), max(0.0, window_start + stall - now))
                finished, _ = await asyncio.wait({pending}, timeout=max(wait, 0.001))
                if not finished:
                    continue
                chunk, pending = pending.result(), None
                if chunk is None:
                    break
                done += len(chunk)
                window_bytes += len(chunk)
                if done > cap:
                    raise too_large(done, cap, url, wire.name, running=True)
                fh.write(chunk)
                if on_progress is not None:
                    on_progress(done, total)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
    return done


def _content_length(resp: httpx.Response) -> int | None:
    encoding = resp.headers.get("Content-Encoding", "").lower()
    if encoding not in ("", "identity"):
        return None  # the header counts encoded bytes, the stream yields decoded ones
    value = resp.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def too_large(
    size: int, cap: int, url: str, provider: str | None = None, *, running: bool = False
) -> DownloadError:
    size_text = f"more than {cap} bytes" if running else f"{size} bytes"
    return DownloadError(
        f"The file at {urlpolicy.host_of(url)} is {size_text}, over the download limit of {cap} bytes "
        f"({cap / (1 << 20):g} MB). Raise it with {MAX_DOWNLOAD_ENV} or --max-download-mb, then "
        f"resume: '{RESUME}'.",
        provider=provider,
    )


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass

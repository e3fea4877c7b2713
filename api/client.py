"""Async HTTP client for one provider: submit, poll, download, cancel, upload. A thin front over
the HTTP layer in ``api/net`` (one module per job); the money rules live in ``net/submit.py``:
status and download calls retry freely, a submit is resent only when it provably never reached
the server or was refused with 429/503 before any job id."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx

from . import urlpolicy
from .config import check_key, max_download_bytes
from .net import calls, download, polling, submit, upload
from .net.connections import Timeouts
from .net.retry import RetryPolicy, parse_retry_after
from .net.transport import CancelCheck, Wire
from .providers.base import Provider, UploadTicket
from .redact import register_secret
from .types import GenerationRequest, JobStatus, MediaInput, SubmittedJob

__all__ = [
    "CancelCheck",
    "ProviderClient",
    "RetryPolicy",
    "Timeouts",
    "check_download_url",
    "parse_retry_after",
]


def check_download_url(url: str) -> str:
    """The URL policy's static rules for a result URL (scheme, host, literal addresses); names are
    resolved and checked when connecting. DownloadError naming the host otherwise."""
    try:
        urlpolicy.check_url(url)
    except urlpolicy.UrlRefused as exc:
        raise download.refused(url, exc) from None
    return url


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
        resolver: urlpolicy.Resolver | None = None,
    ) -> None:
        register_secret(api_key)
        # A key that cannot go into a header is refused before any request (never a raw encoding error).
        api_key = check_key(api_key, f"for {provider.display_name}")
        # Read (and checked) now, before any paid request, not when the result is ready.
        self._download_cap = max_download_bytes()
        self.provider = provider
        self._wire = Wire(
            provider,
            api_key,
            base_url,
            http=http,
            retry=retry,
            timeouts=timeouts,
            sleep=sleep,
            clock=clock,
            resolver=resolver,
        )
        self.base_url = self._wire.base_url
        self.retry = retry
        self.timeouts = timeouts

    def __repr__(self) -> str:  # never shows the key
        return f"ProviderClient({self.provider.name!r}, base_url={self.base_url!r})"

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._wire.http

    @property
    def account(self) -> str:
        """A stable, non-reversible tag of the key in use (a truncated SHA-256), so per-account
        caches never hand one account's uploads to another. Never the key itself."""
        return hashlib.sha256(self._wire.key.encode()).hexdigest()[:16]

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._wire.aclose()

    # --- the calls ---------------------------------------------------------------------------------------

    async def submit(
        self, req: GenerationRequest, uris: Mapping[str, str], *, cancel_check: CancelCheck | None = None
    ) -> SubmittedJob:
        """POST the job (see ``net/submit.py`` for when it may be sent again)."""
        return await submit.submit(self._wire, req, uris, cancel_check=cancel_check)

    async def status(self, job: SubmittedJob) -> JobStatus:
        return await polling.status(self._wire, job)

    async def wait(
        self,
        job: SubmittedJob,
        *,
        interval: float | None = None,
        timeout: float = 1800.0,
        cancel_check: CancelCheck | None = None,
        on_status: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Poll until finished (see ``net/polling.py``)."""
        return await polling.wait(
            self._wire,
            job,
            interval=interval,
            timeout=timeout,
            cancel_check=cancel_check,
            on_status=on_status,
        )

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        max_bytes: int | None = None,
        cancel_check: CancelCheck | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Stream ``url`` to ``dest`` (see ``net/download.py``); ``max_bytes`` None: the user's cap."""
        cap = self._download_cap if max_bytes is None else max_bytes
        return await download.download(
            self._wire, url, dest, max_bytes=cap, cancel_check=cancel_check, on_progress=on_progress
        )

    async def cancel(self, job: SubmittedJob) -> bool:
        """Ask the provider to cancel. False when it has no cancel call."""
        call = self.provider.build_cancel(job)
        if call is None:
            return False
        await calls.idempotent(self._wire, call, op="the cancel request", expect_json=False)
        return True

    async def request_upload(self, media: MediaInput) -> UploadTicket:
        """Ask the provider for an upload slot (signed PUT URL + the URI to use afterwards)."""
        return await upload.request_upload(self._wire, media)

    async def put_upload(self, ticket: UploadTicket, data: bytes, content_type: str) -> None:
        """PUT the bytes to the signed URL. No Authorization header: storage hosts get only the ticket's headers."""
        await upload.put_upload(self._wire, ticket, data, content_type)

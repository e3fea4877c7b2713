"""Async HTTP client for one provider: submit, poll, download, cancel, upload. Retries follow the
money rules: status and download retry freely; a submit is resent only when it provably never
reached the server or was refused with 429/503 before any job id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from .providers.base import Provider, UploadTicket
from .types import GenerationRequest, JobStatus, MediaInput, SubmittedJob

CancelCheck = Callable[[], bool]  # True = the user asked to stop


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # total tries for idempotent calls
    submit_attempts: int = 4  # total tries for a submit (only provably-unsent / 429 / 503)
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25  # +-25 %


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0
    write: float = 120.0
    pool: float = 10.0
    download: float = 900.0  # whole download


class ProviderClient:
    """One provider, one key, one base URL. Use as ``async with ProviderClient(...) as c``."""

    def __init__(self, provider: Provider, api_key: str, base_url: str, *, http: httpx.AsyncClient | None = None,
                 retry: RetryPolicy = RetryPolicy(), timeouts: Timeouts = Timeouts(),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        raise NotImplementedError

    async def submit(self, req: GenerationRequest, uris: Mapping[str, str]) -> SubmittedJob:
        raise NotImplementedError

    async def submit_sync(self, req: GenerationRequest, uris: Mapping[str, str], dest: Path, *,
                          max_bytes: int, cancel_check: CancelCheck | None = None) -> Path:
        """Synchronous generate (LTX v1): the answer body is the MP4, streamed to ``dest``."""
        raise NotImplementedError

    async def status(self, job: SubmittedJob) -> JobStatus:
        raise NotImplementedError

    async def wait(self, job: SubmittedJob, *, interval: float | None = None, timeout: float = 1800.0,
                   cancel_check: CancelCheck | None = None,
                   on_status: Callable[[JobStatus], None] | None = None) -> JobStatus:
        """Poll until finished. Returns the SUCCEEDED status; raises JobFailedError, JobCancelledError,
        JobExpiredError, PollTimeoutError or Interrupted (cancel_check is called at least once a second)."""
        raise NotImplementedError

    async def download(self, url: str, dest: Path, *, max_bytes: int = 4 << 30, cancel_check: CancelCheck | None = None,
                       on_progress: Callable[[int, int | None], None] | None = None) -> Path:
        raise NotImplementedError

    async def cancel(self, job: SubmittedJob) -> bool:
        raise NotImplementedError

    async def request_upload(self, media: MediaInput) -> UploadTicket:
        raise NotImplementedError

    async def put_upload(self, ticket: UploadTicket, data: bytes, content_type: str) -> None:
        raise NotImplementedError

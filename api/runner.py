"""One generation end to end: validate -> host media -> journal -> submit -> poll -> download.
Also resumes journalled jobs. The CLI and the nodes both call this."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from . import config
from .budget import guard as budget_guard
from .client import CancelCheck, ProviderClient, RetryPolicy
from .errors import (
    Interrupted,
    InvalidInputError,
    JobCancelledError,
    JobExpiredError,
    JobFailedError,
    LTX2Error,
    MediaError,
    PollTimeoutError,
    ProviderError,
    SubmitUncertainError,
    UnknownMediaLengthError,
)
from .journal import JobRecord, Journal, RecordState
from .provenance import write_sidecar
from .providers import get_provider
from .providers.base import ModelSpec, Provider
from .redact import redact_text, register_secret
from .types import (
    CostEstimate,
    GenerationRequest,
    GenerationResult,
    JobState,
    JobStatus,
    MediaInput,
    MediaKind,
    Mode,
    ProgressEvent,
    SubmittedJob,
)

URL_PROBE_MAX_BYTES = 64 << 20  # URL media downloaded only to learn its duration
URL_PROBE_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
CACHE_ENV = "LTX2_RESULT_CACHE"  # "0" turns the result cache off everywhere


@dataclass
class RunSettings:
    output_dir: Path
    filename_prefix: str = "ltx2"
    api_key: str | None = None  # None: from config (profile)
    profile: str | None = None
    base_url: str | None = None
    hosting: str = "auto"
    poll_interval: float | None = None  # None: provider default
    poll_timeout: float = 1800.0
    use_cache: bool = True  # reuse a collected result of an equal request
    journal: Journal | None = None  # None: the default journal
    cancel_check: CancelCheck | None = None
    on_progress: Callable[[ProgressEvent], None] | None = None
    max_download_bytes: int = 4 << 30
    extra: dict = field(default_factory=dict)
    retry: RetryPolicy | None = None  # None: the client's default retry policy


# A provider that no longer knows a job this long after it was accepted has expired it (the LTX API
# keeps jobs 24 h after they end); sooner, "not found" keeps the paid job resumable.
JOB_FORGOTTEN_AFTER = 24 * 3600.0


def _client(provider: Provider, key: str, base_url: str, settings: RunSettings) -> ProviderClient:
    if settings.retry is None:
        return ProviderClient(provider, key, base_url)
    return ProviderClient(provider, key, base_url, retry=settings.retry)


# --- building blocks -----------------------------------------------------------------------------


class _Progress:
    """Sends ProgressEvents with the time elapsed since the run started."""

    def __init__(self, callback: Callable[[ProgressEvent], None] | None) -> None:
        self.callback = callback
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __call__(self, phase: str, message: str = "", fraction: float | None = None) -> None:
        if self.callback is not None:
            self.callback(ProgressEvent(phase, self.elapsed(), message, fraction))


@dataclass
class _Clock:
    """Phase timings of one run, in seconds."""

    marks: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.monotonic())

    def span(self, name: str, start: str, end: str) -> None:
        if start in self.marks and end in self.marks:
            self.timings[name] = max(0.0, self.marks[end] - self.marks[start])


def _credentials(provider: Provider, settings: RunSettings) -> tuple[str, str]:
    """(key, base URL); MissingKeyError when no key is configured."""
    if settings.api_key:
        base_url = config.get_base_url(provider.name, settings.base_url, profile=settings.profile)
        key = settings.api_key
    else:
        resolved = config.resolve(provider.name, profile=settings.profile, base_url=settings.base_url)
        key, base_url = resolved.api_key, resolved.base_url
    register_secret(key)
    return key, base_url.rstrip("/")


def _cache_enabled(req: GenerationRequest, settings: RunSettings) -> bool:
    # Only a fixed seed makes an equal request mean an equal result.
    return (
        settings.use_cache
        and req.seed is not None
        and req.seed != -1
        and os.environ.get(CACHE_ENV, "1").strip() != "0"
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_path(
    output_dir: Path, prefix: str, provider: str, mode: str, record_id: str, when: float | None = None
) -> Path:
    """``<prefix>_<provider>_<mode>_<YYYYmmdd-HHMMSS>_<id8>.mp4``: readable, sortable and unique
    (the journal id is random)."""
    safe_prefix = _UNSAFE.sub("-", prefix or "").strip(".-") or "ltx2"
    stamp = datetime.fromtimestamp(time.time() if when is None else when).strftime("%Y%m%d-%H%M%S")
    return Path(output_dir) / f"{safe_prefix}_{provider}_{mode}_{stamp}_{record_id[:8]}.mp4"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _fetch_url_media(url: str, *, max_bytes: int = URL_PROBE_MAX_BYTES) -> bytes:
    """Bytes behind a user's media URL: https (or http on loopback only), size-capped, no key sent."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.scheme == "http" and not _is_loopback(parts.hostname)):
        raise ValueError("only https URLs (or http on this machine) can be read")
    async with (
        httpx.AsyncClient(timeout=URL_PROBE_TIMEOUT, follow_redirects=True) as http,
        http.stream("GET", url) as resp,
    ):
        if resp.status_code != 200:
            raise ValueError(f"the server answered HTTP {resp.status_code}")
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise ValueError(f"it is larger than {max_bytes / (1 << 20):g} MB")
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            if total > max_bytes:
                raise ValueError(f"it is larger than {max_bytes / (1 << 20):g} MB")
            chunks.append(chunk)
    return b"".join(chunks)


async def probe_url_media(req: GenerationRequest) -> GenerationRequest:
    """Learn the duration of audio/video given by URL, so provider limits can be checked before any
    paid request. The URL itself is still what the provider receives."""
    updates: dict[str, MediaInput] = {}
    for name, media in req.media().items():
        if media.url is None or media.kind is MediaKind.IMAGE or media.info.duration is not None:
            continue
        from .media.probe import probe  # late: PyAV loads only when a URL needs probing

        try:
            data = await _fetch_url_media(media.url)
            info = await asyncio.to_thread(probe, data)
        except (httpx.HTTPError, ValueError, MediaError, OSError) as exc:
            reason = redact_text(str(exc) or type(exc).__name__)
            raise InvalidInputError(
                name,
                media.url,
                f"a reachable https URL of a readable {media.kind.value} file "
                f"of at most {URL_PROBE_MAX_BYTES >> 20} MB",
                provider=req.provider,
                reason=f"could not read its duration ({reason})",
            ) from None
        if info.duration is None:
            raise InvalidInputError(
                name,
                media.url,
                f"a {media.kind.value} file with a known duration",
                provider=req.provider,
                reason="no duration could be read from it",
            )
        updates[name] = dataclasses.replace(media, info=info)
    return dataclasses.replace(req, **updates) if updates else req


def _submit_refused(exc: BaseException) -> bool:
    """True when a failed submit provably created nothing: the provider refused it (4xx, auth,
    payment, invalid input, 429/503) or it never left this machine. Anything else may have been
    accepted and billed, so it is recorded as UNCERTAIN."""
    if isinstance(exc, SubmitUncertainError) or not isinstance(exc, LTX2Error):
        return False
    code = exc.status_code
    return not (isinstance(exc, ProviderError) and (code is None or (code >= 500 and code != 503)))


async def _best_effort_cancel(client: ProviderClient, provider: Provider, job: SubmittedJob) -> bool:
    if not provider.can_cancel:
        return False
    try:
        return bool(await asyncio.shield(client.cancel(job)))
    except BaseException:  # never hide the original error behind a cancel failure
        return False


def _result(
    record: JobRecord,
    path: Path,
    *,
    cost: CostEstimate | None,
    timings: dict[str, float],
    from_cache: bool = False,
) -> GenerationResult:
    return GenerationResult(
        path=path,
        provider=record.provider,
        mode=Mode(record.mode),
        model=record.model,
        request_id=record.provider_job_id,
        journal_id=record.id,
        cost=cost,
        timings=timings,
        from_cache=from_cache,
    )


# --- the wait + download shared by generate and resume ---------------------------------------------


async def _collect(
    client: ProviderClient,
    provider: Provider,
    job: SubmittedJob,
    record: JobRecord,
    journal: Journal,
    settings: RunSettings,
    progress: _Progress,
    clock: _Clock,
    *,
    fallback_url: str | None = None,
) -> Path:
    """Poll ``job`` to the end and download its video; the journal follows every step.
    ``fallback_url`` (resume) is a stored output URL tried when the provider no longer knows the job."""
    last: dict[str, str | None] = {"state": None, "raw": None}

    def on_status(status: JobStatus) -> None:
        state = RecordState.RUNNING if status.state is JobState.RUNNING else None
        if status.state is JobState.RUNNING:
            clock.mark("running")
        raw = status.raw_status or status.state.value
        if (state is not None and last["state"] != state.value) or last["raw"] != raw:
            changes: dict[str, object] = {"raw_status": raw}
            if state is not None:
                changes["state"] = state
                last["state"] = state.value
            journal.update(record.id, **changes)
            last["raw"] = raw
        phase = "queued" if status.state is JobState.QUEUED else "processing"
        progress(phase, f"{provider.display_name}: {raw} ({progress.elapsed():.0f} s)", status.progress)

    status: JobStatus | None = None
    if record.state is not RecordState.SUCCEEDED or not record.video_url:
        try:
            status = await client.wait(
                job,
                interval=settings.poll_interval,
                timeout=settings.poll_timeout,
                cancel_check=settings.cancel_check,
                on_status=on_status,
            )
        except (Interrupted, PollTimeoutError, asyncio.CancelledError, KeyboardInterrupt) as exc:
            # We stop waiting; the provider may still finish: the job stays resumable.
            note = str(exc) or type(exc).__name__
            if not isinstance(exc, PollTimeoutError) and await _best_effort_cancel(client, provider, job):
                note += " (cancel requested at the provider)"
            journal.update(record.id, state=RecordState.INTERRUPTED, error=note)
            raise
        except JobFailedError as exc:
            journal.update(record.id, state=RecordState.FAILED, error=str(exc))
            raise
        except JobCancelledError as exc:
            journal.update(record.id, state=RecordState.CANCELLED, error=str(exc))
            raise
        except JobExpiredError as exc:
            if fallback_url is None:
                # The provider does not know the job. Long after it was accepted that means it expired:
                # nothing is left to poll. Soon after, it is more likely a passing glitch of a paid job,
                # so it stays resumable.
                recent = time.time() - record.created_at < JOB_FORGOTTEN_AFTER
                journal.update(
                    record.id, state=RecordState.INTERRUPTED if recent else RecordState.FAILED, error=str(exc)
                )
                raise
            # The job is gone but its output may outlive it: try the URL collected earlier.
        except BaseException as exc:
            # The job id is known: keep it resumable whatever went wrong while polling.
            journal.update(record.id, state=RecordState.INTERRUPTED, error=str(exc) or type(exc).__name__)
            raise
        clock.mark("succeeded")
        record = journal.update(
            record.id,
            state=RecordState.SUCCEEDED,
            video_url=status.video_url if status is not None else fallback_url,
            raw_status=status.raw_status or status.state.value if status is not None else record.raw_status,
            error=None,
        )
    if not record.video_url:
        journal.update(record.id, error="The provider reported success without a video URL.")
        raise ProviderError(
            f"{provider.display_name} reported job {job.job_id} finished but gave no video URL.",
            provider=provider.name,
        )

    dest = output_path(settings.output_dir, settings.filename_prefix, record.provider, record.mode, record.id)

    def on_bytes(done: int, total: int | None) -> None:
        fraction = done / total if total else None
        progress("downloading", f"Downloading {done / 1e6:.1f} MB", fraction)

    progress("downloading", "Downloading the video", 0.0)
    clock.mark("download")
    try:
        # The client streams into a part file and renames it: ``dest`` never holds a partial video.
        dest = await client.download(
            record.video_url,
            dest,
            max_bytes=settings.max_download_bytes,
            cancel_check=settings.cancel_check,
            on_progress=on_bytes,
        )
    except BaseException as exc:
        # The provider finished: resume polls again for a fresh URL and downloads.
        journal.update(record.id, state=RecordState.SUCCEEDED, error=str(exc) or type(exc).__name__)
        raise
    clock.mark("downloaded")
    record = journal.update(
        record.id, state=RecordState.DOWNLOADED, result_path=str(dest.resolve()), error=None
    )
    write_sidecar(dest, record, timings=_finish_timings(clock, progress))  # never raises
    return dest


def _finish_timings(clock: _Clock, progress: _Progress) -> dict[str, float]:
    clock.span("hosting", "hosting", "hosted")
    clock.span("submit", "submit", "submitted")
    if "running" in clock.marks:
        clock.span("queue", "submitted", "running")
        clock.span("processing", "running", "succeeded")
    else:  # never saw a running status: all of it counts as queue
        clock.span("queue", "submitted", "succeeded")
    clock.span("download", "download", "downloaded")
    clock.timings["total"] = progress.elapsed()
    return clock.timings


# --- public entry points ---------------------------------------------------------------------------


async def generate(req: GenerationRequest, settings: RunSettings) -> GenerationResult:
    """Run one generation. Errors are typed and user-facing; a paid job is never submitted twice and
    stays in the journal (resumable) when anything goes wrong after the provider accepted it."""
    progress = _Progress(settings.on_progress)
    clock = _Clock()
    provider = get_provider(req.provider)
    if req.provider != provider.name:
        req = dataclasses.replace(req, provider=provider.name)
    key, base_url = _credentials(provider, settings)

    progress("validating", "Checking inputs")
    if any(m.url is not None for m in req.media().values()):
        # What needs no download (URL form, fields, limits) is refused before any URL is fetched.
        try:
            provider.validate(req)
        except UnknownMediaLengthError:
            pass  # the probe below reads the length
    req = await probe_url_media(req)
    spec = provider.validate(req)
    cost = provider.estimate_cost(req)

    journal = settings.journal or Journal()
    if not _cache_enabled(req, settings):
        return await _submit_and_collect(
            req, settings, provider, spec, cost, key, base_url, journal, progress, clock
        )
    # Equal requests run one at a time in this process, so the second finds the first one's result
    # (or its accepted job) instead of paying again.
    queued_at = time.time()
    request_hash = req.request_hash()
    async with _one_at_a_time(f"{base_url} {request_hash}"):
        cached = journal.find_cached(request_hash, base_url=base_url)
        if cached is not None and cached.result_path:
            progress("done", "Reused an earlier result of the same request", 1.0)
            return _result(
                cached,
                Path(cached.result_path),
                cost=None,
                timings={"total": progress.elapsed()},
                from_cache=True,
            )
        accepted = journal.find_resumable(request_hash, base_url=base_url)
        if accepted is not None:
            # An earlier run of this very request was accepted (and billed) but never collected,
            # e.g. it was interrupted: collect that job rather than buy another.
            progress(
                "queued", f"Collecting job {accepted.provider_job_id}, accepted earlier for this request"
            )
            return await resume(accepted.id, dataclasses.replace(settings, journal=journal, api_key=key))
        unanswered = journal.find_uncertain(request_hash, base_url=base_url, since=queued_at)
        if unanswered is not None:
            # An equal run sent this very request while this one waited, and got no answer: it may
            # have been accepted and billed. Sending it again would be an automatic resend.
            exc = SubmitUncertainError(
                f"An equal request sent to {provider.display_name} at the same time (journal id "
                f"{unanswered.id[:8]}) got no answer and may have been accepted; this one was not sent, "
                f"so the video is not bought twice.",
                provider=provider.name,
            )
            exc.journal_id = unanswered.id  # type: ignore[attr-defined]
            raise exc
        return await _submit_and_collect(
            req, settings, provider, spec, cost, key, base_url, journal, progress, clock
        )


_equal_request_locks: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}


@contextlib.asynccontextmanager
async def _one_at_a_time(key: str) -> AsyncIterator[None]:
    """A lock per request key (and event loop), dropped when nobody holds or waits for it."""
    slot = (id(asyncio.get_running_loop()), key)
    lock, users = _equal_request_locks.get(slot, (asyncio.Lock(), 0))
    _equal_request_locks[slot] = (lock, users + 1)
    try:
        async with lock:
            yield
    finally:
        lock, users = _equal_request_locks[slot]
        if users <= 1:
            del _equal_request_locks[slot]
        else:
            _equal_request_locks[slot] = (lock, users - 1)


async def _submit_and_collect(
    req: GenerationRequest,
    settings: RunSettings,
    provider: Provider,
    spec: ModelSpec,
    cost: CostEstimate | None,
    key: str,
    base_url: str,
    journal: Journal,
    progress: _Progress,
    clock: _Clock,
) -> GenerationResult:
    from .hosting import HostingCache, host_request_media  # late: hosting pulls in its own caches

    async with _client(provider, key, base_url, settings) as client:
        if req.media():
            progress("uploading", "Hosting input media")
        clock.mark("hosting")
        uris = await host_request_media(req, client, settings.hosting, HostingCache())
        clock.mark("hosted")
        if settings.cancel_check is not None and settings.cancel_check():
            # Stopped while inputs were checked or uploaded: the paid submit is not sent at all.
            raise Interrupted(
                f"Stopped before the request was sent to {provider.display_name}: nothing was billed.",
                provider=provider.name,
            )

        record = journal.create(
            req, model=spec.name, base_url=base_url, cost=cost, guard=budget_guard(provider.name, cost)
        )
        sent = False
        try:
            progress("submitting", f"Submitting to {provider.display_name}")
            clock.mark("submit")
            sent = True
            try:
                job = await client.submit(req, uris, cancel_check=settings.cancel_check)
            except BaseException as exc:
                state = RecordState.REJECTED if _submit_refused(exc) else RecordState.UNCERTAIN
                journal.update(record.id, state=state, error=str(exc) or type(exc).__name__)
                raise
            clock.mark("submitted")
            record = _record_accepted(journal, record.id, job, provider)
            progress("queued", f"{provider.display_name} accepted job {job.job_id}")
            path = await _collect(client, provider, job, record, journal, settings, progress, clock)
        except BaseException as exc:
            _after_failure(journal, record.id, exc, sent=sent)
            raise

    progress("done", f"Saved {path.name}", 1.0)
    record = journal.get(record.id) or record
    return _result(record, path, cost=cost, timings=_finish_timings(clock, progress))


def _record_accepted(journal: Journal, record_id: str, job: SubmittedJob, provider: Provider) -> JobRecord:
    """Write the id of an accepted (billed) job. A journal that cannot take it gets a second try; after
    that the error names the job, so it is never lost without a trace."""
    changes = dict(provider_job_id=job.job_id, job_model=job.model, state=RecordState.SUBMITTED)
    try:
        return journal.update(record_id, **changes)
    except Exception:
        pass
    try:
        return journal.update(record_id, **changes)
    except Exception as exc:
        raise LTX2Error(
            f"{provider.display_name} accepted job {job.job_id}, and it is billed, but the job journal "
            f"could not record it ({type(exc).__name__}: {redact_text(str(exc))}).",
            provider=provider.name,
            hint=f"Collect job {job.job_id} from the provider's dashboard, and check that the data folder "
            f"(LTX2_DATA_DIR) is writable.",
        ) from None


def _after_failure(journal: Journal, record_id: str, exc: BaseException, *, sent: bool = False) -> None:
    """Tell the caller which journal record the error belongs to (``exc.journal_id``, for a resume
    hint), and close a record still PENDING: refused when the submit was never sent, uncertain when it
    was (the journal could not record its outcome)."""
    if isinstance(exc, LTX2Error) and getattr(exc, "journal_id", None) is None:
        exc.journal_id = record_id  # type: ignore[attr-defined]
    try:
        current = journal.get(record_id)
        if current is not None and current.state is RecordState.PENDING:
            if sent:
                journal.update(record_id, state=RecordState.UNCERTAIN, error=str(exc) or type(exc).__name__)
            else:
                journal.update(
                    record_id,
                    state=RecordState.REJECTED,
                    error=f"Stopped before the submit was sent: {exc or type(exc).__name__}",
                )
        if isinstance(exc, LTX2Error) and (journal.get(record_id) or current).resumable:
            _name_the_job(exc, record_id)
    except Exception:  # never hide the original error behind a journal problem
        pass


_RESUME_PLACEHOLDER = "ltx2 jobs resume ID"


def _name_the_job(exc: LTX2Error, record_id: str) -> None:
    """Put the journal id into an error's resume hint, so the user can copy the command as it is."""
    command = f"ltx2 jobs resume {record_id}"
    exc.message = exc.message.replace(_RESUME_PLACEHOLDER, command)
    exc.hint = exc.hint.replace(_RESUME_PLACEHOLDER, command)
    exc.args = (exc.message,)


async def resume(ident: str, settings: RunSettings) -> GenerationResult:
    """Finish polling + download of a journalled job (journal id or provider id) without resubmitting."""
    progress = _Progress(settings.on_progress)
    clock = _Clock()
    journal = settings.journal or Journal()
    record = journal.get(ident)
    if record is None:
        raise InvalidInputError(
            "job id",
            ident,
            "a journal id (or a unique prefix of at least 6 characters) or a "
            "provider job id, as listed by 'ltx2 jobs list'",
            reason="no such job in the journal",
        )
    cost = record.cost
    if record.state is RecordState.DOWNLOADED and record.result_path and os.path.isfile(record.result_path):
        progress("done", "Already downloaded", 1.0)
        return _result(
            record,
            Path(record.result_path),
            cost=cost,
            timings={"total": progress.elapsed()},
            from_cache=True,
        )
    if record.state in (RecordState.UNCERTAIN, RecordState.PENDING):
        raise LTX2Error(
            f"Job {record.id[:8]} cannot be resumed: its submit to {record.provider} got no answer "
            f"(state {record.state.value}), so no provider job id is known.",
            hint="Check the provider's dashboard for the job; run the request again only if it is not there.",
        )
    if record.provider_job_id is None:
        raise LTX2Error(
            f"Job {record.id[:8]} cannot be resumed: the provider never accepted it "
            f"(state {record.state.value}{': ' + record.error if record.error else ''}). "
            f"Nothing was billed; run the request again."
        )

    provider = get_provider(record.provider)
    key = settings.api_key or config.get_api_key(provider.name, settings.profile)
    register_secret(key)
    job = SubmittedJob(
        provider=provider.name,
        mode=Mode(record.mode),
        job_id=record.provider_job_id,
        model=record.job_model or record.model,
    )
    # Output URLs expire: always poll again for a fresh one (the stored URL is only a fallback when
    # the provider no longer knows the job). FAILED / CANCELLED jobs are asked again too: the
    # provider's answer is the truth.
    fallback_url = (
        record.video_url if record.state in (RecordState.SUCCEEDED, RecordState.DOWNLOADED) else None
    )
    if record.state in (RecordState.SUCCEEDED, RecordState.DOWNLOADED):
        record = dataclasses.replace(record, state=RecordState.RUNNING, video_url=None)

    progress("queued", f"Resuming {provider.display_name} job {job.job_id}")
    clock.mark("submitted")
    try:
        async with _client(provider, key, record.base_url, settings) as client:
            path = await _collect(
                client, provider, job, record, journal, settings, progress, clock, fallback_url=fallback_url
            )
    except BaseException as exc:
        _after_failure(journal, record.id, exc)
        raise
    progress("done", f"Saved {path.name}", 1.0)
    record = journal.get(record.id) or record
    return _result(record, path, cost=cost, timings=_finish_timings(clock, progress))

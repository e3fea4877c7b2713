"""One generation end to end: validate -> claim the request in the journal -> host media -> submit ->
poll -> download -> check that it is a video. Also resumes journalled jobs. The CLI and the nodes both
call this; every journal state change goes through ``api/jobstate.py``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from . import config, jobstate, result_check
from . import owner as owners
from .budget import guard as budget_guard
from .client import CancelCheck, ProviderClient, RetryPolicy
from .errors import (
    Interrupted,
    InvalidInputError,
    JobCancelledError,
    JobExpiredError,
    JobFailedError,
    JournalError,
    LTX2Error,
    MediaError,
    PollTimeoutError,
    ProviderError,
    StorageError,
    SubmitUncertainError,
    UnfinishedSubmitError,
    UnknownMediaLengthError,
)
from .jobstate import JobTracker
from .journal import ClaimKind, JobRecord, Journal, RecordState, result_file_intact
from .net.urlmedia import URL_PROBE_MAX_BYTES
from .net.urlmedia import fetch_url_media as _fetch_url_media
from .provenance import follow as follow_sidecar
from .provenance import write_sidecar
from .providers import get_provider
from .providers.base import Provider
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
    max_download_bytes: int | None = None  # None: $LTX2_MAX_DOWNLOAD_MB or 4 GiB
    extra: dict = field(default_factory=dict)
    retry: RetryPolicy | None = None  # None: the client's default retry policy
    output_file: Path | None = None  # the final file (e.g. ``ltx2 -o``); None: a new name in output_dir
    overwrite: bool = False  # ``output_file`` may replace an existing file
    new_take: bool = False  # buy a new take, even over a claim whose process died mid-submit
    # Called inside the claim's write transaction before the record is inserted (budget guard); an
    # exception from it stops the run before anything is sent.
    guard: Callable[[sqlite3.Connection], None] | None = None
    on_claim: Callable[[str], None] | None = None  # told the journal id this run writes to


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
        # Checked before the claim: a key that can never be sent must leave no trace in the journal.
        key = config.check_key(settings.api_key, f"for {provider.display_name}")
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


_submit_refused = jobstate.submit_refused  # the billing decision lives in api/jobstate.py


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


# --- output files --------------------------------------------------------------------------------------


def _final_path(settings: RunSettings, record: JobRecord) -> Path:
    if settings.output_file is not None:
        return Path(settings.output_file)
    return output_path(settings.output_dir, settings.filename_prefix, record.provider, record.mode, record.id)


def _download_path(final: Path, record_id: str) -> Path:
    """Where the body lands before it is checked: a hidden name next to the final file, so a body that
    is not a video never takes (or replaces) the final name."""
    return final.with_name(f".{final.stem}.{record_id[:8]}.download.mp4")


def _no_clobber_name(final: Path, record_id: str) -> Path:
    return final.with_name(f"{final.stem}-{record_id[:8]}{final.suffix or '.mp4'}")


def _place(source: Path, final: Path, *, overwrite: bool, record_id: str, copy: bool = False) -> Path:
    """Move (or copy) ``source`` to ``final``. An existing file is replaced only when ``overwrite``;
    otherwise one that appeared meanwhile keeps its name and the result gets ``<stem>-<id8>``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        staged = _download_path(final, record_id).with_suffix(".copy")
        shutil.copyfile(source, staged)
        source = staged
    try:
        if overwrite:
            os.replace(source, final)
            return final
        try:
            os.link(source, final)  # fails when ``final`` exists: never replaces a file
        except FileExistsError:
            final = _no_clobber_name(final, record_id)
            os.replace(source, final)
            return final
        except OSError:  # no hard links on this file system
            if final.exists():
                final = _no_clobber_name(final, record_id)
            os.replace(source, final)
            return final
        os.unlink(source)
        return final
    except BaseException:
        if copy:
            _unlink(source)
        raise


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def check_output_file(settings: RunSettings) -> None:
    """An existing ``output_file`` is replaced only when asked: refused before anything is sent."""
    target = settings.output_file
    if target is not None and not settings.overwrite and Path(target).exists():
        raise StorageError(
            f"The output file {target} exists already; nothing was sent.",
            path=str(target),
            hint="Choose another name, or ask to overwrite it (ltx2: --overwrite).",
            billed=False,
        )


def _write_error(exc: OSError, folder: Path, record: JobRecord, provider: Provider) -> StorageError:
    return StorageError(
        f"Cannot write the video into {folder}: {exc.strerror or exc}. {provider.display_name} finished job "
        f"{record.provider_job_id} (journal id {record.id}) and it is billed.",
        path=str(folder),
        provider=provider.name,
        hint=f"Free some space (or choose another folder), then collect it: ltx2 jobs resume {record.id}",
        journal_id=record.id,
        billed=True,
    )


def _deliver_cached(record: JobRecord, settings: RunSettings) -> Path:
    source = Path(record.result_path or "")
    target = settings.output_file
    if target is None or Path(target).absolute() == source.absolute():
        return source
    try:
        placed = _place(source, Path(target), overwrite=settings.overwrite, record_id=record.id, copy=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot copy the earlier result {source.name} to {target}: {exc.strerror or exc}; nothing was sent.",
            path=str(target),
            billed=False,
        ) from None
    follow_sidecar(source, placed, copy=True)  # the provenance file goes with the copy
    return placed


# --- the wait + download shared by generate and resume ---------------------------------------------


@contextlib.asynccontextmanager
async def _heartbeat(journal: Journal, record_id: str) -> AsyncIterator[None]:
    """While this run holds the claim, tell other processes it is alive."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(owners.HEARTBEAT_SECONDS)
            with contextlib.suppress(JournalError):
                await asyncio.to_thread(journal.heartbeat, record_id)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _release(journal: Journal, record_id: str) -> None:
    """The run's claim ends with the run (after its last state change), whatever the outcome."""
    owners.ended_here(record_id)
    with contextlib.suppress(JournalError):
        journal.release(record_id)


async def _collect(
    client: ProviderClient,
    provider: Provider,
    job: SubmittedJob,
    tracker: JobTracker,
    settings: RunSettings,
    progress: _Progress,
    clock: _Clock,
    *,
    fallback_url: str | None = None,
) -> Path:
    """Poll ``job`` to the end, download its video and check it is one; the journal follows every step.
    ``fallback_url`` (resume) is a stored output URL tried when the provider no longer knows the job."""
    record = tracker.record
    last: dict[str, str | None] = {"state": None, "raw": None}

    def on_status(status: JobStatus) -> None:
        running = status.state is JobState.RUNNING
        if running:
            clock.mark("running")
        raw = status.raw_status or status.state.value
        if (running and last["state"] != "running") or last["raw"] != raw:
            tracker.status(raw, running=running)
            last["raw"] = raw
            if running:
                last["state"] = "running"
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
            tracker.interrupted(note)
            raise
        except JobFailedError as exc:
            tracker.failed(exc)
            raise
        except JobCancelledError as exc:
            tracker.cancelled(exc)
            raise
        except JobExpiredError as exc:
            if fallback_url is None:
                # The provider does not know the job. Long after it was accepted that means it expired:
                # nothing is left to poll. Soon after, it is more likely a passing glitch of a paid job,
                # so it stays resumable.
                if time.time() - record.created_at < JOB_FORGOTTEN_AFTER:
                    tracker.interrupted(str(exc))
                else:
                    tracker.failed(exc)
                raise
            # The job is gone but its output may outlive it: try the URL collected earlier.
        except BaseException as exc:
            # The job id is known: keep it resumable whatever went wrong while polling.
            tracker.interrupted(str(exc) or type(exc).__name__)
            raise
        clock.mark("succeeded")
        record = tracker.succeeded(
            status.video_url if status is not None else fallback_url,
            (status.raw_status or status.state.value) if status is not None else record.raw_status,
        )
    if not record.video_url:
        tracker.note("The provider reported success without a video URL.")
        raise ProviderError(
            f"{provider.display_name} reported job {job.job_id} finished but gave no video URL.",
            provider=provider.name,
        )

    final = _final_path(settings, record)
    landing = _download_path(final, record.id)

    def on_bytes(done: int, total: int | None) -> None:
        fraction = done / total if total else None
        progress("downloading", f"Downloading {done / 1e6:.1f} MB", fraction)

    progress("downloading", "Downloading the video", 0.0)
    clock.mark("download")
    try:
        try:
            # The client streams into a part file and renames it: ``landing`` never holds a partial body.
            await client.download(
                record.video_url,
                landing,
                max_bytes=settings.max_download_bytes,
                cancel_check=settings.cancel_check,
                on_progress=on_bytes,
            )
            checked = await asyncio.to_thread(
                result_check.check_video, landing, mode=record.mode, params=record.params
            )
            path = _place(landing, final, overwrite=settings.overwrite, record_id=record.id)
        except OSError as exc:
            raise _write_error(exc, final.parent, record, provider) from None
    except BaseException as exc:
        _unlink(landing)
        # The provider finished: resume polls again for a fresh URL and downloads.
        tracker.download_failed(exc)
        raise
    clock.mark("downloaded")
    tracker.downloaded(str(path.resolve()), checked.size, checked.sha256)
    write_sidecar(path, tracker.record, timings=_finish_timings(clock, progress))  # never raises
    return path


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

CLAIM_POLL_SECONDS = 0.25  # how often a run waiting for an equal request's claim looks again


def _open_journal(settings: RunSettings) -> Journal:
    if settings.journal is not None:
        return settings.journal
    try:
        return Journal()
    except JournalError as exc:
        raise _nothing_sent(exc) from None


def _nothing_sent(exc: JournalError) -> JournalError:
    if "nothing was sent" not in exc.message.lower():
        exc.message = f"{exc.message[:-1]}; nothing was sent."
        exc.args = (exc.message,)
    exc.for_job(None, billed=False)
    return exc


async def generate(req: GenerationRequest, settings: RunSettings) -> GenerationResult:
    """Run one generation. Errors are typed and user-facing; a paid job is never submitted twice (the
    claim of the request in the journal is atomic across processes) and stays in the journal
    (resumable) when anything goes wrong after the provider accepted it."""
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
    check_output_file(settings)
    journal = _open_journal(settings)

    reuse = _cache_enabled(req, settings) and not settings.new_take
    skip: set[str] = set()
    waited: set[str] = set()
    wait_until = time.monotonic() + settings.poll_timeout
    while True:
        try:
            # In a worker thread: a busy journal must not stall the event loop (other nodes run on it).
            claim = await asyncio.to_thread(
                journal.claim,
                req,
                model=spec.name,
                base_url=base_url,
                cost=cost,
                reuse=reuse,
                new_take=settings.new_take,
                skip=frozenset(skip),
                waited_for=frozenset(waited),
                guard=budget_guard(
                    provider.name, cost, provider_label=provider.display_name, also=settings.guard
                ),
            )
        except JournalError as exc:
            raise _nothing_sent(exc) from None
        record = claim.record
        if settings.on_claim is not None and claim.kind in (ClaimKind.NEW, ClaimKind.COLLECT):
            settings.on_claim(record.id)
        if claim.kind is ClaimKind.NEW:
            return await _submit_and_collect(
                req, settings, provider, key, base_url, journal, JobTracker(journal, record), progress, clock
            )
        if claim.kind is ClaimKind.CACHED:
            if await asyncio.to_thread(result_file_intact, record):
                path = _deliver_cached(record, settings)
                progress("done", f"Reused an earlier result of the same request: {path}", 1.0)
                return _result(
                    record, path, cost=None, timings={"total": progress.elapsed()}, from_cache=True
                )
            skip.add(record.id)  # gone or replaced by another file: not this request's video
            continue
        if claim.kind is ClaimKind.COLLECT:
            # An earlier run of this very request was accepted (and billed) but never collected, e.g. it
            # was interrupted or its process died: collect that job rather than buy another.
            progress("queued", f"Collecting job {record.provider_job_id}, accepted earlier for this request")
            return await _resume_record(record, dataclasses.replace(settings, journal=journal, api_key=key))
        if claim.kind is ClaimKind.WAIT:
            if record.id not in waited:
                progress(
                    "queued",
                    f"Waiting for an equal request already running (journal id {record.id[:8]}); "
                    f"this run pays nothing more",
                )
            waited.add(record.id)
            if settings.cancel_check is not None and settings.cancel_check():
                raise Interrupted(
                    f"Stopped waiting for the equal request {record.id[:8]}: this run sent nothing, "
                    f"so nothing was billed for it.",
                    provider=provider.name,
                    billed=False,
                )
            if time.monotonic() > wait_until:
                raise PollTimeoutError(
                    f"An equal request (journal id {record.id}) is still running in another process after "
                    f"{settings.poll_timeout:g} s; this run sent nothing, so nothing was billed for it.",
                    provider=provider.name,
                    hint="Run it again later: it then reuses that request's video.",
                    billed=False,
                )
            await asyncio.sleep(CLAIM_POLL_SECONDS)
            continue
        if claim.kind is ClaimKind.ORPHANED:
            raise UnfinishedSubmitError(
                f"An earlier run of this request (journal id {record.id}) stopped while its submit to "
                f"{provider.display_name} may have been accepted and billed, so it is not sent again. Check "
                f"it with 'ltx2 jobs show {record.id}' and on the provider's dashboard; to buy a new take "
                f"anyway, run again with --new-take (in ComfyUI: force_rerun).",
                provider=provider.name,
                journal_id=record.id,
            )
        # UNANSWERED: an equal run sent this very request while this one waited and got no answer: it
        # may have been accepted and billed. Sending it again would be an automatic resend.
        raise SubmitUncertainError(
            f"An equal request sent to {provider.display_name} at the same time (journal id "
            f"{record.id[:8]}) got no answer and may have been accepted; this one was not sent, "
            f"so the video is not bought twice.",
            provider=provider.name,
            journal_id=record.id,
        )


async def _submit_and_collect(
    req: GenerationRequest,
    settings: RunSettings,
    provider: Provider,
    key: str,
    base_url: str,
    journal: Journal,
    tracker: JobTracker,
    progress: _Progress,
    clock: _Clock,
) -> GenerationResult:
    # late: hosting pulls in its own caches
    from .hosting import HostingCache, host_request_media, release_request_media

    cost = tracker.record.cost
    sent = False
    try:
        async with _heartbeat(journal, tracker.id), _client(provider, key, base_url, settings) as client:
            if req.media():
                progress("uploading", "Hosting input media")
            clock.mark("hosting")
            uris = await host_request_media(
                req, client, settings.hosting, HostingCache(), profile=settings.profile
            )
            clock.mark("hosted")
            if settings.cancel_check is not None and settings.cancel_check():
                # Stopped while inputs were checked or uploaded: the paid submit is not sent at all.
                raise Interrupted(
                    f"Stopped before the request was sent to {provider.display_name}: nothing was billed.",
                    provider=provider.name,
                    billed=False,
                )
            progress("submitting", f"Submitting to {provider.display_name}")
            try:
                tracker.sending()
            except JournalError as exc:
                raise _nothing_sent(exc) from None
            clock.mark("submit")
            sent = True
            try:
                job = await client.submit(req, uris, cancel_check=settings.cancel_check)
            except BaseException as exc:
                with contextlib.suppress(JournalError):
                    if tracker.submit_failed(exc) is RecordState.UNCERTAIN and isinstance(exc, LTX2Error):
                        exc.for_job(tracker.id, billed=True)
                raise
            clock.mark("submitted")
            await tracker.accepted(job, provider.display_name)
            progress("queued", f"{provider.display_name} accepted job {job.job_id}")
            path = await _collect(client, provider, job, tracker, settings, progress, clock)
    except BaseException as exc:
        _after_failure(tracker, exc, sent=sent)
        raise
    finally:
        _release(journal, tracker.id)

    # S3 hosting: the job is collected, so its stored inputs may go (LTX2_S3_DELETE_AFTER); never raises.
    await release_request_media(uris)
    progress("done", f"Saved {path}", 1.0)
    return _result(tracker.record, path, cost=cost, timings=_finish_timings(clock, progress))


def _after_failure(tracker: JobTracker, exc: BaseException, *, sent: bool) -> None:
    """Close a record still PENDING, and name the record in the error (for a resume hint)."""
    tracker.close_after_failure(exc, sent=sent)
    if isinstance(exc, LTX2Error):
        accepted = tracker.record.provider_job_id is not None
        exc.for_job(tracker.id, billed=True if accepted else None)
        with contextlib.suppress(JournalError):
            current = tracker.journal.get(tracker.id)
            if current is not None and current.resumable:
                _name_the_job(exc, tracker.id)


_RESUME_PLACEHOLDER = "ltx2 jobs resume ID"


def _name_the_job(exc: LTX2Error, record_id: str) -> None:
    """Put the journal id into an error's resume hint, so the user can copy the command as it is."""
    command = f"ltx2 jobs resume {record_id}"
    exc.message = exc.message.replace(_RESUME_PLACEHOLDER, command)
    exc.hint = exc.hint.replace(_RESUME_PLACEHOLDER, command)
    exc.args = (exc.message,)


async def resume(ident: str, settings: RunSettings) -> GenerationResult:
    """Finish polling + download of a journalled job (journal id or provider id) without resubmitting."""
    journal = _open_journal(settings)
    record = journal.get(ident)
    if record is None:
        raise InvalidInputError(
            "job id",
            ident,
            "a journal id (or a unique prefix of at least 6 characters) or a "
            "provider job id, as listed by 'ltx2 jobs list'",
            reason="no such job in the journal",
        )
    return await _resume_record(record, dataclasses.replace(settings, journal=journal))


async def _resume_record(record: JobRecord, settings: RunSettings) -> GenerationResult:
    progress = _Progress(settings.on_progress)
    clock = _Clock()
    journal = settings.journal
    assert journal is not None
    cost = record.cost
    if record.state is RecordState.DOWNLOADED and result_file_intact(record):
        path = _deliver_cached(record, settings)
        progress("done", f"Already downloaded: {path}", 1.0)
        return _result(record, path, cost=cost, timings={"total": progress.elapsed()}, from_cache=True)
    if record.state in (RecordState.UNCERTAIN, RecordState.PENDING):
        raise LTX2Error(
            f"Job {record.id[:8]} cannot be resumed: its submit to {record.provider} got no answer "
            f"(state {record.state.value}), so no provider job id is known.",
            hint="Check the provider's dashboard for the job; run the request again only if it is not there "
            "(ltx2: --new-take; ComfyUI: force_rerun).",
            journal_id=record.id,
            uncertain=True,
            billed=True,
        )
    if record.provider_job_id is None:
        raise LTX2Error(
            f"Job {record.id[:8]} cannot be resumed: the provider never accepted it "
            f"(state {record.state.value}{': ' + record.error if record.error else ''}). "
            f"Nothing was billed; run the request again.",
            journal_id=record.id,
        )
    check_output_file(settings)

    provider = get_provider(record.provider)
    key = settings.api_key or config.get_api_key(provider.name, settings.profile)
    register_secret(key)
    with contextlib.suppress(JournalError):
        record = journal.take_over(record.id)  # this process collects it now
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
    tracker = JobTracker(journal, record)

    progress("queued", f"Resuming {provider.display_name} job {job.job_id}")
    clock.mark("submitted")
    try:
        async with (
            _heartbeat(journal, record.id),
            _client(provider, key, record.base_url, settings) as client,
        ):
            path = await _collect(
                client, provider, job, tracker, settings, progress, clock, fallback_url=fallback_url
            )
    except BaseException as exc:
        _after_failure(tracker, exc, sent=True)
        raise
    finally:
        _release(journal, record.id)
    progress("done", f"Saved {path}", 1.0)
    return _result(tracker.record, path, cost=cost, timings=_finish_timings(clock, progress))

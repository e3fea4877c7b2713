"""Emulator core: configuration, job store and state machine, fault injection, file store,
media fetching, control API. Each provider protocol is a module with
``setup(app, emu, prefix)`` mounted under its own path prefix:

    /gmi/...        GMI Cloud request queue   (base URL for LTX2_GMI_BASE_URL)
    /apiinone/...   API in One                 (base URL for LTX2_APIINONE_BASE_URL)
    /ltx/...        LTX API                    (base URL for LTX2_LTX_BASE_URL)
    /_files/...     output and uploaded files (signed, expiring URLs)
    /_emulator/...  control: faults, stats, reset
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from aiohttp import ClientSession, ClientTimeout, web

from ..urlpolicy import is_loopback_host

PROVIDERS = ("gmi", "apiinone", "ltx")
EMULATOR_KEY: web.AppKey[Emulator] = web.AppKey("emulator")
DEFAULT_KEYS = {"gmi": "emulator-gmi-key", "apiinone": "aio_emulatorkey0000", "ltx": "emulator-ltx-key"}


@dataclass
class EmulatorConfig:
    keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KEYS))
    queue_seconds: float = 0.2  # time a job spends queued
    processing_seconds: float = 0.6  # minimum time a job spends processing
    render_scale: float = 1.0  # rendered size = requested size x scale (even); tests use small values
    max_render_side: int = 0  # 0 = no cap; else longer side of the rendered video is capped
    ltx_concurrency: int = 2  # LTX: jobs running at once per key before 429 concurrency_limit_error
    ltx_job_ttl: float = 24 * 3600.0  # LTX: a job is gone (404) this long after it ends
    output_url_ttl: float = 3600.0  # output file URLs expire after this
    upload_url_ttl: float = 900.0  # signed upload URLs expire after this
    max_upload_bytes: int = 64 << 20
    apiinone_result_shape: str = (
        "video_url"  # where API in One's finished task puts the URL (see apiinone.py)
    )
    faults: list[Fault] = field(default_factory=list)


# What the emulator applies faults to and how; anything else would never fire.
FAULT_PROVIDERS = ("*", *PROVIDERS)
FAULT_OPS = ("submit", "status", "download", "upload", "put", "cancel", "job", "list", "models", "*")
FAULT_KINDS = (
    "http", "reset", "delay", "malformed", "deep", "huge", "unknown-status", "truncate", "expire", "empty",
    "redirect", "fail", "cancel", "stuck",
)  # fmt: skip
FAULT_KIND_PREFIXES = (
    "shape:",
)  # "shape:<variant>": an answer shape seen in the wild (see gmi.py, apiinone.py)
# Where each protocol applies faults (an op a provider never consults would be accepted and never
# fire, so it is refused): "download" and "job" are applied by the core for every provider.
FAULT_SITES: dict[str, frozenset[str]] = {
    "gmi": frozenset({"submit", "status", "list", "models", "upload", "put", "download", "job"}),
    "apiinone": frozenset({"submit", "status", "download", "job"}),
    "ltx": frozenset({"submit", "status", "upload", "put", "download", "job"}),
}
_GENERIC_KINDS = frozenset({"http", "reset", "delay", "malformed", "deep", "huge"})
# Where each protocol reads answer shapes.
SHAPE_SITES: dict[str, frozenset[str]] = {
    "gmi": frozenset({"status", "submit"}),
    "apiinone": frozenset({"status"}),
    "ltx": frozenset(),
}
# The ops each kind can fire on (generic kinds: every op but "job").
_KIND_OPS: dict[str, frozenset[str]] = {
    "unknown-status": frozenset({"status"}),
    "shape:": frozenset({"status", "submit"}),
    "truncate": frozenset({"download"}),
    "expire": frozenset({"download"}),
    "empty": frozenset({"download"}),
    "redirect": frozenset({"download"}),
    "fail": frozenset({"job"}),
    "cancel": frozenset({"job"}),
    "stuck": frozenset({"job"}),
}


@dataclass
class Fault:
    """One injected fault.

    op:   "submit" | "status" | "download" | "upload" (the upload-URL request) | "put" (the PUT of bytes)
          | "cancel" | "job" (applied when a job is created: kind "fail" / "cancel" / "stuck") | "*"
    kind: "http"      answer ``status`` with the provider's error body (+ Retry-After when set)
          "reset"     drop the connection without an answer
          "delay"     wait ``delay`` seconds, then answer normally
          "malformed" answer 200 with a body that is not JSON
          "deep"      answer 200 with JSON nested 100,000 levels deep
          "huge"      answer 200 with a JSON body of 300 MB, streamed without a length
          "unknown-status"  (status) a well-formed answer with an unknown status word
          "truncate"  (download) announce the full length, send half, drop the connection
          "expire"    (download) answer as an expired signed URL (403)
          "empty"     (download) answer 200 with an empty body
          "redirect"  (download) redirect to ``message`` (default: the link-local cloud metadata address)
          "fail" / "cancel" / "stuck" (job) the job fails with ``message`` / is cancelled / never ends
    after_accept: (submit) the job is created and counted first, then the fault replaces the answer
    """

    op: str
    kind: str
    provider: str = "*"
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    message: str = ""
    count: int = 1  # how many requests it applies to
    after_accept: bool = False

    def __post_init__(self) -> None:
        if self.provider not in FAULT_PROVIDERS:
            raise ValueError(
                f"fault provider {self.provider!r}: expected one of {', '.join(FAULT_PROVIDERS)}"
            )
        if self.op not in FAULT_OPS:
            raise ValueError(f"fault op {self.op!r}: expected one of {', '.join(FAULT_OPS)}")
        if self.kind not in FAULT_KINDS and not self.kind.startswith(FAULT_KIND_PREFIXES):
            raise ValueError(
                f"fault kind {self.kind!r}: expected one of {', '.join(FAULT_KINDS)} or shape:<variant>"
            )
        if not 100 <= int(self.status) <= 599:
            raise ValueError(f"fault status {self.status!r}: expected an HTTP status 100-599")
        if int(self.count) < 1:
            raise ValueError(f"fault count {self.count!r}: expected 1 or more")
        self._check_it_can_fire()

    def _check_it_can_fire(self) -> None:
        providers = PROVIDERS if self.provider == "*" else (self.provider,)
        if self.op != "*" and not any(self.op in FAULT_SITES[p] for p in providers):
            where = ", ".join(sorted(FAULT_SITES[self.provider])) if self.provider != "*" else ""
            raise ValueError(
                f"fault op {self.op!r} is never applied for provider {self.provider!r}"
                + (f" (its ops: {where})" if where else "")
            )
        kind = "shape:" if self.kind.startswith("shape:") else self.kind
        ops = _KIND_OPS.get(kind)
        if self.op == "*" or (kind in _GENERIC_KINDS and self.op != "job"):
            pass
        elif ops is None or self.op not in ops:
            allowed = ", ".join(sorted(ops)) if ops is not None else "every op but job"
            raise ValueError(
                f"fault kind {self.kind!r} never fires on op {self.op!r} (it applies to: {allowed})"
            )
        if kind == "shape:" and self.op != "*" and not any(self.op in SHAPE_SITES[p] for p in providers):
            where = ", ".join(f"{p} {op}" for p, ops in SHAPE_SITES.items() for op in sorted(ops))
            raise ValueError(
                f"fault kind {self.kind!r} never fires for {self.provider!r} {self.op!r} (shapes: {where})"
            )
        if self.after_accept and self.op not in ("submit", "*"):
            raise ValueError("after_accept applies to op 'submit' only")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``PROVIDER:OP:KIND[:STATUS|:SECONDSs][xCOUNT]``, e.g. ``gmi:status:http:503x2``,
        ``*:submit:reset`` or ``ltx:submit:delay:2.5s``; ``shape:<variant>`` is one kind."""
        count = 1
        repeat = re.search(r"x(\d+)$", text)  # only a trailing xN is a count: "expire" keeps its x
        if repeat:
            text, count = text[: repeat.start()], int(repeat.group(1))
        parts = text.split(":")
        if len(parts) < 3:
            raise ValueError(f"fault {text!r}: expected PROVIDER:OP:KIND[:STATUS][xCOUNT]")
        if parts[2] == "shape" and len(parts) > 3:  # "shape:<variant>" is one kind
            parts = [parts[0], parts[1], f"shape:{parts[3]}", *parts[4:]]
        kind, arg = parts[2], parts[3] if len(parts) > 3 else ""
        if kind == "delay":
            try:
                delay = float(arg.removesuffix("s")) if arg else 0.0
            except ValueError:
                raise ValueError(f"fault {text!r}: the delay {arg!r} is not a number of seconds") from None
            return cls(provider=parts[0], op=parts[1], kind=kind, count=count, delay=delay)
        try:
            status = int(arg) if arg else 500
        except ValueError:
            raise ValueError(f"fault {text!r}: the status {arg!r} is not an HTTP status") from None
        return cls(provider=parts[0], op=parts[1], kind=kind, count=count, status=status)


@dataclass
class FileEntry:
    data: bytes
    content_type: str
    expires_at: float | None
    provider: str = "*"  # whose output or upload it is: download faults of that provider apply


@dataclass
class LoggedRequest:
    provider: str
    op: str
    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class EmuJob:
    """A job in the emulator. ``result`` is produced by a render function in a worker thread."""

    id: str
    provider: str
    mode: str
    model: str
    params: dict[str, Any]
    key: str
    created_at: float
    queue_seconds: float
    processing_seconds: float
    outcome: str = "success"  # "success" | "fail" | "cancel" | "stuck"
    message: str = ""
    cancelled_at: float | None = None
    render_future: Any = None  # concurrent.futures.Future[bytes]
    output_token: str | None = None
    ended_at: float | None = None
    credits: float | None = None

    def state(self, now: float) -> str:
        """Neutral emulator state: "queued" | "processing" | "success" | "failed" | "cancelled"."""
        if self.cancelled_at is not None or (
            self.outcome == "cancel" and now >= self.created_at + self.queue_seconds
        ):
            return "cancelled"
        if now < self.created_at + self.queue_seconds:
            return "queued"
        if self.outcome == "stuck":
            return "processing"
        if now < self.created_at + self.queue_seconds + self.processing_seconds:
            return "processing"
        if self.outcome == "fail":
            return "failed"
        fut = self.render_future
        if fut is not None and not fut.done():
            return "processing"
        if fut is not None and fut.exception() is not None:
            if not self.message:
                self.message = f"render failed: {fut.exception()}"
            return "failed"
        return "success"


class Emulator:
    """State shared by the protocol modules."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.jobs: dict[str, EmuJob] = {}
        self.files: dict[str, FileEntry] = {}
        self.faults: list[Fault] = list(self.config.faults)
        self.log: list[LoggedRequest] = []
        self.submit_requests: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
        self.jobs_created: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ltx2-emu-render")
        self._ids = itertools.count(1)
        self.lock = threading.Lock()  # the control API may be used from another thread

    # --- clock, ids --------------------------------------------------------------------------
    @staticmethod
    def now() -> float:
        return time.time()

    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{uuid.uuid4().hex[:20]}"

    # --- faults ------------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, provider: str, op: str) -> Fault | None:
        """The first fault matching (provider, op), consuming one of its uses."""
        with self.lock:
            for fault in self.faults:
                if fault.provider in ("*", provider) and fault.op in ("*", op) and fault.count > 0:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    async def generic_fault_response(
        self, request: web.Request, fault: Fault, error_body: Callable[[int, str], Any]
    ) -> web.StreamResponse | None:
        """Apply a protocol-independent fault. Returns the response to send, or None to go on
        normally (after a delay). Kinds a protocol handles itself are returned untouched (None)."""
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("emulator: injected connection reset")
        if fault.kind == "http":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            message = fault.message or f"injected HTTP {fault.status}"
            return web.json_response(error_body(fault.status, message), status=fault.status, headers=headers)
        if fault.kind == "malformed":
            return web.Response(status=200, text='{"status": "proc', content_type="application/json")
        if fault.kind == "deep":
            depth = 100_000
            return web.Response(status=200, text="[" * depth + "]" * depth, content_type="application/json")
        if fault.kind == "huge":
            return await _huge_answer(request)
        return None

    # --- request log, auth ---------------------------------------------------------------------
    def record(self, provider: str, op: str, request: web.Request, body: Any) -> None:
        with self.lock:
            self.log.append(
                LoggedRequest(provider, op, request.method, request.path, dict(request.headers), body)
            )
            if op == "submit":
                self.submit_requests[provider] += 1

    def check_auth(self, provider: str, request: web.Request) -> str | None:
        """The key when the Bearer header carries this provider's key, else None."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return token if secrets.compare_digest(token, self.config.keys.get(provider, "")) else None

    # --- jobs ------------------------------------------------------------------------------------
    def create_job(
        self,
        provider: str,
        mode: str,
        model: str,
        params: dict[str, Any],
        key: str,
        render: Callable[[], bytes],
        job_id: str | None = None,
    ) -> EmuJob:
        """Register an accepted job and start rendering it in a worker thread."""
        job = EmuJob(
            id=job_id or self.new_id(),
            provider=provider,
            mode=mode,
            model=model,
            params=params,
            key=key,
            created_at=self.now(),
            queue_seconds=self.config.queue_seconds,
            processing_seconds=self.config.processing_seconds,
        )
        fault = self.take_fault(provider, "job")
        if fault is not None and fault.kind in ("fail", "cancel", "stuck"):
            job.outcome = fault.kind
            job.message = fault.message or {
                "fail": "Generation failed: injected failure",
                "cancel": "Cancelled by the provider",
            }.get(fault.kind, "")
        if job.outcome == "success":
            job.render_future = self.executor.submit(render)
        with self.lock:
            self.jobs[job.id] = job
            self.jobs_created[provider] += 1
        return job

    def job_state(self, job: EmuJob) -> str:
        """Current state; on first success the output file is published."""
        now = self.now()
        state = job.state(now)
        if state in ("success", "failed", "cancelled") and job.ended_at is None:
            job.ended_at = now
        if state == "success" and job.output_token is None:
            job.output_token = self.put_file(
                job.render_future.result(), "video/mp4", ttl=self.config.output_url_ttl, provider=job.provider
            )
        return state

    def running_jobs(self, provider: str, key: str) -> int:
        now = self.now()
        return sum(
            1
            for j in self.jobs.values()
            if j.provider == provider and j.key == key and j.state(now) in ("queued", "processing")
        )

    def output_url(self, request: web.Request, job: EmuJob) -> str | None:
        if job.output_token is None:
            return None
        return f"{origin(request)}/_files/{job.output_token}"

    # --- files -----------------------------------------------------------------------------------
    def put_file(self, data: bytes, content_type: str, ttl: float | None, provider: str = "*") -> str:
        token = secrets.token_urlsafe(18)
        with self.lock:
            self.files[token] = FileEntry(
                data, content_type, None if ttl is None else self.now() + ttl, provider
            )
        return token

    def reserve_upload(self, content_type: str) -> str:
        """A token for a future PUT (bytes empty until then)."""
        token = secrets.token_urlsafe(18)
        with self.lock:
            self.files[token] = FileEntry(b"", content_type, self.now() + self.config.upload_url_ttl)
        return token

    async def fetch_media(self, uri: str, request: web.Request) -> bytes:
        """Bytes behind a media URI: data URI, this emulator's file store (any URL form ending in a
        file token, or ``storage://<token>``), or another loopback http(s) URL. Raises ValueError."""
        if uri.startswith("data:"):
            header, sep, payload = uri.partition(",")
            if not sep:
                raise ValueError("malformed data URI")
            try:
                return (
                    base64.b64decode(payload, validate=True)
                    if header.endswith(";base64")
                    else unquote_to_bytes(payload)
                )
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"malformed base64 in data URI: {exc}") from exc
        token = file_token(uri)
        if token is not None:
            entry = self.files.get(token)
            if entry is None or not entry.data:
                raise ValueError(f"no uploaded file at {uri}")
            return entry.data
        parts = urlsplit(uri)
        if parts.scheme in ("http", "https") and is_loopback_host(parts.hostname):
            cap = self.config.max_upload_bytes
            async with (
                ClientSession(timeout=ClientTimeout(total=30)) as session,
                session.get(uri, allow_redirects=False) as resp,  # a redirect could leave loopback
            ):
                if resp.status != 200:
                    raise ValueError(f"fetching {uri} gave HTTP {resp.status}")
                data = bytearray()
                # StreamReader.read(n) answers with what has arrived so far: read to the end, capped.
                async for chunk in resp.content.iter_chunked(1 << 16):
                    data += chunk
                    if len(data) > cap:
                        raise ValueError(f"{uri} is larger than {cap} bytes")
                return bytes(data)
        raise ValueError(f"the emulator can only fetch data URIs, its own files and loopback URLs, not {uri}")

    # --- stats / control -----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "submit_requests": dict(self.submit_requests),
                "jobs_created": dict(self.jobs_created),
                "jobs": {
                    j.id: {"provider": j.provider, "mode": j.mode, "state": j.state(self.now())}
                    for j in self.jobs.values()
                },
                "faults": [asdict(f) for f in self.faults],
                "requests": len(self.log),
            }

    def reset(self) -> None:
        with self.lock:
            for job in self.jobs.values():
                # Renders nobody will collect must not hold the worker pool up for later jobs.
                if job.render_future is not None:
                    job.render_future.cancel()
            self.jobs.clear()
            self.faults.clear()
            self.log.clear()
            self.submit_requests = dict.fromkeys(PROVIDERS, 0)
            self.jobs_created = dict.fromkeys(PROVIDERS, 0)


HUGE_ANSWER_BYTES = 300 << 20


async def _huge_answer(request: web.Request) -> web.StreamResponse:
    """A 300 MB JSON answer, streamed in chunks without a Content-Length; it stops early when the
    client hangs up (as a client that caps answers does)."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    chunk = b'"' + b"x" * ((1 << 20) - 2) + b'",'
    sent = 0
    try:
        await resp.write(b"[")
        while sent < HUGE_ANSWER_BYTES:
            await resp.write(chunk)
            sent += len(chunk)
        await resp.write(b'""]')
    except (ConnectionError, RuntimeError):  # the client stopped reading
        return resp
    return resp


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def file_token(uri: str) -> str | None:
    if uri.startswith("storage://"):
        return uri.removeprefix("storage://").rsplit("/", 1)[-1]
    path = urlsplit(uri).path
    if "/_files/" in path:
        return path.rsplit("/_files/", 1)[1].split("/", 1)[0]
    return None


# --- the app -------------------------------------------------------------------------------------------


async def _serve_file(request: web.Request) -> web.StreamResponse:
    emu: Emulator = request.app[EMULATOR_KEY]
    token = request.match_info["token"]
    entry = emu.files.get(token)
    fault = emu.take_fault(entry.provider if entry is not None else "*", "download")
    if (fault is not None and fault.kind == "expire") or (
        entry is not None and entry.expires_at is not None and emu.now() > entry.expires_at
    ):
        return web.Response(
            status=403,
            text="<Error><Code>ExpiredToken</Code><Message>Request has expired</Message></Error>",
            content_type="application/xml",
        )
    if entry is None or not entry.data:
        return web.Response(
            status=404, text="<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml"
        )
    if fault is not None:
        resp = await emu.generic_fault_response(request, fault, lambda s, m: {"error": m})
        if resp is not None:
            return resp
        if fault.kind == "empty":
            return web.Response(body=b"", content_type=entry.content_type)
        if fault.kind == "redirect":
            target = fault.message or "http://169.254.169.254/latest/meta-data/"
            return web.Response(status=302, headers={"Location": target})
        if fault.kind == "truncate":
            stream = web.StreamResponse(
                headers={"Content-Type": entry.content_type, "Content-Length": str(len(entry.data))}
            )
            await stream.prepare(request)
            await stream.write(entry.data[: len(entry.data) // 2])
            if request.transport is not None:
                request.transport.abort()
            return stream
    return _ranged_response(request, entry)


def _ranged_response(request: web.Request, entry: FileEntry) -> web.Response:
    """The file, honouring a single ``Range: bytes=a-b`` as storage services do (resumable downloads)."""
    size = len(entry.data)
    header = request.headers.get("Range", "")
    if header.startswith("bytes=") and "," not in header:
        first, _, last = header[6:].partition("-")
        try:
            start = int(first) if first else max(0, size - int(last))
            end = min(int(last), size - 1) if first and last else size - 1
        except ValueError:
            start, end = -1, -1
        if not 0 <= start <= end < size:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        return web.Response(
            status=206,
            body=entry.data[start : end + 1],
            content_type=entry.content_type,
            headers={"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes"},
        )
    return web.Response(body=entry.data, content_type=entry.content_type, headers={"Accept-Ranges": "bytes"})


async def _put_file(request: web.Request) -> web.StreamResponse:
    """The signed-URL PUT: bytes for a reserved token. Protocol modules may check extra headers
    before calling ``store_put``; this plain route serves GMI-style URLs."""
    emu: Emulator = request.app[EMULATOR_KEY]
    return await store_put(emu, request, request.match_info["token"], "gmi")


async def store_put(
    emu: Emulator, request: web.Request, token: str, provider: str = "*"
) -> web.StreamResponse:
    entry = emu.files.get(token)
    fault = emu.take_fault(provider, "put")
    if fault is not None:
        resp = await emu.generic_fault_response(request, fault, lambda s, m: {"error": m})
        if resp is not None:
            return resp
    if entry is None:
        return web.Response(status=404, text="no such upload slot")
    if entry.expires_at is not None and emu.now() > entry.expires_at:
        return web.Response(status=403, text="<Error><Code>ExpiredToken</Code></Error>")
    ctype = request.headers.get("Content-Type", "")
    if entry.content_type and ctype.split(";")[0].strip() != entry.content_type:
        return web.Response(
            status=403, text=f"SignatureDoesNotMatch: signed for {entry.content_type}, got {ctype!r}"
        )
    data = await request.read()
    if len(data) > emu.config.max_upload_bytes:
        return web.Response(status=413, text="EntityTooLarge")
    entry.data = data
    entry.expires_at = emu.now() + 24 * 3600.0  # stored files outlive the signed PUT URL
    return web.Response(status=200)


async def _control_faults(request: web.Request) -> web.Response:
    emu: Emulator = request.app[EMULATOR_KEY]
    if request.method == "DELETE":
        emu.clear_faults()
        return web.json_response({"faults": []})
    if request.method == "POST":
        try:
            body = await request.json()
            faults = [Fault(**item) for item in (body if isinstance(body, list) else [body])]
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            return web.json_response({"error": f"invalid fault: {exc}"}, status=400)
        for fault in faults:
            emu.add_fault(fault)
    return web.json_response({"faults": [asdict(f) for f in emu.faults]})


async def _control_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[EMULATOR_KEY].stats())


async def _control_reset(request: web.Request) -> web.Response:
    request.app[EMULATOR_KEY].reset()
    return web.json_response({"ok": True})


def _loopback_authority(value: str) -> bool:
    """True for ``host[:port]`` naming this machine (the Host header or an Origin's authority)."""
    try:
        host = urlsplit(f"http://{value.strip()}").hostname
    except ValueError:
        return False
    return is_loopback_host(host)


def _control_refusal(request: web.Request) -> web.Response | None:
    """Why a request may not drive the control API: a web page the user opens must not be able to
    (a foreign Origin, a cross-site fetch, a Host that is not this machine as after DNS rebinding,
    a form-style body)."""
    if not _loopback_authority(request.headers.get("Host", "")):
        return web.json_response({"error": "the control API answers on a loopback host only"}, status=403)
    origin_header = request.headers.get("Origin")
    if origin_header is not None and origin_header != origin(request):
        return web.json_response(
            {"error": "cross-origin requests to the control API are refused"}, status=403
        )
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return web.json_response({"error": "cross-site requests to the control API are refused"}, status=403)
    if request.method in ("POST", "PUT", "PATCH"):
        ctype = request.headers.get("Content-Type", "")
        has_body = request.content_length not in (None, 0) or request.headers.get("Transfer-Encoding")
        if (has_body or ctype) and ctype.split(";")[0].strip().lower() != "application/json":
            return web.json_response({"error": "the control API takes JSON bodies only"}, status=415)
    return None


@web.middleware
async def _guard(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """The control API's origin rules, and hostile bodies answered with a 400 instead of a crash."""
    if request.path.startswith("/_emulator/"):
        refusal = _control_refusal(request)
        if refusal is not None:
            return refusal
    try:
        return await handler(request)
    except RecursionError:
        return web.json_response({"error": "the body is nested too deeply"}, status=400)
    except UnicodeDecodeError:
        return web.json_response({"error": "the body is not valid UTF-8"}, status=400)


def build_app(emu: Emulator) -> web.Application:
    from . import apiinone, gmi, ltx  # protocol modules

    app = web.Application(client_max_size=emu.config.max_upload_bytes + (1 << 20), middlewares=[_guard])
    app[EMULATOR_KEY] = emu
    app.router.add_get("/_files/{token}", _serve_file)
    app.router.add_put("/_files/{token}", _put_file)
    app.router.add_route("*", "/_emulator/faults", _control_faults)
    app.router.add_get("/_emulator/stats", _control_stats)
    app.router.add_post("/_emulator/reset", _control_reset)
    gmi.setup(app, emu, "/gmi")
    apiinone.setup(app, emu, "/apiinone")
    ltx.setup(app, emu, "/ltx")
    return app


class RunningEmulator:
    """The emulator on its own event loop in a daemon thread (for tests, the demo and the CLI)."""

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = Emulator(config)
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def base_urls(self) -> dict[str, str]:
        return {p: f"{self.origin}/{p}" for p in PROVIDERS}

    def env(self) -> dict[str, str]:
        """Environment variables that point the client at this emulator, keys included."""
        urls = self.base_urls()
        keys = self.emulator.config.keys
        return {
            "LTX2_GMI_BASE_URL": urls["gmi"],
            "LTX2_APIINONE_BASE_URL": urls["apiinone"],
            "LTX2_LTX_BASE_URL": urls["ltx"],
            "GMI_API_KEY": keys["gmi"],
            "APIINONE_API_KEY": keys["apiinone"],
            "LTX_API_KEY": keys["ltx"],
        }

    async def _start(self) -> None:
        # Open keep-alive connections must not hold a stop up for the default minute.
        self._runner = web.AppRunner(
            build_app(self.emulator), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # the bound port when port=0
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        # Handlers still waiting (an injected delay) end here rather than being dropped mid-await.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:  # gather() of nothing would look for a loop this thread does not have
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    def start(self) -> RunningEmulator:
        self._thread = threading.Thread(target=self._run, name="ltx2-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.emulator.executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve_forever(
    config: EmulatorConfig, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
    """Run until cancelled (the ``ltx2 emulator`` command)."""
    emu = Emulator(config)
    runner = web.AppRunner(build_app(emu), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
    on_ready(f"http://{host}:{bound}")
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

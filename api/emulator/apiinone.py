"""API in One protocol on loopback, mounted under a prefix (client base URL ``http://host:port/apiinone``).

Routes (relative to the prefix):

    POST /videos/generations   -> {"code": 200, "message": "success",
                                   "data": {"task_id", "status": "IN_PROGRESS", "credits": n}}
    GET  /tasks/{task_id}      -> the same envelope; data.status PENDING / IN_PROGRESS -> completed / failed

Where a finished task carries its video URL is not documented, so the emulator can answer in any of
the plausible shapes (``RESULT_SHAPES``). The shape comes from ``emu.config.apiinone_result_shape``
when set (default ``video_url``) or, for one status answer, from a fault
``Fault(provider="apiinone", op="status", kind="shape:<variant>")``. A failure reason is in
``data.error`` (a string).

Errors: ``{"error": {"code": N, "message": ..., "type": ...}}`` (400 invalid_request, 401
authentication_error, 404 not_found); an injected HTTP 402 answers with the envelope
``{"code": 402, "message": "insufficient credits ...", "data": null}``.

Emulator-only behaviour: media may be this emulator's own loopback URLs or data URIs; image-to-video
and lipsync follow a portrait image's orientation and control a portrait video's (9:16 at the
requested resolution); credits come from ``credits_for``. Faults: ops ``submit`` (also with
``after_accept``) and ``status`` (also kinds ``unknown-status`` and ``shape:<variant>``).
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..errors import MediaError
from ..media.probe import probe
from ..types import MediaInfo
from .core import EmuJob, Emulator, Fault
from .render import ClipSpec, render_clip, render_control, render_size

PROVIDER = "apiinone"
MODEL = "ltx-2"
TYPES = ("text-to-video", "image-to-video", "lipsync", "control")
RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
DEFAULT_RESOLUTION = "720p"
ASPECT_RATIOS = ("16:9", "9:16")
DURATION_RANGE = (5, 20)
DEFAULT_DURATION = 5
MEDIA_SECONDS = (5.0, 20.0)  # audio_duration, video_duration
DURATION_MATCH = 0.5  # declared vs fetched media length, seconds
CONTROL_MODES = ("pose", "depth", "canny")
AUDIO_MODES = ("preserve", "generate", "none")
FPS = 25
IMAGE_FORMATS = ("png", "jpeg", "jpg", "webp")
RESULT_SHAPES = ("video_url", "url", "output", "output.video_url", "result.video_url", "list")
DEFAULT_RESULT_SHAPE = "video_url"

# (lowest, highest) credits per request; documented ranges
CREDIT_RANGES = {
    "text-to-video": (20, 76),
    "image-to-video": (20, 76),
    "lipsync": (32, 128),
    "control": (64, 256),
}
_RESOLUTION_WEIGHT = {"480p": 0.0, "720p": 0.5, "1080p": 1.0}

FIELDS = {
    "text-to-video": {"model", "type", "prompt", "resolution", "aspect_ratio", "duration", "seed"},
    "image-to-video": {"model", "type", "prompt", "image", "resolution", "duration", "seed"},
    "lipsync": {
        "model",
        "type",
        "prompt",
        "image",
        "audio",
        "audio_duration",
        "resolution",
        "duration",
        "seed",
    },
    "control": {
        "model",
        "type",
        "prompt",
        "video",
        "video_duration",
        "mode",
        "audio_mode",
        "resolution",
        "duration",
        "seed",
    },
}

ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "permission_denied",
    404: "not_found",
    429: "rate_limit_exceeded",
}


def credits_for(task_type: str, resolution: str, duration: float) -> int:
    """Credits of one request: the documented range for the type, growing equally with resolution and
    with duration (5-20 s); e.g. text-to-video 480p 5 s = 20, 1080p 20 s = 76."""
    low, high = CREDIT_RANGES[task_type]
    dur = min(max((duration - DURATION_RANGE[0]) / (DURATION_RANGE[1] - DURATION_RANGE[0]), 0.0), 1.0)
    weight = (_RESOLUTION_WEIGHT[resolution] + dur) / 2
    return min(max(round(low + (high - low) * weight), low), high)


def error_body(status: int, message: str) -> dict[str, Any]:
    if status == 402:
        return {"code": 402, "message": message, "data": None}
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "error")
    return {"error": {"code": status, "message": message, "type": kind}}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> web.Response:
        return web.json_response(error_body(self.status, self.message), status=self.status)


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 200, "message": "success", "data": data}


def result_fields(shape: str, url: str | None) -> dict[str, Any]:
    """Where a completed task's video URL sits in ``data`` for one result shape."""
    if shape == "url":
        return {"url": url}
    if shape == "output":
        return {"output": url}
    if shape == "output.video_url":
        return {"output": {"video_url": url}}
    if shape == "result.video_url":
        return {"result": {"video_url": url}}
    if shape == "list":
        return {"videos": [url]}
    return {"video_url": url}


# --- validation ----------------------------------------------------------------------------------------------


def _present(body: dict[str, Any], name: str) -> bool:
    return body.get(name) is not None


def _require(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if not _present(body, name):
            raise invalid(f"{name} is required")


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid(f"{name}: {value!r} is not a string")
    return value


def _choice(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None
) -> str | None:
    value = _string(body, name, default)
    if value is not None and value not in allowed:
        raise invalid(f"{name}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
    return value


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"{name}: {value!r} is not a number")
    return float(value)


def _integer(body: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = _number(body, name)
    if value is None:
        return default
    if not value.is_integer():
        raise invalid(f"{name}: {body[name]!r} is not an integer")
    return int(value)


def _shown(uri: str) -> str:
    return uri if len(uri) <= 80 else uri[:77] + "..."


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    info: MediaInfo


async def fetch_media(
    emu: Emulator, request: web.Request, body: dict[str, Any], name: str, kind: str
) -> FetchedMedia:
    """Fetch and probe a media URL field. kind: "image" | "audio" | "video"."""
    uri = body[name]
    if not isinstance(uri, str) or not uri:
        raise invalid(f"{name}: {uri!r} is not a URL")
    if not uri.startswith("data:") and urlsplit(uri).scheme not in ("http", "https"):
        raise invalid(f"{name}: {_shown(uri)!r} is not an http(s) URL")
    try:
        data = await emu.fetch_media(uri, request)
    except ValueError as exc:
        raise invalid(f"{name}: could not download {_shown(uri)!r}: {exc}") from exc
    try:
        info = await asyncio.to_thread(probe, data)
    except (MediaError, ValueError) as exc:
        raise invalid(f"{name}: not a readable {kind}: {exc}") from exc
    if kind == "image" and (info.format or "").lower() not in IMAGE_FORMATS:
        raise invalid(
            f"{name}: image format {info.format or 'unknown'!r} is not supported; allowed: PNG, JPEG, WebP"
        )
    if kind == "video" and not info.video_codec:
        raise invalid(f"{name}: the file has no video stream")
    if kind in ("audio", "video") and not info.duration:
        raise invalid(f"{name}: the {kind} has no readable duration")
    return FetchedMedia(data, info)


async def _declared_media(
    emu: Emulator, request: web.Request, body: dict[str, Any], name: str, kind: str
) -> tuple[FetchedMedia, float]:
    """``audio``/``video`` with its declared ``*_duration``: range-checked and compared to the file."""
    field = f"{kind}_duration"
    _require(body, name, field)
    declared = _number(body, field)
    if not MEDIA_SECONDS[0] <= declared <= MEDIA_SECONDS[1]:  # type: ignore[operator]
        raise invalid(
            f"{field}: {declared:g} is out of range; allowed: {MEDIA_SECONDS[0]:g} to {MEDIA_SECONDS[1]:g}"
        )
    media = await fetch_media(emu, request, body, name, kind)
    actual = float(media.info.duration or 0.0)
    if abs(actual - declared) > DURATION_MATCH:  # type: ignore[operator]
        raise invalid(
            f"{field}: {declared:g} does not match the {kind} at {name}, which lasts {actual:.2f} s "
            f"(allowed difference {DURATION_MATCH:g} s)"
        )
    return media, declared  # type: ignore[return-value]


@dataclass
class Accepted:
    task_type: str
    params: dict[str, Any]
    credits: int
    render: Callable[[], bytes]


def _size(emu: Emulator, resolution: str, portrait: bool) -> tuple[int, int]:
    width, height = RESOLUTIONS[resolution]
    if portrait:
        width, height = height, width
    return render_size(width, height, emu.config.render_scale, emu.config.max_render_side)


def _portrait(media: FetchedMedia | None) -> bool:
    return media is not None and (media.info.height or 0) > (media.info.width or 0)


async def validate(emu: Emulator, request: web.Request, body: dict[str, Any]) -> Accepted:
    """Check every documented field; fetch and check the media."""
    _require(body, "model", "type")
    if body["model"] != MODEL:
        raise invalid(f"model: {body['model']!r} is not available; allowed: {MODEL}")
    task_type = _choice(body, "type", TYPES)
    assert task_type is not None
    unknown = sorted(set(body) - FIELDS[task_type])
    if unknown:
        raise invalid(
            f"{unknown[0]}: unknown field for type {task_type}; allowed: {', '.join(sorted(FIELDS[task_type]))}"
        )
    prompt = _string(body, "prompt", "") or ""
    if task_type in ("text-to-video", "image-to-video") and not prompt.strip():
        raise invalid(f"prompt is required for {task_type}")
    resolution = _choice(body, "resolution", tuple(RESOLUTIONS), DEFAULT_RESOLUTION)
    aspect = _choice(body, "aspect_ratio", ASPECT_RATIOS, "16:9")
    duration = _integer(body, "duration", DEFAULT_DURATION)
    if not DURATION_RANGE[0] <= duration <= DURATION_RANGE[1]:  # type: ignore[operator]
        raise invalid(
            f"duration: {duration} is out of range; allowed: {DURATION_RANGE[0]} to {DURATION_RANGE[1]}"
        )
    seed = _integer(body, "seed", -1)
    if seed < -1:  # type: ignore[operator]
        raise invalid(f"seed: {seed} is not allowed; allowed: -1 (random) or a number of 0 or more")
    seed = secrets.randbelow(2**31) if seed == -1 else seed
    params: dict[str, Any] = {"type": task_type, "prompt": prompt, "resolution": resolution, "seed": seed}
    assert resolution is not None and duration is not None

    if task_type in ("text-to-video", "image-to-video"):
        image = None
        if task_type == "image-to-video":
            _require(body, "image")
            image = await fetch_media(emu, request, body, "image", "image")
        width, height = _size(emu, resolution, aspect == "9:16" or _portrait(image))
        spec = ClipSpec(
            width=width,
            height=height,
            fps=FPS,
            duration=float(duration),
            prompt=prompt,
            seed=seed,
            image=None if image is None else image.data,
        )
        params["duration"] = duration
        if task_type == "text-to-video":
            params["aspect_ratio"] = aspect
        return Accepted(
            task_type, params, credits_for(task_type, resolution, duration), lambda: render_clip(spec)
        )

    if task_type == "lipsync":
        audio, seconds = await _declared_media(emu, request, body, "audio", "audio")
        image = await fetch_media(emu, request, body, "image", "image") if _present(body, "image") else None
        width, height = _size(emu, resolution, _portrait(image))
        spec = ClipSpec(
            width=width,
            height=height,
            fps=FPS,
            duration=None,
            prompt=prompt,
            seed=seed,
            image=None if image is None else image.data,
            audio=audio.data,
        )
        params.update(audio_duration=seconds)
        return Accepted(
            task_type, params, credits_for(task_type, resolution, seconds), lambda: render_clip(spec)
        )

    mode = _choice(body, "mode", CONTROL_MODES, CONTROL_MODES[0])
    audio_mode = _choice(body, "audio_mode", AUDIO_MODES, AUDIO_MODES[0])
    video, seconds = await _declared_media(emu, request, body, "video", "video")
    width, height = _size(emu, resolution, _portrait(video))
    params.update(video_duration=seconds, mode=mode, audio_mode=audio_mode)
    data = video.data

    def render() -> bytes:
        return render_control(data, mode, audio_mode, width, height, FPS, seconds, prompt, seed)  # type: ignore[arg-type]

    return Accepted(task_type, params, credits_for(task_type, resolution, seconds), render)


# --- the protocol ----------------------------------------------------------------------------------------------


class ApiInOneProtocol:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def _auth(self, request: web.Request) -> str:
        key = self.emu.check_auth(PROVIDER, request)
        if key is None:
            raise ApiError(401, "Invalid or missing API key")
        return key

    async def _fault(self, request: web.Request, fault: Fault | None) -> web.StreamResponse | None:
        if fault is None:
            return None
        return await self.emu.generic_fault_response(request, fault, error_body)

    def result_shape(self, fault: Fault | None) -> str:
        if fault is not None and fault.kind.startswith("shape:"):
            shape = fault.kind.partition(":")[2]
        else:
            shape = getattr(self.emu.config, "apiinone_result_shape", DEFAULT_RESULT_SHAPE)
        return shape if shape in RESULT_SHAPES else DEFAULT_RESULT_SHAPE

    async def submit(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        self.emu.record(PROVIDER, "submit", request, body)
        try:
            key = self._auth(request)
            fault = self.emu.take_fault(PROVIDER, "submit")
            if fault is not None and not fault.after_accept:
                resp = await self._fault(request, fault)
                if resp is not None:
                    return resp
                fault = None
            if not isinstance(body, dict):
                raise invalid("the request body must be a JSON object")
            accepted = await validate(self.emu, request, body)
        except ApiError as exc:
            return exc.response()
        job = self.emu.create_job(PROVIDER, accepted.task_type, MODEL, accepted.params, key, accepted.render)
        job.credits = accepted.credits
        if fault is not None:
            resp = await self._fault(request, fault)
            if resp is not None:
                return resp
        return web.json_response(
            envelope({"task_id": job.id, "status": "IN_PROGRESS", "credits": accepted.credits})
        )

    async def status(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["task_id"]
        self.emu.record(PROVIDER, "status", request, None)
        try:
            key = self._auth(request)
            fault = self.emu.take_fault(PROVIDER, "status")
            resp = await self._fault(request, fault)
            if resp is not None:
                return resp
            job = self.emu.jobs.get(task_id)
            if job is None or job.provider != PROVIDER or job.key != key:
                raise ApiError(404, f"task {task_id} not found")
        except ApiError as exc:
            return exc.response()
        return web.json_response(envelope(self.status_data(request, job, fault)))

    def status_data(self, request: web.Request, job: EmuJob, fault: Fault | None) -> dict[str, Any]:
        state = self.emu.job_state(job)
        word = {
            "queued": "PENDING",
            "processing": "IN_PROGRESS",
            "success": "completed",
            "failed": "failed",
            "cancelled": "failed",
        }[state]
        if fault is not None and fault.kind == "unknown-status":
            word = "RENDERING_QUEUE"
        data: dict[str, Any] = {"task_id": job.id, "status": word, "type": job.mode, "credits": job.credits}
        if word == "completed":
            data.update(result_fields(self.result_shape(fault), self.emu.output_url(request, job)))
        elif word == "failed":
            data["error"] = job.message or ("task cancelled" if state == "cancelled" else "generation failed")
        return data


def setup(app: web.Application, emu: Emulator, prefix: str) -> None:
    proto = ApiInOneProtocol(emu)
    p = prefix.rstrip("/")
    app.router.add_post(f"{p}/videos/generations", proto.submit)
    app.router.add_get(f"{p}/tasks/{{task_id}}", proto.status)

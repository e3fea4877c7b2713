"""GMI Cloud request queue on loopback: submit, status, list, model info and signed uploads.

Answer shapes seen in the wild can be asked for with ``Fault(provider="gmi", op=..., kind="shape:<v>")``:
op ``status``: ``shape:video_url`` puts the result at ``outcome.video_url`` instead of
``outcome.media_urls[]``; ``shape:reason`` puts a failure reason at ``outcome.reason`` plus a top-level
``error`` (the default is ``outcome.error``, a string). op ``submit``: ``shape:finished`` answers the
submit with the request already finished (rendered at once, ``status: success`` and its outcome).
A 402 is ``{"error": "Insufficient credits...", "code": 402}`` (``kind="http", status=402``).

The limits are written out here from GMI's model pages on purpose (not imported from the
provider module): the emulator checks the client independently, as the real service would.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

from .core import EmuJob, Emulator, origin
from .render import ClipSpec, render_clip, render_retake, render_size

PROVIDER = "gmi"

RESOLUTIONS = ("1920x1080", "2560x1440", "3840x2160")
FPS_VALUES = (25, 50)
CAMERA_MOTIONS = (
    "dolly_in",
    "dolly_out",
    "dolly_left",
    "dolly_right",
    "jib_up",
    "jib_down",
    "static",
    "focus_shift",
)
RETAKE_MODES = ("replace_audio_and_video", "replace_audio", "replace_video")
LONG_DURATION = 12  # durations from here up need 1920x1080 at 25 fps
IMAGE_FORMATS = ("jpeg", "png", "webp")
AUDIO_FORMATS = ("wav", "mp3", "mp4", "m4a", "ogg")
AUDIO_SECONDS = (2.0, 20.0)
AUDIO_ROUNDING = 0.05  # seconds of container rounding tolerated around the audio limits
RETAKE_MAX_SIZE = (3840, 2160)
RETAKE_MAX_SECONDS = 21.0
RETAKE_MIN_SECTION = 2.0
UPLOAD_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "gif": "image/gif",
    "mp4": "video/mp4",  # the signed type; an audio/mp4 PUT to it is refused, as a real signed URL would
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
}


@dataclass(frozen=True)
class ModelInfo:
    id: str
    mode: str  # "text-to-video" | "image-to-video" | "audio-to-video" | "retake"
    description: str
    price: float  # USD per second of output
    durations: tuple[int, ...] = ()


_LONG = tuple(range(6, 21, 2))
MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo(
            "ltx-2-pro-text-to-video",
            "text-to-video",
            "LTX-2 Pro: video with audio from a text prompt.",
            0.06,
            _LONG,
        ),
        ModelInfo(
            "ltx-2-fast-text-to-video",
            "text-to-video",
            "LTX-2 Fast: video with audio from a text prompt.",
            0.04,
            _LONG,
        ),
        ModelInfo(
            "ltx-2-pro-image-to-video",
            "image-to-video",
            "LTX-2 Pro: animate an image (first frame).",
            0.06,
            (6, 8, 10),
        ),
        ModelInfo(
            "ltx-2-fast-image-to-video",
            "image-to-video",
            "LTX-2 Fast: animate an image (first frame).",
            0.04,
            _LONG,
        ),
        ModelInfo(
            "ltx-2-pro-audio-to-video", "audio-to-video", "LTX-2 Pro: video driven by an audio track.", 0.06
        ),
        ModelInfo("ltx-2-pro-retake", "retake", "LTX-2 Pro: regenerate a section of a video.", 0.06),
    )
}


class PayloadError(Exception):
    """A request the real service would refuse with 400; the message names the field."""


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "code": status}


def _error(status: int, message: str) -> web.Response:
    return web.json_response(_error_body(status, message), status=status)


# --- field checks -------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


_ARTICLE = {"string": "a", "number": "a", "integer": "an", "boolean": "a"}


def _get(
    payload: dict[str, Any], name: str, kind: str, *, required: bool = False, default: Any = None
) -> Any:
    """One typed payload field. kind: "string" | "number" | "integer" | "boolean"."""
    if name not in payload or payload[name] is None:
        if required:
            raise PayloadError(f"payload.{name} is required")
        return default
    value = payload[name]
    ok = {
        "string": isinstance(value, str),
        "number": _is_number(value),
        "integer": _is_number(value) and float(value).is_integer(),
        "boolean": isinstance(value, bool),
    }[kind]
    if not ok:
        raise PayloadError(f"payload.{name} must be {_ARTICLE[kind]} {kind}, got {_shown(value)}")
    if kind == "string" and required and not value.strip():
        raise PayloadError(f"payload.{name} must not be empty")
    return int(value) if kind == "integer" else value


def _one_of(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise PayloadError(
            f"payload.{name} = {_shown(value)} is not allowed; allowed: {', '.join(map(str, allowed))}"
        )


def _size(resolution: str) -> tuple[int, int]:
    w, _, h = resolution.partition("x")
    return int(w), int(h)


@dataclass
class Accepted:
    """A validated submit: what to render and what to remember."""

    mode: str
    render: Callable[[], bytes]


async def _fetch(emu: Emulator, request: web.Request, field: str, uri: str) -> bytes:
    try:
        data = await emu.fetch_media(uri, request)
    except Exception as exc:  # any fetch failure is the client's media URI
        raise PayloadError(f"payload.{field} could not be fetched: {exc}") from exc
    if not data:
        raise PayloadError(f"payload.{field} is empty")
    return data


async def _probe(field: str, data: bytes) -> Any:
    from ..media.probe import probe

    try:
        return await asyncio.get_running_loop().run_in_executor(None, probe, data)
    except Exception as exc:
        raise PayloadError(f"payload.{field} is not readable media: {exc}") from exc


async def _image(
    emu: Emulator, request: web.Request, payload: dict[str, Any], *, required: bool
) -> bytes | None:
    uri = _get(payload, "image_uri", "string", required=required)
    if uri is None:
        return None
    data = await _fetch(emu, request, "image_uri", uri)
    info = await _probe("image_uri", data)
    if info.format not in IMAGE_FORMATS or info.width is None:
        raise PayloadError(f"payload.image_uri has format {info.format!r}; allowed: JPEG, PNG, WebP")
    return data


async def validate(emu: Emulator, request: web.Request, model: str, payload: dict[str, Any]) -> Accepted:
    """GMI's documented limits for ``model``; raises PayloadError naming the field."""
    info = MODELS.get(model)
    if info is None:
        raise PayloadError(f"model {model!r} is not available; models: {', '.join(MODELS)}")
    cfg = emu.config
    # GMI documents no seed; one that is sent anyway only varies the rendering (unknown fields are ignored)
    raw_seed = payload.get("seed")
    seed = int(raw_seed) if _is_number(raw_seed) else 0

    if info.mode in ("text-to-video", "image-to-video"):
        prompt = _get(payload, "prompt", "string", required=True)
        duration = _get(payload, "duration", "number", default=info.durations[0])
        _one_of("duration", duration, info.durations)
        resolution = _get(payload, "resolution", "string", default=RESOLUTIONS[0])
        _one_of("resolution", resolution, RESOLUTIONS)
        fps = _get(payload, "fps", "integer", default=FPS_VALUES[0])
        _one_of("fps", fps, FPS_VALUES)
        if duration >= LONG_DURATION and (resolution != RESOLUTIONS[0] or fps != 25):
            raise PayloadError(
                f"payload.duration = {duration:g} needs resolution 1920x1080 and fps 25 "
                f"(got {resolution} at {fps} fps); durations from {LONG_DURATION} s up are only offered there"
            )
        generate_audio = _get(payload, "generate_audio", "boolean", default=True)
        camera_motion = _get(payload, "camera_motion", "string")
        if camera_motion is not None:
            _one_of("camera_motion", camera_motion, CAMERA_MOTIONS)
        if info.mode == "text-to-video":
            if payload.get("image_uri") is not None:
                raise PayloadError(
                    f"payload.image_uri is not accepted by {model}; use an image-to-video model"
                )
            image = None
        else:
            image = await _image(emu, request, payload, required=True)
        w, h = render_size(*_size(resolution), cfg.render_scale, cfg.max_render_side)
        spec = ClipSpec(w, h, fps, float(duration), prompt, seed, image=image, generate_audio=generate_audio)
        return Accepted(info.mode, partial(render_clip, spec))

    if info.mode == "audio-to-video":
        audio_uri = _get(payload, "audio_uri", "string", required=True)
        has_image = payload.get("image_uri") is not None
        prompt = _get(payload, "prompt", "string", required=not has_image, default="")
        resolution = _get(payload, "resolution", "string", default=RESOLUTIONS[0])
        _one_of("resolution", resolution, RESOLUTIONS[:1])
        _get(payload, "guidance_scale", "number")
        image = await _image(emu, request, payload, required=False)
        audio = await _fetch(emu, request, "audio_uri", audio_uri)
        ainfo = await _probe("audio_uri", audio)
        if ainfo.format not in AUDIO_FORMATS or not ainfo.duration:
            raise PayloadError(f"payload.audio_uri has format {ainfo.format!r}; allowed: WAV, MP3, MP4, OGG")
        lo, hi = AUDIO_SECONDS
        if not lo - AUDIO_ROUNDING <= ainfo.duration <= hi + AUDIO_ROUNDING:
            raise PayloadError(f"payload.audio_uri lasts {ainfo.duration:.2f} s; allowed: {lo:g} to {hi:g} s")
        w, h = render_size(*_size(resolution), cfg.render_scale, cfg.max_render_side)
        spec = ClipSpec(w, h, 25, None, prompt, seed, image=image, audio=audio)
        return Accepted(info.mode, partial(render_clip, spec))

    # retake
    video_uri = _get(payload, "video_uri", "string", required=True)
    start = _get(payload, "start_time", "number", required=True)
    if start < 0:
        raise PayloadError(f"payload.start_time = {start:g} must be at least 0")
    section = _get(payload, "duration", "number", required=True)
    if section < RETAKE_MIN_SECTION:
        raise PayloadError(f"payload.duration = {section:g} must be at least {RETAKE_MIN_SECTION:g} s")
    mode = _get(payload, "mode", "string", default=RETAKE_MODES[0])
    _one_of("mode", mode, RETAKE_MODES)
    prompt = _get(payload, "prompt", "string", default="")
    video = await _fetch(emu, request, "video_uri", video_uri)
    vinfo = await _probe("video_uri", video)
    if vinfo.width is None or not vinfo.duration or vinfo.fps is None:
        raise PayloadError(
            "payload.video_uri holds no video stream; allowed: MP4/MOV video up to 3840x2160, 21 s"
        )
    long_side, short_side = max(vinfo.width, vinfo.height), min(vinfo.width, vinfo.height)
    if long_side > RETAKE_MAX_SIZE[0] or short_side > RETAKE_MAX_SIZE[1]:
        raise PayloadError(f"payload.video_uri is {vinfo.width}x{vinfo.height}; allowed: at most 3840x2160")
    if vinfo.duration > RETAKE_MAX_SECONDS + 1e-3:
        raise PayloadError(
            f"payload.video_uri lasts {vinfo.duration:.2f} s; allowed: at most {RETAKE_MAX_SECONDS:g} s"
        )
    tolerance = 0.5 / vinfo.fps  # half a frame: containers round the last frame's end
    if start + section > vinfo.duration + tolerance:
        raise PayloadError(
            f"payload.start_time + payload.duration = {start + section:g} s is past the end of "
            f"payload.video_uri ({vinfo.duration:.2f} s); the section must lie inside the video"
        )
    return Accepted("retake", partial(render_retake, video, float(start), float(section), mode, prompt, seed))


# --- status words ---------------------------------------------------------------------------------------


def status_word(emu: Emulator, job: EmuJob) -> str:
    """GMI's word for the job's state: created/queued, dispatched/processing, success, failed, cancelled."""
    state = emu.job_state(job)
    elapsed = emu.now() - job.created_at
    if state == "queued":
        return "created" if elapsed < job.queue_seconds / 2 else "queued"
    if state == "processing":
        brief = min(0.25 * job.processing_seconds, 1.0)
        return "dispatched" if elapsed - job.queue_seconds < brief else "processing"
    return state  # success | failed | cancelled


def _updated_at(job: EmuJob, state_word: str) -> float:
    if job.ended_at is not None:
        return job.ended_at
    if state_word in ("created", "queued"):
        return job.created_at
    return job.created_at + job.queue_seconds


def job_body(
    emu: Emulator,
    request: web.Request,
    job: EmuJob,
    *,
    word: str | None = None,
    full: bool = True,
    shape: str = "",
) -> dict[str, Any]:
    status = status_word(emu, job)
    body: dict[str, Any] = {
        "request_id": job.id,
        "model": job.model,
        "status": word or status,
        "created_at": int(job.created_at),
        "updated_at": int(_updated_at(job, status)),
    }
    if not full:
        return body
    outcome: dict[str, Any] = {}
    if status == "success":
        url = emu.output_url(request, job)
        if shape == "video_url":
            outcome["video_url"] = url
        else:
            outcome["media_urls"] = [{"id": f"{job.id}-0", "url": url}]
    elif status in ("failed", "cancelled"):
        reason = job.message or ("Cancelled" if status == "cancelled" else "Generation failed")
        if shape == "reason":
            outcome["reason"] = reason
            body["error"] = reason
        else:
            outcome["error"] = reason
    body.update(payload=job.params, outcome=outcome, queued_at=int(job.created_at))
    return body


# --- handlers -------------------------------------------------------------------------------------------


async def _read_json(request: web.Request) -> tuple[Any, bool]:
    """(body, ok): the parsed JSON body, or the raw text and False when it is not JSON."""
    raw = await request.read()
    try:
        return json.loads(raw or b"null"), True
    except ValueError:
        return raw.decode("utf-8", "replace")[:2000], False


class _Routes:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def _fault(self, request: web.Request, op: str):
        """(fault, early response): generic faults answer here; others are returned to the handler."""
        fault = self.emu.take_fault(PROVIDER, op)
        if (
            fault is None
            or (fault.after_accept and op == "submit")
            or fault.kind == "unknown-status"
            or fault.kind.startswith("shape:")
        ):
            return fault, None
        return fault, await self.emu.generic_fault_response(request, fault, _error_body)

    def _unauthorised(self, request: web.Request) -> web.Response | None:
        if self.emu.check_auth(PROVIDER, request) is None:
            return _error(401, "Unauthorized: missing or invalid API key (Authorization: Bearer <key>)")
        return None

    async def submit(self, request: web.Request) -> web.StreamResponse:
        body, is_json = await _read_json(request)
        self.emu.record(PROVIDER, "submit", request, body)  # before validation: every submit counts
        fault, early = await self._fault(request, "submit")
        if early is not None:
            return early
        if (denied := self._unauthorised(request)) is not None:
            return denied
        if not is_json or not isinstance(body, dict):
            return _error(400, "request body must be a JSON object with 'model' and 'payload'")
        model, payload = body.get("model"), body.get("payload")
        if not isinstance(model, str) or not model:
            return _error(400, "model is required (a model id such as 'ltx-2-fast-image-to-video')")
        if not isinstance(payload, dict):
            return _error(400, "payload is required and must be a JSON object")
        try:
            accepted = await validate(self.emu, request, model, payload)
        except PayloadError as exc:
            return _error(400, str(exc))
        key = self.emu.check_auth(PROVIDER, request) or ""
        job = self.emu.create_job(
            PROVIDER, accepted.mode, model, payload, key, accepted.render, job_id=self.emu.new_id()
        )
        if fault is not None and fault.after_accept:
            resp = await self.emu.generic_fault_response(request, fault, _error_body)
            if resp is not None:
                return resp
        if fault is not None and fault.kind == "shape:finished":  # answered once the video exists
            job.queue_seconds = job.processing_seconds = 0.0
            if job.render_future is not None:
                await asyncio.wrap_future(job.render_future)
            return web.json_response(job_body(self.emu, request, job))
        return web.json_response(job_body(self.emu, request, job, full=False))

    async def status(self, request: web.Request) -> web.StreamResponse:
        self.emu.record(PROVIDER, "status", request, None)
        fault, early = await self._fault(request, "status")
        if early is not None:
            return early
        if (denied := self._unauthorised(request)) is not None:
            return denied
        job = self.emu.jobs.get(request.match_info["request_id"])
        if job is None or job.provider != PROVIDER:
            return _error(404, f"request {request.match_info['request_id']!r} not found")
        word = "mystery_state" if fault is not None and fault.kind == "unknown-status" else None
        shape = fault.kind.partition(":")[2] if fault is not None and fault.kind.startswith("shape:") else ""
        return web.json_response(job_body(self.emu, request, job, word=word, shape=shape))

    async def list(self, request: web.Request) -> web.StreamResponse:
        self.emu.record(PROVIDER, "list", request, None)
        _, early = await self._fault(request, "list")
        if early is not None:
            return early
        if (denied := self._unauthorised(request)) is not None:
            return denied
        model = request.query.get("model_id")
        jobs = sorted(
            (
                j
                for j in list(self.emu.jobs.values())
                if j.provider == PROVIDER and (not model or j.model == model)
            ),
            key=lambda j: j.created_at,
            reverse=True,
        )
        items = [job_body(self.emu, request, j) for j in jobs]
        return web.json_response({"requests": items, "total": len(items)})

    async def model(self, request: web.Request) -> web.StreamResponse:
        self.emu.record(PROVIDER, "models", request, None)
        _, early = await self._fault(request, "models")
        if early is not None:
            return early
        if (denied := self._unauthorised(request)) is not None:
            return denied
        info = MODELS.get(request.match_info["model_id"])
        if info is None:
            return _error(404, f"model {request.match_info['model_id']!r} not found")
        return web.json_response(model_body(info))

    async def upload_url(self, request: web.Request) -> web.StreamResponse:
        body, _ = await _read_json(request)
        self.emu.record(PROVIDER, "upload", request, body)
        _, early = await self._fault(request, "upload")
        if early is not None:
            return early
        if (denied := self._unauthorised(request)) is not None:
            return denied
        file_type = body.get("file_type") if isinstance(body, dict) else None
        if not isinstance(file_type, str) or file_type.lower().lstrip(".") not in UPLOAD_TYPES:
            return _error(
                400, f"file_type = {_shown(file_type)} is not allowed; allowed: {', '.join(UPLOAD_TYPES)}"
            )
        token = self.emu.reserve_upload(UPLOAD_TYPES[file_type.lower().lstrip(".")])
        url = f"{origin(request)}/_files/{token}"
        return web.json_response({"upload_url": url, "public_url": url})


def model_body(info: ModelInfo) -> dict[str, Any]:
    """GET /models/{id}: description, parameters and price."""
    params: list[dict[str, Any]] = []
    if info.mode in ("text-to-video", "image-to-video"):
        if info.mode == "image-to-video":
            params.append(
                {
                    "name": "image_uri",
                    "type": "string",
                    "required": True,
                    "description": "First frame: JPEG, PNG or WebP URL",
                }
            )
        params += [
            {"name": "prompt", "type": "string", "required": True},
            {
                "name": "duration",
                "type": "integer",
                "required": False,
                "default": info.durations[0],
                "enum": list(info.durations),
            },
            {
                "name": "resolution",
                "type": "string",
                "required": False,
                "default": RESOLUTIONS[0],
                "enum": list(RESOLUTIONS),
            },
            {"name": "fps", "type": "integer", "required": False, "default": 25, "enum": list(FPS_VALUES)},
            {"name": "generate_audio", "type": "boolean", "required": False, "default": True},
            {"name": "camera_motion", "type": "string", "required": False, "enum": list(CAMERA_MOTIONS)},
        ]
    elif info.mode == "audio-to-video":
        params += [
            {
                "name": "audio_uri",
                "type": "string",
                "required": True,
                "description": "WAV, MP3, MP4 or OGG, 2 to 20 seconds; sets the output length",
            },
            {"name": "image_uri", "type": "string", "required": False},
            {
                "name": "prompt",
                "type": "string",
                "required": False,
                "description": "required without image_uri",
            },
            {
                "name": "resolution",
                "type": "string",
                "required": False,
                "default": "1920x1080",
                "enum": ["1920x1080"],
            },
            {"name": "guidance_scale", "type": "number", "required": False, "default": 5},
        ]
    else:
        params += [
            {
                "name": "video_uri",
                "type": "string",
                "required": True,
                "description": "at most 3840x2160 and 21 seconds",
            },
            {"name": "start_time", "type": "number", "required": True, "minimum": 0},
            {"name": "duration", "type": "number", "required": True, "minimum": RETAKE_MIN_SECTION},
            {"name": "prompt", "type": "string", "required": False},
            {
                "name": "mode",
                "type": "string",
                "required": False,
                "default": RETAKE_MODES[0],
                "enum": list(RETAKE_MODES),
            },
        ]
    return {
        "id": info.id,
        "model_id": info.id,
        "description": info.description,
        "parameters": params,
        "price_info": {"price": info.price, "pricing_type": "per_second", "unit": "second"},
    }


def setup(app: web.Application, emu: Emulator, prefix: str) -> None:
    """Mount the GMI request-queue protocol under ``prefix`` (the client's base URL path)."""
    routes = _Routes(emu)
    prefix = prefix.rstrip("/")
    app.router.add_post(f"{prefix}/requests", routes.submit)
    app.router.add_get(f"{prefix}/requests", routes.list)
    app.router.add_get(f"{prefix}/requests/{{request_id}}", routes.status)
    app.router.add_get(f"{prefix}/models/{{model_id}}", routes.model)
    app.router.add_post(f"{prefix}/upload-url", routes.upload_url)

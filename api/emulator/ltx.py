"""LTX API (Lightricks) protocol on loopback, mounted under a prefix (client base URL ``http://host:port/ltx``).

Routes (relative to the prefix):

    POST /v1/upload                 -> {upload_url, storage_uri, expires_at, required_headers}
    PUT  /_upload/{token}           the signed upload; every required header is checked (403 S3-style XML)
    POST /v2/{endpoint}             a job: 202 {id, created_at}
    GET  /v2/{endpoint}/{id}        {id, status, created_at, completed_at, result: {video_url}} or ``error``

Endpoints: text-to-video, image-to-video, audio-to-video, retake, extend, video-to-video-reframe. The
retired synchronous ``/v1/{endpoint}`` calls are gone (404), as are the LTX-2 models (400 naming the
replacement). Every error uses the documented body ``{"type": "error", "error": {"type": ..., "message": ...}}``
and every answer carries ``x-request-id``.

Emulator-only behaviour:

* Content filter: a prompt containing the word ``forbidden-content`` is refused with
  422 ``content_filtered_error`` (after every other field has been validated).
* Media may be this emulator's own loopback http URLs, data URIs or ``storage://`` URIs from
  ``/v1/upload``; the real API demands https URLs without IP literals.
* Concurrency: a key with ``config.ltx_concurrency`` jobs queued or processing gets
  429 ``concurrency_limit_error`` with ``Retry-After``; the refused submit creates no job.
* Finished v2 jobs answer 404 ``not_found_error`` once ``config.ltx_job_ttl`` seconds have passed
  since they ended.
* Faults (``Fault(provider="ltx", op=...)``): ops ``submit`` (also with ``after_accept``),
  ``status`` (also kind ``unknown-status``), ``upload`` and ``put``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import mimetypes
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..errors import MediaError
from ..media.probe import probe
from ..types import MediaInfo
from .core import EmuJob, Emulator, Fault, origin, store_put
from .render import ClipSpec, render_clip, render_extend, render_retake, render_size

PROVIDER = "ltx"
REFRAME = "video-to-video-reframe"
ENDPOINTS = ("text-to-video", "image-to-video", "audio-to-video", "retake", "extend", REFRAME)
MODELS = ("ltx-2-3-pro", "ltx-2-3-fast", "ltx-2-5-pro", "ltx-2-5-fast")
REMOVED_MODELS = {"ltx-2-pro": "ltx-2-3-pro", "ltx-2-fast": "ltx-2-3-fast"}  # removed 2026-08-15
AUTO_DURATION_MODELS = ("ltx-2-5-pro", "ltx-2-5-fast")
A2V_MODELS = ("ltx-2-3-pro", "ltx-2-5-fast", "ltx-2-5-pro")
EDIT_MODELS = ("ltx-2-3-pro",)  # retake, extend
DEFAULT_PRO_MODEL = "ltx-2-3-pro"
RESOLUTIONS = {
    f"{w}x{h}": (w, h)
    for w, h in ((1920, 1080), (1280, 720), (2560, 1440), (3840, 2160))
    for w, h in ((w, h), (h, w))
}
EDIT_RESOLUTIONS = {"1920x1080": (1920, 1080), "1080x1920": (1080, 1920)}  # audio-to-video, retake
REFRAME_RESOLUTIONS = {
    f"{w}x{h}": (w, h)
    for w, h in (
        (720, 720),
        (1080, 1080),
        (720, 900),
        (1080, 1350),
        (900, 720),
        (1350, 1080),
        (720, 1280),
        (1080, 1920),
        (1280, 720),
        (1920, 1080),
    )
}
ANCHORS = ("center", "top", "bottom", "left", "right", "top_left", "top_right", "bottom_left", "bottom_right")
DURATIONS = {
    "ltx-2-3-pro": (6, 8, 10),
    "ltx-2-3-fast": (6, 8, 10, 12, 14, 16, 18, 20),
    "ltx-2-5-pro": (2, 3, 4, 5, 6, 8, 10),
    "ltx-2-5-fast": (2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20),
}
LONG_RULE_MODELS = ("ltx-2-3-fast",)  # over 10 s only at 1920x1080 and 25 fps
LONG_RESOLUTION, LONG_FPS = "1920x1080", 25
AUTO_SECONDS = 4  # what the model "chooses" for "duration": null
FPS_ALL = (24, 25, 48, 50)
AUDIO_FORMATS = ("mp3", "mpeg", "ogg", "m4a", "mp4", "aac", "mov")  # no PCM (WAV)
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
EXTEND_MODES = ("end", "start")
MAX_PROMPT_CHARS = 5000
AUDIO_SECONDS = (2.0, 20.0)
AUDIO_ROUNDING = 0.05  # seconds of container rounding tolerated around the audio limits
AUDIO_TO_VIDEO_FPS = 25
EXTEND_SECONDS = (2.0, 20.0)
MAX_CONTEXT_SECONDS = 20.0
MAX_EXTEND_FRAMES = 505  # context + extension, in frames of the input video
MIN_INPUT_FRAMES = 73
MAX_INPUT_SIZE = (3840, 2160)
FILTERED_WORD = "forbidden-content"
UPLOAD_URL_SECONDS = 3600.0  # documented; config.upload_url_ttl may make it shorter
SIGNATURE_HEADER = "x-ltx-upload-signature"

_MB = 1 << 20
# (by URL or storage URI, as a data URI); audio is not documented and shares the video limits
SIZE_LIMITS = {"image": (15 * _MB, 7 * _MB), "video": (32 * _MB, 15 * _MB), "audio": (32 * _MB, 15 * _MB)}
VIDEO_URL_LIMITS = {"extend": 100 * _MB, REFRAME: 200 * _MB}  # larger videos these endpoints take
REFRAME_MAX_SECONDS, REFRAME_MAX_FRAMES, REFRAME_SIDES = 60.0, 1800, (64, 4096)
IMAGE_FORMATS = ("png", "jpeg", "jpg", "webp")
VIDEO_CONTAINERS = ("mp4", "mov", "quicktime", "m4v", "matroska", "mkv")
VIDEO_CODECS = ("h264", "hevc", "h265")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_funds_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "content_filtered_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "service_unavailable",
    504: "timeout_error",
    529: "overloaded_error",
}

FIELDS = {
    "text-to-video": {"prompt", "model", "duration", "resolution", "fps", "generate_audio", "camera_motion"},
    "image-to-video": {
        "image_uri",
        "prompt",
        "model",
        "duration",
        "resolution",
        "fps",
        "generate_audio",
        "camera_motion",
        "last_frame_uri",
    },
    "audio-to-video": {
        "audio_uri",
        "image_uri",
        "prompt",
        "resolution",
        "guidance_scale",
        "model",
        "fps",
        "last_frame_uri",
        "camera_motion",
    },
    "retake": {"video_uri", "prompt", "start_time", "duration", "mode", "resolution", "model"},
    "extend": {"video_uri", "prompt", "duration", "mode", "model", "context"},
    REFRAME: {"video_uri", "resolution", "placement"},
}


class ApiError(Exception):
    """An answer in the documented error body."""

    def __init__(
        self, status: int, message: str, error_type: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.retry_after = retry_after

    def response(self) -> web.Response:
        headers = {"x-request-id": "req_" + secrets.token_hex(8)}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return web.json_response(
            error_body(self.status, self.message, self.error_type), status=self.status, headers=headers
        )


def error_body(status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type or ERROR_TYPES.get(status, "api_error"), "message": message},
    }


def invalid(message: str) -> ApiError:
    return ApiError(400, message)


def parse_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from a request body, else 400."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- field validation ----------------------------------------------------------------------------------------


def _choices(values: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _require(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) is None:
            raise invalid(f"{name} is required")


def _get(body: dict[str, Any], name: str, default: Any) -> Any:
    value = body.get(name)  # an explicit null counts as absent
    return default if value is None else value


def _number(body: dict[str, Any], name: str, default: float | None = None) -> float | None:
    value = _get(body, name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"{name}: {value!r} is not a number")
    return float(value)


def _integer(body: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = _number(body, name, default)
    if value is None:
        return None
    if not value.is_integer():
        raise invalid(f"{name}: {body.get(name)!r} is not an integer")
    return int(value)


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = _get(body, name, default)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name}: {value!r} is not a string")
    return value


def _choice(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None
) -> str | None:
    value = _string(body, name, default)
    if value is not None and value not in allowed:
        raise invalid(f"{name}: {value!r} is not allowed; allowed: {_choices(allowed)}")
    return value


def _prompt(body: dict[str, Any], required: bool) -> str:
    prompt = _string(body, "prompt", "") or ""
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid(f"prompt: {len(prompt)} characters is over the limit of {MAX_PROMPT_CHARS}")
    if required and not prompt.strip():
        raise invalid("prompt is required")
    return prompt


def _model(body: dict[str, Any], endpoint: str, allowed: tuple[str, ...] = MODELS) -> str:
    model = body.get("model")
    if isinstance(model, str) and model in REMOVED_MODELS:
        raise invalid(
            f"model: {model!r} has been removed (LTX-2 was retired on 2026-08-15); use "
            f"{REMOVED_MODELS[model]!r} instead"
        )
    if allowed != MODELS:
        model = _string(body, "model", DEFAULT_PRO_MODEL)
        if model not in allowed:
            raise invalid(f"model: {model!r} is not available for {endpoint}; allowed: {_choices(allowed)}")
        return model
    _require(body, "model")
    return _choice(body, "model", MODELS)  # type: ignore[return-value]


def allowed_fps(model: str) -> tuple[int, ...]:
    return FPS_ALL


def allowed_durations(model: str, resolution: str, fps: int) -> tuple[int, ...]:
    """Durations (s) of text/image-to-video for one model, resolution and frame rate."""
    durations = DURATIONS[model]
    if model in LONG_RULE_MODELS and (resolution != LONG_RESOLUTION or fps != LONG_FPS):
        return tuple(d for d in durations if d <= 10)
    return durations


def _check_generation(body: dict[str, Any], model: str) -> tuple[int, str, int]:
    """duration, resolution, fps of a text/image-to-video request, checked against each other."""
    _require(body, "resolution")
    resolution = _choice(body, "resolution", tuple(RESOLUTIONS))
    fps = _integer(body, "fps", LONG_FPS)
    if fps not in allowed_fps(model):
        raise invalid(f"fps: {fps} is not allowed for model {model}; allowed: {_choices(allowed_fps(model))}")
    if body.get("duration") is None:
        if "duration" in body and model in AUTO_DURATION_MODELS:
            return AUTO_SECONDS, resolution, fps  # type: ignore[return-value]
        raise invalid(
            "duration is required"
            + (
                ""
                if "duration" not in body
                else f"; null (automatic) only with {_choices(AUTO_DURATION_MODELS)}"
            )
        )
    duration = _integer(body, "duration")
    durations = allowed_durations(model, resolution, fps)  # type: ignore[arg-type]
    if duration not in durations:
        raise invalid(
            f"duration: {duration} is not allowed for model {model} at {resolution} and {fps} fps; "
            f"allowed: {_choices(durations)}"
        )
    return duration, resolution, fps  # type: ignore[return-value]


# --- media ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    info: MediaInfo


def _shown(uri: str) -> str:
    return uri if len(uri) <= 80 else uri[:77] + "..."


def _check_uri_form(name: str, uri: Any) -> str:
    if not isinstance(uri, str) or not uri:
        raise invalid(f"{name}: {uri!r} is not a URI")
    if uri.startswith(("data:", "storage://")):
        return uri
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return uri
    raise invalid(
        f"{name}: {_shown(uri)!r} is not an accepted URI; allowed: an https URL, a data URI or a storage URI "
        f"from /v1/upload"
    )


async def fetch_media(emu: Emulator, request: web.Request, name: str, uri: Any, kind: str) -> FetchedMedia:
    """Fetch, size-check and probe one media field. kind: "image" | "audio" | "video"."""
    uri = _check_uri_form(name, uri)
    try:
        data = await emu.fetch_media(uri, request)
    except ValueError as exc:
        raise invalid(f"{name}: could not read {_shown(uri)!r}: {exc}") from exc
    by_url, by_data = SIZE_LIMITS[kind]
    by_url = (
        VIDEO_URL_LIMITS.get(request.match_info.get("endpoint", ""), by_url) if kind == "video" else by_url
    )
    is_data_uri = uri.startswith("data:")
    limit = by_data if is_data_uri else by_url
    if len(data) > limit:
        how = "as a data URI" if is_data_uri else "by URL or storage URI"
        raise ApiError(
            413, f"{name}: {len(data)} bytes is over the {limit // _MB} MB limit for a {kind} given {how}"
        )
    try:
        info = await asyncio.to_thread(probe, data)
    except (MediaError, ValueError) as exc:
        raise invalid(f"{name}: not a readable {kind}: {exc}") from exc
    fmt = (info.format or "").lower()
    if kind == "image":
        if fmt not in IMAGE_FORMATS:
            raise invalid(
                f"{name}: image format {fmt or 'unknown'!r} is not supported; allowed: PNG, JPEG, WebP"
            )
    elif kind == "video":
        codec = (info.video_codec or "").lower()
        tokens = set(re.split(r"[,\s]+", fmt)) if fmt else set()
        if codec not in VIDEO_CODECS or (tokens and not tokens & set(VIDEO_CONTAINERS)):
            raise invalid(
                f"{name}: video {fmt or 'unknown'!r} with codec {codec or 'none'!r} is not supported; "
                "allowed: MP4, MOV or MKV with H.264 or H.265"
            )
        if not info.duration:
            raise invalid(f"{name}: the video has no readable duration")
    elif not info.duration:
        raise invalid(f"{name}: the audio has no readable duration")
    elif fmt and not set(re.split(r"[,\s]+", fmt)) & set(AUDIO_FORMATS):
        raise invalid(f"{name}: audio {fmt!r} is not supported; allowed: AAC, MP3, OGG (PCM WAV is not)")
    return FetchedMedia(data, info)


def _video_frames(info: MediaInfo) -> int:
    if info.frame_count:
        return int(info.frame_count)
    return round((info.duration or 0.0) * (info.fps or 0.0))


def _check_edit_input(name: str, info: MediaInfo) -> None:
    frames = _video_frames(info)
    if frames < MIN_INPUT_FRAMES:
        raise invalid(f"{name}: the video has {frames} frames; at least {MIN_INPUT_FRAMES} are needed")
    w, h = info.width or 0, info.height or 0
    if max(w, h) > MAX_INPUT_SIZE[0] or min(w, h) > MAX_INPUT_SIZE[1]:
        raise invalid(
            f"{name}: the video is {w}x{h}; at most {MAX_INPUT_SIZE[0]}x{MAX_INPUT_SIZE[1]} is allowed"
        )


# --- requests per endpoint -------------------------------------------------------------------------------------


@dataclass
class Accepted:
    """A validated request: what to record and how to render it."""

    model: str
    params: dict[str, Any]
    prompt: str
    render: Callable[[], bytes]


def _scaled(emu: Emulator, width: int, height: int) -> tuple[int, int]:
    return render_size(width, height, emu.config.render_scale, emu.config.max_render_side)


async def validate(emu: Emulator, request: web.Request, endpoint: str, body: dict[str, Any]) -> Accepted:
    """Check every documented field of ``body`` for ``endpoint``; fetch and check the media."""
    model = body.get("model")
    if isinstance(model, str) and model in REMOVED_MODELS:  # LTX names the replacement before anything else
        raise invalid(
            f"model: {model!r} has been removed (LTX-2 was retired on 2026-08-15); use "
            f"{REMOVED_MODELS[model]!r} instead"
        )
    unknown = sorted(set(body) - FIELDS[endpoint])
    if unknown:
        raise invalid(
            f"{unknown[0]}: unknown field for {endpoint}; allowed: {_choices(tuple(sorted(FIELDS[endpoint])))}"
        )
    seed = secrets.randbelow(2**31)
    if endpoint in ("text-to-video", "image-to-video"):
        return await _generation(emu, request, endpoint, body, seed)
    if endpoint == "audio-to-video":
        return await _audio_to_video(emu, request, body, seed)
    if endpoint == "retake":
        return await _retake(emu, request, body, seed)
    if endpoint == REFRAME:
        return await _reframe(emu, request, body, seed)
    return await _extend(emu, request, body, seed)


async def _generation(
    emu: Emulator, request: web.Request, endpoint: str, body: dict[str, Any], seed: int
) -> Accepted:
    prompt = _prompt(body, required=True)
    model = _model(body, endpoint)
    duration, resolution, fps = _check_generation(body, model)
    camera_motion = _choice(body, "camera_motion", CAMERA_MOTIONS)
    generate_audio = _get(body, "generate_audio", True)
    if not isinstance(generate_audio, bool):
        raise invalid(f"generate_audio: {generate_audio!r} is not a boolean")
    image = None
    if endpoint == "image-to-video":
        _require(body, "image_uri")
        image = await fetch_media(emu, request, "image_uri", body["image_uri"], "image")
        if body.get("last_frame_uri") is not None:
            await fetch_media(emu, request, "last_frame_uri", body["last_frame_uri"], "image")
    width, height = _scaled(emu, *RESOLUTIONS[resolution])
    spec = ClipSpec(
        width=width,
        height=height,
        fps=fps,
        duration=float(duration),
        prompt=prompt,
        seed=seed,
        image=None if image is None else image.data,
        generate_audio=generate_audio,
    )
    params = {
        "prompt": prompt,
        "duration": duration,
        "resolution": resolution,
        "fps": fps,
        "camera_motion": camera_motion,
        "generate_audio": generate_audio,
        "seed": seed,
    }
    return Accepted(model, params, prompt, lambda: render_clip(spec))


async def _audio_to_video(emu: Emulator, request: web.Request, body: dict[str, Any], seed: int) -> Accepted:
    model = _model(body, "audio-to-video", A2V_MODELS)
    prompt = _prompt(body, required=False)
    _require(body, "audio_uri")
    if not prompt.strip() and body.get("image_uri") is None:
        raise invalid("prompt is required when image_uri is not given")
    resolution = _choice(body, "resolution", tuple(EDIT_RESOLUTIONS))
    fps = _integer(body, "fps", AUDIO_TO_VIDEO_FPS)
    if fps not in FPS_ALL:
        raise invalid(f"fps: {fps} is not allowed for audio-to-video; allowed: {_choices(FPS_ALL)}")
    _choice(body, "camera_motion", CAMERA_MOTIONS)
    guidance = _number(body, "guidance_scale")
    if guidance is not None and not 0.0 < guidance <= 50.0:
        raise invalid(f"guidance_scale: {guidance:g} is out of range; allowed: more than 0, at most 50")
    audio = await fetch_media(emu, request, "audio_uri", body["audio_uri"], "audio")
    seconds = float(audio.info.duration or 0.0)
    if not AUDIO_SECONDS[0] - AUDIO_ROUNDING <= seconds <= AUDIO_SECONDS[1] + AUDIO_ROUNDING:
        raise invalid(
            f"audio_uri: the audio lasts {seconds:.2f} s; allowed: {AUDIO_SECONDS[0]:g} to {AUDIO_SECONDS[1]:g} s"
        )
    image = None
    if body.get("image_uri") is not None:
        image = await fetch_media(emu, request, "image_uri", body["image_uri"], "image")
    if body.get("last_frame_uri") is not None:
        await fetch_media(emu, request, "last_frame_uri", body["last_frame_uri"], "image")
    if resolution is None:  # documented: follows the image's orientation, else landscape
        portrait = image is not None and (image.info.height or 0) > (image.info.width or 0)
        resolution = "1080x1920" if portrait else "1920x1080"
    width, height = _scaled(emu, *EDIT_RESOLUTIONS[resolution])
    spec = ClipSpec(
        width=width,
        height=height,
        fps=fps,  # type: ignore[arg-type]
        duration=None,
        prompt=prompt,
        seed=seed,
        image=None if image is None else image.data,
        audio=audio.data,
    )
    params = {
        "prompt": prompt,
        "resolution": resolution,
        "fps": fps,
        "audio_seconds": seconds,
        "guidance_scale": guidance if guidance is not None else (9.0 if image is not None else 5.0),
        "seed": seed,
    }
    return Accepted(model, params, prompt, lambda: render_clip(spec))


async def _retake(emu: Emulator, request: web.Request, body: dict[str, Any], seed: int) -> Accepted:
    model = _model(body, "retake", EDIT_MODELS)
    prompt = _prompt(body, required=False)
    _require(body, "video_uri", "start_time", "duration")
    start = _number(body, "start_time")
    duration = _number(body, "duration")
    mode = _choice(body, "mode", RETAKE_MODES, RETAKE_MODES[0])
    _choice(body, "resolution", tuple(EDIT_RESOLUTIONS))  # output keeps the input's size in the emulator
    if start < 0:  # type: ignore[operator]
        raise invalid(f"start_time: {start:g} is negative; allowed: 0 or more")
    if duration < 2:  # type: ignore[operator]
        raise invalid(f"duration: {duration:g} is too short; allowed: at least 2 s")
    video = await fetch_media(emu, request, "video_uri", body["video_uri"], "video")
    _check_edit_input("video_uri", video.info)
    length = float(video.info.duration or 0.0)
    slack = 1.0 / (video.info.fps or 25.0)  # one frame of rounding
    if start + duration > length + slack:  # type: ignore[operator]
        raise invalid(
            f"start_time + duration: the section {start:g}-{start + duration:g} s is not inside the "  # type: ignore[operator]
            f"{length:.2f} s video"
        )
    params = {
        "prompt": prompt,
        "start_time": start,
        "duration": duration,
        "mode": mode,
        "seed": seed,
        "input_seconds": length,
    }
    data = video.data
    return Accepted(model, params, prompt, lambda: render_retake(data, start, duration, mode, prompt, seed))  # type: ignore[arg-type]


def _frames_in(seconds: float, fps: float) -> int:
    """Whole frames in ``seconds``; exactly half a frame does not count as one more."""
    return math.ceil(seconds * fps - 0.5)


async def _extend(emu: Emulator, request: web.Request, body: dict[str, Any], seed: int) -> Accepted:
    model = _model(body, "extend", EDIT_MODELS)
    prompt = _prompt(body, required=False)
    _require(body, "video_uri", "duration")
    duration = _number(body, "duration")
    if not EXTEND_SECONDS[0] <= duration <= EXTEND_SECONDS[1]:  # type: ignore[operator]
        raise invalid(
            f"duration: {duration:g} is out of range; allowed: {EXTEND_SECONDS[0]:g} to {EXTEND_SECONDS[1]:g} s"
        )
    mode = _choice(body, "mode", EXTEND_MODES, EXTEND_MODES[0])
    context = _number(body, "context")
    if context is not None and not 0 < context <= MAX_CONTEXT_SECONDS:
        raise invalid(
            f"context: {context:g} is out of range; allowed: more than 0, at most {MAX_CONTEXT_SECONDS:g} s"
        )
    video = await fetch_media(emu, request, "video_uri", body["video_uri"], "video")
    _check_edit_input("video_uri", video.info)
    fps = float(video.info.fps or 25.0)
    length = float(video.info.duration or 0.0)
    if context is not None and context > length + 1.0 / fps:
        raise invalid(f"context: {context:g} s is longer than the {length:.2f} s video")
    new_frames = _frames_in(duration, fps)  # type: ignore[arg-type]
    if new_frames > MAX_EXTEND_FRAMES:
        raise invalid(
            f"duration: {duration:g} s is {new_frames} frames at {fps:g} fps; context + extension may be "
            f"at most {MAX_EXTEND_FRAMES} frames"
        )
    if context is not None and _frames_in(context + duration, fps) > MAX_EXTEND_FRAMES:  # type: ignore[operator]
        raise invalid(
            f"context + duration: {context:g} + {duration:g} s is {_frames_in(context + duration, fps)} "  # type: ignore[operator]
            f"frames at {fps:g} fps; allowed: at most {MAX_EXTEND_FRAMES} frames"
        )
    params = {
        "prompt": prompt,
        "duration": duration,
        "mode": mode,
        "context": context,
        "seed": seed,
        "input_seconds": length,
    }
    data = video.data
    return Accepted(model, params, prompt, lambda: render_extend(data, duration, mode, prompt, seed, context))  # type: ignore[arg-type]


async def _reframe(emu: Emulator, request: web.Request, body: dict[str, Any], seed: int) -> Accepted:
    _require(body, "video_uri", "resolution")
    resolution = _choice(body, "resolution", tuple(REFRAME_RESOLUTIONS))
    placement = body.get("placement")
    if placement is not None:
        if not isinstance(placement, dict):
            raise invalid("placement: must be an object with anchor, or x and y with width and/or height")
        unknown = sorted(set(placement) - {"anchor", "x", "y", "width", "height"})
        if unknown:
            raise invalid(f"placement.{unknown[0]}: unknown field")
        if "anchor" in placement:
            if set(placement) != {"anchor"}:
                raise invalid("placement: give an anchor or a box (x, y, width/height), not both")
            _choice(placement, "anchor", ANCHORS)
        else:
            x, y = _number(placement, "x", 0.0), _number(placement, "y", 0.0)
            w, h = _number(placement, "width"), _number(placement, "height")
            if w is None and h is None:
                raise invalid("placement: a box needs width and/or height")
            for name, start, size in (("width", x, w), ("height", y, h)):
                if not 0.0 <= start <= 0.99:  # type: ignore[operator]
                    raise invalid(f"placement: the box starts outside the frame ({start:g})")
                if size is not None and (not 0.0 < size <= 1.0 or start + size > 1.0 + 1e-9):  # type: ignore[operator]
                    raise invalid(f"placement.{name}: {size:g} does not fit inside the frame")
    video = await fetch_media(emu, request, "video_uri", body["video_uri"], "video")
    info = video.info
    frames = _video_frames(info)
    if (info.duration or 0.0) > REFRAME_MAX_SECONDS + 0.05 or frames > REFRAME_MAX_FRAMES:
        raise invalid(
            f"video_uri: {info.duration:.2f} s / {frames} frames; at most {REFRAME_MAX_SECONDS:g} s and "
            f"{REFRAME_MAX_FRAMES} frames"
        )
    sides = (info.width or 0, info.height or 0)
    if min(sides) < REFRAME_SIDES[0] or max(sides) > REFRAME_SIDES[1]:
        raise invalid(
            f"video_uri: {sides[0]}x{sides[1]}; every side must be {REFRAME_SIDES[0]} to {REFRAME_SIDES[1]} px"
        )
    width, height = _scaled(emu, *REFRAME_RESOLUTIONS[resolution])  # type: ignore[index]
    spec = ClipSpec(
        width=width,
        height=height,
        fps=float(info.fps or 25.0),
        duration=float(info.duration or 0.0),
        prompt="reframe",
        seed=seed,
        generate_audio=bool(info.has_audio),
    )
    params = {"resolution": resolution, "placement": placement, "seed": seed, "input_seconds": info.duration}
    return Accepted("", params, "", lambda: render_clip(spec))


# --- the protocol -----------------------------------------------------------------------------------------------


class LtxProtocol:
    """Handlers bound to one emulator; upload signatures live here."""

    def __init__(self, emu: Emulator, prefix: str) -> None:
        self.emu = emu
        self.prefix = prefix.rstrip("/")
        self._secret = secrets.token_bytes(32)

    # --- utilities ---
    def signature(self, token: str, content_type: str) -> str:
        return hmac.new(self._secret, f"{token}\n{content_type}".encode(), hashlib.sha256).hexdigest()

    def _auth(self, request: web.Request) -> str:
        key = self.emu.check_auth(PROVIDER, request)
        if key is None:
            missing = not request.headers.get("Authorization")
            raise ApiError(401, "Missing authorization header" if missing else "Invalid API key")
        return key

    async def _fault(self, request: web.Request, fault: Fault | None) -> web.StreamResponse | None:
        if fault is None:
            return None
        return await self.emu.generic_fault_response(request, fault, error_body)

    @staticmethod
    async def _json(request: web.Request, tolerate_empty: bool = False) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip() and tolerate_empty:
            return {}
        return parse_object(raw)

    def _retry_after(self, key: str) -> float:
        now = self.emu.now()
        ends = [
            j.created_at + j.queue_seconds + j.processing_seconds - now
            for j in self.emu.jobs.values()
            if j.provider == PROVIDER and j.key == key
        ]
        positive = [e for e in ends if e > 0]
        return min(positive) if positive else 1.0

    def _find_job(self, endpoint: str, job_id: str, key: str) -> EmuJob:
        job = self.emu.jobs.get(job_id)
        if job is None or job.provider != PROVIDER or job.mode != endpoint or job.key != key:
            raise ApiError(404, f"Job {job_id} not found")
        return job

    # --- upload -------------------------------------------------------------------------------------------
    async def upload(self, request: web.Request) -> web.StreamResponse:
        try:
            self._auth(request)
            body = await self._json(request, tolerate_empty=True)
        except ApiError as exc:
            self.emu.record(PROVIDER, "upload", request, None)
            return exc.response()
        self.emu.record(PROVIDER, "upload", request, body)
        fault_resp = await self._fault(request, self.emu.take_fault(PROVIDER, "upload"))
        if fault_resp is not None:
            return fault_resp
        content_type = body.get("content_type")
        if not isinstance(content_type, str) or "/" not in content_type:
            filename = body.get("filename")
            guessed = mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None
            content_type = guessed or "application/octet-stream"
        content_type = content_type.split(";")[0].strip().lower()
        token = self.emu.reserve_upload(content_type)
        entry = self.emu.files[token]
        entry.expires_at = self.emu.now() + min(UPLOAD_URL_SECONDS, self.emu.config.upload_url_ttl)
        return web.json_response(
            {
                "upload_url": f"{origin(request)}{self.prefix}/_upload/{token}",
                "storage_uri": f"storage://uploads/{token}",
                "expires_at": iso(entry.expires_at),
                "required_headers": {
                    "Content-Type": content_type,
                    SIGNATURE_HEADER: self.signature(token, content_type),
                },
            }
        )

    async def put(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        self.emu.record(PROVIDER, "put", request, None)
        fault_resp = await self._fault(request, self.emu.take_fault(PROVIDER, "put"))
        if fault_resp is not None:
            return fault_resp
        entry = self.emu.files.get(token)
        if entry is None:
            return _s3_error(404, "NoSuchUpload", "The upload URL is unknown.")
        expected = {
            "Content-Type": entry.content_type,
            SIGNATURE_HEADER: self.signature(token, entry.content_type),
        }
        for name, value in expected.items():
            got = request.headers.get(name, "")
            if name == "Content-Type":
                got = got.split(";")[0].strip().lower()
            if not hmac.compare_digest(got, value):
                what = "missing" if not got else "does not match the signature"
                return _s3_error(403, "SignatureDoesNotMatch", f"Required header {name} is {what}.")
        return await store_put(self.emu, request, token)

    # --- generation ---------------------------------------------------------------------------------------
    async def _accept(self, request: web.Request, endpoint: str) -> tuple[str, Accepted, Fault | None]:
        """Auth, fault, body and validation of a submit. Raises ApiError or _Prepared."""
        raw = await request.read()
        body: dict[str, Any] | None = None
        bad_body: ApiError | None = None
        try:
            body = parse_object(raw)
        except ApiError as exc:
            bad_body = exc
        self.emu.record(PROVIDER, "submit", request, body)
        if endpoint not in ENDPOINTS:
            raise ApiError(404, f"Unknown endpoint {endpoint!r}; available: {_choices(ENDPOINTS)}")
        key = self._auth(request)
        fault = self.emu.take_fault(PROVIDER, "submit")
        if fault is not None and not fault.after_accept:
            resp = await self._fault(request, fault)
            if resp is not None:
                raise _Prepared(resp)
            fault = None
        if bad_body is not None or body is None:
            raise bad_body or invalid("the request body must be a JSON object")
        accepted = await validate(self.emu, request, endpoint, body)
        if FILTERED_WORD in accepted.prompt.lower():
            raise ApiError(422, "The prompt was rejected by the content filter")
        if self.emu.running_jobs(PROVIDER, key) >= self.emu.config.ltx_concurrency:
            raise ApiError(
                429,
                f"Too many concurrent requests: at most {self.emu.config.ltx_concurrency} jobs may run "
                "at once",
                "concurrency_limit_error",
                retry_after=self._retry_after(key),
            )
        return key, accepted, fault

    def _create(self, endpoint: str, key: str, accepted: Accepted) -> EmuJob:
        return self.emu.create_job(PROVIDER, endpoint, accepted.model, accepted.params, key, accepted.render)

    async def submit_async(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        try:
            key, accepted, fault = await self._accept(request, endpoint)
        except ApiError as exc:
            return exc.response()
        except _Prepared as prepared:
            return prepared.response
        job = self._create(endpoint, key, accepted)
        resp = await self._fault(request, fault)  # an after_accept fault: the job exists, the answer is lost
        if resp is not None:
            return resp
        return web.json_response(
            {"id": job.id, "created_at": iso(job.created_at)}, status=202, headers={"x-request-id": job.id}
        )

    async def status(self, request: web.Request) -> web.StreamResponse:
        endpoint, job_id = request.match_info["endpoint"], request.match_info["id"]
        self.emu.record(PROVIDER, "status", request, None)
        try:
            key = self._auth(request)
            fault = self.emu.take_fault(PROVIDER, "status")
            resp = await self._fault(request, fault)
            if resp is not None:
                return resp
            if endpoint not in ENDPOINTS:
                raise ApiError(404, f"Unknown endpoint {endpoint!r}; available: {_choices(ENDPOINTS)}")
            job = self._find_job(endpoint, job_id, key)
            state = self.emu.job_state(job)
            ended = job.ended_at
            if ended is not None and self.emu.now() - ended > self.emu.config.ltx_job_ttl:
                raise ApiError(
                    404, f"Job {job_id} not found (jobs are kept for a limited time after they end)"
                )
        except ApiError as exc:
            return exc.response()
        return web.json_response(
            self.status_body(request, job, state, fault),
            headers={"x-request-id": "req_" + secrets.token_hex(8)},
        )

    def status_body(
        self, request: web.Request, job: EmuJob, state: str, fault: Fault | None
    ) -> dict[str, Any]:
        word = {
            "queued": "pending",
            "processing": "processing",
            "success": "completed",
            "failed": "failed",
            "cancelled": "failed",
        }[state]
        if fault is not None and fault.kind == "unknown-status":
            word = "rendering_on_gpu"
        body: dict[str, Any] = {
            "id": job.id,
            "status": word,
            "created_at": iso(job.created_at),
            "completed_at": iso(job.ended_at),
        }
        if word == "completed":
            body["result"] = {"video_url": self.emu.output_url(request, job)}
        elif word == "failed":
            message = job.message or (
                "The job was cancelled" if state == "cancelled" else "Generation failed"
            )
            body["error"] = {"type": "api_error", "message": message}
        return body


class _Prepared(Exception):
    """A ready response (an injected fault) raised out of the shared accept path."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("prepared response")
        self.response = response


def _s3_error(status: int, code: str, message: str) -> web.Response:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return web.Response(status=status, text=text, content_type="application/xml")


def setup(app: web.Application, emu: Emulator, prefix: str) -> None:
    proto = LtxProtocol(emu, prefix)
    p = proto.prefix
    app.router.add_post(f"{p}/v1/upload", proto.upload)
    app.router.add_put(f"{p}/_upload/{{token}}", proto.put)
    app.router.add_post(f"{p}/v2/{{endpoint}}", proto.submit_async)
    app.router.add_get(f"{p}/v2/{{endpoint}}/{{id}}", proto.status)

"""Lightricks' LTX API: models, limits, payloads, status and errors.

Asynchronous: ``POST /v2/{endpoint}`` then ``GET /v2/{endpoint}/{id}``; synchronous:
``POST /v1/{endpoint}`` answers the MP4 itself. The endpoint is the mode ("text-to-video", ...).
What the API does not document lives in the ``UNCERTAIN`` block below so it can be fixed in one edit.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..errors import (
    AuthError,
    ContentFilteredError,
    InvalidInputError,
    JobExpiredError,
    LTX2Error,
    PaymentError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
)
from ..types import (
    CostEstimate,
    GenerationRequest,
    JobState,
    JobStatus,
    MediaInput,
    MediaKind,
    Mode,
    SubmittedJob,
)
from . import common as c
from .base import HttpCall, MediaLimits, ModelSpec, Provider, UploadTicket

# ================================ UNCERTAIN: fix here when LTX documents it ===========================
# Price tier of each model: the LTX-2.3 models are presumed priced like their LTX-2 tier.
MODEL_TIER: dict[str, str] = {
    "ltx-2-pro": "pro",
    "ltx-2-fast": "fast",
    "ltx-2-3-pro": "pro",
    "ltx-2-3-fast": "fast",
}
# Longest retake section: the API states only "at least 2 s, inside the video"; 20 s is the model's
# longest generation.
RETAKE_MAX_SECTION = 20.0
# Audio accepted by audio-to-video: formats and sizes are not documented.
AUDIO_LIMITS = MediaLimits(
    ("audio/wav", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/aac", "audio/flac", "video/mp4")
)
# guidance_scale of audio-to-video: more than 0, at most this ([3rd]: Lightricks' own model page).
GUIDANCE_MAX = 50.0
# Where the output URL and a failure reason may sit ([doc]: result.video_url, error.message).
VIDEO_URL_PATHS: tuple[str, ...] = ("result.video_url", "result.url", "video_url", "output.video_url")
FAILURE_REASON_PATHS: tuple[str, ...] = ("error.message", "error", "result.error", "message", "detail")
# =====================================================================================================

STATUS_TABLE: dict[str, JobState] = {
    "pending": JobState.QUEUED,  # [doc]
    "queued": JobState.QUEUED,
    "processing": JobState.RUNNING,  # [doc]
    "running": JobState.RUNNING,
    "in_progress": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,  # [doc]
    "succeeded": JobState.SUCCEEDED,
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,  # [doc]
    "error": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "canceled": JobState.CANCELLED,
}

# Where a status answer keeps each fact (with the tables above: one place to correct).
STATUS_SHAPE = c.StatusShape(
    status_paths=("status", "data.status"),
    table=STATUS_TABLE,
    url_paths=VIDEO_URL_PATHS,
    failure_paths=FAILURE_REASON_PATHS,
    progress_paths=("progress",),
    noun="job",
)

# Documented error types -> typed errors.
ERROR_TYPES: dict[str, type[LTX2Error]] = {
    "invalid_request_error": ProviderError,
    "authentication_error": AuthError,
    "permission_error": AuthError,
    "insufficient_funds_error": PaymentError,
    "request_too_large": RequestTooLargeError,
    "request_too_large_error": RequestTooLargeError,
    "content_filtered_error": ContentFilteredError,
    "rate_limit_error": RateLimitError,
    "concurrency_limit_error": RateLimitError,
    "not_found_error": JobExpiredError,
    "api_error": ProviderError,
    "internal_server_error": ProviderError,
    "service_unavailable_error": ProviderError,
    "service_unavailable": ProviderError,
    "overloaded_error": ProviderError,
    "timeout_error": ProviderError,
}
EXPIRED_NOTE = "LTX keeps jobs for 24 h after they end; the result can no longer be fetched."

RESOLUTIONS = ("1920x1080", "2560x1440", "3840x2160")
FPS_LTX2 = (25, 50)
FPS_LTX23 = (24, 25, 48, 50)
PRO_DURATIONS: tuple[float, ...] = (6, 8, 10)
FAST_DURATIONS: tuple[float, ...] = tuple(range(6, 21, 2))
LONG_MIN = 12  # longer than 10 s: Fast only, at 1920x1080 and 25 fps
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
PROMPT_MAX = 5000
A2V_AUDIO_SECONDS = (2.0, 20.0)
MIN_INPUT_FRAMES = 73
MAX_VIDEO_SIDES = (3840, 2160)
EXTEND_SECONDS = (2.0, 20.0)
EXTEND_CONTEXT_MIN = 1.0  # [doc] the API reference gives context 1-20 s
EXTEND_CONTEXT_MAX = 20.0
EXTEND_MAX_FRAMES = 505
VIDEO_CODECS = ("h264", "hevc", "h265", "avc1", "hvc1", "hev1")
UPLOAD_URL_LIFETIME = 3600.0  # [doc] when the answer carries no expiry
UPLOAD_MARGIN = 120.0

MEDIA_LIMITS = {
    MediaKind.IMAGE: MediaLimits(
        ("image/png", "image/jpeg", "image/webp"), max_bytes_url=15_000_000, max_bytes_data_uri=7_000_000
    ),
    MediaKind.VIDEO: MediaLimits(
        ("video/mp4", "video/quicktime", "video/x-matroska"),
        max_bytes_url=32_000_000,
        max_bytes_data_uri=15_000_000,
    ),
    MediaKind.AUDIO: AUDIO_LIMITS,
}


def _gen(name: str, mode: Mode) -> ModelSpec:
    fast = MODEL_TIER[name] == "fast"
    return ModelSpec(
        name=name,
        wire_id=name,
        mode=mode,
        durations=FAST_DURATIONS if fast else PRO_DURATIONS,
        resolutions=RESOLUTIONS,
        fps=FPS_LTX23 if name.startswith("ltx-2-3") else FPS_LTX2,
        default_duration=6,
        default_resolution="1920x1080",
        default_fps=25,
    )


_GEN_MODELS = ("ltx-2-pro", "ltx-2-fast", "ltx-2-3-pro", "ltx-2-3-fast")
_PRO_MODELS = ("ltx-2-pro", "ltx-2-3-pro")  # audio-to-video, retake and extend are Pro only [3rd]

# First spec per mode = the default.
MODELS: tuple[ModelSpec, ...] = (
    *(_gen(n, Mode.TEXT_TO_VIDEO) for n in _GEN_MODELS),
    *(_gen(n, Mode.IMAGE_TO_VIDEO) for n in _GEN_MODELS),
    *(
        ModelSpec(
            name=n,
            wire_id=n,
            mode=Mode.AUDIO_TO_VIDEO,
            resolutions=("1920x1080",),
            fps=(25,),
            default_resolution="1920x1080",
            default_fps=25,
        )
        for n in _PRO_MODELS
    ),
    *(
        ModelSpec(name=n, wire_id=n, mode=Mode.RETAKE, duration_range=(2.0, RETAKE_MAX_SECTION))
        for n in _PRO_MODELS
    ),
    *(
        ModelSpec(name=n, wire_id=n, mode=Mode.EXTEND, duration_range=EXTEND_SECONDS, default_duration=6)
        for n in _PRO_MODELS
    ),
)

_GEN_FIELDS = {"prompt", "duration", "resolution", "fps", "camera_motion", "generate_audio"}
MODE_FIELDS: dict[Mode, set[str]] = {
    Mode.TEXT_TO_VIDEO: _GEN_FIELDS,
    Mode.IMAGE_TO_VIDEO: _GEN_FIELDS | {"image"},
    Mode.AUDIO_TO_VIDEO: {"prompt", "audio", "image", "guidance_scale", "resolution", "fps"},
    Mode.RETAKE: {"prompt", "video", "start_time", "duration", "retake_mode"},
    Mode.EXTEND: {"prompt", "video", "duration", "extend_mode", "context"},
}


def parse_expiry(value: Any, *, now: float | None = None) -> float | None:
    """Unix time from an ISO 8601 string or epoch seconds / milliseconds (number or digits)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return when.timestamp()
    if isinstance(value, (int, float)):
        seconds = float(value)
        return seconds / 1000.0 if seconds > 1e11 else seconds  # milliseconds since the epoch
    return None


def check_media_url(field: str, url: str, *, provider: str = "ltx") -> None:
    """The LTX API fetches media URLs itself: https only, a host name rather than an IP address.
    Loopback hosts stay allowed so a local emulator or proxy can serve them."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    loopback = host in ("localhost",) or _is_loopback_ip(host)
    if loopback:
        return
    if parts.scheme != "https":
        raise InvalidInputError(
            field,
            url,
            "an https:// URL (or a local file, which is uploaded)",
            provider=provider,
            reason="the LTX API only fetches https URLs",
        )
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    raise InvalidInputError(
        field,
        url,
        "an https URL with a host name (or a local file, which is uploaded)",
        provider=provider,
        reason="the LTX API does not fetch URLs whose host is an IP address",
    )


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LtxProvider(Provider):
    """The LTX API by Lightricks. Hosting: the official ``/v1/upload`` flow, data URIs (smaller
    limits) or URLs the user already hosts (https, no IP addresses, no redirects)."""

    name = "ltx"
    display_name = "LTX (Lightricks)"
    key_env = "LTX_API_KEY"
    base_url_env = "LTX2_LTX_BASE_URL"
    default_base_url = "https://api.ltx.video"
    hosting_methods = ("upload", "data-uri", "url")
    default_hosting = "upload"
    poll_interval = 5.0
    can_cancel = False
    supports_sync = True  # the v1 endpoints answer with the MP4 body
    # Choices the nodes show for the fields that take a fixed set of words.
    camera_motions = CAMERA_MOTIONS
    retake_modes = RETAKE_MODES
    extend_modes = EXTEND_MODES

    # --- capabilities ----------------------------------------------------------------------------
    def models(self, mode: Mode | None = None) -> list[ModelSpec]:
        return [m for m in MODELS if mode is None or m.mode == mode]

    def media_limits(self, kind: MediaKind) -> MediaLimits:
        return MEDIA_LIMITS[kind]

    def check_media_url(self, field: str, url: str) -> None:
        check_media_url(field, url, provider=self.name)

    # --- validation --------------------------------------------------------------------------------
    def validate(self, req: GenerationRequest) -> ModelSpec:
        spec = self.resolve_model(req)
        p = self.name
        c.check_request_fields_and_media(self, req, MODE_FIELDS[req.mode])
        c.check_prompt(req.prompt, provider=p, max_chars=PROMPT_MAX)
        for name, media in req.media().items():
            if media.url is not None:
                check_media_url(name, media.url, provider=p)
            if media.kind == MediaKind.VIDEO and media.info.video_codec:
                c.one_of(
                    name,
                    media.info.video_codec.lower(),
                    VIDEO_CODECS,
                    provider=p,
                    reason="the video must be H.264 or H.265",
                )
        if req.mode in (Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO):
            self._validate_generation(req, spec)
        elif req.mode == Mode.AUDIO_TO_VIDEO:
            self._validate_a2v(req, spec)
        elif req.mode == Mode.RETAKE:
            self._validate_retake(req)
        else:
            self._validate_extend(req)
        return spec

    def _validate_generation(self, req: GenerationRequest, spec: ModelSpec) -> None:
        c.check_clip_settings(
            req,
            spec,
            provider=self.name,
            camera_motions=CAMERA_MOTIONS,
            long_from=LONG_MIN,
            image_formats="PNG, JPEG or WebP",
            duration_reason=None
            if MODEL_TIER[spec.name] == "fast"
            else f"{spec.name} stops at 10 s (longer: Fast models)",
            fps_reason=f"not offered by {spec.name}",
            long_reason="over 10 s is only offered at 1920x1080 and 25 fps",
        )

    def _validate_a2v(self, req: GenerationRequest, spec: ModelSpec) -> None:
        p = self.name
        audio = c.required(
            "audio",
            req.audio,
            provider=p,
            allowed="an audio input",
            reason="audio-to-video needs the audio track",
        )
        c.check_media_duration("audio", audio, *A2V_AUDIO_SECONDS, provider=p)
        c.check_prompt(
            req.prompt, provider=p, required_=req.image is None, reason="give an image, a prompt, or both"
        )
        if req.resolution is not None:
            c.one_of(
                "resolution",
                req.resolution,
                spec.resolutions,
                provider=p,
                reason="audio-to-video renders at 1920x1080",
            )
        if req.fps is not None:
            c.one_of("fps", req.fps, spec.fps, provider=p, reason="audio-to-video renders at 25 fps")
        if req.guidance_scale is not None:
            c.in_range("guidance_scale", req.guidance_scale, 0.0, GUIDANCE_MAX, provider=p)
            if req.guidance_scale <= 0:
                raise InvalidInputError(
                    "guidance_scale",
                    req.guidance_scale,
                    f"more than 0, at most {GUIDANCE_MAX:g}",
                    provider=p,
                    reason="leave it unset for the default (5, or 9 with an image)",
                )

    def _check_input_video(self, video: MediaInput) -> float | None:
        """Size and length of the video to edit or extend; returns its duration when known."""
        p = self.name
        info = video.info
        c.check_media_dimensions("video", video, *MAX_VIDEO_SIDES, provider=p)
        frames = info.frame_count
        if frames is None and info.duration is not None and info.fps:
            frames = round(info.duration * info.fps)
        if frames is not None and frames < MIN_INPUT_FRAMES:
            raise InvalidInputError(
                "video",
                f"{frames} frames",
                f"at least {MIN_INPUT_FRAMES} frames (about 3 s at 24 fps)",
                provider=p,
                reason="the video is too short",
            )
        return info.duration

    def _validate_retake(self, req: GenerationRequest) -> None:
        p = self.name
        video = c.required(
            "video", req.video, provider=p, allowed="a video input", reason="retake edits an existing video"
        )
        total = self._check_input_video(video)
        start = req.start_time if req.start_time is not None else 0.0
        c.in_range("start_time", start, 0.0, None, provider=p, unit="s")
        c.required(
            "duration",
            req.duration,
            provider=p,
            allowed="at least 2 s",
            reason="the length of the section to regenerate is required",
        )
        c.in_range("duration", req.duration, 2.0, RETAKE_MAX_SECTION, provider=p, unit="s")
        if total is not None and start + req.duration > total + c.frame_slack(video):
            raise InvalidInputError(
                "duration",
                req.duration,
                f"at most {max(total - start, 0):.2f} s from start_time {start:g} s",
                provider=p,
                reason=f"the section must lie inside the {total:.2f} s video",
            )
        if req.retake_mode is not None:
            c.one_of("retake_mode", req.retake_mode, RETAKE_MODES, provider=p)

    def _validate_extend(self, req: GenerationRequest) -> None:
        p = self.name
        video = c.required(
            "video",
            req.video,
            provider=p,
            allowed="a video input",
            reason="extend continues an existing video",
        )
        total = self._check_input_video(video)
        c.required(
            "duration",
            req.duration,
            provider=p,
            allowed="2 to 20 s",
            reason="the number of seconds to add is required",
        )
        c.in_range("duration", req.duration, *EXTEND_SECONDS, provider=p, unit="s")
        if req.extend_mode is not None:
            c.one_of("extend_mode", req.extend_mode, EXTEND_MODES, provider=p)
        context = req.context
        if context is not None:
            hi = EXTEND_CONTEXT_MAX if total is None else min(EXTEND_CONTEXT_MAX, total)
            c.in_range(
                "context",
                context,
                EXTEND_CONTEXT_MIN,
                hi,
                provider=p,
                unit="s",
                reason=None if total is None else f"at most the {total:.2f} s input (and 20 s)",
            )
        fps = video.info.fps
        if fps:
            frames = (float(req.duration) + float(context or 0.0)) * fps  # type: ignore[arg-type]
            if frames > EXTEND_MAX_FRAMES + 0.5:
                field = "context" if context else "duration"
                value = context if context else req.duration
                limit = EXTEND_MAX_FRAMES / fps
                raise InvalidInputError(
                    field,
                    value,
                    f"context + duration at most {limit:.2f} s at {fps:g} fps",
                    provider=p,
                    reason=f"context + extension is {frames:.0f} frames, over "
                    f"the {EXTEND_MAX_FRAMES}-frame limit",
                )

    # --- wire ---------------------------------------------------------------------------------------
    def build_submit(
        self, req: GenerationRequest, uris: Mapping[str, str], *, sync: bool = False
    ) -> HttpCall:
        spec = self.validate(req)
        p = self.name
        body: dict[str, Any] = {"model": spec.wire_id}
        prompt = (req.prompt or "").strip()
        if prompt:
            body["prompt"] = prompt
        if req.mode in (Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO):
            if req.mode == Mode.IMAGE_TO_VIDEO:
                body["image_uri"] = c.media_uri("image", req.image, uris, provider=p)  # type: ignore[arg-type]
            body["duration"] = c.wire_number(
                req.duration if req.duration is not None else spec.default_duration
            )
            body["resolution"] = req.resolution or spec.default_resolution
            body["fps"] = req.fps if req.fps is not None else spec.default_fps
            if req.camera_motion is not None:
                body["camera_motion"] = req.camera_motion
            if req.generate_audio is not None:
                body["generate_audio"] = req.generate_audio
        elif req.mode == Mode.AUDIO_TO_VIDEO:
            body["audio_uri"] = c.media_uri("audio", req.audio, uris, provider=p)  # type: ignore[arg-type]
            if req.image is not None:
                body["image_uri"] = c.media_uri("image", req.image, uris, provider=p)
            if req.guidance_scale is not None:
                body["guidance_scale"] = float(req.guidance_scale)
        elif req.mode == Mode.RETAKE:
            body["video_uri"] = c.media_uri("video", req.video, uris, provider=p)  # type: ignore[arg-type]
            body["start_time"] = c.wire_number(float(req.start_time or 0.0))
            body["duration"] = c.wire_number(float(req.duration))  # type: ignore[arg-type]
            if req.retake_mode is not None:
                body["mode"] = req.retake_mode
        else:  # extend
            body["video_uri"] = c.media_uri("video", req.video, uris, provider=p)  # type: ignore[arg-type]
            body["duration"] = c.wire_number(float(req.duration))  # type: ignore[arg-type]
            if req.extend_mode is not None:
                body["mode"] = req.extend_mode
            if req.context is not None:
                body["context"] = c.wire_number(float(req.context))
        if sync:
            return HttpCall("POST", f"/v1/{req.mode.value}", json=body, response="binary")
        return HttpCall("POST", f"/v2/{req.mode.value}", json=body)

    def parse_submit(self, req: GenerationRequest, body: Any) -> SubmittedJob:
        return c.parse_job_id(self, req, body, ("id", "job_id", "request_id", "data.id"))

    def build_status(self, job: SubmittedJob) -> HttpCall:
        return HttpCall("GET", f"/v2/{job.mode.value}/{job.job_id}")

    def parse_status(self, body: Any) -> JobStatus:
        return c.parse_job_status(self, body, STATUS_SHAPE)

    def parse_error(self, status_code: int, body: Any, headers: Mapping[str, str]) -> LTX2Error:
        error_type = c.lookup(body, "error.type")
        if not isinstance(error_type, str):
            top = c.lookup(body, "type")
            error_type = top if isinstance(top, str) and top != "error" else None
        cls = ERROR_TYPES.get(c.status_word(error_type)) if error_type else None
        if cls is None and status_code == 404:
            cls = ProviderError
        note = EXPIRED_NOTE if cls is JobExpiredError else None
        return c.error_from_http(
            self.name,
            status_code,
            body,
            headers,
            display_name=self.display_name,
            error_type=error_type,
            cls=cls,
            note=note,
        )

    def build_upload(self, media: MediaInput) -> HttpCall:
        filename = media.filename or f"input.{media.extension()}"
        return HttpCall("POST", "/v1/upload", json={"content_type": media.content_type, "filename": filename})

    def parse_upload(self, body: Any, media: MediaInput | None = None) -> UploadTicket:
        upload_url = c.lookup(body, "upload_url")
        storage_uri = c.lookup(body, "storage_uri")
        if (
            not isinstance(upload_url, str)
            or not upload_url
            or not isinstance(storage_uri, str)
            or not storage_uri
        ):
            raise c.unexpected_body(self.display_name, self.name, "upload_url and storage_uri", body)
        required_headers = c.lookup(body, "required_headers")
        headers = (
            {str(k): str(v) for k, v in required_headers.items()}
            if isinstance(required_headers, Mapping)
            else {}
        )
        if media is not None and c.header(headers, "Content-Type") is None:
            headers["Content-Type"] = media.content_type
        expires = parse_expiry(c.lookup(body, "expires_at"))
        if expires is None:
            expires = time.time() + UPLOAD_URL_LIFETIME
        return UploadTicket(
            upload_url=upload_url, uri=storage_uri, headers=headers, expires_at=expires - UPLOAD_MARGIN
        )

    # --- money ----------------------------------------------------------------------------------------
    def estimate_cost(self, req: GenerationRequest) -> CostEstimate | None:
        try:
            spec = self.resolve_model(req)
        except LTX2Error:
            return None
        tier = MODEL_TIER.get(spec.name, "pro")
        what = "s of output"
        if req.mode == Mode.AUDIO_TO_VIDEO:
            seconds, res = (req.audio.info.duration if req.audio is not None else None), "1080p"
            what = "s of audio"
        elif req.mode == Mode.RETAKE:
            seconds, res = req.duration, "1080p"  # retake renders at 1080p
            what = "s of section"
        elif req.mode == Mode.EXTEND:
            info = req.video.info if req.video is not None else None
            seconds = req.duration
            res = c.resolution_tier(width=info.width if info else None, height=info.height if info else None)
            what = "s added"
        else:
            seconds = req.duration if req.duration is not None else spec.default_duration
            res = c.resolution_tier(req.resolution or spec.default_resolution)
        if seconds is None:
            return None
        rate = c.LTX_USD_PER_SECOND[tier][res]
        return CostEstimate(
            amount=round(rate * seconds, 4),
            unit="USD",
            detail=f"{rate:g} USD/s x {seconds:g} {what} at {res} ({spec.name})",
        )

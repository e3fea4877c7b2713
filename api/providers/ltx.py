"""Lightricks' LTX API: its spec (models, limits, field mapping, status words, errors, prices) and
what is its own: the URL policy for media it fetches, the upload flow and the endpoint paths.

Every endpoint is a job: ``POST /v2/{endpoint}`` then ``GET /v2/{endpoint}/{id}``; the endpoint is
the mode ("text-to-video", ..., "video-to-video-reframe"). ``/v1/upload`` hosts media.
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
    PaymentError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
)
from ..types import GenerationRequest, JobState, MediaInput, MediaKind, Mode, SubmittedJob
from ..urlpolicy import is_loopback_host
from . import common as c
from .base import DurationRule, HttpCall, MediaLimits, ModelSpec, Provider, UploadTicket
from .spec import ModeRules, NumberRange, Prices, ProviderSpec, VideoLimits
from .vocab import CAMERA_MOTIONS, CUSTOM_PLACEMENT, EXTEND_MODES, FIELD_WORDS, RETAKE_MODES

# ================================ UNCERTAIN: fix here when LTX documents it ===========================
# Sources disagree on LTX-2.5 Pro: 2-10 s at 720p/1080p (ComfyUI's LTX-2.5 nodes, Comfy Router's
# matrix) or 6-10 s up to 4K (another page). LTX answers a combination it does not serve with a clear
# 400 invalid_request_error before any job exists (nothing billed), so the union is offered:
# 2-10 s at every size. Likewise LTX-2.5 Fast is offered 12-20 s at every size and frame rate (the
# 1920x1080 / 25 fps rule is documented for LTX-2.3 only) and every model the 720p and portrait sizes.
# Default frame rate: 24 on current pages, 25 on Comfy Router's; the pack always sends one, so 24.
# Audio: AAC-LC, MP3 and OGG [3rd]; PCM (WAV) is not accepted, so it is refused here (the stricter
# reading: no source says it is accepted). Sizes as for video.
AUDIO_LIMITS = MediaLimits(
    ("audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "video/mp4"),
    max_bytes_url=32_000_000,
    max_bytes_data_uri=15_000_000,
)
# Longest retake section: the API states only "at least 2 s, inside the video"; 20 s is the model's
# longest generation.
RETAKE_MAX_SECTION = 20.0
# guidance_scale of audio-to-video: more than 0, at most this ([3rd]: Lightricks' own model page).
GUIDANCE_MAX = 50.0
# Reframe's price is not published: no estimate. Audio-to-video on LTX-2.5 is priced like the model's
# text-to-video (per second of output at its resolution); only LTX-2.3 Pro's $0.10/s is published.
# Audio-to-video sizes on LTX-2.5 are not published: the LTX-2.3 Pro ones (1920x1080, 1080x1920).
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

# Documented error types -> typed errors.
ERROR_TYPES = {
    "invalid_request_error": ProviderError,
    "authentication_error": AuthError,
    "permission_error": AuthError,  # 403: the key may not use this model or endpoint
    "insufficient_funds_error": PaymentError,
    "request_too_large": RequestTooLargeError,
    "request_too_large_error": RequestTooLargeError,
    "content_filtered_error": ContentFilteredError,
    "rate_limit_error": RateLimitError,
    "concurrency_limit_error": RateLimitError,
    "not_found_error": JobExpiredError,  # 404
    "api_error": ProviderError,
    "internal_server_error": ProviderError,
    "service_unavailable_error": ProviderError,
    "service_unavailable": ProviderError,
    "overloaded_error": ProviderError,  # 529
    "timeout_error": ProviderError,
}

LANDSCAPE = ("1920x1080", "1280x720", "2560x1440", "3840x2160")
PORTRAIT = ("1080x1920", "720x1280", "1440x2560", "2160x3840")
SIZES = (*LANDSCAPE, *PORTRAIT)
FPS = (24, 25, 48, 50)
DEFAULT_FPS = 24
LONG = (12.0, 14.0, 16.0, 18.0, 20.0)
DURATIONS_23_PRO: tuple[float, ...] = (6, 8, 10)
DURATIONS_23_FAST: tuple[float, ...] = (6, 8, 10, *LONG)
DURATIONS_25_PRO: tuple[float, ...] = (2, 3, 4, 5, 6, 8, 10)
DURATIONS_25_FAST: tuple[float, ...] = (*DURATIONS_25_PRO, *LONG)
LONG_RULE_23 = DurationRule(
    LONG, ("1920x1080",), (25,), reason="over 10 s is only offered at 1920x1080 and 25 fps on LTX-2.3"
)
A2V_SIZES = ("1920x1080", "1080x1920")
A2V_AUDIO_SECONDS = (2.0, 20.0)
REFRAME_SIZES = (
    "1080x1920",
    "1920x1080",
    "1080x1080",
    "1080x1350",
    "1350x1080",
    "720x1280",
    "1280x720",
    "720x720",
    "720x900",
    "900x720",
)
REFRAME_MODEL = "ltx-reframe"  # the reframe endpoint takes no model field
PROMPT_MAX = 5000
MIN_INPUT_FRAMES = 73
MAX_VIDEO_SIDES = (3840, 2160)
EXTEND_SECONDS = (2.0, 20.0)
EXTEND_CONTEXT = (1.0, 20.0)  # [doc] the API reference gives context 1-20 s
EXTEND_MAX_FRAMES = 505
VIDEO_CODECS = ("h264", "hevc", "h265", "avc1", "hvc1", "hev1")
MB = 1_000_000
UPLOAD_URL_LIFETIME = 3600.0  # [doc] when the answer carries no expiry
UPLOAD_MARGIN = 120.0
ENDPOINTS = {mode: mode.value for mode in Mode} | {Mode.REFRAME: "video-to-video-reframe"}
# LTX-2 was removed on 2026-08-15 [doc]; a saved workflow or flag naming it is refused before any request.
REMOVED_MODELS = {"ltx-2-pro": "ltx-2-3-pro", "ltx-2-fast": "ltx-2-3-fast"}


def _clip(name: str, mode: Mode, durations: tuple[float, ...], **kw: Any) -> ModelSpec:
    return ModelSpec(
        name=name,
        wire_id=name,
        mode=mode,
        durations=durations,
        resolutions=SIZES,
        fps=FPS,
        default_duration=6,
        default_resolution="1920x1080",
        default_fps=DEFAULT_FPS,
        last_frame=mode is Mode.IMAGE_TO_VIDEO,
        **kw,
    )


def _clips(mode: Mode) -> tuple[ModelSpec, ...]:
    return (
        _clip("ltx-2-3-pro", mode, DURATIONS_23_PRO),  # the default: LTX-2 Pro's replacement
        _clip("ltx-2-3-fast", mode, DURATIONS_23_FAST, duration_rules=(LONG_RULE_23,)),
        _clip("ltx-2-5-pro", mode, DURATIONS_25_PRO, auto_duration=True),
        _clip("ltx-2-5-fast", mode, DURATIONS_25_FAST, auto_duration=True),
    )


def _a2v(name: str) -> ModelSpec:
    return ModelSpec(
        name=name, wire_id=name, mode=Mode.AUDIO_TO_VIDEO, resolutions=A2V_SIZES, fps=FPS, last_frame=True
    )


# First spec per mode = the default.
MODELS: tuple[ModelSpec, ...] = (
    *_clips(Mode.TEXT_TO_VIDEO),
    *_clips(Mode.IMAGE_TO_VIDEO),
    *(_a2v(n) for n in ("ltx-2-3-pro", "ltx-2-5-fast", "ltx-2-5-pro")),
    ModelSpec(
        name="ltx-2-3-pro", wire_id="ltx-2-3-pro", mode=Mode.RETAKE, duration_range=(2.0, RETAKE_MAX_SECTION)
    ),
    ModelSpec(
        name="ltx-2-3-pro",
        wire_id="ltx-2-3-pro",
        mode=Mode.EXTEND,
        duration_range=EXTEND_SECONDS,
        default_duration=6,
    ),
    ModelSpec(
        name=REFRAME_MODEL,
        wire_id="",
        mode=Mode.REFRAME,
        resolutions=REFRAME_SIZES,
        default_resolution="1080x1920",
    ),
)

_CLIP_WIRE = (
    ("model", "model"),
    ("prompt", "prompt"),
    ("image", "image_uri"),
    ("last_frame", "last_frame_uri"),
    ("duration", "duration"),
    ("resolution", "resolution"),
    ("fps", "fps"),
    ("camera_motion", "camera_motion"),
    ("generate_audio", "generate_audio"),
)
_CLIP_FIELDS = frozenset({"prompt", "duration", "resolution", "fps", "camera_motion", "generate_audio"})
_SHOT = frozenset({"duration", "resolution", "fps"})
_EDIT_VIDEO = VideoLimits(min_frames=MIN_INPUT_FRAMES, max_sides=MAX_VIDEO_SIDES, codecs=VIDEO_CODECS)
_NEEDS_VIDEO = ("a video input", "")

MODES: dict[Mode, ModeRules] = {
    Mode.TEXT_TO_VIDEO: ModeRules(
        fields=_CLIP_FIELDS, wire=_CLIP_WIRE, sent_with_default=_SHOT, prompt="required"
    ),
    Mode.IMAGE_TO_VIDEO: ModeRules(
        fields=_CLIP_FIELDS | {"image", "last_frame"},
        wire=_CLIP_WIRE,
        sent_with_default=_SHOT,
        prompt="required",
        required={"image": ("an image (PNG, JPEG or WebP)", "image-to-video needs a first-frame image")},
    ),
    Mode.AUDIO_TO_VIDEO: ModeRules(
        fields=frozenset(
            {"prompt", "audio", "image", "last_frame", "guidance_scale", "resolution", "fps", "camera_motion"}
        ),
        wire=(
            ("model", "model"),
            ("prompt", "prompt"),
            ("audio", "audio_uri"),
            ("image", "image_uri"),
            ("last_frame", "last_frame_uri"),
            ("resolution", "resolution"),
            ("fps", "fps"),
            ("camera_motion", "camera_motion"),
            ("guidance_scale", "guidance_scale"),
        ),
        prompt="unless_image",
        prompt_reason="give an image, a prompt, or both",
        required={"audio": ("an audio input (AAC, MP3 or OGG)", "audio-to-video needs the audio track")},
        media_seconds={"audio": A2V_AUDIO_SECONDS},
        ranges={
            "guidance_scale": NumberRange(
                0.0,
                GUIDANCE_MAX,
                lo_open=True,
                reason="leave it unset for the default (5, or 9 with an image)",
            )
        },
        resolution_reason="audio-to-video renders at 1920x1080 or 1080x1920",
        billed="audio",
    ),
    Mode.RETAKE: ModeRules(
        fields=frozenset({"prompt", "video", "start_time", "duration", "retake_mode"}),
        wire=(
            ("model", "model"),
            ("prompt", "prompt"),
            ("video", "video_uri"),
            ("start_time", "start_time"),
            ("duration", "duration"),
            ("retake_mode", "mode"),
        ),
        defaults={"start_time": 0.0},
        required={
            "video": ("a video input", "retake edits an existing video"),
            "duration": ("at least 2 s", "the length of the section to regenerate is required"),
        },
        ranges={"start_time": NumberRange(0.0, None, unit="s")},
        input_video=_EDIT_VIDEO,
        section_inside_input=True,
        billed="input",  # retake bills the whole input video
    ),
    Mode.EXTEND: ModeRules(
        fields=frozenset({"prompt", "video", "duration", "extend_mode", "context"}),
        wire=(
            ("model", "model"),
            ("prompt", "prompt"),
            ("video", "video_uri"),
            ("duration", "duration"),
            ("extend_mode", "mode"),
            ("context", "context"),
        ),
        required={
            "video": ("a video input", "extend continues an existing video"),
            "duration": ("2 to 20 s", "the number of seconds to add is required"),
        },
        ranges={
            "duration": NumberRange(*EXTEND_SECONDS, unit="s"),
            "context": NumberRange(*EXTEND_CONTEXT, unit="s"),
        },
        input_video=VideoLimits(
            min_frames=MIN_INPUT_FRAMES, max_sides=MAX_VIDEO_SIDES, codecs=VIDEO_CODECS, max_bytes=100 * MB
        ),
        context_frames_max=EXTEND_MAX_FRAMES,
        billed="duration+context",  # extension plus context
    ),
    Mode.REFRAME: ModeRules(
        fields=frozenset(
            {
                "video",
                "resolution",
                "placement",
                "placement_x",
                "placement_y",
                "placement_width",
                "placement_height",
            }
        ),
        wire=(("video", "video_uri"), ("resolution", "resolution"), ("placement", "placement")),
        sent_with_default=frozenset({"resolution"}),
        required={
            "video": (
                "a video input (at most 60 s, 1800 frames, 200 MB)",
                "reframe changes an existing video",
            )
        },
        ranges={
            "placement_x": NumberRange(0.0, 0.99),
            "placement_y": NumberRange(0.0, 0.99),
            "placement_width": NumberRange(0.0, 1.0, lo_open=True),
            "placement_height": NumberRange(0.0, 1.0, lo_open=True),
        },
        input_video=VideoLimits(
            max_seconds=60.0, max_frames=1800, side_range=(64, 4096), max_bytes=200 * MB, codecs=VIDEO_CODECS
        ),
        resolution_reason="reframe renders one of its ten target sizes",
        billed="input",
    ),
}

_BY_TIER = {
    "ltx-2-5-fast": {"720p": 0.09, "1080p": 0.13, "1440p": 0.19, "2160p": 0.30},
    "ltx-2-5-pro": {"720p": 0.12, "1080p": 0.17, "1440p": 0.25, "2160p": 0.39},
    "ltx-2-3-fast": {"720p": 0.03, "1080p": 0.06, "1440p": 0.12, "2160p": 0.24},
    "ltx-2-3-pro": {"720p": 0.04, "1080p": 0.08, "1440p": 0.16, "2160p": 0.32},
}
PRICES = Prices(
    by_tier=_BY_TIER,
    flat={("ltx-2-3-pro", m): 0.10 for m in (Mode.AUDIO_TO_VIDEO, Mode.RETAKE, Mode.EXTEND)},
)

SPEC = ProviderSpec(
    name="ltx",
    display_name="LTX (Lightricks)",
    key_env="LTX_API_KEY",
    base_url_env="LTX2_LTX_BASE_URL",
    default_base_url="https://api.ltx.video",
    hosting_methods=("upload", "data-uri", "url"),
    default_hosting="upload",
    models=MODELS,
    modes=MODES,
    media_limits={
        MediaKind.IMAGE: MediaLimits(("image/png", "image/jpeg", "image/webp"), 15 * MB, 7 * MB),
        MediaKind.VIDEO: MediaLimits(("video/mp4", "video/quicktime", "video/x-matroska"), 32 * MB, 15 * MB),
        MediaKind.AUDIO: AUDIO_LIMITS,
    },
    status=c.StatusShape(
        status_paths=("status", "data.status"),
        table=STATUS_TABLE,
        url_paths=VIDEO_URL_PATHS,
        failure_paths=FAILURE_REASON_PATHS,
        progress_paths=("progress",),
        noun="job",
    ),
    submit_id_paths=("id", "job_id", "request_id", "data.id"),
    choices={
        "camera_motion": CAMERA_MOTIONS,
        "retake_mode": RETAKE_MODES,
        "extend_mode": EXTEND_MODES,
        "placement": FIELD_WORDS["placement"],
    },
    error_types=ERROR_TYPES,
    expired_note="LTX keeps jobs for 24 h after they end; the result can no longer be fetched.",
    prices=PRICES,
    removed_models=REMOVED_MODELS,
    prompt_max=PROMPT_MAX,
    poll_interval=5.0,
)


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
    if is_loopback_host(host):
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


class LtxProvider(Provider):
    """The LTX API by Lightricks. Hosting: the official ``/v1/upload`` flow, data URIs (smaller
    limits) or URLs the user already hosts (https, no IP addresses, no redirects)."""

    SPEC = SPEC

    def check_media_url(self, field: str, url: str) -> None:
        check_media_url(field, url, provider=self.name)

    def validate_own(self, req: GenerationRequest, spec: ModelSpec) -> None:
        """The LTX API fetches media URLs itself; reframe's placement box must fit the frame."""
        for name, media in req.media().items():
            if media.url is not None:
                check_media_url(name, media.url, provider=self.name)
        if req.mode is Mode.REFRAME:
            _check_placement(req)

    def submit_call(self, req: GenerationRequest, spec: ModelSpec, body: dict[str, Any]) -> HttpCall:
        return HttpCall("POST", f"/v2/{ENDPOINTS[req.mode]}", json=body)

    def build_status(self, job: SubmittedJob) -> HttpCall:
        return HttpCall("GET", f"/v2/{ENDPOINTS[job.mode]}/{job.job_id}")

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


_BOX = ("placement_x", "placement_y", "placement_width", "placement_height")


def _check_placement(req: GenerationRequest) -> None:
    """Reframe: an anchor alone, or "custom" with a box of fractions that stays inside the frame."""
    p = "ltx"
    box = {name: getattr(req, name) for name in _BOX}
    if req.placement != CUSTOM_PLACEMENT:
        c.refuse_if_set(req, _BOX, provider=p, context="the box is only used with placement 'custom'")
        return
    if box["placement_width"] is None and box["placement_height"] is None:
        raise InvalidInputError(
            "placement_width",
            None,
            "a width or a height (a fraction of the output, more than 0, at most 1)",
            provider=p,
            reason="a custom placement needs the size of the video in the frame",
        )
    for start, size in (("placement_x", "placement_width"), ("placement_y", "placement_height")):
        if box[size] is not None and (box[start] or 0.0) + box[size] > 1.0 + 1e-9:
            raise InvalidInputError(
                size,
                box[size],
                f"at most {1.0 - (box[start] or 0.0):.2f} from {start} {box[start] or 0.0:g}",
                provider=p,
                reason="the video must stay inside the frame",
            )

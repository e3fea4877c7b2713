"""API in One: one model "ltx-2" for text-/image-to-video, lipsync and control; body fields,
limits, credits, and tolerant parsing of its answers (the undocumented parts sit in the
``UNCERTAIN`` block below, to be fixed in one edit).

Submit ``POST /videos/generations``, poll ``GET /tasks/{task_id}``. Answers come in an envelope
``{"code": 200, "message": ..., "data": {...}}``; errors as ``{"error": {"code", "message", "type"}}``
or as the envelope with a non-200 ``code`` (even inside an HTTP 200 answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInputError, LTX2Error
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
from .base import HttpCall, MediaLimits, ModelSpec, Provider
from .spec import ModeRules, NumberRange, ProviderSpec
from .vocab import ASPECT_RATIOS, AUDIO_MODES, CONTROL_MODES

# ================================ UNCERTAIN: fix here when API in One documents it =====================
# Status words seen across its pages (casing varies) -> neutral state. Compared case-insensitively.
STATUS_TABLE: dict[str, JobState] = {
    "pending": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "created": JobState.QUEUED,
    "submitted": JobState.QUEUED,
    "in_progress": JobState.RUNNING,
    "processing": JobState.RUNNING,
    "running": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "succeeded": JobState.SUCCEEDED,
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "error": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "canceled": JobState.CANCELLED,
}
# The finished answer's shape is undocumented: candidate places of the video URL, first match wins.
VIDEO_URL_PATHS: tuple[str, ...] = (
    "data.video_url",
    "data.url",
    "data.output",  # a plain string
    "data.output.video_url",
    "data.result.video_url",
    "data.videos[0]",
    "data.output[0]",
    "data.urls[0]",
    "data.result.url",
    "data.videos[0].url",
    # a list of URLs (or of {url}) under any of the names above
    "data.video_url[0]",
    "data.url[0]",
    "data.output.url",
    "data.output[0].url",
    "data.output.video_url[0]",
    "data.result.video_url[0]",
    "data.result[0]",
    "data.result.videos[0]",
    "data.video_urls[0]",
)
FAILURE_REASON_PATHS: tuple[str, ...] = (
    "data.error",
    "data.fail_reason",
    "data.failure_reason",
    "data.reason",
    "data.message",
    "error",
    "detail",
)

# audio_duration / video_duration are sent as a float with this many decimals (integer: 0).
MEDIA_DURATION_DECIMALS = 2
# Credits: documented ranges per mode; the split by resolution and length is not published, so
# the estimate is base-per-resolution x (duration / 5 s), clamped to the documented range.
CREDIT_RANGES: dict[Mode, tuple[int, int]] = {
    Mode.TEXT_TO_VIDEO: (20, 76),
    Mode.IMAGE_TO_VIDEO: (20, 76),
    Mode.LIPSYNC: (32, 128),
    Mode.CONTROL: (64, 256),
}
CREDIT_BASE_PER_5S: dict[Mode, dict[str, int]] = {
    Mode.TEXT_TO_VIDEO: {"480p": 20, "720p": 24, "1080p": 30},
    Mode.IMAGE_TO_VIDEO: {"480p": 20, "720p": 24, "1080p": 30},
    Mode.LIPSYNC: {"480p": 32, "720p": 40, "1080p": 48},
    Mode.CONTROL: {"480p": 64, "720p": 80, "1080p": 96},
}
# Media formats are undocumented (media are URLs); sizes unknown.
MEDIA_LIMITS = {
    MediaKind.IMAGE: MediaLimits(("image/png", "image/jpeg", "image/webp")),
    MediaKind.AUDIO: MediaLimits(
        ("audio/wav", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/aac", "video/mp4")
    ),
    MediaKind.VIDEO: MediaLimits(("video/mp4", "video/quicktime", "video/webm", "video/x-matroska")),
}
# =====================================================================================================

MODEL = "ltx-2"
RESOLUTIONS = ("480p", "720p", "1080p")
DURATION_RANGE = (5.0, 20.0)
MEDIA_SECONDS = (5.0, 20.0)
SEED_RANGE = (-1, 2**31 - 1)
_OK_CODES = {0, 200}


def _spec(mode: Mode, with_duration: bool) -> ModelSpec:
    return ModelSpec(
        name=MODEL,
        wire_id=MODEL,
        mode=mode,
        duration_range=DURATION_RANGE if with_duration else None,
        resolutions=RESOLUTIONS,
        default_duration=5 if with_duration else None,
        default_resolution="720p",
    )


MODELS: tuple[ModelSpec, ...] = (
    _spec(Mode.TEXT_TO_VIDEO, True),
    _spec(Mode.IMAGE_TO_VIDEO, True),
    _spec(Mode.LIPSYNC, False),  # lasts as long as the audio
    _spec(Mode.CONTROL, False),  # lasts as long as the control video
)

# Request fields each mode can take; seed is accepted everywhere and sent when set.
_GEN_WIRE = (
    ("model", "model"),
    ("prompt", "prompt"),
    ("resolution", "resolution"),
    ("duration", "duration"),
    ("aspect_ratio", "aspect_ratio"),
    ("image", "image"),
    ("seed", "seed"),
)
_DURATION = {"duration": NumberRange(*DURATION_RANGE, unit="s", integer=True)}
_SENT = frozenset({"resolution", "duration"})
MODES: dict[Mode, ModeRules] = {
    Mode.TEXT_TO_VIDEO: ModeRules(
        fields=frozenset({"prompt", "resolution", "aspect_ratio", "duration"}),
        wire=_GEN_WIRE,
        path="text-to-video",
        sent_with_default=_SENT,
        prompt="required",
        ranges=_DURATION,
    ),
    Mode.IMAGE_TO_VIDEO: ModeRules(
        fields=frozenset({"prompt", "resolution", "duration", "image"}),
        wire=tuple(w for w in _GEN_WIRE if w[0] != "aspect_ratio"),  # text-to-video only
        path="image-to-video",
        sent_with_default=_SENT,
        prompt="required",
        required={"image": ("an image (PNG, JPEG or WebP)", "image-to-video needs a first-frame image")},
        ranges=_DURATION,
    ),
    Mode.LIPSYNC: ModeRules(
        fields=frozenset({"prompt", "resolution", "audio", "image"}),
        wire=(
            ("model", "model"),
            ("prompt", "prompt"),
            ("resolution", "resolution"),
            ("audio", "audio"),
            ("image", "image"),
            ("seed", "seed"),
        ),
        path="lipsync",
        sent_with_default=frozenset({"resolution"}),
        required={"audio": ("an audio input 5 to 20 s long", "lipsync needs the speech audio")},
        media_seconds={"audio": MEDIA_SECONDS},
        media_seconds_known=frozenset({"audio"}),
    ),
    Mode.CONTROL: ModeRules(
        fields=frozenset({"prompt", "resolution", "video", "control_mode", "audio_mode"}),
        wire=(
            ("model", "model"),
            ("prompt", "prompt"),
            ("resolution", "resolution"),
            ("video", "video"),
            ("control_mode", "mode"),
            ("audio_mode", "audio_mode"),
            ("seed", "seed"),
        ),
        path="control",
        sent_with_default=frozenset({"resolution"}),
        required={
            "video": ("a control video 5 to 20 s long", "control follows a video"),
            "control_mode": (c.fmt_allowed(CONTROL_MODES), "choose what the control video guides"),
        },
        media_seconds={"video": MEDIA_SECONDS},
        media_seconds_known=frozenset({"video"}),
    ),
}

SPEC = ProviderSpec(
    name="apiinone",
    display_name="API in One",
    key_env="APIINONE_API_KEY",
    base_url_env="LTX2_APIINONE_BASE_URL",
    default_base_url="https://apiin.one/api/v1",
    # No upload endpoint. Its docs ask for media URLs; whether data URIs are accepted is unknown.
    # "data-uri" is the default because it needs no storage of the user's; "url" (or S3 hosting)
    # is the fallback if data URIs are refused.
    hosting_methods=("data-uri", "url"),
    default_hosting="data-uri",
    models=MODELS,
    modes=MODES,
    media_limits=MEDIA_LIMITS,
    status=c.StatusShape(
        status_paths=("data.status", "status"),
        table=STATUS_TABLE,
        url_paths=VIDEO_URL_PATHS,
        failure_paths=FAILURE_REASON_PATHS,
        progress_paths=("data.progress",),
        noun="task",
    ),
    submit_id_paths=("data.task_id", "data.id", "task_id", "id"),
    choices={"aspect_ratio": ASPECT_RATIOS, "control_mode": CONTROL_MODES, "audio_mode": AUDIO_MODES},
    seed_range=SEED_RANGE,
    early_fields=("resolution",),
    poll_interval=5.0,
)


def expected_credits_range(mode: Mode | str) -> tuple[int, int]:
    """The documented (lowest, highest) credits of one request in ``mode``."""
    mode = Mode(mode)
    if mode not in CREDIT_RANGES:
        raise InvalidInputError(
            "mode",
            mode.value,
            ", ".join(m.value for m in CREDIT_RANGES),
            provider="apiinone",
            reason="API in One does not offer this mode",
        )
    return CREDIT_RANGES[mode]


def _envelope_message(body: Any) -> str | None:
    """The envelope's own ``message`` when it is not a plain "success" (a last place for a reason)."""
    top = c.lookup(body, "message")
    if isinstance(top, str) and c.status_word(top) not in ("success", "ok", ""):
        return top
    return None


def _envelope_code(body: Any) -> int | None:
    """The envelope's ``code`` as an int, or None when the body has none."""
    if not isinstance(body, Mapping) or "code" not in body:
        return None
    code = body.get("code")
    if isinstance(code, bool):
        return None
    try:
        return int(code)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class ApiInOneProvider(Provider):
    """API in One. It has no upload endpoint: media go as URLs, or as data URIs. Its own parts: the
    media length it must be told, errors inside 200 answers, and credits."""

    SPEC = SPEC

    def _media_seconds(self, media: MediaInput) -> float:
        """The media length sent as ``audio_duration``/``video_duration`` (known: validated)."""
        seconds = float(media.info.duration or MEDIA_SECONDS[0])
        value = round(seconds, MEDIA_DURATION_DECIMALS) if MEDIA_DURATION_DECIMALS else round(seconds)
        return min(max(value, MEDIA_SECONDS[0]), MEDIA_SECONDS[1])  # absorb container rounding

    def submit_call(self, req: GenerationRequest, spec: ModelSpec, body: dict[str, Any]) -> HttpCall:
        body = {"model": body.pop("model"), "type": self.SPEC.modes[req.mode].path, **body}
        if req.mode is Mode.LIPSYNC:
            body["audio_duration"] = c.wire_number(self._media_seconds(req.audio))  # type: ignore[arg-type]
        elif req.mode is Mode.CONTROL:
            body["video_duration"] = c.wire_number(self._media_seconds(req.video))  # type: ignore[arg-type]
        if "seed" in body:
            body["seed"] = int(body.pop("seed"))
        return HttpCall("POST", "/videos/generations", json=body)

    def _raise_if_error(self, body: Any, http_status: int = 200) -> None:
        """An error carried in a 2xx answer (``{"error": ...}`` or a non-200 envelope code)."""
        if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping) and body.get("data") is None:
            raise self.parse_error(http_status if http_status >= 400 else 0, body, {})
        code = _envelope_code(body)
        if code is not None and code not in _OK_CODES:
            raise self.parse_error(http_status if http_status >= 400 else 0, body, {})

    def parse_submit(self, req: GenerationRequest, body: Any) -> SubmittedJob:
        self._raise_if_error(body)
        return c.parse_job_id(self, req, body, self.SPEC.submit_id_paths, noun="task", model=MODEL)

    def build_status(self, job: SubmittedJob) -> HttpCall:
        return HttpCall("GET", f"/tasks/{job.job_id}")

    def parse_status(self, body: Any) -> JobStatus:
        self._raise_if_error(body)
        return c.parse_job_status(self, body, self.SPEC.status, extra_reason=_envelope_message)

    def parse_error(self, status_code: int, body: Any, headers: Mapping[str, str]) -> LTX2Error:
        """Both error forms. A 2xx status (error inside a 200 answer) takes the body's code."""
        body_code = c.lookup(body, "error.code")
        if body_code is None:
            body_code = _envelope_code(body)
        try:
            body_status = (
                int(body_code) if body_code is not None and not isinstance(body_code, bool) else None
            )
        except (TypeError, ValueError):
            body_status = None
        status = status_code
        if status < 400:
            status = body_status if body_status is not None and 400 <= body_status <= 599 else 400
        error_type = c.lookup(body, "error.type")
        message = c.message_text(c.lookup(body, "error"))
        if message is None:
            top = c.lookup(body, "message")
            message = top if isinstance(top, str) and top.strip() else None
        return c.error_from_spec(
            self,
            status,
            body,
            headers,
            message,
            error_type=error_type if isinstance(error_type, str) else message,
        )

    # --- money ----------------------------------------------------------------------------------------
    def estimate_cost(self, req: GenerationRequest) -> CostEstimate | None:
        if req.mode not in CREDIT_RANGES:
            return None
        resolution = req.resolution or "720p"
        base = CREDIT_BASE_PER_5S[req.mode].get(resolution)
        if base is None:
            return None
        if req.mode == Mode.LIPSYNC:
            seconds = req.audio.info.duration if req.audio is not None else None
        elif req.mode == Mode.CONTROL:
            seconds = req.video.info.duration if req.video is not None else None
        else:
            seconds = req.duration if req.duration is not None else 5
        if seconds is None:
            seconds = MEDIA_SECONDS[0]
        lo, hi = CREDIT_RANGES[req.mode]
        credits = round(min(max(base * seconds / 5.0, lo), hi))
        return CostEstimate(
            amount=credits,
            unit="credits",
            detail=f"estimate: {base} credits per 5 s at {resolution} x {seconds:g} s, within the "
            f"documented {lo}-{hi} credits for {req.mode.value}",
        )

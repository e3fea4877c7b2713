"""GMI Cloud request queue: models, limits, payloads, status and errors.

Submit ``POST /requests {"model", "payload"}``, poll ``GET /requests/{request_id}``. What GMI does not
document (catalogue-only models, failure-reason and URL locations, the upload flow, prices) lives in
the ``UNCERTAIN`` block below so it can be fixed in one edit.
"""

from __future__ import annotations

import time
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
from .base import HttpCall, MediaLimits, ModelSpec, Provider, UploadTicket

# ================================ UNCERTAIN: fix here when GMI documents it ==========================
# Catalogue-only models ([3rd]): text-to-video payloads are presumed to mirror image-to-video without
# image_uri, and Pro models are presumed to stop at 10 s like the LTX API's Pro tier.
PRO_DURATIONS: tuple[float, ...] = (6, 8, 10)
# Where a failure reason may sit in a status body, first match wins.
FAILURE_REASON_PATHS: tuple[str, ...] = (
    "outcome.reason",
    "outcome.error",
    "outcome.message",
    "reason",
    "error",
    "message",
    "detail",
)
# Where the output URL may sit, first match wins ([doc]: outcome.media_urls[0].url).
VIDEO_URL_PATHS: tuple[str, ...] = (
    "outcome.media_urls[0].url",
    "outcome.media_urls[0]",
    "outcome.video_url",
    "outcome.url",
)
# Upload slot ([3rd], unofficial): the signed PUT URL lives about 15 min; keep a safety margin.
UPLOAD_URL_LIFETIME = 15 * 60.0
UPLOAD_MARGIN = 90.0
# Prices are not published per second: estimate from the LTX list prices.
PRICE_NOTE = "estimate from LTX list prices; GMI's own price may differ"
# Accepted media: formats documented per model; video containers and all sizes are unknown.
MEDIA_LIMITS = {
    MediaKind.IMAGE: MediaLimits(("image/jpeg", "image/png", "image/webp")),
    MediaKind.AUDIO: MediaLimits(("audio/wav", "audio/mpeg", "audio/mp4", "video/mp4", "audio/ogg")),
    MediaKind.VIDEO: MediaLimits(("video/mp4", "video/quicktime", "video/x-matroska", "video/webm")),
}
# =====================================================================================================

# Statuses [doc: the SDK's enum], plus tolerated spellings.
STATUS_TABLE: dict[str, JobState] = {
    "created": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "pending": JobState.QUEUED,
    "dispatched": JobState.RUNNING,
    "processing": JobState.RUNNING,
    "running": JobState.RUNNING,
    "in_progress": JobState.RUNNING,
    "success": JobState.SUCCEEDED,
    "succeeded": JobState.SUCCEEDED,
    "completed": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "failure": JobState.FAILED,
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
    progress_paths=("progress", "outcome.progress"),
    noun="job",
)

RESOLUTIONS = ("1920x1080", "2560x1440", "3840x2160")
FPS = (25, 50)
FAST_DURATIONS: tuple[float, ...] = tuple(range(6, 21, 2))
LONG_MIN = 12  # durations from here up need 1920x1080 at 25 fps
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
A2V_AUDIO_SECONDS = (2.0, 20.0)
RETAKE_MAX_SECONDS = 21.0
RETAKE_MIN_SECTION = 2.0
MAX_VIDEO_SIDES = (3840, 2160)


def _gen(name: str, wire: str, mode: Mode, durations: tuple[float, ...]) -> ModelSpec:
    return ModelSpec(
        name=name,
        wire_id=wire,
        mode=mode,
        durations=durations,
        resolutions=RESOLUTIONS,
        fps=FPS,
        default_duration=6,
        default_resolution="1920x1080",
        default_fps=25,
    )


# First spec per mode = the default.
MODELS: tuple[ModelSpec, ...] = (
    _gen("ltx-2-pro", "ltx-2-pro-text-to-video", Mode.TEXT_TO_VIDEO, PRO_DURATIONS),
    _gen("ltx-2-fast", "ltx-2-fast-text-to-video", Mode.TEXT_TO_VIDEO, FAST_DURATIONS),
    _gen("ltx-2-fast", "ltx-2-fast-image-to-video", Mode.IMAGE_TO_VIDEO, FAST_DURATIONS),
    _gen("ltx-2-pro", "ltx-2-pro-image-to-video", Mode.IMAGE_TO_VIDEO, PRO_DURATIONS),
    ModelSpec(
        name="ltx-2-pro",
        wire_id="ltx-2-pro-audio-to-video",
        mode=Mode.AUDIO_TO_VIDEO,
        resolutions=("1920x1080",),
        fps=(25,),
        default_resolution="1920x1080",
        default_fps=25,
    ),
    ModelSpec(
        name="ltx-2-pro",
        wire_id="ltx-2-pro-retake",
        mode=Mode.RETAKE,
        duration_range=(RETAKE_MIN_SECTION, RETAKE_MAX_SECONDS),
    ),
)

# Request fields each mode can take (anything else set by the user is refused). Seed is accepted
# everywhere (it asks for a fresh take) but GMI has no seed field, so it is not sent.
_GEN_FIELDS = {"prompt", "duration", "resolution", "fps", "camera_motion", "generate_audio"}
MODE_FIELDS: dict[Mode, set[str]] = {
    Mode.TEXT_TO_VIDEO: _GEN_FIELDS,
    Mode.IMAGE_TO_VIDEO: _GEN_FIELDS | {"image"},
    Mode.AUDIO_TO_VIDEO: {"prompt", "audio", "image", "resolution", "fps", "guidance_scale"},
    Mode.RETAKE: {"prompt", "video", "start_time", "duration", "retake_mode"},
}


class GmiProvider(Provider):
    """GMI Cloud's request queue.

    Hosting: "upload" uses ``POST /upload-url`` then a PUT to the signed URL. That flow is
    **unofficial** (seen in third-party code, not in GMI's documentation) and may change; "url"
    passes through media the user already hosts. Whether GMI accepts data URIs is unknown.
    """

    name = "gmi"
    display_name = "GMI Cloud"
    key_env = "GMI_API_KEY"
    base_url_env = "LTX2_GMI_BASE_URL"
    default_base_url = "https://console.gmicloud.ai/api/v1/ie/requestqueue/apikey"
    # "upload" is the unofficial /upload-url flow; "data-uri" acceptance is unknown.
    hosting_methods = ("upload", "data-uri", "url")
    default_hosting = "upload"
    poll_interval = 3.0
    can_cancel = False  # "cancelled" exists as a status, but no cancel call is documented
    # Choices the nodes show for the fields that take a fixed set of words.
    camera_motions = CAMERA_MOTIONS
    retake_modes = RETAKE_MODES

    # --- capabilities ----------------------------------------------------------------------------
    def models(self, mode: Mode | None = None) -> list[ModelSpec]:
        return [m for m in MODELS if mode is None or m.mode == mode]

    def media_limits(self, kind: MediaKind) -> MediaLimits:
        return MEDIA_LIMITS[kind]

    # --- validation --------------------------------------------------------------------------------
    def validate(self, req: GenerationRequest) -> ModelSpec:
        spec = self.resolve_model(req)
        c.check_request_fields_and_media(self, req, MODE_FIELDS[req.mode])
        if req.mode in (Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO):
            self._validate_generation(req, spec)
        elif req.mode == Mode.AUDIO_TO_VIDEO:
            self._validate_a2v(req, spec)
        else:
            self._validate_retake(req, spec)
        return spec

    def _validate_generation(self, req: GenerationRequest, spec: ModelSpec) -> None:
        c.check_clip_settings(
            req,
            spec,
            provider=self.name,
            camera_motions=CAMERA_MOTIONS,
            long_from=LONG_MIN,
            image_formats="JPEG, PNG or WebP",
            duration_reason=f"not offered by {spec.wire_id}",
            long_reason="12 to 20 s are only offered at 1920x1080 and 25 fps",
        )

    def _validate_a2v(self, req: GenerationRequest, spec: ModelSpec) -> None:
        p = self.name
        audio = c.required(
            "audio",
            req.audio,
            provider=p,
            allowed="an audio input (WAV, MP3, MP4 or OGG)",
            reason="audio-to-video needs the audio track",
        )
        c.check_media_duration("audio", audio, *A2V_AUDIO_SECONDS, provider=p)
        c.check_prompt(
            req.prompt,
            provider=p,
            required_=req.image is None,
            reason="a prompt is required when no image is given",
        )
        if req.resolution is not None:
            c.one_of(
                "resolution",
                req.resolution,
                spec.resolutions,
                provider=p,
                reason="audio-to-video renders at 1920x1080 only",
            )
        if req.fps is not None:
            c.one_of("fps", req.fps, spec.fps, provider=p, reason="audio-to-video renders at 25 fps")
        if req.guidance_scale is not None:
            c.in_range("guidance_scale", req.guidance_scale, 0.0, None, provider=p)

    def _validate_retake(self, req: GenerationRequest, spec: ModelSpec) -> None:
        p = self.name
        video = c.required(
            "video", req.video, provider=p, allowed="a video input", reason="retake edits an existing video"
        )
        c.check_media_dimensions("video", video, *MAX_VIDEO_SIDES, provider=p)
        total = c.check_media_duration("video", video, None, RETAKE_MAX_SECONDS, provider=p)
        start = req.start_time if req.start_time is not None else 0.0
        c.in_range("start_time", start, 0.0, None, provider=p, unit="s")
        c.required(
            "duration",
            req.duration,
            provider=p,
            allowed=f"at least {RETAKE_MIN_SECTION:g} s",
            reason="the length of the section to regenerate is required",
        )
        c.in_range("duration", req.duration, RETAKE_MIN_SECTION, RETAKE_MAX_SECONDS, provider=p, unit="s")
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

    # --- wire ---------------------------------------------------------------------------------------
    def build_submit(
        self, req: GenerationRequest, uris: Mapping[str, str], *, sync: bool = False
    ) -> HttpCall:
        spec = self.validate(req)
        payload: dict[str, Any] = {}
        prompt = (req.prompt or "").strip()
        if req.mode in (Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO):
            payload["prompt"] = prompt
            if req.mode == Mode.IMAGE_TO_VIDEO:
                payload["image_uri"] = c.media_uri("image", req.image, uris, provider=self.name)  # type: ignore[arg-type]
            payload["duration"] = c.wire_number(
                req.duration if req.duration is not None else spec.default_duration
            )
            payload["resolution"] = req.resolution or spec.default_resolution
            payload["fps"] = req.fps if req.fps is not None else spec.default_fps
            if req.generate_audio is not None:
                payload["generate_audio"] = req.generate_audio
            if req.camera_motion is not None:
                payload["camera_motion"] = req.camera_motion
        elif req.mode == Mode.AUDIO_TO_VIDEO:
            payload["audio_uri"] = c.media_uri("audio", req.audio, uris, provider=self.name)  # type: ignore[arg-type]
            if req.image is not None:
                payload["image_uri"] = c.media_uri("image", req.image, uris, provider=self.name)
            if prompt:
                payload["prompt"] = prompt
            if req.resolution is not None:
                payload["resolution"] = req.resolution
            if req.guidance_scale is not None:  # only what the user set: GMI picks 5, or 9 with an image
                payload["guidance_scale"] = float(req.guidance_scale)
        else:  # retake
            payload["video_uri"] = c.media_uri("video", req.video, uris, provider=self.name)  # type: ignore[arg-type]
            payload["start_time"] = c.wire_number(float(req.start_time or 0.0))
            payload["duration"] = c.wire_number(float(req.duration))  # type: ignore[arg-type]
            if prompt:
                payload["prompt"] = prompt
            if req.retake_mode is not None:
                payload["mode"] = req.retake_mode
        return HttpCall("POST", "/requests", json={"model": spec.wire_id, "payload": payload})

    def parse_submit(self, req: GenerationRequest, body: Any) -> SubmittedJob:
        return c.parse_job_id(
            self, req, body, ("request_id", "id", "data.request_id", "data.id"), noun="request"
        )

    def build_status(self, job: SubmittedJob) -> HttpCall:
        return HttpCall("GET", f"/requests/{job.job_id}")

    def parse_status(self, body: Any) -> JobStatus:
        return c.parse_job_status(self, body, STATUS_SHAPE)

    def parse_error(self, status_code: int, body: Any, headers: Mapping[str, str]) -> LTX2Error:
        error_type = c.lookup(body, "error.type") or c.lookup(body, "type")
        return c.error_from_http(
            self.name,
            status_code,
            body,
            headers,
            display_name=self.display_name,
            error_type=error_type if isinstance(error_type, str) else None,
        )

    def build_upload(self, media: MediaInput) -> HttpCall:
        """Unofficial: ask for a signed upload slot for one file type."""
        return HttpCall("POST", "/upload-url", json={"file_type": media.extension()})

    def parse_upload(self, body: Any, media: MediaInput | None = None) -> UploadTicket:
        """The slot from ``/upload-url`` (unofficial). The PUT must carry the content type the URL was
        signed for: give ``media`` so the ticket's headers name it."""
        upload_url = c.lookup(body, "upload_url") or c.lookup(body, "data.upload_url")
        public_url = c.lookup(body, "public_url") or c.lookup(body, "data.public_url")
        if not c.is_url(upload_url) or not c.is_url(public_url):
            raise c.unexpected_body(self.display_name, self.name, "upload_url and public_url", body)
        headers: dict[str, str] = {}
        ctype = media.content_type if media is not None else c.lookup(body, "content_type")
        if isinstance(ctype, str) and ctype:
            headers["Content-Type"] = ctype
        return UploadTicket(
            upload_url=upload_url,
            uri=public_url,
            headers=headers,
            expires_at=time.time() + UPLOAD_URL_LIFETIME - UPLOAD_MARGIN,
        )

    # --- money ----------------------------------------------------------------------------------------
    def estimate_cost(self, req: GenerationRequest) -> CostEstimate | None:
        try:
            spec = self.resolve_model(req)
        except LTX2Error:
            return None
        tier = "fast" if "fast" in spec.name else "pro"
        if req.mode == Mode.AUDIO_TO_VIDEO:
            seconds = req.audio.info.duration if req.audio is not None else None
            res = "1080p"
        elif req.mode == Mode.RETAKE:
            seconds = req.duration
            info = req.video.info if req.video is not None else None
            res = c.resolution_tier(width=info.width if info else None, height=info.height if info else None)
        else:
            seconds = req.duration if req.duration is not None else spec.default_duration
            res = c.resolution_tier(req.resolution or spec.default_resolution)
        if seconds is None:
            return None
        rate = c.LTX_USD_PER_SECOND[tier][res]
        return CostEstimate(
            amount=round(rate * seconds, 4),
            unit="USD",
            detail=f"{rate:g} USD/s x {seconds:g} s at {res} ({spec.wire_id}); {PRICE_NOTE}",
        )

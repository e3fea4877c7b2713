"""GMI Cloud request queue: models, limits, payloads, status and errors.

Submit ``POST /requests {"model", "payload"}``, poll ``GET /requests/{request_id}``. What GMI does not
document (catalogue-only models, failure-reason and URL locations, the upload flow, prices) lives in
the ``UNCERTAIN`` block below so it can be fixed in one edit.
"""

from __future__ import annotations

import time
from typing import Any

from ..types import GenerationRequest, JobState, MediaInput, MediaKind, Mode, SubmittedJob
from . import common as c
from .base import DurationRule, HttpCall, MediaLimits, ModelSpec, Provider, UploadTicket
from .spec import ModeRules, NumberRange, Prices, ProviderSpec, VideoLimits
from .vocab import CAMERA_MOTIONS, RETAKE_MODES

# ================================ UNCERTAIN: fix here when GMI documents it ==========================
# Catalogue-only models ([3rd]): text-to-video payloads are presumed to mirror image-to-video without
# image_uri, and Pro models are presumed to stop at 10 s like the LTX API's Pro tier.
PRO_DURATIONS: tuple[float, ...] = (6, 8, 10)
# Where a failure reason may sit in a status body, first match wins ([3rd]: outcome.error, a string).
FAILURE_REASON_PATHS: tuple[str, ...] = (
    "outcome.error",
    "outcome.reason",
    "outcome.message",
    "reason",
    "error",
    "message",
    "detail",
)
# Where the output URL may sit, first match wins ([doc]: outcome.media_urls[0].url; [3rd]: some
# models answer outcome.video_url instead).
VIDEO_URL_PATHS: tuple[str, ...] = (
    "outcome.media_urls[0].url",
    "outcome.media_urls[0]",
    "outcome.video_url",
    "outcome.url",
)
# Upload slot ([3rd], unofficial): the signed PUT URL lives about 15 min; keep a safety margin.
UPLOAD_URL_LIFETIME = 15 * 60.0
UPLOAD_MARGIN = 90.0
# Prices are not published per second: estimate from the retired LTX-2 list prices.
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

RESOLUTIONS = ("1920x1080", "2560x1440", "3840x2160")
FPS = (25, 50)
FAST_DURATIONS: tuple[float, ...] = tuple(range(6, 21, 2))
LONG_RULE = DurationRule(
    tuple(float(d) for d in range(12, 21, 2)),
    ("1920x1080",),
    (25,),
    reason="12 to 20 s are only offered at 1920x1080 and 25 fps",
)
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
        duration_rules=(LONG_RULE,) if durations is FAST_DURATIONS else (),
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
_GEN_FIELDS = frozenset({"prompt", "duration", "resolution", "fps", "camera_motion", "generate_audio"})
_GEN_WIRE = (
    ("prompt", "prompt"),
    ("image", "image_uri"),
    ("duration", "duration"),
    ("resolution", "resolution"),
    ("fps", "fps"),
    ("generate_audio", "generate_audio"),
    ("camera_motion", "camera_motion"),
)
_SHOT = frozenset({"prompt", "duration", "resolution", "fps"})
MODES: dict[Mode, ModeRules] = {
    Mode.TEXT_TO_VIDEO: ModeRules(
        fields=_GEN_FIELDS, wire=_GEN_WIRE, sent_with_default=_SHOT, prompt="required"
    ),
    Mode.IMAGE_TO_VIDEO: ModeRules(
        fields=_GEN_FIELDS | {"image"},
        wire=_GEN_WIRE,
        sent_with_default=_SHOT,
        prompt="required",
        required={"image": ("an image (JPEG, PNG or WebP)", "image-to-video needs a first-frame image")},
    ),
    Mode.AUDIO_TO_VIDEO: ModeRules(
        fields=frozenset({"prompt", "audio", "image", "resolution", "fps", "guidance_scale"}),
        # only what the user set: GMI picks guidance 5, or 9 with an image
        wire=(
            ("audio", "audio_uri"),
            ("image", "image_uri"),
            ("prompt", "prompt"),
            ("resolution", "resolution"),
            ("guidance_scale", "guidance_scale"),
        ),
        prompt="unless_image",
        prompt_reason="a prompt is required when no image is given",
        required={"audio": ("an audio input (WAV, MP3, MP4 or OGG)", "audio-to-video needs the audio track")},
        media_seconds={"audio": A2V_AUDIO_SECONDS},
        ranges={"guidance_scale": NumberRange(0.0, None)},
        resolution_reason="audio-to-video renders at 1920x1080 only",
        fps_reason="audio-to-video renders at 25 fps",
        billed="audio",
    ),
    Mode.RETAKE: ModeRules(
        fields=frozenset({"prompt", "video", "start_time", "duration", "retake_mode"}),
        wire=(
            ("video", "video_uri"),
            ("start_time", "start_time"),
            ("duration", "duration"),
            ("prompt", "prompt"),
            ("retake_mode", "mode"),
        ),
        defaults={"start_time": 0.0},
        required={
            "video": ("a video input", "retake edits an existing video"),
            "duration": (
                f"at least {RETAKE_MIN_SECTION:g} s",
                "the length of the section to regenerate is required",
            ),
        },
        ranges={"start_time": NumberRange(0.0, None, unit="s")},
        input_video=VideoLimits(max_seconds=RETAKE_MAX_SECONDS, max_sides=MAX_VIDEO_SIDES),
        section_inside_input=True,
        billed="section",
    ),
}

SPEC = ProviderSpec(
    name="gmi",
    display_name="GMI Cloud",
    key_env="GMI_API_KEY",
    base_url_env="LTX2_GMI_BASE_URL",
    default_base_url="https://console.gmicloud.ai/api/v1/ie/requestqueue/apikey",
    # "upload" is the unofficial /upload-url flow; "data-uri" acceptance is unknown.
    hosting_methods=("upload", "data-uri", "url"),
    default_hosting="upload",
    models=MODELS,
    modes=MODES,
    media_limits=MEDIA_LIMITS,
    status=c.StatusShape(
        status_paths=("status", "data.status"),
        table=STATUS_TABLE,
        url_paths=VIDEO_URL_PATHS,
        failure_paths=FAILURE_REASON_PATHS,
        progress_paths=("progress", "outcome.progress"),
        noun="request",
    ),
    submit_id_paths=("request_id", "id", "data.request_id", "data.id"),
    choices={"camera_motion": CAMERA_MOTIONS, "retake_mode": RETAKE_MODES},
    # retired LTX-2 list prices, USD per second at 1080p / 1440p / 2160p
    prices=Prices(
        by_tier={
            "ltx-2-pro": {"1080p": 0.06, "1440p": 0.12, "2160p": 0.24},
            "ltx-2-fast": {"1080p": 0.04, "1440p": 0.08, "2160p": 0.16},
        },
        note=PRICE_NOTE,
    ),
    poll_interval=3.0,
    can_cancel=False,  # "cancelled" exists as a status, but no cancel call is documented
    image_formats="JPEG, PNG or WebP",
)


class GmiProvider(Provider):
    """GMI Cloud's request queue.

    Hosting: "upload" uses ``POST /upload-url`` then a PUT to the signed URL. That flow is
    **unofficial** (seen in third-party code, not in GMI's documentation) and may change; "url"
    passes through media the user already hosts. Whether GMI accepts data URIs is unknown.
    A submit may answer with the request already finished: its id is read like any other, and the
    first status call (made at once) collects it.
    """

    SPEC = SPEC

    def submit_call(self, req: GenerationRequest, spec: ModelSpec, body: dict[str, Any]) -> HttpCall:
        return HttpCall("POST", "/requests", json={"model": spec.wire_id, "payload": body})

    def build_status(self, job: SubmittedJob) -> HttpCall:
        return HttpCall("GET", f"/requests/{job.job_id}")

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

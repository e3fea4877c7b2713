"""Neutral values shared by every layer: modes, media inputs, requests, job states, results."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Mode(str, enum.Enum):
    TEXT_TO_VIDEO = "text-to-video"
    IMAGE_TO_VIDEO = "image-to-video"
    AUDIO_TO_VIDEO = "audio-to-video"
    LIPSYNC = "lipsync"
    RETAKE = "retake"
    EXTEND = "extend"
    CONTROL = "control"
    REFRAME = "reframe"

    def __str__(self) -> str:
        return self.value


class MediaKind(str, enum.Enum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learned of a media file. Unknown facts stay None."""

    duration: float | None = None  # seconds (audio, video)
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frame_count: int | None = None
    has_audio: bool | None = None
    sample_rate: int | None = None
    channels: int | None = None
    format: str | None = None  # container or image format, lower case: "png", "mp4", "wav" ...
    video_codec: str | None = None  # "h264", "hevc" ...


@dataclass(frozen=True)
class MediaInput:
    """One media input of a request: bytes to host, or a URL the user already hosts.

    Exactly one of ``data`` and ``url`` is set. ``info`` carries probed facts used for validation
    (duration, size, fps) before anything is uploaded.
    """

    kind: MediaKind
    content_type: str  # "image/png", "audio/wav", "video/mp4" ...
    data: bytes | None = None
    url: str | None = None
    filename: str = ""
    info: MediaInfo = field(default_factory=MediaInfo)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("MediaInput needs exactly one of data and url")

    @property
    def size(self) -> int | None:
        return len(self.data) if self.data is not None else None

    def sha256(self) -> str:
        """Content hash for bytes, or a hash of the URL for pass-through inputs."""
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        return hashlib.sha256(("url:" + (self.url or "")).encode()).hexdigest()

    def extension(self) -> str:
        major, _, sub = self.content_type.lower().partition("/")
        if major == "audio" and sub == "mp4":
            return "m4a"
        return {
            "jpeg": "jpg",
            "mpeg": "mp3",
            "x-wav": "wav",
            "wave": "wav",
            "quicktime": "mov",
            "x-matroska": "mkv",
        }.get(sub, sub)


# Media fields of a request and the kind each one holds.
MEDIA_FIELDS: dict[str, MediaKind] = {
    "image": MediaKind.IMAGE,
    "audio": MediaKind.AUDIO,
    "video": MediaKind.VIDEO,
    "last_frame": MediaKind.IMAGE,
}
# ``GenerationRequest.duration`` value that lets the model choose the length (sent as null).
AUTO_DURATION = "auto"


@dataclass(frozen=True)
class GenerationRequest:
    """A provider-neutral generation request.

    Values use the provider's own tokens where providers differ (``resolution`` is "1920x1080"
    for GMI and LTX, "720p" for API in One); the provider module validates and maps them.
    ``model`` is a neutral model name (as the provider registry lists them) or None for the
    provider's default for the mode. ``duration`` may be ``AUTO_DURATION`` where a model chooses
    the length itself.
    """

    provider: str  # "gmi" | "apiinone" | "ltx"
    mode: Mode
    model: str | None = None
    prompt: str = ""
    duration: float | str | None = None  # seconds of output (extend: added; retake: section) or "auto"
    resolution: str | None = None
    fps: int | None = None
    aspect_ratio: str | None = None  # API in One text-to-video
    camera_motion: str | None = None
    generate_audio: bool | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    start_time: float | None = None  # retake section start
    retake_mode: str | None = None  # replace_audio_and_video | replace_audio | replace_video
    extend_mode: str | None = None  # end | start
    context: float | None = None  # extend: seconds of the input used as context
    control_mode: str | None = None  # pose | depth | canny
    audio_mode: str | None = None  # preserve | generate | none (control)
    image: MediaInput | None = None
    audio: MediaInput | None = None
    video: MediaInput | None = None
    last_frame: MediaInput | None = None  # image-to-video / audio-to-video: the last frame
    placement: str | None = None  # reframe: an anchor (center, top, ...) or "custom" (the box below)
    placement_x: float | None = None  # reframe "custom": left edge, fraction of the output width
    placement_y: float | None = None  # top edge, fraction of the output height
    placement_width: float | None = None  # fraction of the output width
    placement_height: float | None = None  # fraction of the output height

    def media(self) -> dict[str, MediaInput]:
        """The media inputs that are set, by field name."""
        out: dict[str, MediaInput] = {}
        for name in MEDIA_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def params(self) -> dict[str, Any]:
        """Every non-media field that is set (for the journal and for hashing): no bytes, no keys."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name in MEDIA_FIELDS:
                continue
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = value.value if isinstance(value, enum.Enum) else value
        for name, media in self.media().items():
            out[name] = {"sha256": media.sha256(), "content_type": media.content_type}
            if media.url is not None:
                out[name]["url"] = media.url
        return out

    def request_hash(self) -> str:
        """Stable hash of everything that decides the output: equal requests, equal hashes."""
        import json

        blob = json.dumps(self.params(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


class JobState(str, enum.Enum):
    """Neutral job state that every provider's status is parsed into."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobStatus:
    """One parsed status answer."""

    state: JobState
    raw_status: str = ""  # the provider's own word
    video_url: str | None = None  # set when SUCCEEDED
    error: str | None = None  # failure reason when FAILED / CANCELLED
    progress: float | None = None  # 0..1 when the provider says
    raw: Any = None  # the parsed body, for debugging (never holds keys)


@dataclass(frozen=True)
class SubmittedJob:
    """What is needed to poll a job later (also stored in the journal)."""

    provider: str
    mode: Mode
    job_id: str
    model: str | None = None


@dataclass(frozen=True)
class CostEstimate:
    amount: float
    unit: str  # "USD" or "credits"
    detail: str = ""  # how it was computed, e.g. "0.06 USD/s x 6 s at 1920x1080"

    def __str__(self) -> str:
        if self.unit == "USD":
            return f"${self.amount:.2f}"
        return f"{self.amount:g} {self.unit}"


@dataclass
class GenerationResult:
    """A finished, downloaded generation."""

    path: Path
    provider: str
    mode: Mode
    model: str | None
    request_id: str | None  # provider's job id (None for synchronous calls)
    journal_id: str | None
    cost: CostEstimate | None
    timings: dict[str, float] = field(default_factory=dict)  # seconds: upload, queue, run, download, total
    from_cache: bool = False

    def info(self) -> dict[str, Any]:
        """JSON-safe summary for the node's `info` output. Never holds a key."""
        return {
            "provider": self.provider,
            "mode": self.mode.value,
            "model": self.model,
            "request_id": self.request_id,
            "journal_id": self.journal_id,
            "estimated_cost": None
            if self.cost is None
            else {"amount": self.cost.amount, "unit": self.cost.unit, "detail": self.cost.detail},
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "from_cache": self.from_cache,
            "file": self.path.name,
        }


@dataclass(frozen=True)
class ProgressEvent:
    """Reported to the caller while a job runs (nodes turn it into a status line + progress bar)."""

    phase: str  # "validating" | "uploading" | "submitting" | "queued" | "processing" | "downloading" | "done"
    elapsed: float  # seconds since the run started
    message: str = ""
    fraction: float | None = None  # 0..1 when known

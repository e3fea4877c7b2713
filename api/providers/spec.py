"""The declarative description of a provider: everything the shared validator (``validate.py``),
request builder (``build.py``), status / error parsers (``common.py``) and price estimate
(``prices.py``) need, as plain data. One ``ProviderSpec`` per provider module; the nodes, the CLI,
the web extension and the README tables are derived from these too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..types import MediaKind, Mode
from .base import MediaLimits, ModelSpec

if TYPE_CHECKING:
    from ..errors import LTX2Error
    from .common import StatusShape


@dataclass(frozen=True)
class NumberRange:
    """A numeric field's bounds; ``lo_open``: the lower bound itself is refused."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    unit: str = ""
    reason: str = ""
    integer: bool = False


@dataclass(frozen=True)
class VideoLimits:
    """What the input video of an editing mode must be (unknown facts of a file are skipped)."""

    max_seconds: float | None = None
    min_frames: int | None = None
    max_frames: int | None = None
    max_sides: tuple[int, int] | None = None  # (long, short) in either orientation
    side_range: tuple[int, int] | None = None  # every side within (lo, hi) pixels
    max_bytes: int | None = None  # overrides the provider's video size limit for this mode
    codecs: tuple[str, ...] = ()  # accepted codec names, lower case (empty = any)


@dataclass(frozen=True)
class ModeRules:
    """One mode on one provider: the request fields it takes, how they map onto the wire, what is
    required, and the limits of its media."""

    fields: frozenset[str]  # request fields the mode takes (anything else set is refused)
    wire: tuple[tuple[str, str], ...]  # (request field, wire name), in body order
    path: str = ""  # endpoint (LTX) or type word (API in One)
    # fields always sent, with the model's default when unset (others are sent only when set)
    sent_with_default: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)  # other fields always sent: field -> value
    prompt: str = "optional"  # "required" | "optional" | "unless_image" (an image or a prompt)
    prompt_reason: str = ""
    required: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # field -> (allowed, reason)
    media_seconds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    media_seconds_known: frozenset[str] = frozenset()  # lengths that must be known (they are sent)
    ranges: Mapping[str, NumberRange] = field(default_factory=dict)
    input_video: VideoLimits | None = None
    section_inside_input: bool = False  # retake: start_time + duration inside the input video
    context_frames_max: int | None = None  # extend: context + extension in frames of the input
    resolution_reason: str = ""
    fps_reason: str = ""
    billed: str = "duration"  # seconds billed: duration | audio | section | input | duration+context


@dataclass(frozen=True)
class Prices:
    """USD per second of output by model and resolution tier ("720p" ... "2160p"), and flat rates
    per (model, mode). What is unknown is left out: the estimate is then None."""

    by_tier: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # model -> tier -> USD/s
    flat: Mapping[tuple[str, Mode], float] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    display_name: str
    key_env: str
    base_url_env: str
    default_base_url: str
    hosting_methods: tuple[str, ...]  # a subset of api.hosting.HOSTING_METHODS
    default_hosting: str
    models: tuple[ModelSpec, ...]  # first spec of a mode = its default
    modes: Mapping[Mode, ModeRules]
    media_limits: Mapping[MediaKind, MediaLimits]
    status: StatusShape
    submit_id_paths: tuple[str, ...]
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # field -> accepted words
    error_types: Mapping[str, type[LTX2Error]] = field(default_factory=dict)
    error_type_paths: tuple[str, ...] = ("error.type", "type")
    prices: Prices = field(default_factory=Prices)
    removed_models: Mapping[str, str] = field(default_factory=dict)  # removed name -> replacement
    expired_note: str = ""  # appended to a "job not found" error
    early_fields: tuple[str, ...] = ()  # checked before the prompt ("resolution"), as the service does
    prompt_max: int | None = None
    seed_range: tuple[int, int] = (-(2**63), 2**63 - 1)
    poll_interval: float = 5.0
    can_cancel: bool = False
    image_formats: str = "PNG, JPEG or WebP"

"""The provider interface. A provider declares itself as data (a ``ProviderSpec``: models, limits,
field mapping, status words, errors, prices); the shared validator, request builder, status and
error parsers and price estimate read that spec, so a provider module keeps only what is its own.

A provider never does I/O. The client (`api.client`) sends the `HttpCall`s it builds and hands the
answers back to it for parsing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InvalidInputError, LTX2Error
from ..types import CostEstimate, GenerationRequest, JobStatus, MediaInput, MediaKind, Mode, SubmittedJob

if TYPE_CHECKING:
    from .spec import ProviderSpec


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request, relative to the provider's base URL (or absolute when ``path`` has a scheme)."""

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    response: str = "json"  # every provider answers JSON (the client reads it)


@dataclass(frozen=True)
class UploadTicket:
    """Where to PUT bytes, with which headers, and the URI to use in the request afterwards."""

    upload_url: str
    uri: str
    headers: Mapping[str, str] = field(default_factory=dict)
    expires_at: float | None = None  # unix time after which ``uri`` must not be used


@dataclass(frozen=True)
class MediaLimits:
    """What a provider accepts for one media kind."""

    content_types: tuple[str, ...]
    max_bytes_url: int | None = None  # by URL / upload
    max_bytes_data_uri: int | None = None  # inline as a data URI


@dataclass(frozen=True)
class DurationRule:
    """``durations`` are offered only at these resolutions and frame rates (empty = any)."""

    durations: tuple[float, ...]
    resolutions: tuple[str, ...] = ()
    fps: tuple[int, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """One model as offered for one mode: the sets nodes, the CLI and the docs show, and the
    cross-field rules the shared validator applies."""

    name: str  # neutral name: "ltx-2-3-pro", "ltx-2-pro", "ltx-2" ...
    wire_id: str  # what goes on the wire ("" = the endpoint takes no model field)
    mode: Mode
    durations: tuple[float, ...] = ()  # allowed values; empty when a range applies
    duration_range: tuple[float, float] | None = None
    resolutions: tuple[str, ...] = ()
    fps: tuple[int, ...] = ()
    default_duration: float | None = None
    default_resolution: str | None = None
    default_fps: int | None = None
    duration_rules: tuple[DurationRule, ...] = ()  # durations that need a given size / frame rate
    auto_duration: bool = False  # duration "auto": the model chooses the length (sent as null)
    last_frame: bool = False  # takes a last-frame image


class Provider(ABC):
    """Base of every provider module. Subclasses set the class attributes and implement the
    abstract methods; they never do I/O."""

    name: ClassVar[str]  # "gmi" | "apiinone" | "ltx"
    display_name: ClassVar[str]  # "GMI Cloud" | "API in One" | "LTX (Lightricks)"
    key_env: ClassVar[str]  # "GMI_API_KEY" ...
    base_url_env: ClassVar[str]  # "LTX2_GMI_BASE_URL" ...
    default_base_url: ClassVar[str]
    hosting_methods: ClassVar[tuple[str, ...]]  # subset of ("upload", "data-uri", "url", "s3")
    default_hosting: ClassVar[str]
    poll_interval: ClassVar[float] = 5.0  # seconds between status polls
    can_cancel: ClassVar[bool] = False
    # The declarative description every shared validator, builder and list reads (api/providers/spec.py).
    SPEC: ClassVar[ProviderSpec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("SPEC")
        if spec is not None:  # the class attributes other layers read come from the spec
            for attr in (
                "name",
                "display_name",
                "key_env",
                "base_url_env",
                "default_base_url",
                "hosting_methods",
                "default_hosting",
                "poll_interval",
                "can_cancel",
            ):
                setattr(cls, attr, getattr(spec, attr))

    # --- capabilities ---------------------------------------------------------------------
    def models(self, mode: Mode | None = None) -> list[ModelSpec]:
        """Every model (for one mode, or all); the first of a mode is its default."""
        return [m for m in self.SPEC.models if mode is None or m.mode == mode]

    def modes(self) -> list[Mode]:
        seen: list[Mode] = []
        for spec in self.models():
            if spec.mode not in seen:
                seen.append(spec.mode)
        return seen

    def resolve_model(self, req: GenerationRequest) -> ModelSpec:
        """The model spec for a request; ``req.model`` None means the first (default) model."""
        specs = self.models(req.mode)
        if not specs:
            raise InvalidInputError(
                "mode",
                req.mode.value,
                ", ".join(m.value for m in self.modes()),
                provider=self.name,
                reason=f"{self.display_name} does not offer this mode",
            )
        if req.model in (None, "", "auto", "default"):
            return specs[0]
        for spec in specs:
            if req.model in (spec.name, spec.wire_id):
                return spec
        replacement = self.SPEC.removed_models.get(str(req.model))
        if replacement is not None:
            raise InvalidInputError(
                "model",
                req.model,
                ", ".join(s.name for s in specs),
                provider=self.name,
                reason=f"{self.display_name} no longer serves {req.model}; use {replacement} instead",
            )
        raise InvalidInputError(
            "model",
            req.model,
            ", ".join(s.name for s in specs),
            provider=self.name,
            reason=f"not offered by {self.display_name} for {req.mode.value}",
        )

    def media_limits(self, kind: MediaKind) -> MediaLimits:
        """Accepted content types and sizes for one kind of media."""
        return self.SPEC.media_limits[kind]

    def choices(self, field_name: str, mode: Mode | None = None) -> tuple[str, ...]:
        """The words a field takes on this provider (empty when it does not take the field)."""
        if mode is not None and field_name not in self.SPEC.modes[mode].fields:
            return ()
        return self.SPEC.choices.get(field_name, ())

    # --- validation -----------------------------------------------------------------------
    def validate(self, req: GenerationRequest) -> ModelSpec:
        """Check every documented limit (using probed media info) before anything is sent.

        Raises InvalidInputError naming the input, the value and what is allowed.
        Returns the resolved model spec.
        """
        from .validate import validate_request

        spec = validate_request(self, req)
        self.validate_own(req, spec)
        return spec

    def validate_own(self, req: GenerationRequest, spec: ModelSpec) -> None:  # noqa: B027
        """Checks only this provider has (after the shared ones); none by default."""

    # --- wire -----------------------------------------------------------------------------
    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def build_submit(self, req: GenerationRequest, uris: Mapping[str, str]) -> HttpCall:
        """The submit call. ``uris`` maps media field names ("image", "last_frame", ...) to hosted URIs."""
        from .build import request_body

        spec = self.validate(req)
        return self.submit_call(req, spec, request_body(self, req, spec, uris))

    @abstractmethod
    def submit_call(self, req: GenerationRequest, spec: ModelSpec, body: dict[str, Any]) -> HttpCall:
        """The submit call around the mapped fields (the provider's own envelope and path)."""

    def parse_submit(self, req: GenerationRequest, body: Any) -> SubmittedJob:
        """The job handle from a submit answer (raises ProviderError when no id is found)."""
        from . import common as c

        return c.parse_job_id(self, req, body, self.SPEC.submit_id_paths, noun=self.SPEC.status.noun)

    @abstractmethod
    def build_status(self, job: SubmittedJob) -> HttpCall:
        """The status call for a job."""

    def parse_status(self, body: Any) -> JobStatus:
        """One status answer in neutral form (raises ProviderError when unrecognisable)."""
        from . import common as c

        return c.parse_job_status(self, body, self.SPEC.status)

    def build_cancel(self, job: SubmittedJob) -> HttpCall | None:
        """The cancel call, or None when the provider has none."""
        return None

    def parse_error(self, status_code: int, body: Any, headers: Mapping[str, str]) -> LTX2Error:
        """A typed error for a non-2xx answer. ``body`` is parsed JSON when it was JSON, else text."""
        from . import common as c

        return c.error_from_spec(self, status_code, body, headers)

    def build_upload(self, media: MediaInput) -> HttpCall | None:
        """The call that asks for an upload slot, or None when the provider has no upload."""
        return None

    def parse_upload(self, body: Any) -> UploadTicket:
        raise NotImplementedError(f"{self.display_name} has no upload endpoint")

    def check_media_url(self, field: str, url: str) -> None:
        """Refuse (InvalidInputError) a media URL this provider will not fetch; by default any is taken."""
        return None

    # --- money ----------------------------------------------------------------------------
    def estimate_cost(self, req: GenerationRequest) -> CostEstimate | None:
        """Estimated price of the request, known before submit (None when unknown)."""
        from .prices import estimate_usd

        return estimate_usd(self, req)

"""The provider interface: capabilities as data, request building, status and error parsing.

A provider module knows its wire protocol and nothing else: it never does I/O. The client
(`api.client`) sends the `HttpCall`s it builds and hands the answers back to it for parsing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..errors import InvalidInputError, LTX2Error
from ..types import CostEstimate, GenerationRequest, JobStatus, MediaInput, MediaKind, Mode, SubmittedJob


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request, relative to the provider's base URL (or absolute when ``path`` has a scheme)."""

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    response: Literal["json", "binary"] = "json"  # binary: the body is the MP4 (LTX v1 sync calls)


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
class ModelSpec:
    """One model as offered for one mode. Constraint rules that tie fields together live in
    the provider's ``validate``; the simple sets live here so nodes and docs can show them."""

    name: str  # neutral name: "ltx-2-pro", "ltx-2-fast", "ltx-2-3-pro", "ltx-2-3-fast", "ltx-2"
    wire_id: str  # what goes on the wire
    mode: Mode
    durations: tuple[float, ...] = ()  # allowed values; empty when a range applies
    duration_range: tuple[float, float] | None = None
    resolutions: tuple[str, ...] = ()
    fps: tuple[int, ...] = ()
    default_duration: float | None = None
    default_resolution: str | None = None
    default_fps: int | None = None


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
    supports_sync: ClassVar[bool] = False  # a synchronous endpoint that answers with the MP4 itself

    # --- capabilities ---------------------------------------------------------------------
    @abstractmethod
    def models(self, mode: Mode | None = None) -> list[ModelSpec]:
        """Every model (for one mode, or all)."""

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
        raise InvalidInputError(
            "model",
            req.model,
            ", ".join(s.name for s in specs),
            provider=self.name,
            reason=f"not offered by {self.display_name} for {req.mode.value}",
        )

    @abstractmethod
    def media_limits(self, kind: MediaKind) -> MediaLimits:
        """Accepted content types and sizes for one kind of media."""

    # --- validation -----------------------------------------------------------------------
    @abstractmethod
    def validate(self, req: GenerationRequest) -> ModelSpec:
        """Check every documented limit (using probed media info) before anything is sent.

        Raises InvalidInputError naming the input, the value and what is allowed.
        Returns the resolved model spec.
        """

    # --- wire -----------------------------------------------------------------------------
    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    @abstractmethod
    def build_submit(
        self, req: GenerationRequest, uris: Mapping[str, str], *, sync: bool = False
    ) -> HttpCall:
        """The submit call. ``uris`` maps media field names ("image", "audio", "video") to hosted URIs."""

    @abstractmethod
    def parse_submit(self, req: GenerationRequest, body: Any) -> SubmittedJob:
        """The job handle from a submit answer (raises ProviderError when no id is found)."""

    @abstractmethod
    def build_status(self, job: SubmittedJob) -> HttpCall:
        """The status call for a job."""

    @abstractmethod
    def parse_status(self, body: Any) -> JobStatus:
        """One status answer in neutral form (raises ProviderError when unrecognisable)."""

    def build_cancel(self, job: SubmittedJob) -> HttpCall | None:
        """The cancel call, or None when the provider has none."""
        return None

    @abstractmethod
    def parse_error(self, status_code: int, body: Any, headers: Mapping[str, str]) -> LTX2Error:
        """A typed error for a non-2xx answer. ``body`` is parsed JSON when it was JSON, else text."""

    def build_upload(self, media: MediaInput) -> HttpCall | None:
        """The call that asks for an upload slot, or None when the provider has no upload."""
        return None

    def parse_upload(self, body: Any) -> UploadTicket:
        raise NotImplementedError(f"{self.display_name} has no upload endpoint")

    def check_media_url(self, field: str, url: str) -> None:
        """Refuse (InvalidInputError) a media URL this provider will not fetch; by default any is taken."""
        return None

    # --- money ----------------------------------------------------------------------------
    @abstractmethod
    def estimate_cost(self, req: GenerationRequest) -> CostEstimate | None:
        """Estimated price of the request, known before submit."""

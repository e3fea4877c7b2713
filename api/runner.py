"""One generation end to end: validate -> host media -> journal -> submit -> poll -> download.
Also resumes journalled jobs. The CLI and the nodes both call this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .client import CancelCheck
from .journal import Journal
from .types import GenerationRequest, GenerationResult, ProgressEvent


@dataclass
class RunSettings:
    output_dir: Path
    filename_prefix: str = "ltx2"
    api_key: str | None = None  # None: from config (profile)
    profile: str | None = None
    base_url: str | None = None
    hosting: str = "auto"
    poll_interval: float | None = None  # None: provider default
    poll_timeout: float = 1800.0
    sync: bool = False  # LTX v1 synchronous call
    use_cache: bool = True  # reuse a collected result of an equal request
    journal: Journal | None = None  # None: the default journal
    cancel_check: CancelCheck | None = None
    on_progress: Callable[[ProgressEvent], None] | None = None
    max_download_bytes: int = 4 << 30
    extra: dict = field(default_factory=dict)


async def generate(req: GenerationRequest, settings: RunSettings) -> GenerationResult:
    raise NotImplementedError


async def resume(ident: str, settings: RunSettings) -> GenerationResult:
    """Finish polling + download of a journalled job (journal id or provider id) without resubmitting."""
    raise NotImplementedError

"""Keys and base URLs from the environment and a user config file, never from a graph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProviderSettings:
    provider: str
    api_key: str
    base_url: str


def config_path() -> Path:
    """$LTX2_CONFIG, else <platform user config dir>/ltx2-nodes/config.json."""
    raise NotImplementedError


def data_dir() -> Path:
    """Where the journal and caches live: $LTX2_DATA_DIR, else ComfyUI's user dir when inside ComfyUI,
    else <platform user data dir>/ltx2-nodes."""
    raise NotImplementedError


def get_api_key(provider: str, profile: str | None = None) -> str:
    """Key for a provider (env var first, then the config file; ``profile`` picks a named key set).
    Raises MissingKeyError that says exactly where to put it."""
    raise NotImplementedError


def get_base_url(provider: str, override: str | None = None) -> str:
    """``override``, else $LTX2_<P>_BASE_URL, else config file, else the provider's default."""
    raise NotImplementedError


def resolve(provider: str, *, profile: str | None = None, base_url: str | None = None) -> ProviderSettings:
    raise NotImplementedError

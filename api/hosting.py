"""Turn media bytes into URIs a provider accepts: provider upload, data URI, or pass-through URL.
A content-addressed cache (sha256 -> URI, expiry) avoids uploading the same input twice."""

from __future__ import annotations

from pathlib import Path

from .client import ProviderClient
from .types import GenerationRequest, MediaInput

HOSTING_METHODS = ("auto", "upload", "data-uri", "url")


class HostingCache:
    """sqlite file: (provider, base_url, method, sha256) -> (uri, expires_at)."""

    def __init__(self, path: Path | None = None) -> None:
        raise NotImplementedError

    def get(self, provider: str, base_url: str, method: str, sha256: str) -> str | None:
        raise NotImplementedError

    def put(self, provider: str, base_url: str, method: str, sha256: str, uri: str, expires_at: float | None) -> None:
        raise NotImplementedError


async def host_media(media: MediaInput, client: ProviderClient, method: str = "auto",
                     cache: HostingCache | None = None) -> str:
    """One input -> URI. Raises HostingError naming the alternatives when the method cannot serve it."""
    raise NotImplementedError


async def host_request_media(req: GenerationRequest, client: ProviderClient, method: str = "auto",
                             cache: HostingCache | None = None) -> dict[str, str]:
    """Every media input of a request -> {field: uri}."""
    raise NotImplementedError

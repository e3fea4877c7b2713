"""Turn media bytes into URIs a provider accepts: provider upload, data URI, or pass-through URL.
A content-addressed cache (sha256 -> URI, expiry) avoids uploading the same input twice.

Methods:
- ``"url"``: the input already is an http(s) URL; it is passed through untouched.
- ``"data-uri"``: ``data:<type>;base64,...`` inline in the request, within the provider's size limit.
- ``"upload"``: the provider's own upload flow (ask for a signed PUT URL, PUT the bytes, use the URI
  it returned). LTX documents this flow (``/v1/upload`` -> ``storage_uri``); GMI Cloud's
  ``/upload-url`` is not in its official documentation (seen in third-party code only), so it may
  change without notice: ``"data-uri"`` or ``"url"`` are the fall-backs there.
- ``"auto"``: pass-through for URL inputs, else the provider's default method.
- ``"s3"``: reserved for an S3-compatible store (presigned PUT); not configured in this release.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from .client import ProviderClient
from .errors import HostingError
from .journal import enable_wal
from .types import GenerationRequest, MediaInput

HOSTING_METHODS = ("auto", "upload", "data-uri", "url")
RESERVED_METHODS = ("s3",)
MIN_REMAINING_LIFETIME = 120.0  # a cached URI must stay valid at least this long to be reused
_BUSY_TIMEOUT = 15.0  # seconds a connection waits for another writer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hosted (
    provider   TEXT NOT NULL,
    base_url   TEXT NOT NULL,
    method     TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    uri        TEXT NOT NULL,
    expires_at REAL,
    created_at REAL NOT NULL,
    PRIMARY KEY (provider, base_url, method, sha256)
)
"""


class HostingCache:
    """sqlite file: (provider, base_url, method, sha256) -> (uri, expires_at).

    One short-lived connection per operation with WAL and a busy timeout: safe to share across
    threads and between processes (several ComfyUI workers, the CLI)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from .config import data_dir

            path = data_dir() / "hosting-cache.sqlite3"
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            enable_wal(db, _BUSY_TIMEOUT)
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT)
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt; a lost entry only costs an upload
        try:
            with db:  # commit on success, roll back on error
                yield db
        finally:
            db.close()

    def get(self, provider: str, base_url: str, method: str, sha256: str) -> str | None:
        """The cached URI while it has more than two minutes left (or never expires), else None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT uri, expires_at FROM hosted WHERE provider=? AND base_url=? AND method=? AND sha256=?",
                (provider, base_url, method, sha256),
            ).fetchone()
        if row is None:
            return None
        uri, expires_at = row
        if expires_at is not None and expires_at - time.time() <= MIN_REMAINING_LIFETIME:
            return None
        return uri

    def put(
        self, provider: str, base_url: str, method: str, sha256: str, uri: str, expires_at: float | None
    ) -> None:
        if method == "data-uri":  # the URI is the data itself: nothing to save
            return
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO hosted (provider, base_url, method, sha256, uri, expires_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (provider, base_url, method, sha256, uri, expires_at, time.time()),
            )

    def purge_expired(self) -> int:
        """Drop entries that can no longer be used. Returns how many."""
        cutoff = time.time() + MIN_REMAINING_LIFETIME
        with self._connect() as db:
            cur = db.execute("DELETE FROM hosted WHERE expires_at IS NOT NULL AND expires_at <= ?", (cutoff,))
            return cur.rowcount

    def clear(self) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM hosted")


def _size_text(n: int) -> str:
    """Exact bytes plus decimal MB, as providers state their limits (7 MB = 7,000,000 bytes)."""
    return f"{n:,} bytes ({n / 1e6:.1f} MB)" if n >= 100_000 else f"{n:,} bytes"


def _alternatives(client: ProviderClient, exclude: str) -> str:
    others = [m for m in client.provider.hosting_methods if m != exclude]
    return ", ".join(f"'{m}'" for m in others) if others else "none"


def _choose_method(media: MediaInput, client: ProviderClient, method: str) -> str:
    provider = client.provider
    chosen = (method or "auto").strip().lower()
    if chosen == "auto":
        chosen = "url" if media.url is not None else provider.default_hosting
    if chosen in RESERVED_METHODS:
        raise HostingError(
            f"Hosting method '{chosen}' (S3-compatible storage) is not configured. Methods that work with "
            f"{provider.display_name}: {', '.join(provider.hosting_methods)}.",
            provider=provider.name,
        )
    if chosen not in HOSTING_METHODS:
        raise HostingError(
            f"Unknown hosting method '{method}'. Allowed: {', '.join(HOSTING_METHODS)}.",
            provider=provider.name,
        )
    if media.url is not None:
        return "url"  # already hosted: whatever the method, the URL is used as it is
    if chosen not in provider.hosting_methods:
        raise HostingError(
            f"{provider.display_name} does not support hosting method '{chosen}' for the {media.kind.value} input. "
            f"Methods that work with {provider.display_name}: {', '.join(provider.hosting_methods)}.",
            provider=provider.name,
        )
    return chosen


async def host_media(
    media: MediaInput, client: ProviderClient, method: str = "auto", cache: HostingCache | None = None
) -> str:
    """One input -> URI. Raises HostingError naming the alternatives when the method cannot serve it.

    "upload" uses the provider's upload endpoint; for GMI Cloud that endpoint is unofficial (known
    from third-party code only) and may change."""
    provider = client.provider
    chosen = _choose_method(media, client, method)

    if chosen == "url":
        url = media.url or ""
        if media.url is None or not url.lower().startswith(("http://", "https://")):
            shown = "bytes" if media.url is None else repr(url[:80])
            raise HostingError(
                f"Hosting method 'url' needs an http(s) URL for the {media.kind.value} input, not {shown}. "
                f"Give a URL, or use another method that works with {provider.display_name}: "
                f"{_alternatives(client, 'url')}.",
                provider=provider.name,
            )
        return url

    assert media.data is not None  # URL inputs returned above
    limits = provider.media_limits(media.kind)
    size = len(media.data)

    if chosen == "data-uri":
        limit = limits.max_bytes_data_uri
        if limit is not None and size > limit:
            raise HostingError(
                f"The {media.kind.value} input is {_size_text(size)}, over {provider.display_name}'s data-URI limit "
                f"of {_size_text(limit)}. Use hosting method {_alternatives(client, 'data-uri')} instead, "
                f"or make the input smaller.",
                provider=provider.name,
            )
        payload = (
            await asyncio.to_thread(base64.b64encode, media.data)
            if size > 1 << 20
            else base64.b64encode(media.data)
        )
        return f"data:{media.content_type};base64,{payload.decode('ascii')}"

    # "upload"
    if limits.max_bytes_url is not None and size > limits.max_bytes_url:
        raise HostingError(
            f"The {media.kind.value} input is {_size_text(size)}, over {provider.display_name}'s limit of "
            f"{_size_text(limits.max_bytes_url)}. Make it smaller (lower resolution, shorter or more compressed).",
            provider=provider.name,
        )
    digest = media.sha256()
    # Uploads belong to an account (LTX storage URIs are private to the key that made them).
    where = f"{client.base_url}#{client.account}"
    if cache is not None:
        hit = await asyncio.to_thread(cache.get, provider.name, where, "upload", digest)
        if hit is not None:
            return hit
    ticket = await client.request_upload(media)
    await client.put_upload(ticket, media.data, media.content_type)
    if cache is not None:
        await asyncio.to_thread(
            cache.put, provider.name, where, "upload", digest, ticket.uri, ticket.expires_at
        )
    return ticket.uri


async def host_request_media(
    req: GenerationRequest, client: ProviderClient, method: str = "auto", cache: HostingCache | None = None
) -> dict[str, str]:
    """Every media input of a request -> {field: uri}, hosted concurrently."""
    items = list(req.media().items())
    uris = await asyncio.gather(*(host_media(media, client, method, cache) for _, media in items))
    return {name: uri for (name, _), uri in zip(items, uris, strict=True)}

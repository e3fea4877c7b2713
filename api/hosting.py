"""Turn media bytes into URIs a provider accepts: provider upload, data URI, the user's S3-compatible
bucket, or pass-through URL. A content-addressed cache (sha256 -> URI, expiry) avoids uploading the
same input twice.

Methods:
- ``"url"``: the input already is an http(s) URL; it is passed through untouched.
- ``"data-uri"``: ``data:<type>;base64,...`` inline in the request, within the provider's size limit.
- ``"upload"``: the provider's own upload flow (ask for a signed PUT URL, PUT the bytes, use the URI
  it returned). LTX documents this flow (``/v1/upload`` -> ``storage_uri``); GMI Cloud's
  ``/upload-url`` is not in its official documentation (seen in third-party code only), so it may
  change without notice: ``"data-uri"`` or ``"url"`` are the fall-backs there.
- ``"s3"``: the user's S3-compatible bucket (``LTX2_S3_*`` or the config file's ``s3`` section, see
  ``api.s3``): objects named by content hash, a presigned GET URL for the provider. Offered to every
  provider that takes media URLs.
- ``"auto"``: pass-through for URL inputs; else, for a provider that takes media only as URLs (no
  upload endpoint), ``"s3"`` when a bucket is configured; else the provider's default method.

``HOSTING_METHODS`` is the one list of methods: the CLI's ``--hosting`` choices and the Provider
Settings node's list derive from it. This module stays light at import (ComfyUI loads it with the
nodes); httpx, sqlite and boto3 load when media are hosted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import HostingError, InvalidInputError
from .types import GenerationRequest, MediaInput

if TYPE_CHECKING:
    from .client import ProviderClient
    from .config import S3Settings
    from .providers.base import Provider
    from .s3 import S3Store

log = logging.getLogger("ltx2_nodes.hosting")

HOSTING_METHODS = ("auto", "upload", "data-uri", "url", "s3")
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
    """(provider, base_url, method, sha256) -> (uri, expires_at), in a sqlite file in the data folder,
    or in the shared journal's PostgreSQL database when a farm has one (``LTX2_JOURNAL_URL``), so a
    file hosted by one worker is reused by the others.

    One short-lived connection per operation (with WAL and a busy timeout on SQLite): safe to share
    across threads and between processes (several ComfyUI workers, the CLI)."""

    def __init__(self, path: Path | None = None, *, url: str | None = None) -> None:
        from . import journal_db

        if path is None and url is None:
            from .config import data_dir, journal_url

            shared = journal_url()
            url = None if shared is None else shared.url
            path = data_dir() / "hosting-cache.sqlite3"
        self.url = url
        self._pg = journal_db.PostgresDialect(url, _BUSY_TIMEOUT) if url is not None else None
        if self._pg is not None:
            with self._connect() as db:
                db.execute(_SCHEMA.replace("REAL", "DOUBLE PRECISION"))
            return
        from .journal import enable_wal

        assert path is not None
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            enable_wal(db, _BUSY_TIMEOUT)
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        if self._pg is not None:
            from .config import url_without_password
            from .errors import JournalError

            try:
                with self._pg.connect(write=False) as conn, conn.raw.transaction():
                    yield conn
            except self._pg.errors as exc:
                from .journal import server_problem

                raise JournalError(
                    f"The hosting cache in the job journal {url_without_password(self.url or '')} is "
                    f"{server_problem(exc)}.",
                    hint="Check that the journal's PostgreSQL server runs.",
                ) from None
            return
        import sqlite3

        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT)
        db.execute("PRAGMA synchronous=NORMAL")  # with WAL: never corrupt; a lost entry only costs an upload
        try:
            with db:  # commit on success, roll back on error
                yield db
        finally:
            db.close()

    def get(
        self,
        provider: str,
        base_url: str,
        method: str,
        sha256: str,
        *,
        min_remaining: float = MIN_REMAINING_LIFETIME,
    ) -> str | None:
        """The cached URI while it has more than ``min_remaining`` seconds left (or never expires)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT uri, expires_at FROM hosted WHERE provider=? AND base_url=? AND method=? AND sha256=?",
                (provider, base_url, method, sha256),
            ).fetchone()
        if row is None:
            return None
        uri, expires_at = row
        if expires_at is not None and expires_at - time.time() <= max(min_remaining, MIN_REMAINING_LIFETIME):
            return None
        return uri

    def forget(self, provider: str, base_url: str, method: str, sha256: str) -> None:
        """Drop one entry (its object was deleted, or it no longer answers)."""
        with self._connect() as db:
            db.execute(
                "DELETE FROM hosted WHERE provider=? AND base_url=? AND method=? AND sha256=?",
                (provider, base_url, method, sha256),
            )

    def put(
        self, provider: str, base_url: str, method: str, sha256: str, uri: str, expires_at: float | None
    ) -> None:
        if method == "data-uri":  # the URI is the data itself: nothing to save
            return
        with self._connect() as db:
            db.execute(
                "INSERT INTO hosted (provider, base_url, method, sha256, uri, expires_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, base_url, method, sha256) DO UPDATE "
                "SET uri = excluded.uri, expires_at = excluded.expires_at, created_at = excluded.created_at",
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


def methods_for(provider: Provider) -> tuple[str, ...]:
    """The methods that can serve ``provider``: its own, plus ``"s3"`` wherever it takes media URLs
    (a presigned URL is a URL)."""
    methods = tuple(provider.hosting_methods)
    return methods if "url" not in methods or "s3" in methods else (*methods, "s3")


def _alternatives(client: ProviderClient, exclude: str) -> str:
    others = [m for m in methods_for(client.provider) if m != exclude]
    return ", ".join(f"'{m}'" for m in others) if others else "none"


_warned_data_uri: set[str] = set()


def _warn_data_uri_once(provider: Provider) -> None:
    if provider.name in _warned_data_uri:
        return
    _warned_data_uri.add(provider.name)
    log.warning(
        "%s has not been seen to accept data URIs: if it refuses the media, set LTX2_S3_BUCKET to host "
        "them on S3-compatible storage, or give *_url inputs.",
        provider.display_name,
    )


def _choose_method(media: MediaInput, client: ProviderClient, method: str, profile: str | None = None) -> str:
    provider = client.provider
    chosen = (method or "auto").strip().lower()
    if chosen not in HOSTING_METHODS:
        raise HostingError(
            f"Unknown hosting method '{method}'. Allowed: {', '.join(HOSTING_METHODS)}.",
            provider=provider.name,
        )
    if media.url is not None:
        return "url"  # already hosted: whatever the method, the URL is used as it is
    if chosen == "auto":
        chosen = provider.default_hosting
        if "upload" not in provider.hosting_methods and "url" in provider.hosting_methods:
            # The provider takes media only as URLs: the user's own bucket when one is configured.
            from .config import s3_settings

            if s3_settings(profile).configured:
                chosen = "s3"
            elif chosen == "data-uri":
                _warn_data_uri_once(provider)
    methods = methods_for(provider)
    if chosen not in methods:
        raise HostingError(
            f"{provider.display_name} does not support hosting method '{chosen}' for the {media.kind.value} input. "
            f"Methods that work with {provider.display_name}: {', '.join(methods)}.",
            provider=provider.name,
        )
    return chosen


def _check_size_by_url(media: MediaInput, client: ProviderClient) -> None:
    provider = client.provider
    limit = provider.media_limits(media.kind).max_bytes_url
    size = len(media.data or b"")
    if limit is not None and size > limit:
        raise HostingError(
            f"The {media.kind.value} input is {_size_text(size)}, over {provider.display_name}'s limit of "
            f"{_size_text(limit)}. Make it smaller (lower resolution, shorter or more compressed).",
            provider=provider.name,
        )


async def host_media(
    media: MediaInput,
    client: ProviderClient,
    method: str = "auto",
    cache: HostingCache | None = None,
    *,
    profile: str | None = None,
    store: S3Store | None = None,
) -> str:
    """One input -> URI. Raises HostingError naming the alternatives when the method cannot serve it.

    "upload" uses the provider's upload endpoint; for GMI Cloud that endpoint is unofficial (known
    from third-party code only) and may change. "s3" uses the bucket of ``profile``'s S3 settings
    (``store``: one already opened for them)."""
    provider = client.provider
    chosen = _choose_method(media, client, method, profile)

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

    _check_size_by_url(media, client)
    if chosen == "s3":
        return await _host_on_s3(media, client, cache, profile=profile, store=store)

    # "upload"
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


# --- S3-compatible storage -------------------------------------------------------------------------------

S3_CACHE_PROVIDER = "s3"  # a presigned URL serves every provider: the cache keys it by store, not provider


def _s3_settings_checked(profile: str | None, provider: Provider) -> S3Settings:
    from .config import config_path, s3_settings

    settings = s3_settings(profile)
    if not settings.configured:
        raise HostingError(
            f'Hosting method \'s3\' needs a bucket: set LTX2_S3_BUCKET (or "s3": {{"bucket": ...}} in the '
            f"config file {config_path()}), with LTX2_S3_ENDPOINT_URL for storage other than AWS.",
            provider=provider.name,
        )
    return settings


def _check_fetchable(provider: Provider, media: MediaInput, url: str, settings: S3Settings) -> None:
    """The provider's own URL rules (the LTX API: https, a host name, no IP literal) on the presigned URL."""
    bare = url.split("?", 1)[0]  # the rules are about scheme and host; the signature is never shown
    try:
        provider.check_media_url(media.kind.value, bare)
    except InvalidInputError as exc:
        found = re.search(r"': (.+?)\. Allowed:", exc.message)
        reason = found.group(1) if found else exc.message.rstrip(".")
        parts = urlsplit(bare)
        raise HostingError(
            f"{provider.display_name} cannot fetch inputs stored at {parts.scheme}://{parts.netloc}: {reason}. "
            f"Set {settings.setting('endpoint_url')} to an https:// endpoint with a host name, or use "
            f"another hosting method that works with {provider.display_name}.",
            provider=provider.name,
        ) from None


class _InUse:
    """Objects hosted for jobs of this process that are not collected yet (for the opt-in deletion)."""

    __slots__ = ("cache", "digest", "key", "store", "users")

    def __init__(self, store: S3Store, cache: HostingCache | None, key: str, digest: str) -> None:
        self.store, self.cache, self.key, self.digest, self.users = store, cache, key, digest, 0


_in_use: dict[tuple[str, str], _InUse] = {}
_in_use_by_url: dict[str, tuple[str, str]] = {}
_in_use_lock = threading.Lock()


def _track(url: str, store: S3Store, cache: HostingCache | None, key: str, digest: str) -> None:
    slot = (store.location, key)
    with _in_use_lock:
        entry = _in_use.setdefault(slot, _InUse(store, cache, key, digest))
        entry.users += 1
        _in_use_by_url[url] = slot


async def _host_on_s3(
    media: MediaInput,
    client: ProviderClient,
    cache: HostingCache | None,
    *,
    profile: str | None,
    store: S3Store | None,
) -> str:
    """Store ``media`` once (HEAD, then PUT only when absent), check the presigned URL as the provider
    will fetch it, and reuse a cached URL while it has at least half its lifetime left."""
    from . import s3

    provider = client.provider
    assert media.data is not None
    if store is None:
        settings = _s3_settings_checked(profile, provider)
        store = await asyncio.to_thread(s3.open_store, settings)
    settings = store.settings
    digest = media.sha256()
    key = s3.object_key(settings, digest, media.content_type, media.extension())
    where = store.location
    if store.temporary:
        cache = None  # its URLs carry the session token: never on disk
    if cache is not None:
        hit = await asyncio.to_thread(
            cache.get, S3_CACHE_PROVIDER, where, "s3", digest, min_remaining=settings.url_ttl / 2
        )
        if hit is not None:
            _check_fetchable(provider, media, hit, settings)
            try:
                await store.probe(hit)
            except HostingError:  # gone (deleted, lifecycle rule): store it again below
                await asyncio.to_thread(cache.forget, S3_CACHE_PROVIDER, where, "s3", digest)
            else:
                _track(hit, store, cache, key, digest)
                return hit
    url, expires_at = await asyncio.to_thread(store.presign, key)  # local: nothing sent yet
    _check_fetchable(provider, media, url, settings)
    await asyncio.to_thread(store.ensure, key, media.data, media.content_type, digest)
    await store.probe(url)
    if cache is not None:
        await asyncio.to_thread(cache.put, S3_CACHE_PROVIDER, where, "s3", digest, url, expires_at)
    _track(url, store, cache, key, digest)
    return url


async def release_request_media(uris: Mapping[str, str]) -> list[str]:
    """Call once a job is collected, with the URIs its inputs were hosted at. With
    ``LTX2_S3_DELETE_AFTER`` on, deletes the S3 objects among them that no other uncollected job of
    this process still uses, and forgets their cached URLs. Returns the deleted keys; never raises
    (a failed deletion only leaves an object behind, which is logged)."""
    done: list[_InUse] = []
    with _in_use_lock:
        for uri in uris.values():
            slot = _in_use_by_url.get(uri)
            entry = _in_use.get(slot) if slot is not None else None
            if entry is None:
                continue
            entry.users -= 1
            if entry.users <= 0:
                del _in_use[slot]  # type: ignore[arg-type]
                for url in [u for u, s in _in_use_by_url.items() if s == slot]:
                    del _in_use_by_url[url]
                if entry.store.settings.delete_after and entry not in done:
                    done.append(entry)
    deleted: list[str] = []
    for entry in done:
        try:
            await asyncio.to_thread(entry.store.delete, entry.key)
            if entry.cache is not None:
                await asyncio.to_thread(
                    entry.cache.forget, S3_CACHE_PROVIDER, entry.store.location, "s3", entry.digest
                )
        except Exception as exc:
            log.warning("Could not delete the stored input %s: %s", entry.key, exc)
            continue
        deleted.append(entry.key)
    return deleted


def _any_s3(req: GenerationRequest, client: ProviderClient, method: str, profile: str | None) -> bool:
    return any(
        media.url is None and _choose_method(media, client, method, profile) == "s3"
        for media in req.media().values()
    )


async def host_request_media(
    req: GenerationRequest,
    client: ProviderClient,
    method: str = "auto",
    cache: HostingCache | None = None,
    *,
    profile: str | None = None,
) -> dict[str, str]:
    """Every media input of a request -> {field: uri}, hosted concurrently (S3 inputs share one store)."""
    items = list(req.media().items())
    store: S3Store | None = None
    if _any_s3(req, client, method, profile):
        from .s3 import open_store

        store = await asyncio.to_thread(open_store, _s3_settings_checked(profile, client.provider))
    uris = await asyncio.gather(
        *(host_media(media, client, method, cache, profile=profile, store=store) for _, media in items)
    )
    return {name: uri for (name, _), uri in zip(items, uris, strict=True)}

"""Hosting: URL pass-through, data URIs within limits, the provider upload flow against the real
emulator, the content-addressed cache (expiry, threads, processes) and the errors naming alternatives."""

from __future__ import annotations

import asyncio
import base64
import io
import sqlite3
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.client import ProviderClient, RetryPolicy
from ltx2_nodes.api.emulator import Fault
from ltx2_nodes.api.emulator.core import file_token
from ltx2_nodes.api.errors import HostingError
from ltx2_nodes.api.hosting import HostingCache, host_media, host_request_media
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import GenerationRequest, MediaInput, MediaKind, Mode
from PIL import Image

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


async def fast_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.01))


def png(color: tuple[int, int, int] = (200, 30, 30), size: int = 64) -> MediaInput:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG", compress_level=1)
    return MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=buf.getvalue(), filename="in.png")


def client_for(emulator, provider: str = "gmi") -> ProviderClient:
    return ProviderClient(
        get_provider(provider),
        emulator.emulator.config.keys[provider],
        emulator.base_urls()[provider],
        retry=FAST_RETRY,
        sleep=fast_sleep,
    )


def offline_client(provider: str) -> ProviderClient:
    """A client for checks that fail before any request (nothing listens at this address)."""
    return ProviderClient(get_provider(provider), "unused-key-000", "http://127.0.0.1:9/x", sleep=fast_sleep)


def uploads(emulator) -> int:
    return sum(1 for e in emulator.emulator.log if e.provider == "gmi" and e.op == "upload")


# --- upload flow and cache -------------------------------------------------------------------------------


async def test_upload_flow_and_cache_hit(emulator, tmp_path: Path) -> None:
    cache = HostingCache(tmp_path / "cache.sqlite3")
    media = png()
    async with client_for(emulator) as client:
        uri = await host_media(media, client, "upload", cache)
        assert uploads(emulator) == 1
        assert emulator.emulator.files[file_token(uri)].data == media.data  # the bytes really arrived
        again = await host_media(media, client, "upload", cache)
        auto = await host_media(media, client, "auto", cache)  # GMI's default is the upload flow
    assert again == uri and auto == uri
    assert uploads(emulator) == 1  # second and third call: cache hits, no upload request
    entry = next(e for e in emulator.emulator.log if e.op == "upload")
    assert entry.method == "POST" and entry.path == "/gmi/upload-url" and entry.json == {"file_type": "png"}


async def test_ltx_upload_flow_with_required_headers(emulator, tmp_path: Path) -> None:
    cache = HostingCache(tmp_path / "cache.sqlite3")
    media = png((9, 9, 9))
    async with client_for(emulator, "ltx") as client:
        uri = await host_media(media, client, "auto", cache)
        again = await host_media(media, client, "upload", cache)
    assert uri.startswith("storage://") and again == uri
    assert emulator.emulator.files[file_token(uri)].data == media.data  # the signed PUT was accepted
    ltx_ops = [e.op for e in emulator.emulator.log if e.provider == "ltx"]
    assert ltx_ops.count("upload") == 1 and ltx_ops.count("put") == 1
    put = next(e for e in emulator.emulator.log if e.provider == "ltx" and e.op == "put")
    assert "Authorization" not in put.headers  # the storage PUT never carries the key


async def test_cache_is_per_content_and_base_url(emulator, tmp_path: Path) -> None:
    cache = HostingCache(tmp_path / "cache.sqlite3")
    async with client_for(emulator) as client:
        first = await host_media(png((1, 2, 3)), client, "upload", cache)
        second = await host_media(png((4, 5, 6)), client, "upload", cache)
    assert first != second
    assert uploads(emulator) == 2
    assert cache.get("gmi", "https://elsewhere.example", "upload", png((1, 2, 3)).sha256()) is None


async def test_upload_without_cache_uploads_each_time(emulator) -> None:
    media = png()
    async with client_for(emulator) as client:
        await host_media(media, client, "upload")
        await host_media(media, client, "upload")
    assert uploads(emulator) == 2


async def test_upload_faults_are_retried(emulator, tmp_path: Path) -> None:
    emulator.emulator.add_fault(Fault(op="upload", kind="http", provider="gmi", status=503))
    emulator.emulator.add_fault(Fault(op="put", kind="reset"))
    media = png()
    async with client_for(emulator) as client:
        uri = await host_media(media, client, "upload", HostingCache(tmp_path / "c.sqlite3"))
    assert uploads(emulator) == 2
    assert emulator.emulator.files[file_token(uri)].data == media.data


async def test_refused_put_is_a_hosting_error(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="put", kind="http", status=403, message="SignatureDoesNotMatch"))
    async with client_for(emulator) as client:
        with pytest.raises(HostingError, match="HTTP 403"):
            await host_media(png(), client, "upload")


async def test_host_request_media_hosts_every_input(emulator, tmp_path: Path) -> None:
    audio = MediaInput(kind=MediaKind.AUDIO, content_type="audio/wav", data=b"RIFF....WAVEfmt fake")
    image = png()
    req = GenerationRequest(provider="gmi", mode=Mode.AUDIO_TO_VIDEO, image=image, audio=audio)
    async with client_for(emulator) as client:
        uris = await host_request_media(req, client, "auto", HostingCache(tmp_path / "c.sqlite3"))
    assert set(uris) == {"image", "audio"}
    assert emulator.emulator.files[file_token(uris["image"])].data == image.data
    assert emulator.emulator.files[file_token(uris["audio"])].data == audio.data
    assert uploads(emulator) == 2


async def test_request_without_media_hosts_nothing(emulator) -> None:
    req = GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt="x")
    async with client_for(emulator) as client:
        assert await host_request_media(req, client) == {}
    assert emulator.emulator.log == []


# --- pass-through and data URIs -------------------------------------------------------------------------------


async def test_url_inputs_pass_through_without_requests(emulator) -> None:
    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", url="https://cdn.example.com/a.png")
    async with client_for(emulator) as client:
        for method in ("auto", "url", "upload", "data-uri"):
            assert await host_media(media, client, method) == "https://cdn.example.com/a.png"
    assert emulator.emulator.log == []


async def test_url_method_with_bytes_names_alternatives() -> None:
    async with offline_client("gmi") as client:
        with pytest.raises(HostingError) as info:
            await host_media(png(), client, "url")
    text = str(info.value)
    assert "'upload'" in text and "'data-uri'" in text and "URL" in text


async def test_url_method_refuses_other_schemes() -> None:
    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", url="ftp://files.example.com/a.png")
    async with offline_client("gmi") as client:
        with pytest.raises(HostingError, match="http"):
            await host_media(media, client, "url")


async def test_data_uri_round_trip() -> None:
    media = png()
    async with offline_client("gmi") as client:
        uri = await host_media(media, client, "data-uri")
    header, _, payload = uri.partition(",")
    assert header == "data:image/png;base64"
    assert base64.b64decode(payload) == media.data


async def test_data_uri_limit_names_size_limit_and_alternatives() -> None:
    big = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\0" * 7_000_001)
    async with offline_client("ltx") as client:
        with pytest.raises(HostingError) as info:
            await host_media(big, client, "data-uri")
    text = str(info.value)
    assert "7,000,001 bytes" in text  # the size
    assert "7,000,000 bytes" in text  # the limit
    assert "'upload'" in text and "'url'" in text  # the alternatives
    assert "LTX" in text


async def test_data_uri_at_the_limit_is_accepted() -> None:
    exact = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\1" * 7_000_000)
    async with offline_client("ltx") as client:
        uri = await host_media(exact, client, "data-uri")
    assert len(base64.b64decode(uri.partition(",")[2])) == 7_000_000


async def test_data_uris_are_not_cached(tmp_path: Path) -> None:
    cache = HostingCache(tmp_path / "c.sqlite3")
    media = png()
    async with offline_client("gmi") as client:
        await host_media(media, client, "data-uri", cache)
    with sqlite3.connect(tmp_path / "c.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM hosted").fetchone()[0] == 0


@given(
    data=st.binary(min_size=1, max_size=2048),
    ctype=st.sampled_from(["image/png", "image/jpeg", "image/webp"]),
)
@settings(max_examples=25, deadline=None)
def test_data_uri_property(data: bytes, ctype: str) -> None:
    media = MediaInput(kind=MediaKind.IMAGE, content_type=ctype, data=data)

    async def run() -> str:
        async with offline_client("apiinone") as client:
            return await host_media(media, client, "auto")  # API in One's default is a data URI

    uri = asyncio.run(run())
    header, _, payload = uri.partition(",")
    assert header == f"data:{ctype};base64"
    assert base64.b64decode(payload, validate=True) == data


# --- methods a provider cannot serve -----------------------------------------------------------------------------


async def test_method_not_offered_names_provider_and_working_methods() -> None:
    async with offline_client("apiinone") as client:
        with pytest.raises(HostingError) as info:
            await host_media(png(), client, "upload")
    text = str(info.value)
    assert "API in One" in text and "'upload'" in text and "data-uri, url" in text


async def test_s3_without_a_bucket_says_what_to_set(isolated_env: Path) -> None:
    async with offline_client("ltx") as client:
        with pytest.raises(HostingError, match="needs a bucket") as info:
            await host_media(png(), client, "s3")
    assert "LTX2_S3_BUCKET" in str(info.value) and "LTX2_S3_ENDPOINT_URL" in str(info.value)


async def test_unknown_method() -> None:
    async with offline_client("gmi") as client:
        with pytest.raises(HostingError, match="Allowed: auto, upload, data-uri, url, s3"):
            await host_media(png(), client, "ftp")


async def test_request_upload_without_endpoint() -> None:
    async with offline_client("apiinone") as client:
        with pytest.raises(HostingError, match="no upload endpoint"):
            await client.request_upload(png())


# --- the cache itself -------------------------------------------------------------------------------------------


def test_cache_expiry_margin(tmp_path: Path) -> None:
    cache = HostingCache(tmp_path / "c.sqlite3")
    now = time.time()
    cache.put("gmi", "b", "upload", "soon", "https://x/soon", now + 60)  # under 2 minutes left: unusable
    cache.put("gmi", "b", "upload", "later", "https://x/later", now + 600)
    cache.put("gmi", "b", "upload", "forever", "https://x/forever", None)
    cache.put("gmi", "b", "upload", "gone", "https://x/gone", now - 5)
    assert cache.get("gmi", "b", "upload", "soon") is None
    assert cache.get("gmi", "b", "upload", "later") == "https://x/later"
    assert cache.get("gmi", "b", "upload", "forever") == "https://x/forever"
    assert cache.get("gmi", "b", "upload", "gone") is None
    assert cache.get("gmi", "b", "url", "later") is None  # the method is part of the key
    assert cache.purge_expired() == 2
    cache.clear()
    assert cache.get("gmi", "b", "upload", "forever") is None


def test_cache_default_path_and_wal(isolated_env: Path) -> None:
    cache = HostingCache()
    assert cache.path == isolated_env / "data" / "hosting-cache.sqlite3"
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cache_is_thread_safe(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"

    def work(worker: int) -> None:
        cache = HostingCache(path)  # separate instances on one file, as separate nodes would have
        for i in range(25):
            cache.put("gmi", "b", "upload", f"{worker}-{i}", f"https://x/{worker}/{i}", None)
            assert cache.get("gmi", "b", "upload", f"{worker}-{i}") == f"https://x/{worker}/{i}"

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(6)))
    cache = HostingCache(path)
    assert all(cache.get("gmi", "b", "upload", f"{w}-{i}") for w in range(6) for i in range(25))


def test_cache_is_process_safe(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    HostingCache(path)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from ltx2_nodes.api.hosting import HostingCache
        cache = HostingCache(Path(sys.argv[1]))
        for i in range(40):
            cache.put("gmi", "b", "upload", sys.argv[2] + str(i), "https://x/" + sys.argv[2] + str(i), None)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), tag]) for tag in ("p", "q")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    cache = HostingCache(path)
    assert all(
        cache.get("gmi", "b", "upload", f"{t}{i}") == f"https://x/{t}{i}" for t in "pq" for i in range(40)
    )


async def test_cache_is_per_account(emulator, tmp_path: Path) -> None:
    # An upload made with one key is not handed to another account (LTX storage URIs are private).
    cache = HostingCache(tmp_path / "cache.sqlite3")
    media = png((7, 7, 7))
    async with client_for(emulator) as client:
        first = await host_media(media, client, "upload", cache)
    keys = emulator.emulator.config.keys
    keys["gmi"], original = "another-account-key-0042", keys["gmi"]
    try:
        other = ProviderClient(
            get_provider("gmi"), keys["gmi"], emulator.base_urls()["gmi"], retry=FAST_RETRY, sleep=fast_sleep
        )
        async with other:
            second = await host_media(media, other, "upload", cache)
            assert "another-account-key-0042" not in other.account and len(other.account) == 16
    finally:
        keys["gmi"] = original
    assert first != second and uploads(emulator) == 2

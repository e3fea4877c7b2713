"""Hosting method "s3" against a real S3 protocol server (moto's server mode in a subprocess on a
loopback port, no stubbed botocore) and the real emulator, which fetches the presigned URLs it is
given: upload, presign, provider fetch and result are one real round trip. Covers the three media
kinds on every provider that takes them, reuse by content, expiry, deletion, and each failure
(refused before any submit, in one line naming the setting to fix)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import hosting, runner
from ltx2_nodes.api.cli.demo import DemoInputs, smallest_request
from ltx2_nodes.api.client import ProviderClient, RetryPolicy
from ltx2_nodes.api.config import S3_URL_TTL_RANGE, s3_settings
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.errors import ConfigError, HostingError
from ltx2_nodes.api.hosting import HOSTING_METHODS, HostingCache, host_media, release_request_media
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.redact import redact_text
from ltx2_nodes.api.types import MediaInput, MediaKind, Mode

boto3 = pytest.importorskip("boto3")
if importlib.util.find_spec("moto") is None:  # moto runs as a separate server process, never imported here
    pytest.skip("moto[server] is not installed (the test extra has it)", allow_module_level=True)

FAST_RETRY = RetryPolicy(base_delay=0.05, max_delay=0.5)
AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server in a subprocess on a free loopback port, for the whole run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    logs = tmp_path_factory.mktemp("moto") / "moto.log"
    for _attempt in range(3):
        port = _free_port()
        with logs.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)  # polling a server that is still starting
        if proc.poll() is None:
            break
    else:
        pytest.fail(f"moto server did not start: {logs.read_text(errors='replace')[-2000:]}")
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _set_auth(endpoint: str, free_actions: str) -> None:
    """moto's IAM enforcement: "0" checks every request from now on, "inf" checks none."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=free_actions.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # moto reads the raw body
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200


class S3Env:
    def __init__(self, endpoint: str, bucket: str, secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.secret = secret
        self.monkeypatch = monkeypatch
        self.admin = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIAADMINEXAMPLE0000",
            aws_secret_access_key="admin-secret-not-used-by-the-pack",
        )

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.admin.list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    def versions(self) -> list[dict]:
        return self.admin.list_object_versions(Bucket=self.bucket).get("Versions", [])


@pytest.fixture
def aws_clean(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No AWS variable, shared file or instance metadata of this machine is ever used."""
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(isolated_env / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(isolated_env / "aws-config-absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(hosting, "_warned_data_uri", set())
    return isolated_env


@pytest.fixture
def s3_env(moto_endpoint: str, aws_clean: Path, monkeypatch: pytest.MonkeyPatch) -> S3Env:
    """A fresh bucket on the moto server, the LTX2_S3_* settings and AWS credentials for it."""
    secret = "moto-secret-" + secrets.token_hex(12)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTEXAMPLE00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bucket = f"ltx2-test-{secrets.token_hex(6)}"
    env = S3Env(moto_endpoint, bucket, secret, monkeypatch)
    env.admin.create_bucket(Bucket=bucket)
    monkeypatch.setenv("LTX2_S3_BUCKET", bucket)
    monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("LTX2_S3_REGION", "us-east-1")
    return env


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> DemoInputs:
    return DemoInputs(tmp_path_factory.mktemp("s3-inputs"))


def png(seed: int = 1, size: int = 48) -> MediaInput:
    return MediaInput(
        kind=MediaKind.IMAGE, content_type="image/png", data=synth.test_png(size, size, seed=seed)
    )


def offline_client(provider: str) -> ProviderClient:
    """A client for hosting alone (no provider request is made)."""
    return ProviderClient(get_provider(provider), "unused-key-000", "http://127.0.0.1:9/x")


def run_settings(tmp_path: Path, **over: Any) -> runner.RunSettings:
    values: dict[str, Any] = dict(
        output_dir=tmp_path / "out", hosting="s3", poll_interval=0.05, retry=FAST_RETRY
    )
    values.update(over)
    return runner.RunSettings(**values)


def submitted_uris(emulator: RunningEmulator) -> list[str]:
    """Every string in the submit bodies that points at the S3 server."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and "X-Amz-Signature=" in value:
            found.append(value)

    for entry in emulator.emulator.log:
        if entry.op == "submit":
            walk(entry.json)
    return found


def no_submits(emulator: RunningEmulator) -> bool:
    """Nothing reached the provider, and the journal says nothing was sent (no paid job to collect)."""
    records = Journal().list(limit=0)
    return sum(emulator.emulator.submit_requests.values()) == 0 and all(
        r.state is RecordState.REJECTED and r.provider_job_id is None for r in records
    )


# --- the round trip: upload, presign, provider fetch, result -----------------------------------------------

ROUND_TRIPS = [
    ("gmi", Mode.IMAGE_TO_VIDEO),
    ("apiinone", Mode.IMAGE_TO_VIDEO),
    ("ltx", Mode.IMAGE_TO_VIDEO),
    ("gmi", Mode.AUDIO_TO_VIDEO),
    ("ltx", Mode.AUDIO_TO_VIDEO),
    ("apiinone", Mode.LIPSYNC),
    ("gmi", Mode.RETAKE),
    ("ltx", Mode.EXTEND),
    ("apiinone", Mode.CONTROL),
]


@pytest.mark.parametrize(("provider", "mode"), ROUND_TRIPS, ids=[f"{p}-{m.value}" for p, m in ROUND_TRIPS])
async def test_generation_fetches_its_media_from_the_bucket(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs: DemoInputs, provider: str, mode: Mode
) -> None:
    req = smallest_request(provider, mode, inputs)
    result = await runner.generate(req, run_settings(tmp_path))
    assert result.path.is_file() and result.path.stat().st_size > 0
    assert emu_env.emulator.submit_requests[provider] == 1
    media = req.media()
    uris = submitted_uris(emu_env)
    assert len(uris) == len(media)  # every input went as a presigned URL of the bucket
    stored = set(s3_env.keys())
    for item in media.values():
        key = f"ltx2-inputs/{item.sha256()}.{item.extension()}"
        assert key in stored
        head = s3_env.admin.head_object(Bucket=s3_env.bucket, Key=key)
        assert head["ContentType"] == item.content_type and head["ContentLength"] == item.size
        assert any(urlsplit(u).path == f"/{s3_env.bucket}/{key}" for u in uris)
    for uri in uris:
        query = parse_qs(urlsplit(uri).query)
        assert query["X-Amz-Expires"] == [str(6 * 3600)]  # the default lifetime: hours, for a queued job


async def test_auto_on_api_in_one_runs_through_the_bucket_and_leaks_no_secret(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs: DemoInputs, caplog, monkeypatch
) -> None:
    token = "session-token-" + secrets.token_hex(16)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    caplog.set_level(logging.DEBUG)  # botocore's own debug log included
    req = smallest_request("apiinone", Mode.IMAGE_TO_VIDEO, inputs)
    result = await runner.generate(req, run_settings(tmp_path, hosting="auto"))
    assert result.path.is_file() and len(submitted_uris(emu_env)) == 1
    # The journal and the hosting cache (isolated_env keeps the data folder under tmp_path/data).
    journal_bytes = b"".join(f.read_bytes() for f in (tmp_path / "data").iterdir() if f.is_file())
    for secret in (s3_env.secret, token):
        assert secret not in caplog.text
        assert secret.encode() not in journal_bytes


async def test_a_key_profile_brings_its_own_bucket(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs: DemoInputs, monkeypatch
) -> None:
    monkeypatch.delenv("LTX2_S3_BUCKET")
    (tmp_path / "config.json").write_text(
        json.dumps({"profiles": {"studio": {"s3": {"bucket": s3_env.bucket, "prefix": "studio"}}}}),
        encoding="utf-8",
    )
    req = smallest_request("apiinone", Mode.IMAGE_TO_VIDEO, inputs)
    await runner.generate(req, run_settings(tmp_path, hosting="auto", profile="studio"))
    [uri] = submitted_uris(emu_env)
    assert urlsplit(uri).path.startswith(f"/{s3_env.bucket}/studio/")
    assert s3_env.keys() == [f"studio/{req.image.sha256()}.png"]  # type: ignore[union-attr]


@settings(max_examples=80)
@given(st.text(max_size=40), st.text(max_size=12))
def test_object_keys_are_content_names(content_type: str, extension: str) -> None:
    from ltx2_nodes.api.config import S3Settings
    from ltx2_nodes.api.s3 import object_key

    digest = "ab" * 32
    key = object_key(S3Settings(bucket="b", prefix="in/"), digest, content_type, extension)
    name, _, ext = key.removeprefix("in/").partition(".")
    assert name == digest and ext.isascii() and ext.isalnum() and 1 <= len(ext) <= 8 and ext == ext.lower()


# --- auto -----------------------------------------------------------------------------------------------------


async def test_auto_on_api_in_one_uses_the_bucket_when_one_is_configured(s3_env: S3Env, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="ltx2_nodes")
    async with offline_client("apiinone") as client:
        uri = await host_media(png(3), client, "auto", HostingCache())
    assert uri.startswith(f"{s3_env.endpoint}/{s3_env.bucket}/ltx2-inputs/")
    with urllib.request.urlopen(uri, timeout=30) as resp:  # the URL really serves the bytes
        assert resp.read() == png(3).data
    assert not [r for r in caplog.records if "data URI" in r.getMessage()]


async def test_auto_on_api_in_one_without_a_bucket_warns_once_and_sends_a_data_uri(
    aws_clean: Path, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="ltx2_nodes")
    async with offline_client("apiinone") as client:
        first = await host_media(png(4), client, "auto")
        second = await host_media(png(5), client, "auto")
    assert first.startswith("data:image/png;base64,") and second.startswith("data:image/png;base64,")
    warnings = [r.getMessage() for r in caplog.records if "data URI" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "API in One has not been seen to accept data URIs" in warnings[0]
    assert "LTX2_S3_BUCKET" in warnings[0]


async def test_auto_on_providers_with_an_upload_keeps_their_upload(
    emu_env: RunningEmulator, s3_env: S3Env
) -> None:
    key = emu_env.emulator.config.keys["gmi"]
    async with ProviderClient(get_provider("gmi"), key, emu_env.base_urls()["gmi"]) as client:
        uri = await host_media(png(6), client, "auto")
    assert not uri.startswith(s3_env.endpoint) and s3_env.keys() == []


# --- reuse, expiry, deletion ----------------------------------------------------------------------------------


async def test_equal_media_is_stored_once(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs
) -> None:
    s3_env.admin.put_bucket_versioning(Bucket=s3_env.bucket, VersioningConfiguration={"Status": "Enabled"})
    req = smallest_request("gmi", Mode.IMAGE_TO_VIDEO, inputs)
    await runner.generate(req, run_settings(tmp_path))
    again = dataclasses.replace(req, seed=8)  # another take of the same image: a new paid request
    await runner.generate(again, run_settings(tmp_path))
    assert emu_env.emulator.submit_requests["gmi"] == 2
    first, second = submitted_uris(emu_env)
    assert first == second  # the still-valid URL was reused
    # Without the cache (another machine, a cleared cache) the HEAD finds the object: still one PUT.
    HostingCache().clear()
    async with offline_client("gmi") as client:
        await host_media(req.image, client, "s3", HostingCache())  # type: ignore[arg-type]
    assert len(s3_env.versions()) == 1


async def test_a_url_near_its_expiry_is_not_reused(s3_env: S3Env, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = HostingCache()
    media = png(7)
    async with offline_client("ltx") as client:
        monkeypatch.setenv("LTX2_S3_URL_TTL", "60")
        short = await host_media(media, client, "s3", cache)
        monkeypatch.setenv("LTX2_S3_URL_TTL", "3600")
        fresh = await host_media(media, client, "s3", cache)
        monkeypatch.setenv("LTX2_S3_URL_TTL", "6000")  # wants 3000 s left: the 3600 s URL has them
        reused = await host_media(media, client, "s3", cache)

    def expires(url: str) -> str:
        return parse_qs(urlsplit(url).query)["X-Amz-Expires"][0]

    assert expires(short) == "60"
    assert expires(fresh) == "3600"  # the 60 s URL had too little life left: signed again
    assert reused == fresh  # still valid for over half the lifetime: the same URL
    assert len(s3_env.keys()) == 1


async def test_objects_are_deleted_once_the_job_is_collected_when_asked(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = smallest_request("apiinone", Mode.LIPSYNC, inputs)
    await runner.generate(req, run_settings(tmp_path))
    assert len(s3_env.keys()) == 2  # kept by default
    monkeypatch.setenv("LTX2_S3_DELETE_AFTER", "1")
    req = dataclasses.replace(req, seed=11)
    await runner.generate(req, run_settings(tmp_path))
    assert emu_env.emulator.submit_requests["apiinone"] == 2
    assert s3_env.keys() == []
    settings = s3_settings()
    assert settings.delete_after is True
    # The cached URL went with the object: the next run stores it again instead of sending a dead URL.
    async with offline_client("apiinone") as client:
        uri = await host_media(req.image, client, "s3", HostingCache())  # type: ignore[arg-type]
    with urllib.request.urlopen(uri, timeout=30) as resp:
        assert resp.read() == req.image.data  # type: ignore[union-attr]


async def test_an_object_another_job_still_uses_is_not_deleted(s3_env: S3Env, monkeypatch) -> None:
    monkeypatch.setenv("LTX2_S3_DELETE_AFTER", "true")
    media = png(9)
    async with offline_client("gmi") as client:
        first = await host_media(media, client, "s3", HostingCache())
        second = await host_media(media, client, "s3", HostingCache())
    assert first == second and len(s3_env.keys()) == 1
    assert await release_request_media({"image": first}) == []  # the second job is not collected yet
    assert len(s3_env.keys()) == 1
    [key] = await release_request_media({"image": second})
    assert s3_env.keys() == [] and key.endswith(".png")
    assert await release_request_media({"image": second}) == []  # released twice: nothing more


async def test_a_cached_url_whose_object_is_gone_is_stored_again(s3_env: S3Env) -> None:
    cache = HostingCache()
    media = png(13)
    async with offline_client("gmi") as client:
        first = await host_media(media, client, "s3", cache)
        [key] = s3_env.keys()
        s3_env.admin.delete_object(Bucket=s3_env.bucket, Key=key)  # e.g. a lifecycle rule
        again = await host_media(media, client, "s3", cache)
    assert s3_env.keys() == [key]
    with urllib.request.urlopen(again, timeout=30) as resp:
        assert resp.read() == media.data
    assert urlsplit(first).path == urlsplit(again).path


async def test_a_presigned_url_that_redirects_is_refused(aws_clean: Path, monkeypatch) -> None:
    """A hostile S3 endpoint on loopback: it stores the object but answers its URL with a redirect."""
    from aiohttp import web

    seen: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.method)
        if request.method == "HEAD":
            return web.Response(status=404)
        if request.method == "PUT":
            await request.read()
            return web.Response(status=200, headers={"ETag": '"0"'})
        body = "<Error><Code>PermanentRedirect</Code><Region>eu-west-1</Region></Error>"
        return web.Response(status=301, text=body, headers={"Location": "https://elsewhere.example/x"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    app_runner = web.AppRunner(app)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTEXAMPLE00002")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hostile-test-secret-0001")
        monkeypatch.setenv("LTX2_S3_BUCKET", "media")
        monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        async with offline_client("ltx") as client:
            with pytest.raises(HostingError) as info:
                await host_media(png(14), client, "s3", HostingCache())
    finally:
        await app_runner.cleanup()
    text = str(info.value)
    assert "redirect" in text and "eu-west-1" in text and "LTX2_S3_REGION" in text
    assert seen == ["HEAD", "PUT", "GET"]


# --- the provider's rules ---------------------------------------------------------------------------------


async def test_ltx_refuses_an_endpoint_that_is_an_ip_address(s3_env: S3Env, monkeypatch) -> None:
    # Nothing is sent there: the rule is checked on the signed URL before any request.
    monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", "https://93.184.216.34")
    async with offline_client("ltx") as client:
        with pytest.raises(HostingError) as info:
            await host_media(png(10), client, "s3", HostingCache())
    text = str(info.value)
    assert "IP address" in text and "LTX2_S3_ENDPOINT_URL" in text and "X-Amz" not in text


async def test_endpoints_no_provider_can_fetch_from_are_refused(aws_clean: Path, monkeypatch) -> None:
    monkeypatch.setenv("LTX2_S3_BUCKET", "media")
    for url, words in (
        ("http://storage.example.com", "plain http"),
        ("https://10.0.0.5:9000", "private"),
        ("https://169.254.169.254", "link-local"),
    ):
        monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", url)
        with pytest.raises(ConfigError, match="LTX2_S3_ENDPOINT_URL") as info:
            s3_settings()
        assert words in str(info.value)
    monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", "https://AKIAXYZ:hunter2secret@s3.example.com")
    with pytest.raises(ConfigError, match="credentials") as info:
        s3_settings()
    assert "hunter2secret" not in str(info.value)


async def test_size_limit_is_checked_before_anything_is_stored(s3_env: S3Env) -> None:
    big = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\0" * 15_000_001)
    async with offline_client("ltx") as client:
        with pytest.raises(HostingError, match=r"15,000,001 bytes"):
            await host_media(big, client, "s3", HostingCache())
    assert s3_env.keys() == []


async def test_s3_is_offered_wherever_urls_are_taken() -> None:
    assert HOSTING_METHODS == ("auto", "upload", "data-uri", "url", "s3")
    for name in ("gmi", "apiinone", "ltx"):
        assert "s3" in hosting.methods_for(get_provider(name))


# --- failures: one line naming the setting, before any submit ----------------------------------------------


async def _refused(
    emulator: RunningEmulator, tmp_path: Path, inputs: DemoInputs, provider: str = "ltx"
) -> str:
    req = smallest_request(provider, Mode.IMAGE_TO_VIDEO, inputs)
    with pytest.raises(HostingError) as info:
        await asyncio.wait_for(runner.generate(req, run_settings(tmp_path)), 120)
    assert no_submits(emulator)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


async def test_missing_bucket(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs, monkeypatch
) -> None:
    monkeypatch.setenv("LTX2_S3_BUCKET", "ltx2-no-such-bucket")
    text = await _refused(emu_env, tmp_path, inputs)
    assert "does not exist" in text and "LTX2_S3_BUCKET" in text and s3_env.secret not in text


async def test_no_bucket_configured(
    emu_env: RunningEmulator, aws_clean: Path, tmp_path: Path, inputs
) -> None:
    text = await _refused(emu_env, tmp_path, inputs, provider="gmi")
    assert "needs a bucket" in text and "LTX2_S3_BUCKET" in text


async def test_no_credentials_at_all(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs, monkeypatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    text = await _refused(emu_env, tmp_path, inputs, provider="apiinone")
    assert "No credentials" in text and "AWS_ACCESS_KEY_ID" in text and "AWS_PROFILE" in text


async def test_unknown_aws_profile(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs, monkeypatch
) -> None:
    monkeypatch.setenv("LTX2_S3_AWS_PROFILE", "nobody-here")
    text = await _refused(emu_env, tmp_path, inputs)
    assert "nobody-here" in text and "LTX2_S3_AWS_PROFILE" in text


async def test_unreachable_endpoint(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs, monkeypatch
) -> None:
    monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")  # nothing listens
    text = await _refused(emu_env, tmp_path, inputs)
    assert "Cannot reach" in text and "LTX2_S3_ENDPOINT_URL" in text and s3_env.secret not in text


@pytest.fixture
def moto_enforces_iam(s3_env: S3Env) -> Iterator[dict[str, str]]:
    """moto checks signatures and IAM policies for the test: a user without any policy is made first."""
    iam = boto3.client(
        "iam",
        endpoint_url=s3_env.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAADMINEXAMPLE0000",
        aws_secret_access_key="admin-secret-not-used-by-the-pack",
    )
    name = f"no-rights-{secrets.token_hex(4)}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    _set_auth(s3_env.endpoint, "0")
    try:
        yield {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        _set_auth(s3_env.endpoint, "inf")


async def test_access_denied(
    emu_env: RunningEmulator, s3_env: S3Env, moto_enforces_iam, tmp_path: Path, inputs, monkeypatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_enforces_iam["id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_enforces_iam["secret"])
    text = await _refused(emu_env, tmp_path, inputs)
    assert "denied" in text and "s3:PutObject" in text and "LTX2_S3_BUCKET" in text
    assert moto_enforces_iam["secret"] not in text


async def test_credentials_the_server_refuses(
    emu_env: RunningEmulator, s3_env: S3Env, moto_enforces_iam, tmp_path: Path, inputs, monkeypatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY0000000")
    text = await _refused(emu_env, tmp_path, inputs, provider="gmi")
    assert "refused the credentials" in text and "AWS_SECRET_ACCESS_KEY" in text
    assert s3_env.secret not in text


async def test_without_boto3_the_message_says_how_to_install_it(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, inputs, monkeypatch
) -> None:
    for name in [m for m in sys.modules if m == "boto3" or m.startswith(("boto3.", "botocore"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 fails as when it is not installed
    text = await _refused(emu_env, tmp_path, inputs)
    assert "pip install 'ltx2-nodes[s3]'" in text and "pip install boto3" in text


def test_the_cli_refuses_in_one_line(emulator: RunningEmulator, aws_clean: Path, tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(synth.test_png(96, 64, seed=1))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LTX2_", "AWS_")) and not k.endswith("_API_KEY")
    }
    env.update(emulator.env())
    env.update(
        LTX2_CONFIG=str(tmp_path / "config.json"),
        LTX2_DATA_DIR=str(tmp_path / "data"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        LTX2_S3_BUCKET="media",
        LTX2_S3_URL_TTL="forever",
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltx2_nodes.api.cli.main",
            "generate",
            "--provider",
            "apiinone",
            "--mode",
            "image-to-video",
            "--prompt",
            "x",
            "--image",
            str(image),
            "--hosting",
            "s3",
            "-o",
            str(tmp_path / "o.mp4"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("ltx2: error:")]
    assert "LTX2_S3_URL_TTL" in line and "forever" in line
    assert sum(emulator.emulator.submit_requests.values()) == 0


# --- credentials never leak ----------------------------------------------------------------------------------


async def test_the_secret_key_and_session_token_are_redacted(s3_env: S3Env, monkeypatch) -> None:
    token = "session-token-" + secrets.token_hex(16)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    async with offline_client("gmi") as client:
        url = await host_media(png(12), client, "s3")
    assert redact_text(f"a {s3_env.secret} b {token}") == "a *** b ***"
    assert "X-Amz-Signature=***" in redact_text(url) and token not in redact_text(url)


# --- settings ---------------------------------------------------------------------------------------------------


def _write_config(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_settings_order_profile_then_env_then_file(aws_clean: Path, monkeypatch) -> None:
    _write_config(
        aws_clean / "config.json",
        '{"s3": {"bucket": "top", "region": "eu-west-1", "prefix": "a/b", "url_ttl": 600},'
        ' "profiles": {"work": {"s3": {"bucket": "work-media", "delete_after": true}}}}',
    )
    top = s3_settings()
    assert (top.bucket, top.region, top.prefix, top.url_ttl, top.delete_after) == (
        "top",
        "eu-west-1",
        "a/b/",
        600,
        False,
    )
    assert top.addressing_style == "virtual" and "'s3.bucket' in the config file" in top.setting("bucket")
    monkeypatch.setenv("LTX2_S3_BUCKET", "from-env")
    monkeypatch.setenv("LTX2_S3_ENDPOINT_URL", "https://abc.r2.cloudflarestorage.com/")
    env = s3_settings()
    assert env.bucket == "from-env" and env.setting("bucket") == "LTX2_S3_BUCKET"
    assert env.endpoint_url == "https://abc.r2.cloudflarestorage.com" and env.addressing_style == "path"
    work = s3_settings("work")
    assert work.bucket == "work-media" and work.delete_after is True and work.region == "eu-west-1"
    assert "profile 'work'" in work.setting("bucket")


def test_credentials_in_the_config_file_are_refused_without_showing_them(aws_clean: Path) -> None:
    _write_config(aws_clean / "config.json", '{"s3": {"bucket": "b", "secret_access_key": "hunter2secret"}}')
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY") as info:
        s3_settings()
    assert "hunter2secret" not in str(info.value)
    _write_config(aws_clean / "config.json", '{"s3": {"bucket": "b", "colour": "red"}}')
    with pytest.raises(ConfigError, match=r"Unknown setting 's3\.colour'"):
        s3_settings()


@settings(max_examples=60)
@given(st.integers(-(10**6), 10**7))
def test_url_lifetime_is_checked(seconds: int) -> None:
    lo, hi = S3_URL_TTL_RANGE
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LTX2_CONFIG", "/nonexistent/ltx2-config.json")
        mp.setenv("LTX2_S3_URL_TTL", str(seconds))
        if lo <= seconds <= hi:
            assert s3_settings().url_ttl == seconds
        else:
            with pytest.raises(ConfigError, match="LTX2_S3_URL_TTL"):
                s3_settings()


@settings(max_examples=60)
@given(
    st.lists(st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._=-]{0,11}", fullmatch=True), min_size=1, max_size=4),
    st.booleans(),
)
def test_prefix_is_a_folder(parts: list[str], leading_slash: bool) -> None:
    text = ("/" if leading_slash else "") + "/".join(parts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LTX2_CONFIG", "/nonexistent/ltx2-config.json")
        mp.setenv("LTX2_S3_PREFIX", text)
        prefix = s3_settings().prefix
        assert prefix == text.lstrip("/") + "/" and not prefix.startswith("/")
        for bad in ("../up", "a//b", "s3://bucket/x", "with space"):
            mp.setenv("LTX2_S3_PREFIX", bad)
            with pytest.raises(ConfigError, match="LTX2_S3_PREFIX"):
                s3_settings()


def test_the_node_and_the_cli_offer_s3() -> None:
    from ltx2_nodes.api.cli.main import build_parser
    from ltx2_nodes.nodes.settings import LTX2ProviderSettings

    assert LTX2ProviderSettings.INPUT_TYPES()["required"]["hosting"][0] == list(HOSTING_METHODS)
    (value,) = LTX2ProviderSettings().build(hosting="s3")
    assert value.hosting == "s3"
    args = build_parser().parse_args(
        ["generate", "--provider", "gmi", "--mode", "text-to-video", "--hosting", "s3"]
    )
    assert args.hosting == "s3"


def test_loading_the_pack_does_not_import_boto3() -> None:
    code = "import sys, ltx2_nodes, ltx2_nodes.api.hosting; print(sorted(m for m in sys.modules if m.startswith(('boto', 'moto'))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


async def test_a_node_with_s3_hosting_sends_graph_media_through_the_bucket(
    emu_env: RunningEmulator, s3_env: S3Env, tmp_path: Path, monkeypatch
) -> None:
    import torch
    from ltx2_nodes.nodes.generation import LTX2Lipsync
    from ltx2_nodes.nodes.settings import LTX2ProviderSettings

    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("LTX2_POLL_INTERVAL", "0.05")
    (node_settings,) = LTX2ProviderSettings().build(hosting="s3")
    wave = synth.speech_like_audio(5.2, 48000, 1, 1)
    out = await LTX2Lipsync().generate(
        provider="API in One",
        model="auto",
        prompt="",
        resolution="720p",
        seed=0,
        audio={"waveform": torch.from_numpy(wave).unsqueeze(0), "sample_rate": 48000},
        image=torch.from_numpy(synth.test_image(96, 96, 2)).float().div(255.0).unsqueeze(0),
        settings=node_settings,
    )
    assert Path(out["result"][0].get_stream_source()).is_file()
    assert len(submitted_uris(emu_env)) == 2 and len(s3_env.keys()) == 2
    assert s3_env.secret not in out["result"][5]  # the info JSON

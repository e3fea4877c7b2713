"""The HTTP layer against real loopback servers: the URL policy on every fetch (result URLs, each
redirect hop, URL inputs, upload URLs) refused before connecting, connections pinned to the
checked address, caps on JSON answers, a deadline and a stall timeout on trickling downloads, the
user's download cap, and provider text cleaned of terminal control sequences. Names other than
loopback are resolved by an injected resolver; nothing but 127.0.0.1 is ever contacted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from ltx2_nodes.api import runner
from ltx2_nodes.api.client import ProviderClient, RetryPolicy, Timeouts
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import (
    ConfigError,
    DownloadError,
    HostingError,
    InvalidInputError,
    JobFailedError,
    LTX2Error,
    ProviderError,
    SubmitUncertainError,
)
from ltx2_nodes.api.net.urlmedia import fetch_url_media
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import GenerationRequest, MediaInput, MediaKind, Mode, SubmittedJob

FAST = RetryPolicy(attempts=2, submit_attempts=2, base_delay=0.01, max_delay=0.05)
ESC = "\x1b"


class Server:
    """A small hostile server of the test's own on 127.0.0.1, counting the requests it got."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.hits: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    def route(
        self, method: str, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> None:
        async def counted(request: web.Request) -> web.StreamResponse:
            self.hits.append(f"{request.method} {request.path} host={request.host}")
            return await handler(request)

        self.app.router.add_route(method, path, counted)

    async def start(self) -> Server:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    yield srv
    await srv.stop()


def resolver(table: dict[str, list[str]]):
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(table.get(host, []))

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


def gmi_client(base_url: str, key: str = "emulator-gmi-key", **kw) -> ProviderClient:
    return ProviderClient(get_provider("gmi"), key, base_url, retry=kw.pop("retry", FAST), **kw)


def job() -> SubmittedJob:
    return SubmittedJob(provider="gmi", mode=Mode.TEXT_TO_VIDEO, job_id="job-1")


def t2v() -> GenerationRequest:
    return GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-fast",
        prompt="a red fox in the snow",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
    )


async def video(request: web.Request) -> web.Response:
    return web.Response(body=b"\0\0\0\x18ftypmp42" + b"v" * 5000, content_type="video/mp4")


# --- the URL policy on every fetch ---------------------------------------------------------------------


async def test_a_result_url_whose_name_resolves_to_a_private_address_is_never_contacted(
    server: Server, tmp_path: Path
) -> None:
    await server.start()
    resolve = resolver({"cdn.video.example": ["10.20.30.40"]})
    async with gmi_client(server.url("/gmi"), resolver=resolve) as client:
        with pytest.raises(DownloadError) as info:
            await client.download("https://cdn.video.example/out.mp4", tmp_path / "v.mp4")
    assert "cdn.video.example" in str(info.value) and "private" in str(info.value)
    assert resolve.asked == ["cdn.video.example"]  # the check resolved the name; no socket was opened
    assert list(tmp_path.iterdir()) == []


async def test_every_redirect_hop_is_checked_before_connecting(server: Server, tmp_path: Path) -> None:
    async def to_metadata(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("https://metadata.internal.example/latest")

    async def to_http(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("http://downloads.example.com/v.mp4")

    server.route("GET", "/to-metadata", to_metadata)
    server.route("GET", "/to-http", to_http)
    await server.start()
    resolve = resolver({"metadata.internal.example": ["169.254.169.254"]})
    async with gmi_client(server.url("/gmi"), resolver=resolve) as client:
        with pytest.raises(DownloadError, match=r"metadata\.internal\.example.*link-local"):
            await client.download(server.url("/to-metadata"), tmp_path / "a.mp4")
        with pytest.raises(DownloadError, match=r"downloads\.example\.com.*plain http"):
            await client.download(server.url("/to-http"), tmp_path / "b.mp4")
    assert resolve.asked == ["metadata.internal.example"]
    assert len(server.hits) == 2  # only the loopback hops were requested


async def test_connections_are_pinned_to_the_checked_address(server: Server, tmp_path: Path) -> None:
    """A name checked as loopback cannot be rebound to another address for the connection: the
    address that was checked is the one connected to, resolved once per connection."""
    server.route("GET", "/v.mp4", video)
    await server.start()
    answers = iter([["127.0.0.1"], ["10.0.0.9"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    async with gmi_client(server.url("/gmi"), resolver=rebinding) as client:
        dest = await client.download(server.url("/v.mp4", host="cdn.localhost"), tmp_path / "v.mp4")
    assert dest.read_bytes()[4:8] == b"ftyp"
    assert server.hits == [f"GET /v.mp4 host=cdn.localhost:{server.port}"]
    assert next(answers) == ["10.0.0.9"]  # the second answer was never asked for


async def test_a_loopback_name_resolving_elsewhere_is_refused(server: Server, tmp_path: Path) -> None:
    server.route("GET", "/v.mp4", video)
    await server.start()
    resolve = resolver({"cdn.localhost": ["192.168.1.7"]})
    async with gmi_client(server.url("/gmi"), resolver=resolve) as client:
        with pytest.raises(DownloadError, match="private"):
            await client.download(server.url("/v.mp4", host="cdn.localhost"), tmp_path / "v.mp4")
    assert server.hits == []


async def test_url_inputs_follow_no_redirect_off_loopback(server: Server) -> None:
    async def hop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["to"])

    async def wav(request: web.Request) -> web.Response:
        return web.Response(body=b"RIFF" + b"\0" * 100, content_type="audio/wav")

    server.route("GET", "/hop", hop)
    server.route("GET", "/a.wav", wav)
    await server.start()
    assert await fetch_url_media(server.url(f"/hop?to={server.url('/a.wav')}")) == b"RIFF" + b"\0" * 100
    with pytest.raises(ValueError, match="plain http"):
        await fetch_url_media(server.url("/hop?to=http://media.example.com/a.wav"))
    with pytest.raises(ValueError, match="private"):
        await fetch_url_media(
            server.url("/hop?to=https://media.example.com/a.wav"),
            resolver=resolver({"media.example.com": ["172.16.5.5"]}),
        )
    # Through the runner: an InvalidInputError naming the input, before any paid request.
    req = GenerationRequest(
        provider="gmi",
        mode=Mode.AUDIO_TO_VIDEO,
        prompt="a singer",
        audio=MediaInput(
            kind=MediaKind.AUDIO, content_type="audio/wav", url=server.url("/hop?to=http://10.1.1.1/a.wav")
        ),
    )
    with pytest.raises(InvalidInputError, match="audio"):
        await runner.probe_url_media(req)
    assert sum("/hop" in h for h in server.hits) == 4 and sum("/a.wav" in h for h in server.hits) == 1


async def test_an_upload_url_to_a_link_local_address_is_refused_before_the_put(server: Server) -> None:
    async def slot(request: web.Request) -> web.Response:
        return web.json_response(
            {"upload_url": "http://169.254.169.254/upload?sig=1", "public_url": "https://cdn.example/i.png"}
        )

    server.route("POST", "/gmi/upload-url", slot)
    await server.start()
    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\x89PNG image")
    async with gmi_client(server.url("/gmi")) as client:
        with pytest.raises(HostingError, match=r"169\.254\.169\.254"):
            await client.request_upload(media)
        with pytest.raises(HostingError, match="link-local"):
            from ltx2_nodes.api.providers.base import UploadTicket

            await client.put_upload(UploadTicket("https://[fe80::1]/put", "u"), media.data, "image/png")
    assert server.hits == ["POST /gmi/upload-url host=" + f"127.0.0.1:{server.port}"]


# --- caps on JSON answers -------------------------------------------------------------------------------


async def test_a_huge_json_answer_is_abandoned_at_the_cap(server: Server) -> None:
    sent = {"bytes": 0}

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b" " * (1 << 20)
        try:
            await resp.write(b'{"status": "processing", "pad": "')
            for _ in range(300):  # 300 MB if anyone read it all
                await resp.write(chunk)
                sent["bytes"] += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    server.route("GET", "/gmi/requests/job-1", huge)
    await server.start()
    async with gmi_client(server.url("/gmi")) as client:
        with pytest.raises(ProviderError, match="larger than 4 MiB"):
            await client.status(job())
    assert sent["bytes"] < 64 << 20, "the client kept reading past its cap"


@pytest.mark.parametrize("status", [200, 400, 500])
async def test_deeply_nested_json_ends_in_a_clean_error(server: Server, status: int) -> None:
    async def deep(request: web.Request) -> web.Response:
        return web.Response(
            status=status, text="[" * 200_000 + "]" * 200_000, content_type="application/json"
        )

    server.route("GET", "/gmi/requests/job-1", deep)
    server.route("POST", "/gmi/requests", deep)
    await server.start()
    async with gmi_client(server.url("/gmi")) as client:
        with pytest.raises(LTX2Error) as polled:
            await client.status(job())
        with pytest.raises(LTX2Error) as submitted:
            await client.submit(t2v(), {})
    assert not isinstance(polled.value.__context__, RecursionError)
    if status == 200:
        assert "nested deeper" in str(polled.value)
        assert isinstance(submitted.value, SubmitUncertainError)  # it may have been accepted: never resent
    assert sum(h.startswith("POST") for h in server.hits) == 1


# --- download deadline, stall timeout, size cap ---------------------------------------------------------------


def _trickle(length: int = 1_000_000):
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "video/mp4", "Content-Length": str(length)})
        await resp.prepare(request)
        try:
            while True:  # a byte every so often, forever
                await resp.write(b"v")
                await asyncio.sleep(0.05)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        return resp

    return trickle


async def test_a_trickling_download_stalls_and_stays_resumable(server: Server, tmp_path: Path) -> None:
    server.route("GET", "/v.mp4", _trickle())
    await server.start()
    timeouts = Timeouts(download=120.0, stall=0.5, stall_bytes=4096)
    async with gmi_client(server.url("/gmi"), timeouts=timeouts) as client:
        with pytest.raises(DownloadError) as info:
            await asyncio.wait_for(client.download(server.url("/v.mp4"), tmp_path / "v.mp4"), 60)
    text = str(info.value)
    assert "stalled" in text and "ltx2 jobs resume ID" in text
    assert len(server.hits) == FAST.attempts  # tried again (a stall is often a bad connection)
    assert list(tmp_path.iterdir()) == []


async def test_the_download_deadline_fires_on_a_trickle(server: Server, tmp_path: Path) -> None:
    server.route("GET", "/v.mp4", _trickle())
    await server.start()
    timeouts = Timeouts(download=0.5, stall=3600.0)
    async with gmi_client(server.url("/gmi"), timeouts=timeouts) as client:
        with pytest.raises(DownloadError) as info:
            await asyncio.wait_for(client.download(server.url("/v.mp4"), tmp_path / "v.mp4"), 60)
    assert "did not finish within 0.5 s" in str(info.value) and "ltx2 jobs resume ID" in str(info.value)
    assert list(tmp_path.iterdir()) == []


async def test_the_download_deadline_bounds_a_server_that_never_answers(
    server: Server, tmp_path: Path
) -> None:
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.StreamResponse:
        await release.wait()  # no headers until the client has given up
        return web.Response(status=204)

    server.route("GET", "/v.mp4", silent)
    await server.start()
    try:
        async with gmi_client(server.url("/gmi"), timeouts=Timeouts(download=0.5)) as client:
            with pytest.raises(DownloadError, match=r"did not finish within 0\.5 s"):
                await asyncio.wait_for(client.download(server.url("/v.mp4"), tmp_path / "v.mp4"), 60)
    finally:
        release.set()


async def test_the_download_cap_comes_from_the_environment(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"v" * (3 << 20), content_type="video/mp4")

    server.route("GET", "/v.mp4", big)
    await server.start()
    monkeypatch.setenv("LTX2_MAX_DOWNLOAD_MB", "2")
    async with gmi_client(server.url("/gmi")) as client:
        with pytest.raises(DownloadError, match=r"over the download limit of 2097152 bytes \(2 MB\)") as info:
            await client.download(server.url("/v.mp4"), tmp_path / "v.mp4")
    assert "LTX2_MAX_DOWNLOAD_MB" in str(info.value) and "ltx2 jobs resume ID" in str(info.value)
    monkeypatch.setenv("LTX2_MAX_DOWNLOAD_MB", "4")
    async with gmi_client(server.url("/gmi")) as client:
        assert (await client.download(server.url("/v.mp4"), tmp_path / "w.mp4")).stat().st_size == 3 << 20
    for bad in ("lots", "0", "-5", "nan"):
        monkeypatch.setenv("LTX2_MAX_DOWNLOAD_MB", bad)
        with pytest.raises(ConfigError, match="LTX2_MAX_DOWNLOAD_MB"):
            gmi_client(server.url("/gmi"))  # refused before any request


# --- provider text ----------------------------------------------------------------------------------


async def test_provider_error_text_loses_its_control_sequences(server: Server) -> None:
    async def hostile(request: web.Request) -> web.Response:
        message = f"{ESC}]0;owned{chr(7)}{ESC}[2J{ESC}[1Abad \x9b31mprompt\r\x00 words\ttab"
        return web.json_response({"error": {"message": message, "type": "invalid_request"}}, status=400)

    server.route("POST", "/gmi/requests", hostile)
    await server.start()
    async with gmi_client(server.url("/gmi")) as client:
        with pytest.raises(LTX2Error) as info:
            await client.submit(t2v(), {})
    text = str(info.value)
    assert "bad prompt words\ttab" in text
    assert not any((ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F for ch in text), repr(text)
    assert ESC not in repr(info.value.raw)


async def test_failure_reasons_and_status_words_are_cleaned(emulator: RunningEmulator) -> None:
    emulator.emulator.config.max_render_side = 64
    emulator.emulator.add_fault(
        Fault(
            op="job", kind="fail", provider="gmi", message=f"{ESC}[31mflagged{ESC}[0m{ESC}]8;;http://x{ESC}\\"
        )
    )
    async with gmi_client(emulator.base_urls()["gmi"]) as client:
        submitted = await client.submit(t2v(), {})
        with pytest.raises(JobFailedError) as info:
            await client.wait(submitted, interval=0.05, timeout=60)
    assert "flagged" in str(info.value) and ESC not in str(info.value)


def test_a_closed_port_is_the_only_thing_a_refused_fetch_could_have_reached() -> None:
    # Sanity for the tests above: they never need the network; a socket to 127.0.0.1 is all they use.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        assert sock.getsockname()[0] == "127.0.0.1"


async def test_https_is_pinned_to_the_checked_address_and_verified_against_the_name(tmp_path: Path) -> None:
    """Over TLS the socket goes to the checked address while the certificate is still verified for
    the URL's name: a certificate for another name fails, and a name resolving to a private address
    is refused before connecting."""
    import ssl

    import trustme
    from ltx2_nodes.api.net.connections import build_http
    from ltx2_nodes.api.urlpolicy import UrlRefused

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("video.example").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    app = web.Application()
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.host)
        return web.Response(text="ok")

    app.router.add_get("/v", handler)
    runner_ = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner_.setup()
    site = web.TCPSite(runner_, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    table = {"video.example": ["127.0.0.1"], "other.example": ["127.0.0.1"], "intranet.example": ["10.9.8.7"]}
    http, pinned = build_http(Timeouts(), resolver=resolver(table), verify=client_ctx)
    try:
        assert pinned
        ok = await http.get(f"https://video.example:{port}/v")
        assert ok.text == "ok" and seen == [f"video.example:{port}"]
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname"):
            await http.get(f"https://other.example:{port}/v")  # the certificate names another host
        with pytest.raises(UrlRefused, match="private"):
            await http.get(f"https://intranet.example:{port}/v")
        assert len(seen) == 1
    finally:
        await http.aclose()
        await runner_.cleanup()


async def test_a_name_that_does_not_resolve_yet_is_tried_again(server: Server, tmp_path: Path) -> None:
    server.route("GET", "/v.mp4", video)
    await server.start()
    calls: list[str] = []

    async def flaky(host: str, port: int) -> list[str]:
        calls.append(host)
        if len(calls) == 1:
            raise OSError("temporary failure in name resolution")
        return ["127.0.0.1"]

    async with gmi_client(server.url("/gmi"), resolver=flaky) as client:
        dest = await client.download(server.url("/v.mp4", host="cdn.localhost"), tmp_path / "v.mp4")
    assert dest.exists() and calls == ["cdn.localhost", "cdn.localhost"] and len(server.hits) == 1

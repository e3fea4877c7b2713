"""ProviderClient against the real emulator over loopback HTTP: submit/poll/download, the money
rules for retries, faults on every call, limits on downloads, and keys kept out of errors and logs."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import string
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.client import ProviderClient, RetryPolicy, Timeouts, check_download_url, parse_retry_after
from ltx2_nodes.api.emulator import Fault
from ltx2_nodes.api.emulator.core import file_token
from ltx2_nodes.api.errors import (
    AuthError,
    DownloadError,
    Interrupted,
    JobCancelledError,
    JobFailedError,
    LTX2Error,
    NetworkError,
    PollTimeoutError,
    ProviderError,
    SubmitUncertainError,
)
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import GenerationRequest, JobState, Mode, SubmittedJob

FAST_RETRY = RetryPolicy(attempts=4, submit_attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.25)


class Sleeps:
    """Injected sleep: records each requested wait and sleeps at most 10 ms."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(min(seconds, 0.01))


def t2v(prompt: str = "a red fox in the snow") -> GenerationRequest:
    return GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-fast",
        prompt=prompt,
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,  # silent clips render several times faster in the emulator
    )


def make_client(
    emulator, *, key: str | None = None, base_url: str | None = None, **kw
) -> tuple[ProviderClient, Sleeps]:
    emulator.emulator.config.max_render_side = 64  # tiny renders (the fixture restores the default)
    sleeps = Sleeps()
    client = ProviderClient(
        get_provider("gmi"),
        key if key is not None else emulator.emulator.config.keys["gmi"],
        base_url or emulator.base_urls()["gmi"],
        retry=kw.pop("retry", FAST_RETRY),
        sleep=sleeps,
        **kw,
    )
    return client, sleeps


def log_of(emulator, op: str) -> list:
    return [entry for entry in emulator.emulator.log if entry.provider == "gmi" and entry.op == op]


def no_render(emulator) -> None:
    """Jobs created next never finish, so nothing is rendered: for tests that only submit or poll."""
    emulator.emulator.add_fault(Fault(op="job", kind="stuck", provider="gmi", count=10))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def finished_job(client: ProviderClient) -> tuple[SubmittedJob, str]:
    job = await client.submit(t2v(), {})
    status = await client.wait(job, interval=0.05, timeout=60)
    assert status.video_url
    return job, status.video_url


# --- the happy path ----------------------------------------------------------------------------------------


async def test_submit_wait_download(emulator, tmp_path: Path) -> None:
    client, _ = make_client(emulator)
    seen: list[JobState] = []
    progress: list[tuple[int, int | None]] = []
    async with client:
        job = await client.submit(t2v(), {})
        assert job.provider == "gmi" and job.mode is Mode.TEXT_TO_VIDEO and job.job_id
        status = await client.wait(job, interval=0.05, timeout=60, on_status=lambda s: seen.append(s.state))
        assert status.state is JobState.SUCCEEDED
        dest = tmp_path / "out" / "video.mp4"
        path = await client.download(status.video_url, dest, on_progress=lambda d, t: progress.append((d, t)))
    assert path == dest
    data = dest.read_bytes()
    assert data[4:8] == b"ftyp"  # an MP4
    assert not dest.with_suffix(".part").exists()
    assert seen[-1] is JobState.SUCCEEDED and all(s in (JobState.QUEUED, JobState.RUNNING) for s in seen[:-1])
    assert progress[-1] == (len(data), len(data))

    submits = log_of(emulator, "submit")
    assert len(submits) == 1
    entry = submits[0]
    assert entry.method == "POST"
    assert entry.path == "/gmi/requests"
    assert entry.headers["Authorization"] == f"Bearer {emulator.emulator.config.keys['gmi']}"
    assert entry.json == {
        "model": "ltx-2-fast-text-to-video",
        "payload": {
            "prompt": "a red fox in the snow",
            "duration": 6,
            "resolution": "1920x1080",
            "fps": 25,
            "generate_audio": False,
        },
    }
    polls = log_of(emulator, "status")
    assert polls and all(p.method == "GET" and p.path == f"/gmi/requests/{job.job_id}" for p in polls)
    assert emulator.emulator.jobs_created["gmi"] == 1


# --- submit: the money rules ----------------------------------------------------------------------------------


async def test_submit_429_with_retry_after_is_resent(emulator) -> None:
    no_render(emulator)
    emulator.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=429, retry_after=0.02))
    client, sleeps = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
    assert job.job_id
    assert emulator.emulator.submit_requests["gmi"] == 2
    assert emulator.emulator.jobs_created["gmi"] == 1
    assert sleeps.calls == [pytest.approx(0.02)]  # Retry-After honoured, not the backoff


async def test_retry_after_is_capped_by_max_delay(emulator) -> None:
    no_render(emulator)
    emulator.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=429, retry_after=3600))
    client, sleeps = make_client(emulator)
    async with client:
        await client.submit(t2v(), {})
    assert sleeps.calls == [FAST_RETRY.max_delay]


async def test_submit_503_is_resent(emulator) -> None:
    no_render(emulator)
    emulator.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=503))
    client, sleeps = make_client(emulator)
    async with client:
        await client.submit(t2v(), {})
    assert emulator.emulator.submit_requests["gmi"] == 2
    assert emulator.emulator.jobs_created["gmi"] == 1
    assert len(sleeps.calls) == 1


async def test_submit_429_every_time_gives_up(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=429, count=10))
    client, _ = make_client(emulator)
    async with client:
        with pytest.raises(LTX2Error) as info:
            await client.submit(t2v(), {})
    assert info.value.status_code == 429
    assert emulator.emulator.submit_requests["gmi"] == FAST_RETRY.submit_attempts
    assert emulator.emulator.jobs_created["gmi"] == 0


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_submit_5xx_is_never_resent(emulator, status: int) -> None:
    emulator.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=status))
    client, sleeps = make_client(emulator)
    async with client:
        with pytest.raises(SubmitUncertainError) as info:
            await client.submit(t2v(), {})
    assert emulator.emulator.submit_requests["gmi"] == 1
    assert sleeps.calls == []
    assert info.value.status_code == status
    assert "not resent" in str(info.value) and "ltx2 jobs list" in str(info.value)


async def test_submit_4xx_is_typed_and_not_resent(emulator) -> None:
    client, _ = make_client(emulator, key="wrong-key-000111")
    async with client:
        with pytest.raises(AuthError):
            await client.submit(t2v(), {})
    assert emulator.emulator.submit_requests["gmi"] == 1


async def test_submit_reset_is_uncertain(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="submit", kind="reset", provider="gmi"))
    client, sleeps = make_client(emulator)
    async with client:
        with pytest.raises(SubmitUncertainError):
            await client.submit(t2v(), {})
    assert emulator.emulator.submit_requests["gmi"] == 1
    assert sleeps.calls == []


async def test_submit_reset_after_accept_is_not_resent(emulator) -> None:
    no_render(emulator)
    emulator.emulator.add_fault(Fault(op="submit", kind="reset", provider="gmi", after_accept=True))
    client, _ = make_client(emulator)
    async with client:
        with pytest.raises(SubmitUncertainError):
            await client.submit(t2v(), {})
    assert emulator.emulator.jobs_created["gmi"] == 1  # the job exists (and would be billed) ...
    assert emulator.emulator.submit_requests["gmi"] == 1  # ... and was not sent twice


async def test_submit_malformed_answer_is_uncertain(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="submit", kind="malformed", provider="gmi"))
    client, _ = make_client(emulator)
    async with client:
        with pytest.raises(SubmitUncertainError, match="no job id"):
            await client.submit(t2v(), {})
    assert emulator.emulator.submit_requests["gmi"] == 1


async def test_submit_connection_refused_is_resent_then_network_error(emulator) -> None:
    client, sleeps = make_client(emulator, base_url=f"http://127.0.0.1:{closed_port()}/gmi")
    async with client:
        with pytest.raises(NetworkError) as info:
            await client.submit(t2v(), {})
    # Nothing reached a server, so every allowed attempt was made: one wait between each.
    assert len(sleeps.calls) == FAST_RETRY.submit_attempts - 1
    assert "could not be reached" in str(info.value)
    assert emulator.emulator.submit_requests["gmi"] == 0


# --- status ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "count"),
    [
        ("http", 429, 1),
        ("http", 500, 1),
        ("http", 502, 1),
        ("http", 503, 1),
        ("http", 504, 1),
        ("reset", 500, 1),
        ("malformed", 500, 1),
        ("http", 503, 3),
    ],
    ids=["429", "500", "502", "503", "504", "reset", "malformed", "503x3"],
)
async def test_status_faults_are_retried(emulator, kind: str, status: int, count: int) -> None:
    no_render(emulator)
    client, sleeps = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        emulator.emulator.add_fault(Fault(op="status", kind=kind, provider="gmi", status=status, count=count))
        answer = await client.status(job)
    assert answer.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
    assert len(log_of(emulator, "status")) == count + 1
    assert len(sleeps.calls) == count


async def test_status_gives_up_after_attempts(emulator) -> None:
    no_render(emulator)
    client, _ = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        emulator.emulator.add_fault(Fault(op="status", kind="http", provider="gmi", status=502, count=20))
        with pytest.raises(ProviderError) as info:
            await client.status(job)
    assert info.value.status_code == 502
    assert len(log_of(emulator, "status")) == FAST_RETRY.attempts


async def test_status_404_is_not_retried(emulator) -> None:
    client, _ = make_client(emulator)
    async with client:
        with pytest.raises(LTX2Error) as info:
            await client.status(SubmittedJob(provider="gmi", mode=Mode.TEXT_TO_VIDEO, job_id="no-such-job"))
    assert info.value.status_code == 404
    assert len(log_of(emulator, "status")) == 1


async def test_wait_recovers_from_status_faults(emulator) -> None:
    client, _ = make_client(emulator, retry=RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05))
    async with client:
        job = await client.submit(t2v(), {})
        for kind, status in (("http", 502), ("reset", 500), ("malformed", 500), ("http", 429)):
            emulator.emulator.add_fault(Fault(op="status", kind=kind, provider="gmi", status=status))
        final = await client.wait(job, interval=0.05, timeout=60)
    assert final.state is JobState.SUCCEEDED


async def test_unknown_status_is_an_error_after_a_few_answers(emulator) -> None:
    no_render(emulator)
    client, _ = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        emulator.emulator.add_fault(Fault(op="status", kind="unknown-status", provider="gmi", count=50))
        with pytest.raises(ProviderError, match="mystery_state"):
            await client.wait(job, interval=0.05, timeout=60)
    assert len(log_of(emulator, "status")) == 3


async def test_one_unknown_status_is_tolerated(emulator) -> None:
    client, _ = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        emulator.emulator.add_fault(Fault(op="status", kind="unknown-status", provider="gmi", count=2))
        final = await client.wait(job, interval=0.05, timeout=60)
    assert final.state is JobState.SUCCEEDED


async def test_job_failure_carries_the_reason(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="job", kind="fail", provider="gmi", message="GPU node fell over"))
    client, _ = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        with pytest.raises(JobFailedError, match="GPU node fell over") as info:
            await client.wait(job, interval=0.05, timeout=60)
    assert job.job_id in str(info.value)


async def test_cancelled_job(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="job", kind="cancel", provider="gmi"))
    client, _ = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        with pytest.raises(JobCancelledError, match="cancelled"):
            await client.wait(job, interval=0.05, timeout=60)
        assert await client.cancel(job) is False  # GMI documents no cancel call


async def test_stuck_job_times_out(emulator) -> None:
    emulator.emulator.add_fault(Fault(op="job", kind="stuck", provider="gmi"))
    now = [0.0]

    async def virtual_sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    client = ProviderClient(
        get_provider("gmi"),
        emulator.emulator.config.keys["gmi"],
        emulator.base_urls()["gmi"],
        retry=FAST_RETRY,
        sleep=virtual_sleep,
        clock=lambda: now[0],
    )
    async with client:
        job = await client.submit(t2v(), {})
        with pytest.raises(PollTimeoutError, match="did not finish within 10 s") as info:
            await client.wait(job, interval=2.0, timeout=10.0)
    assert "ltx2 jobs resume" in str(info.value)
    # 10 s of virtual time at a 2 s interval: polls at 0, 2, 4, 6, 8, 10.
    assert len(log_of(emulator, "status")) == 6


async def test_cancel_check_interrupts_within_slices(emulator) -> None:
    no_render(emulator)
    emulator.emulator.add_fault(Fault(op="job", kind="stuck", provider="gmi"))
    client, sleeps = make_client(emulator)
    checks = {"n": 0}

    def cancel_check() -> bool:
        checks["n"] += 1
        return checks["n"] >= 4

    async with client:
        job = await client.submit(t2v(), {})
        with pytest.raises(Interrupted, match="can be resumed"):
            await client.wait(job, interval=30.0, timeout=600, cancel_check=cancel_check)
    # One poll, then 0.25 s slices with a check before each: stopped after 2 slices (0.5 s), not 30 s.
    assert len(log_of(emulator, "status")) == 1
    assert sleeps.calls == [0.25, 0.25]


async def test_wait_interval_has_a_floor(emulator) -> None:
    client, sleeps = make_client(emulator)
    async with client:
        job = await client.submit(t2v(), {})
        await client.wait(job, interval=0.0, timeout=60)
    assert sleeps.calls and min(sleeps.calls) >= 0.05 - 1e-9


# --- download --------------------------------------------------------------------------------------------------


async def test_truncated_download_is_retried_to_a_complete_file(emulator, tmp_path: Path) -> None:
    client, sleeps = make_client(emulator)
    async with client:
        _, url = await finished_job(client)
        expected = emulator.emulator.files[file_token(url)].data
        emulator.emulator.add_fault(Fault(op="download", kind="truncate"))
        dest = await client.download(url, tmp_path / "v.mp4")
    assert dest.read_bytes() == expected
    assert len(sleeps.calls) >= 1  # one retry pause


async def test_expired_download_url(emulator, tmp_path: Path) -> None:
    client, _ = make_client(emulator)
    async with client:
        _, url = await finished_job(client)
        emulator.emulator.add_fault(Fault(op="download", kind="expire"))
        with pytest.raises(DownloadError, match="expired") as info:
            await client.download(url, tmp_path / "v.mp4")
    assert info.value.status_code == 403
    assert "resume" in str(info.value)
    assert list(tmp_path.iterdir()) == []


async def test_download_byte_cap_leaves_no_file(emulator, tmp_path: Path) -> None:
    client, _ = make_client(emulator)
    async with client:
        _, url = await finished_job(client)
        with pytest.raises(DownloadError, match="limit of 1000 bytes"):
            await client.download(url, tmp_path / "v.mp4", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


async def test_download_byte_cap_counts_streamed_bytes(emulator, tmp_path: Path) -> None:
    """A server that sends no Content-Length is still stopped at the cap."""
    from aiohttp import web

    payload = b"x" * 300_000

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(payload), 50_000):
            await resp.write(payload[i : i + 50_000])
        return resp

    app = web.Application()
    app.router.add_get("/v.mp4", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        client, _ = make_client(emulator)
        async with client:
            with pytest.raises(DownloadError, match="more than 100000 bytes"):
                await client.download(f"http://127.0.0.1:{port}/v.mp4", tmp_path / "v.mp4", max_bytes=100_000)
            ok = await client.download(f"http://127.0.0.1:{port}/v.mp4", tmp_path / "w.mp4")
        assert not (tmp_path / "v.mp4").exists() and not (tmp_path / "v.part").exists()
        assert ok.read_bytes() == payload
    finally:
        await runner.cleanup()


async def test_truncated_download_resumes_with_range(emulator, tmp_path: Path) -> None:
    """A server that accepts ranges gets a Range request for the missing tail, not a full resend."""
    from aiohttp import web

    payload = bytes(range(256)) * 1000
    seen_ranges: list[str | None] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        rng = request.headers.get("Range")
        seen_ranges.append(rng)
        if rng is None:  # first try: promise everything, send a third, drop the connection
            resp = web.StreamResponse(headers={"Content-Length": str(len(payload)), "Accept-Ranges": "bytes"})
            await resp.prepare(request)
            await resp.write(payload[: len(payload) // 3])
            request.transport.abort()
            return resp
        start = int(rng.removeprefix("bytes=").rstrip("-"))
        return web.Response(
            status=206,
            body=payload[start:],
            headers={
                "Content-Range": f"bytes {start}-{len(payload) - 1}/{len(payload)}",
                "Accept-Ranges": "bytes",
            },
        )

    app = web.Application()
    app.router.add_get("/v.mp4", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        client, _ = make_client(emulator)
        async with client:
            dest = await client.download(f"http://127.0.0.1:{port}/v.mp4", tmp_path / "v.mp4")
    finally:
        await runner.cleanup()
    assert dest.read_bytes() == payload
    assert seen_ranges[0] is None
    assert len(seen_ranges) == 2 and seen_ranges[1].startswith("bytes=") and seen_ranges[1] != "bytes=0-"


@pytest.mark.parametrize(
    "url",
    ["http://example.com/video.mp4", "http://10.1.2.3/v.mp4", "ftp://127.0.0.1/v.mp4", "file:///etc/passwd"],
)
async def test_download_refuses_non_https_before_connecting(emulator, tmp_path: Path, url: str) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        client, _ = make_client(emulator, http=http)
        with pytest.raises(DownloadError) as info:
            await client.download(url, tmp_path / "v.mp4")
    assert sent == []
    host = httpx.URL(url).host
    if host:
        assert host in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_check_download_url_allows_https_and_loopback() -> None:
    for url in (
        "https://storage.googleapis.com/b/o.mp4?X-Goog-Signature=x",
        "http://127.0.0.1:8/x",
        "http://localhost/x",
    ):
        assert check_download_url(url) == url


async def test_no_key_sent_to_other_download_hosts(emulator, tmp_path: Path) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    # The same emulator reached as "localhost" is another host than 127.0.0.1 for the client.
    base = emulator.base_urls()["gmi"].replace("127.0.0.1", "localhost")
    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        client, _ = make_client(emulator, http=http, base_url=base)
        job = await client.submit(t2v(), {})
        status = await client.wait(job, interval=0.05, timeout=60)
        url = status.video_url.replace("localhost", "127.0.0.1")  # the output host differs from the API host
        await client.download(url, tmp_path / "v.mp4")
    api_calls = [r for r in sent if r.url.host == "localhost"]
    downloads = [r for r in sent if r.url.host == "127.0.0.1"]
    assert api_calls and all("authorization" in r.headers for r in api_calls)
    assert downloads and all("authorization" not in r.headers for r in downloads)


# --- upload -------------------------------------------------------------------------------------------------------


async def test_put_upload_carries_no_authorization(emulator) -> None:
    from ltx2_nodes.api.types import MediaInput, MediaKind

    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\x89PNG fake")
    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        client, _ = make_client(emulator, http=http)
        ticket = await client.request_upload(media)
        await client.put_upload(ticket, media.data, media.content_type)
    put = [r for r in sent if r.method == "PUT"]
    assert len(put) == 1
    assert "authorization" not in put[0].headers
    assert put[0].headers["content-type"] == "image/png"
    assert emulator.emulator.files[file_token(ticket.uri)].data == media.data


async def test_put_upload_retries_server_errors(emulator) -> None:
    from ltx2_nodes.api.types import MediaInput, MediaKind

    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\x89PNG again")
    client, sleeps = make_client(emulator)
    async with client:
        ticket = await client.request_upload(media)
        emulator.emulator.add_fault(Fault(op="put", kind="http", status=503))
        await client.put_upload(ticket, media.data, media.content_type)
    assert len(sleeps.calls) == 1
    assert emulator.emulator.files[file_token(ticket.uri)].data == media.data


# --- keys stay out of errors and logs ----------------------------------------------------------------------------

_key_chars = string.ascii_letters + string.digits + "-_."


@given(key=st.text(_key_chars, min_size=6, max_size=40).map(lambda s: "Kx7" + s))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_wrong_key_never_appears_in_errors_or_logs(
    emulator, caplog: pytest.LogCaptureFixture, key: str
) -> None:
    caplog.clear()

    async def run() -> LTX2Error:
        client, _ = make_client(emulator, key=key)
        async with client:
            with pytest.raises(AuthError) as info:
                await client.submit(t2v(), {})
            with pytest.raises(LTX2Error) as info2:
                await client.status(SubmittedJob(provider="gmi", mode=Mode.TEXT_TO_VIDEO, job_id="x"))
            assert key not in str(info2.value) and key not in repr(info2.value.raw)
            assert key not in repr(client)
            return info.value

    with caplog.at_level(logging.DEBUG, logger="ltx2_nodes"):
        err = asyncio.run(run())
    assert any(
        entry.headers.get("Authorization") == f"Bearer {key}" for entry in emulator.emulator.log
    )  # it was sent
    assert key not in str(err)
    assert key not in repr(err.raw)
    assert caplog.records  # the calls were logged ...
    assert key not in caplog.text  # ... without the key


# --- Retry-After parsing ----------------------------------------------------------------------------------------


@given(seconds=st.integers(0, 10**6))
def test_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == seconds


@given(offset=st.integers(1, 10**5))
def test_retry_after_http_date(offset: int) -> None:
    now = time.time()
    header = email.utils.formatdate(now + offset, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(offset, abs=1.0)


def test_retry_after_past_date_and_garbage() -> None:
    assert parse_retry_after(email.utils.formatdate(time.time() - 100, usegmt=True)) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None


@given(text=st.text(max_size=30))
def test_retry_after_never_raises(text: str) -> None:
    value = parse_retry_after(text)
    assert value is None or value >= 0


def test_timeouts_reach_httpx(emulator) -> None:
    client, _ = make_client(emulator, timeouts=Timeouts(connect=1.5, read=2.5, write=3.5, pool=4.5))
    timeout = client._http.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (1.5, 2.5, 3.5, 4.5)
    assert client._http.follow_redirects is False
    asyncio.run(client.aclose())


# --- synchronous generate (LTX v1): the answer body is the MP4 --------------------------------------------------


def ltx_client(emulator) -> tuple[ProviderClient, Sleeps]:
    emulator.emulator.config.max_render_side = 64
    sleeps = Sleeps()
    client = ProviderClient(
        get_provider("ltx"),
        emulator.emulator.config.keys["ltx"],
        emulator.base_urls()["ltx"],
        retry=FAST_RETRY,
        sleep=sleeps,
    )
    return client, sleeps


def ltx_t2v() -> GenerationRequest:
    return GenerationRequest(
        provider="ltx",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-fast",
        prompt="a lighthouse at dusk",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
    )


def ltx_submits(emulator) -> list:
    return [e for e in emulator.emulator.log if e.provider == "ltx" and e.op == "submit"]


# --- more download limits -------------------------------------------------------------------------------------


async def test_download_cancel_check_stops_and_cleans_up(emulator, tmp_path: Path) -> None:
    client, _ = make_client(emulator)
    async with client:
        _, url = await finished_job(client)
        with pytest.raises(Interrupted):
            await client.download(url, tmp_path / "v.mp4", cancel_check=lambda: True)
    assert list(tmp_path.iterdir()) == []


async def test_download_deadline(emulator, tmp_path: Path) -> None:
    client, _ = make_client(emulator, timeouts=Timeouts(download=0.0))
    async with client:
        _, url = await finished_job(client)
        with pytest.raises(DownloadError, match="did not finish within 0 s"):
            await client.download(url, tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


async def test_download_follows_safe_redirects_only(emulator, tmp_path: Path) -> None:
    from aiohttp import web

    async def hop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/final.mp4")

    async def unsafe(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("http://example.com/final.mp4")

    async def final(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"video-bytes" * 100, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/hop.mp4", hop)
    app.router.add_get("/unsafe.mp4", unsafe)
    app.router.add_get("/final.mp4", final)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        client, _ = make_client(emulator)
        async with client:
            dest = await client.download(f"http://127.0.0.1:{port}/hop.mp4", tmp_path / "a.mp4")
            with pytest.raises(DownloadError, match=r"example\.com"):
                await client.download(f"http://127.0.0.1:{port}/unsafe.mp4", tmp_path / "b.mp4")
    finally:
        await runner.cleanup()
    assert dest.read_bytes() == b"video-bytes" * 100
    assert not (tmp_path / "b.mp4").exists() and not (tmp_path / "b.part").exists()


# --- logging --------------------------------------------------------------------------------------------------


async def test_calls_are_logged_with_method_path_status_attempt(
    emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=503))
    no_render(emulator)
    client, _ = make_client(emulator)
    with caplog.at_level(logging.INFO, logger="ltx2_nodes"):
        async with client:
            job = await client.submit(t2v(), {})
            await client.status(job)
    text = caplog.text
    assert "gmi submit POST /requests -> 503 (attempt 1/4)" in text
    assert "gmi submit POST /requests -> 200 (attempt 2/4)" in text
    assert f"gmi GET /requests/{job.job_id} -> 200 (attempt 1/4)" in text
    assert emulator.emulator.config.keys["gmi"] not in text

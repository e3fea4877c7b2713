"""The client's interrupt and synchronous-call paths against the real emulator: a slow answer, a stalled
download or a refused submit's wait never hides an interrupt, and a synchronous call may take as long as
the generation does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from ltx2_nodes.api.client import ProviderClient, RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import Interrupted
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import GenerationRequest, Mode

# A guard far below the injected delays: an interrupt that waits for the slow answer fails the test.
GUARD = 8.0
SLOW = 60.0


def _t2v(provider: str) -> GenerationRequest:
    model = "ltx-2-fast" if provider == "ltx" else None
    return GenerationRequest(
        provider=provider,
        mode=Mode.TEXT_TO_VIDEO,
        model=model,
        prompt="a lighthouse",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
    )


def _client(emulator: RunningEmulator, provider: str = "gmi", **kw) -> ProviderClient:
    emulator.emulator.config.max_render_side = 64
    return ProviderClient(
        get_provider(provider), emulator.emulator.config.keys[provider], emulator.base_urls()[provider], **kw
    )


def _after(seconds: float):
    start = time.monotonic()
    return lambda: time.monotonic() - start > seconds


def _ops(emulator: RunningEmulator, op: str) -> int:
    return sum(1 for e in emulator.emulator.log if e.op == op)


async def test_slow_status_answer_does_not_hide_an_interrupt(emulator: RunningEmulator) -> None:
    async with _client(emulator, retry=RetryPolicy(base_delay=0.05, max_delay=0.1)) as client:
        job = await client.submit(_t2v("gmi"), {})
        emulator.emulator.add_fault(Fault(op="status", kind="delay", provider="gmi", delay=SLOW, count=3))
        with pytest.raises(Interrupted, match="resume"):
            await asyncio.wait_for(
                client.wait(job, interval=0.05, timeout=600, cancel_check=_after(0.3)), GUARD
            )
    assert _ops(emulator, "status") == 1


async def test_download_waiting_for_its_answer_does_not_hide_an_interrupt(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    async with _client(emulator, retry=RetryPolicy(base_delay=0.05, max_delay=0.1)) as client:
        job = await client.submit(_t2v("gmi"), {})
        status = await client.wait(job, interval=0.05, timeout=60)
        emulator.emulator.add_fault(Fault(op="download", kind="delay", provider="*", delay=SLOW, count=3))
        dest = tmp_path / "out.mp4"
        with pytest.raises(Interrupted):
            await asyncio.wait_for(client.download(status.video_url, dest, cancel_check=_after(0.3)), GUARD)
    assert not dest.exists() and not dest.with_suffix(".part").exists()


async def test_submit_refused_with_429_notices_an_interrupt_while_it_waits(emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(
        Fault(op="submit", kind="http", provider="gmi", status=429, retry_after=SLOW, count=5)
    )
    async with _client(emulator, retry=RetryPolicy(max_delay=SLOW)) as client:
        with pytest.raises(Interrupted):
            await asyncio.wait_for(client.submit(_t2v("gmi"), {}, cancel_check=_after(0.3)), GUARD)
    assert emulator.emulator.submit_requests["gmi"] == 1 and emulator.emulator.jobs_created["gmi"] == 0


async def test_an_empty_download_is_never_the_result(emu_env, tmp_path) -> None:
    # A 200 with no body is retried and, if it stays empty, an error: never a "downloaded" result.
    import pytest
    from ltx2_nodes.api import runner
    from ltx2_nodes.api.emulator import Fault
    from ltx2_nodes.api.errors import DownloadError
    from ltx2_nodes.api.journal import Journal, RecordState
    from ltx2_nodes.api.types import GenerationRequest, Mode

    req = GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt="an empty reply",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=3,
    )
    journal = Journal(tmp_path / "j.sqlite3")
    from ltx2_nodes.api.client import RetryPolicy

    settings = runner.RunSettings(
        output_dir=tmp_path / "out",
        journal=journal,
        poll_interval=0.05,
        retry=RetryPolicy(base_delay=0.02, max_delay=0.1),
    )
    emu_env.emulator.add_fault(Fault(op="download", kind="empty", count=1))
    result = await runner.generate(req, settings)  # once empty, then the real file
    assert result.path.stat().st_size > 0

    emu_env.emulator.add_fault(Fault(op="download", kind="empty", count=50))
    with pytest.raises(DownloadError, match="empty"):
        await runner.generate(GenerationRequest(**{**req.__dict__, "seed": 4}), settings)
    newest = journal.list(limit=1)[0]
    assert newest.state is RecordState.SUCCEEDED and newest.resumable  # paid: collect it later
    assert not list((tmp_path / "out").glob("*.part"))


async def test_a_key_sharing_a_fragment_with_an_error_type_does_not_blur_it(emulator) -> None:
    # Errors are parsed from the body as sent; only what is kept is redacted. A key that happens to
    # contain "found_er" must not turn LTX's not_found_error into an untyped error.
    import pytest
    from ltx2_nodes.api import redact as redact_module
    from ltx2_nodes.api.client import ProviderClient
    from ltx2_nodes.api.emulator import Fault
    from ltx2_nodes.api.errors import JobExpiredError
    from ltx2_nodes.api.providers import get_provider
    from ltx2_nodes.api.types import Mode, SubmittedJob

    fragment = "found_er"
    redact_module.register_secret(fragment)
    try:
        emulator.emulator.add_fault(Fault(provider="ltx", op="status", kind="http", status=404))
        client = ProviderClient(
            get_provider("ltx"), emulator.emulator.config.keys["ltx"], emulator.base_urls()["ltx"]
        )
        async with client:
            with pytest.raises(JobExpiredError):
                await client.status(SubmittedJob(provider="ltx", mode=Mode.TEXT_TO_VIDEO, job_id="abc"))
    finally:
        redact_module._known_secrets.discard(fragment)

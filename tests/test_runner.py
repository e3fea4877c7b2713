"""The runner's own behaviour against the real emulator: validation before any request, the result
cache, progress events, the journal through a run, resume, file names."""

from __future__ import annotations

import io
import itertools
import math
import re
import struct
import wave
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import (
    DownloadError,
    Interrupted,
    InvalidInputError,
    LTX2Error,
    MissingKeyError,
    ProviderError,
    RateLimitError,
    SubmitUncertainError,
)
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.types import (
    GenerationRequest,
    MediaInput,
    MediaKind,
    Mode,
    ProgressEvent,
)

FAST_RETRY = RetryPolicy(base_delay=0.1, max_delay=2.0)
PHASES = ["validating", "uploading", "submitting", "queued", "processing", "downloading", "done"]


def _req(seed: int | None = None, prompt: str = "a heron lifting off a pond", **kw: Any) -> GenerationRequest:
    values: dict[str, Any] = dict(duration=6, resolution="1920x1080", fps=25, generate_audio=False)
    values.update(kw)
    return GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt=prompt, seed=seed, **values)


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny silent clips keep each run short; every protocol path stays real.
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.sqlite3")


def _settings(tmp_path: Path, journal: Journal, **over: Any) -> runner.RunSettings:
    values: dict[str, Any] = dict(
        output_dir=tmp_path / "out", journal=journal, poll_interval=0.05, retry=FAST_RETRY
    )
    values.update(over)
    return runner.RunSettings(**values)


def _wav(seconds: float = 3.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(int(seconds * rate)))
        )
    return buf.getvalue()


# --- before any request ------------------------------------------------------------------------------


async def test_invalid_input_makes_no_request(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    with pytest.raises(InvalidInputError) as info:
        await runner.generate(_req(duration=7), _settings(tmp_path, journal))
    assert "duration" in str(info.value)
    assert emu_env.emulator.log == [], "an invalid input must not reach the provider"
    assert journal.list(limit=0) == []


async def test_missing_key_is_reported_before_anything(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GMI_API_KEY")
    with pytest.raises(MissingKeyError) as info:
        await runner.generate(_req(duration=7), _settings(tmp_path, journal))  # even an invalid request
    assert "GMI_API_KEY" in str(info.value)
    assert emu_env.emulator.log == [] and journal.list(limit=0) == []


async def test_url_media_is_probed_for_its_duration(emu_env: RunningEmulator) -> None:
    token = emu_env.emulator.put_file(_wav(3.0), "audio/wav", ttl=None)
    url = f"{emu_env.origin}/_files/{token}"
    req = GenerationRequest(
        provider="gmi",
        mode=Mode.AUDIO_TO_VIDEO,
        prompt="p",
        audio=MediaInput(kind=MediaKind.AUDIO, content_type="audio/wav", url=url),
    )
    probed = await runner.probe_url_media(req)
    assert probed.audio.url == url  # still passed through as a URL
    assert probed.audio.info.duration == pytest.approx(3.0, abs=0.05)
    assert probed.request_hash() == req.request_hash()


@pytest.mark.parametrize("url", ["http://example.com/a.wav", "ftp://127.0.0.1/a.wav", "MISSING"])
async def test_unreadable_url_media_names_the_input(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, url: str
) -> None:
    if url == "MISSING":
        url = f"{emu_env.origin}/_files/no-such-token"
    req = GenerationRequest(
        provider="gmi",
        mode=Mode.AUDIO_TO_VIDEO,
        prompt="p",
        audio=MediaInput(kind=MediaKind.AUDIO, content_type="audio/wav", url=url),
    )
    with pytest.raises(InvalidInputError) as info:
        await runner.generate(req, _settings(tmp_path, journal))
    assert info.value.field == "audio" and url in str(info.value)
    assert emu_env.emulator.submit_requests["gmi"] == 0 and journal.list(limit=0) == []


# --- a run: progress, journal, result --------------------------------------------------------------------


async def test_a_run_reports_progress_and_journals_every_step(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    events: list[ProgressEvent] = []
    seen_states: dict[str, set[str]] = {}

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        records = journal.list(limit=0)
        seen_states.setdefault(event.phase, set()).update(r.state.value for r in records)

    result = await runner.generate(_req(), _settings(tmp_path, journal, on_progress=on_progress))

    phases = [e.phase for e in events]
    assert phases[0] == "validating" and phases[-1] == "done"
    order = [PHASES.index(p) for p in phases]
    assert order == sorted(order), phases  # phases never go backwards
    assert {"submitting", "queued", "processing", "downloading"} <= set(phases)
    assert all(b.elapsed >= a.elapsed for a, b in itertools.pairwise(events))
    assert any("processing" in e.message.lower() for e in events if e.phase == "processing")
    assert seen_states["submitting"] == {"pending"}  # the row exists before the submit
    assert seen_states["downloading"] <= {"succeeded"}
    fractions = [e.fraction for e in events if e.phase == "downloading" and e.fraction is not None]
    assert fractions and fractions[-1] == pytest.approx(1.0)

    [record] = journal.list(limit=0)
    assert record.state is RecordState.DOWNLOADED and record.provider_job_id == result.request_id
    assert record.id == result.journal_id
    assert record.result_path == str(Path(result.path).resolve()) and Path(result.path).is_file()
    assert record.video_url and record.raw_status
    assert record.cost_amount is not None and result.cost is not None
    assert record.cost_amount == pytest.approx(result.cost.amount)
    assert record.params["prompt"] == "a heron lifting off a pond"
    assert {"queue", "download", "total"} <= set(result.timings)
    assert all(v >= 0 for v in result.timings.values())
    assert result.from_cache is False and result.info()["file"] == Path(result.path).name


async def test_file_names_are_readable_and_unique(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    settings = _settings(tmp_path, journal, filename_prefix="../my clip")
    a = await runner.generate(_req(), settings)
    b = await runner.generate(_req(), settings)
    assert a.path != b.path and a.path.parent == b.path.parent == settings.output_dir
    pattern = re.compile(r"^my-clip_gmi_text-to-video_\d{8}-\d{6}_[0-9a-f]{8}\.mp4$")
    assert pattern.match(a.path.name) and pattern.match(b.path.name), (a.path.name, b.path.name)
    assert a.path.name.endswith(f"{a.journal_id[:8]}.mp4")


def test_output_path_shape() -> None:
    path = runner.output_path(Path("/o"), "", "ltx", "extend", "0123456789abcdef", when=0)
    assert path.parent == Path("/o") and path.name.startswith("ltx2_ltx_extend_")
    assert path.name.endswith("_01234567.mp4")


# --- result cache --------------------------------------------------------------------------------------


async def test_equal_request_with_fixed_seed_is_served_from_cache(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    settings = _settings(tmp_path, journal)
    first = await runner.generate(_req(seed=11), settings)
    events: list[str] = []
    second = await runner.generate(
        _req(seed=11), _settings(tmp_path, journal, on_progress=lambda e: events.append(e.phase))
    )
    assert second.from_cache and not first.from_cache
    assert second.path == Path(first.path).resolve() or second.path == first.path
    assert second.journal_id == first.journal_id and second.request_id == first.request_id
    assert emu_env.emulator.submit_requests["gmi"] == 1
    assert events == ["validating", "done"]
    third = await runner.generate(_req(seed=12), settings)  # another seed is another request
    assert not third.from_cache and emu_env.emulator.submit_requests["gmi"] == 2


@pytest.mark.parametrize("seed", [None, -1])
async def test_random_seed_is_never_cached(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, seed: int | None
) -> None:
    settings = _settings(tmp_path, journal)
    await runner.generate(_req(seed=seed), settings)
    again = await runner.generate(_req(seed=seed), settings)
    assert not again.from_cache and emu_env.emulator.submit_requests["gmi"] == 2


async def test_cache_can_be_turned_off_per_call_and_by_environment(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    await runner.generate(_req(seed=3), _settings(tmp_path, journal))
    off = await runner.generate(_req(seed=3), _settings(tmp_path, journal, use_cache=False))
    assert not off.from_cache and emu_env.emulator.submit_requests["gmi"] == 2
    monkeypatch.setenv("LTX2_RESULT_CACHE", "0")
    env_off = await runner.generate(_req(seed=3), _settings(tmp_path, journal))
    assert not env_off.from_cache and emu_env.emulator.submit_requests["gmi"] == 3
    monkeypatch.setenv("LTX2_RESULT_CACHE", "1")
    on = await runner.generate(_req(seed=3), _settings(tmp_path, journal))
    assert on.from_cache and emu_env.emulator.submit_requests["gmi"] == 3


async def test_deleted_cached_file_means_a_fresh_request(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    first = await runner.generate(_req(seed=5), _settings(tmp_path, journal))
    Path(first.path).unlink()
    again = await runner.generate(_req(seed=5), _settings(tmp_path, journal))
    assert not again.from_cache and Path(again.path).is_file()
    assert emu_env.emulator.submit_requests["gmi"] == 2


# --- resume ----------------------------------------------------------------------------------------------


async def test_resume_of_an_interrupted_job_never_resubmits(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu_env.emulator.config, "processing_seconds", 60.0)
    polls: list[str] = []
    settings = _settings(
        tmp_path,
        journal,
        cancel_check=lambda: len(polls) >= 3,
        on_progress=lambda e: polls.append(e.phase) if e.phase in ("queued", "processing") else None,
    )
    with pytest.raises(Interrupted):
        await runner.generate(_req(), settings)
    [record] = journal.list(limit=0)
    assert record.state is RecordState.INTERRUPTED and record.resumable

    emu_env.emulator.jobs[record.provider_job_id].processing_seconds = 0.0  # the provider finishes meanwhile
    result = await runner.resume(record.provider_job_id, _settings(tmp_path, journal))
    assert result.request_id == record.provider_job_id and result.journal_id == record.id
    assert Path(result.path).read_bytes()[4:8] == b"ftyp"
    assert journal.get(record.id).state is RecordState.DOWNLOADED
    assert emu_env.emulator.submit_requests["gmi"] == 1 and emu_env.emulator.jobs_created["gmi"] == 1


async def test_running_an_interrupted_request_again_collects_the_same_job(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user cancels in ComfyUI, then queues the same graph again: the accepted job is collected.
    monkeypatch.setattr(emu_env.emulator.config, "processing_seconds", 60.0)
    polls: list[str] = []
    settings = _settings(
        tmp_path,
        journal,
        cancel_check=lambda: len(polls) >= 3,
        on_progress=lambda e: polls.append(e.phase) if e.phase == "processing" else None,
    )
    with pytest.raises(Interrupted):
        await runner.generate(_req(seed=5), settings)
    [record] = journal.list(limit=0)
    emu_env.emulator.jobs[record.provider_job_id].processing_seconds = 0.0

    events: list[ProgressEvent] = []
    result = await runner.generate(_req(seed=5), _settings(tmp_path, journal, on_progress=events.append))
    assert result.request_id == record.provider_job_id and result.journal_id == record.id
    assert any("accepted earlier" in e.message for e in events)
    assert emu_env.emulator.submit_requests["gmi"] == 1 and emu_env.emulator.jobs_created["gmi"] == 1
    assert [r.state for r in journal.list(limit=0)] == [RecordState.DOWNLOADED]


async def test_an_interrupted_random_seed_request_is_a_new_take(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu_env.emulator.config, "processing_seconds", 60.0)
    polls: list[str] = []
    settings = _settings(
        tmp_path,
        journal,
        cancel_check=lambda: len(polls) >= 2,
        on_progress=lambda e: polls.append(e.phase) if e.phase == "processing" else None,
    )
    with pytest.raises(Interrupted):
        await runner.generate(_req(seed=None), settings)
    monkeypatch.setattr(emu_env.emulator.config, "processing_seconds", 0.0)
    await runner.generate(_req(seed=None), _settings(tmp_path, journal))
    assert emu_env.emulator.jobs_created["gmi"] == 2  # no fixed seed: the user asked for a fresh take


async def test_equal_requests_at_the_same_time_pay_once(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    import asyncio

    results = await asyncio.gather(
        *(runner.generate(_req(seed=9), _settings(tmp_path, journal)) for _ in range(3))
    )
    assert emu_env.emulator.submit_requests["gmi"] == 1
    assert len({r.path for r in results}) == 1 and sum(r.from_cache for r in results) == 2
    # Different requests still run side by side.
    other = await asyncio.gather(
        runner.generate(_req(seed=10), _settings(tmp_path, journal)),
        runner.generate(_req(seed=11), _settings(tmp_path, journal)),
    )
    assert emu_env.emulator.jobs_created["gmi"] == 3 and other[0].path != other[1].path


async def test_resume_of_a_downloaded_job_returns_the_file(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    first = await runner.generate(_req(), _settings(tmp_path, journal))
    requests_before = len(emu_env.emulator.log)
    again = await runner.resume(first.journal_id[:6], _settings(tmp_path, journal))
    assert Path(again.path) == Path(first.path).resolve() or again.path == first.path
    assert len(emu_env.emulator.log) == requests_before  # nothing asked of the provider

    Path(first.path).unlink()  # file gone: poll for a fresh URL and download again, no submit
    third = await runner.resume(first.journal_id, _settings(tmp_path, journal))
    assert Path(third.path).is_file() and not third.from_cache
    assert emu_env.emulator.submit_requests["gmi"] == 1


async def test_uncertain_job_is_not_resumable(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    emu_env.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=500))
    with pytest.raises(SubmitUncertainError):
        await runner.generate(_req(), _settings(tmp_path, journal))
    [record] = journal.list(limit=0)
    assert record.state is RecordState.UNCERTAIN and record.provider_job_id is None
    with pytest.raises(LTX2Error) as info:
        await runner.resume(record.id, _settings(tmp_path, journal))
    assert "dashboard" in str(info.value) and record.id[:8] in str(info.value)
    assert emu_env.emulator.submit_requests["gmi"] == 1


async def test_resume_of_an_unknown_id_points_at_the_job_list(
    isolated_env: Path, tmp_path: Path, journal: Journal
) -> None:
    with pytest.raises(InvalidInputError) as info:
        await runner.resume("nosuchjob42", _settings(tmp_path, journal))
    assert "nosuchjob42" in str(info.value) and "ltx2 jobs list" in str(info.value)


# --- synchronous LTX v1 -----------------------------------------------------------------------------------


# --- properties ------------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(prefix=st.text(max_size=40), record_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
def test_any_prefix_gives_a_safe_file_name_inside_the_output_dir(prefix: str, record_id: str) -> None:
    out = Path("/data/out")
    path = runner.output_path(out, prefix, "apiinone", "image-to-video", record_id, when=1_700_000_000)
    assert path.parent == out
    assert re.fullmatch(
        r"[A-Za-z0-9._-]+_apiinone_image-to-video_\d{8}-\d{6}_" + record_id[:8] + r"\.mp4", path.name
    )
    assert not path.name.startswith(".")


@given(code=st.integers(min_value=400, max_value=599))
def test_only_answers_that_prove_no_job_count_as_refused(code: int) -> None:
    provider_error = ProviderError("boom", status_code=code)
    assert runner._submit_refused(provider_error) is (code < 500 or code == 503)
    assert runner._submit_refused(RateLimitError("slow down", status_code=code)) is True
    assert runner._submit_refused(SubmitUncertainError("maybe", status_code=code)) is False
    assert runner._submit_refused(ConnectionResetError()) is False


async def test_url_media_download_is_capped(emu_env: RunningEmulator) -> None:
    token = emu_env.emulator.put_file(b"\0" * 5000, "audio/wav", ttl=None)
    with pytest.raises(ValueError, match="larger than"):
        await runner._fetch_url_media(f"{emu_env.origin}/_files/{token}", max_bytes=1000)


async def test_resume_uses_the_stored_url_when_the_provider_forgot_the_job(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    emu_env.emulator.add_fault(Fault(op="download", kind="expire", provider="*"))
    req = GenerationRequest(
        provider="ltx",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-3-fast",
        prompt="a glacier calving",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
    )
    with pytest.raises(DownloadError):
        await runner.generate(req, _settings(tmp_path, journal))
    [record] = journal.list(limit=0)
    assert record.state is RecordState.SUCCEEDED and record.video_url
    job = emu_env.emulator.jobs[record.provider_job_id]
    job.ended_at -= emu_env.emulator.config.ltx_job_ttl + 60  # a day later: the status answers 404
    result = await runner.resume(record.id, _settings(tmp_path, journal))
    assert Path(result.path).read_bytes()[4:8] == b"ftyp"
    assert journal.get(record.id).state is RecordState.DOWNLOADED
    status_answers = [e for e in emu_env.emulator.log if e.op == "status"]
    assert status_answers, "the provider was asked first"
    assert emu_env.emulator.submit_requests["ltx"] == 1


async def test_rejected_job_is_not_resumable_and_nothing_was_billed(
    emu_env: RunningEmulator, tmp_path: Path, journal: Journal
) -> None:
    emu_env.emulator.add_fault(Fault(op="submit", kind="http", provider="gmi", status=402))
    with pytest.raises(LTX2Error) as first:
        await runner.generate(_req(), _settings(tmp_path, journal))
    [record] = journal.list(limit=0)
    assert record.state is RecordState.REJECTED and getattr(first.value, "journal_id", None) == record.id
    with pytest.raises(LTX2Error) as info:
        await runner.resume(record.id[:10], _settings(tmp_path, journal))
    assert "Nothing was billed" in str(info.value) and "rejected" in str(info.value)
    assert emu_env.emulator.jobs_created["gmi"] == 0

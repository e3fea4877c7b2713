"""Money rules of a whole run against the real emulator: a billed synchronous video is never recorded
as refused, a journal that fails after the provider accepted a job does not lose the job, and an equal
request waiting behind an unanswered submit does not send it again."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from ltx2_nodes.api import jobstate, runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import Interrupted, JournalError, SubmitUncertainError
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.types import GenerationRequest, Mode

FAST_RETRY = RetryPolicy(base_delay=0.05, max_delay=0.5)


def _req(provider: str = "gmi", seed: int | None = None) -> GenerationRequest:
    model = "ltx-2-3-fast" if provider == "ltx" else None
    return GenerationRequest(
        provider=provider,
        mode=Mode.TEXT_TO_VIDEO,
        model=model,
        prompt="a paper lantern",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
        seed=seed,
    )


def _settings(tmp_path: Path, journal: Journal, **over: Any) -> runner.RunSettings:
    values: dict[str, Any] = dict(
        output_dir=tmp_path / "out", journal=journal, poll_interval=0.05, retry=FAST_RETRY
    )
    values.update(over)
    return runner.RunSettings(**values)


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


class JobIdWriteFails(Journal):
    """A journal whose disk refuses the write of a provider job id (``failures`` times)."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def set_state(self, record_id: str, state: RecordState, **fields: Any):
        if "provider_job_id" in fields and self.failures > 0:
            self.failures -= 1
            raise self.error(sqlite3.OperationalError("disk I/O error"))
        return super().set_state(record_id, state, **fields)


@pytest.fixture
def quick_accept_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobstate, "ACCEPT_RETRY_DELAYS", (0.01, 0.01))


# --- the synchronous call: its answer is the billed video ---------------------------------------------


async def test_interrupt_while_a_refused_submit_waits_is_recorded_as_refused(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    emu_env.emulator.add_fault(
        Fault(op="submit", kind="http", provider="gmi", status=429, retry_after=60, count=5)
    )
    journal = Journal(tmp_path / "j.sqlite3")

    def cancel_check() -> bool:  # stop once the provider has refused the first submit
        return emu_env.emulator.submit_requests["gmi"] >= 1

    settings = _settings(tmp_path, journal, retry=RetryPolicy(max_delay=60), cancel_check=cancel_check)
    with pytest.raises(Interrupted, match="nothing was billed"):
        await asyncio.wait_for(runner.generate(_req(), settings), 8)
    [record] = journal.list(limit=0)
    assert record.state is RecordState.REJECTED and emu_env.emulator.submit_requests["gmi"] == 1


# --- a journal failing after the provider accepted the job -----------------------------------------------


async def test_journal_failing_once_to_record_the_job_id_loses_nothing(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    journal = JobIdWriteFails(tmp_path / "j.sqlite3", failures=1)
    result = await runner.generate(_req(), _settings(tmp_path, journal))
    [record] = journal.list(limit=0)
    assert record.state is RecordState.DOWNLOADED and record.provider_job_id == result.request_id
    assert emu_env.emulator.submit_requests["gmi"] == 1


async def test_journal_unable_to_record_the_job_id_keeps_it_aside_and_names_the_paid_job(
    emu_env: RunningEmulator, tmp_path: Path, quick_accept_retries: None
) -> None:
    journal = JobIdWriteFails(tmp_path / "j.sqlite3", failures=10)
    with pytest.raises(JournalError) as info:
        await runner.generate(_req(), _settings(tmp_path, journal))
    [job_id] = emu_env.emulator.jobs
    text = str(info.value)
    assert job_id in text and "disk I/O error" in text and str(journal.fallback_path) in text
    [record] = journal.list(limit=0)
    assert info.value.journal_id == record.id and info.value.billed and record.id in text
    assert record.state is RecordState.PENDING, "the accepted job must not be written off as uncertain"
    reopened = Journal(journal.path)  # the next open writes the kept id into the journal
    healed = reopened.get(record.id)
    assert healed.provider_job_id == job_id and healed.resumable
    assert not journal.fallback_path.exists()
    result = await runner.resume(record.id, _settings(tmp_path, reopened))
    assert result.request_id == job_id and emu_env.emulator.submit_requests["gmi"] == 1


# --- equal requests in flight --------------------------------------------------------------------------


async def test_equal_request_waiting_behind_an_unanswered_submit_is_not_sent_again(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    # The first submit is accepted (and billed) but its answer is lost: the second, equal request that
    # waited for it must not buy the same video again.
    emu_env.emulator.add_fault(Fault(op="submit", kind="reset", provider="gmi", after_accept=True))
    journal = Journal(tmp_path / "j.sqlite3")
    outcomes = await asyncio.gather(
        *(runner.generate(_req(seed=7), _settings(tmp_path, journal)) for _ in range(2)),
        return_exceptions=True,
    )
    assert all(isinstance(o, SubmitUncertainError) for o in outcomes), outcomes
    assert emu_env.emulator.submit_requests["gmi"] == 1 and emu_env.emulator.jobs_created["gmi"] == 1
    [record] = journal.list(limit=0)
    assert record.state is RecordState.UNCERTAIN
    assert {getattr(o, "journal_id", None) for o in outcomes} == {record.id}
    assert "ltx2 jobs list" in str(outcomes[1])


async def test_equal_request_run_again_later_is_the_user_s_choice(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    emu_env.emulator.add_fault(Fault(op="submit", kind="reset", provider="gmi", after_accept=True))
    journal = Journal(tmp_path / "j.sqlite3")
    with pytest.raises(SubmitUncertainError):
        await runner.generate(_req(seed=7), _settings(tmp_path, journal))
    result = await runner.generate(_req(seed=7), _settings(tmp_path, journal))  # checked, asked again
    assert Path(result.path).is_file() and emu_env.emulator.submit_requests["gmi"] == 2


async def test_cancel_during_upload_sends_no_submit(emu_env, tmp_path) -> None:
    # A ComfyUI Cancel pressed while the inputs upload must not buy the job afterwards.
    import pytest
    from ltx2_nodes.api import runner
    from ltx2_nodes.api.errors import Interrupted
    from ltx2_nodes.api.journal import Journal
    from ltx2_nodes.api.media import synth
    from ltx2_nodes.api.media.inputs import media_from_bytes
    from ltx2_nodes.api.types import GenerationRequest, MediaKind, Mode

    pressed = {"now": False}

    def on_progress(event) -> None:
        if event.phase == "uploading":
            pressed["now"] = True  # the user cancels while the upload runs

    journal = Journal(tmp_path / "j.sqlite3")
    req = GenerationRequest(
        provider="gmi",
        mode=Mode.IMAGE_TO_VIDEO,
        prompt="a kite",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=2,
        image=media_from_bytes(synth.test_png(64, 64), MediaKind.IMAGE),
    )
    settings = runner.RunSettings(
        output_dir=tmp_path,
        journal=journal,
        cancel_check=lambda: pressed["now"],
        on_progress=on_progress,
        poll_interval=0.05,
    )
    with pytest.raises(Interrupted) as info:
        await runner.generate(req, settings)
    assert "nothing was billed" in str(info.value)
    assert emu_env.emulator.submit_requests["gmi"] == 0
    [record] = journal.list(limit=0)  # the claim, closed as never sent
    assert record.state is RecordState.REJECTED and "before the submit was sent" in record.error


async def test_limits_are_checked_before_a_url_input_is_fetched(emu_env, tmp_path) -> None:
    # The extension is too long: refused at once, naming the duration, before the URL is downloaded
    # to be probed (fetching this one would fail and name the video instead).
    import pytest
    from ltx2_nodes.api import runner
    from ltx2_nodes.api.errors import InvalidInputError
    from ltx2_nodes.api.media.inputs import media_from_url
    from ltx2_nodes.api.types import GenerationRequest, MediaKind, Mode

    url = f"{emu_env.origin}/_files/no-such-file.mp4"
    req = GenerationRequest(
        provider="ltx",
        mode=Mode.EXTEND,
        model="ltx-2-3-pro",
        prompt="more",
        duration=30,
        video=media_from_url(url, MediaKind.VIDEO),
        seed=1,
    )
    with pytest.raises(InvalidInputError) as info:
        await runner.generate(req, runner.RunSettings(output_dir=tmp_path))
    assert info.value.field == "duration"


async def test_a_job_the_provider_cannot_find_right_after_accepting_stays_resumable(
    emu_env, tmp_path
) -> None:
    import pytest
    from ltx2_nodes.api import runner
    from ltx2_nodes.api.emulator import Fault
    from ltx2_nodes.api.errors import JobExpiredError
    from ltx2_nodes.api.journal import Journal, RecordState
    from ltx2_nodes.api.types import GenerationRequest, Mode

    journal = Journal(tmp_path / "j.sqlite3")
    settings = runner.RunSettings(output_dir=tmp_path / "out", journal=journal, poll_interval=0.05)
    req = GenerationRequest(
        provider="ltx",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-3-fast",
        prompt="a glitch",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=8,
    )
    emu_env.emulator.add_fault(Fault(provider="ltx", op="status", kind="http", status=404))
    with pytest.raises(JobExpiredError):
        await runner.generate(req, settings)
    [record] = journal.list(limit=0)
    assert record.state is RecordState.INTERRUPTED and record.resumable
    result = await runner.resume(record.id, settings)  # the glitch passed: the paid job is collected
    assert result.path.stat().st_size > 0 and emu_env.emulator.jobs_created["ltx"] == 1

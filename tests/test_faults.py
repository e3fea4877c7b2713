"""The fault suite: every case of ``tests/fault_table.py`` run through ``runner.generate`` against the
real emulator over loopback HTTP. Each case checks the submits that reached the provider, the jobs it
created, the error the caller sees (typed, user-facing, no key) and the journal state left behind."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ltx2_nodes.api import errors, runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.types import GenerationRequest, GenerationResult, Mode


def _load_table() -> Any:
    # Loaded by path: the tests folder is not a package (pytest runs with --import-mode=importlib).
    spec = importlib.util.spec_from_file_location("fault_table", Path(__file__).with_name("fault_table.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_table"] = module
    spec.loader.exec_module(module)
    return module


ft = _load_table()

# Cases with a dedicated test below; every other case runs through ``test_fault_case``.
SPECIAL = {"poll-timeout", "interrupt", "download-expired", "ltx-concurrency", "process-killed"} | {
    case.id for case in ft.CASES if case.covered_by
}
GENERIC = [case.id for case in ft.CASES if case.id not in SPECIAL]
FAST_RETRY = RetryPolicy(base_delay=0.1, max_delay=2.0)


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny silent clips keep each run short; every protocol path stays real.
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


def _request(provider: str = "gmi", prompt: str = "a lighthouse at dusk, waves") -> GenerationRequest:
    if provider == "ltx":
        return GenerationRequest(
            provider="ltx",
            mode=Mode.TEXT_TO_VIDEO,
            model="ltx-2-3-fast",
            prompt=prompt,
            duration=6,
            resolution="1920x1080",
            fps=25,
            generate_audio=False,
        )
    return GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt=prompt,
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
    )


def _settings(tmp_path: Path, journal: Journal, **over: Any) -> runner.RunSettings:
    values: dict[str, Any] = dict(
        output_dir=tmp_path / "out", journal=journal, poll_interval=0.05, retry=FAST_RETRY
    )
    values.update(over)
    return runner.RunSettings(**values)


def _prepare(case: Any, emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.emulator.items():
        monkeypatch.setattr(emu.emulator.config, name, value)  # restored after the test
    for spec in case.faults:
        emu.emulator.add_fault(Fault(**spec))


def _assert_user_facing(exc: BaseException, emu: RunningEmulator) -> None:
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} has an empty message"
    assert "Traceback" not in text and 'File "' not in text, text
    assert len(text) < 2000, text
    for key in emu.emulator.config.keys.values():
        assert key not in text, "an API key leaked into an error message"


def _assert_no_key_in_journal(journal: Journal, emu: RunningEmulator) -> None:
    dump = json.dumps([journal.export(r) for r in journal.list(limit=0)])
    for key in emu.emulator.config.keys.values():
        assert key not in dump, "an API key leaked into the journal"
    wal = journal.path.with_name(journal.path.name + "-wal")  # recent writes live in the WAL file
    raw = journal.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    for key in emu.emulator.config.keys.values():
        assert key.encode() not in raw


def _assert_counts(case: Any, emu: RunningEmulator) -> None:
    if case.submits is not None:
        assert emu.emulator.submit_requests[case.provider] == case.submits, emu.emulator.stats()
    assert emu.emulator.jobs_created[case.provider] == case.jobs, emu.emulator.stats()


def _assert_video(result: GenerationResult) -> None:
    data = Path(result.path).read_bytes()
    assert len(data) > 1000 and data[4:8] == b"ftyp", "the result is not a complete MP4"


async def _run(
    case: Any, req: GenerationRequest, settings: runner.RunSettings
) -> GenerationResult | BaseException:
    try:
        return await runner.generate(req, settings)
    except errors.LTX2Error as exc:
        return exc


def _check_error(case: Any, outcome: GenerationResult | BaseException, emu: RunningEmulator) -> BaseException:
    assert isinstance(outcome, BaseException), f"{case.id}: expected {case.error}, got a result"
    assert type(outcome).__name__ == case.error or (
        case.error == "Interrupted" and isinstance(outcome, errors.Interrupted)
    ), repr(outcome)
    assert isinstance(outcome, errors.LTX2Error)
    _assert_user_facing(outcome, emu)
    return outcome


# --- the table itself ---------------------------------------------------------------------------------


def test_every_case_is_exercised() -> None:
    assert set(ft.BY_ID) == set(GENERIC) | SPECIAL
    assert len(ft.BY_ID) == len(ft.CASES), "case ids must be unique"
    for case in ft.CASES:
        assert case.state in {s.value for s in RecordState} | {""}, case.id
        assert case.error is None or issubclass(getattr(errors, case.error), errors.LTX2Error), case.id
        for spec in case.faults:
            Fault(**spec)  # every fault is one the emulator understands


def test_every_dedicated_case_names_a_test_that_exists() -> None:
    sources = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    for case in ft.CASES:
        if case.covered_by:
            assert f"def {case.covered_by}(" in sources, f"{case.id}: no test {case.covered_by}"


def test_markdown_table_has_one_row_per_case() -> None:
    lines = ft.markdown_table().splitlines()
    assert len(lines) == 2 + len(ft.CASES)
    assert lines[1] == "|---|---|---|---|---|"
    rows = [lines[0], *lines[2:]]
    assert all(line.startswith("| ") and line.endswith(" |") and line.count(" | ") == 4 for line in rows)
    for case, line in zip(ft.CASES, lines[2:], strict=True):
        assert case.fault in line and (f"`{case.state}`" if case.state else "none (nothing written)") in line


def test_write_readme_replaces_only_the_marked_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{ft.START}\nold table\n{ft.END}\n\n## After\ntext\n")
    assert ft.write_readme(readme) is True
    text = readme.read_text()
    assert ft.readme_section(text) == ft.markdown_table()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith("\n\n## After\ntext\n")
    assert ft.write_readme(readme) is False  # idempotent
    bare = tmp_path / "BARE.md"
    bare.write_text("# Only a title\n")
    ft.write_readme(bare)
    assert ft.readme_section(bare.read_text()) == ft.markdown_table()


def test_readme_holds_the_current_fault_table() -> None:
    how = "Regenerate it with: python tests/fault_table.py --write"
    assert ft.README.exists(), f"README.md is missing. {how}"
    section = ft.readme_section(ft.README.read_text(encoding="utf-8"))
    assert section is not None, (
        f"README.md lacks the markers {ft.START} ... {ft.END} around the fault table. "
        f"Add them where the table belongs, then: {how}"
    )
    assert section == ft.markdown_table(), f"The fault table in README.md is out of date. {how}"


# --- one generation per case ---------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", GENERIC)
async def test_fault_case(
    case_id: str, emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = ft.BY_ID[case_id]
    _prepare(case, emu_env, monkeypatch)
    journal = Journal(tmp_path / "journal.sqlite3")
    outcome = await _run(case, _request(case.provider), _settings(tmp_path, journal, **case.settings))

    _assert_counts(case, emu_env)
    if case.error is None:
        assert isinstance(outcome, GenerationResult), f"{case.id}: {outcome!r}"
        _assert_video(outcome)
    else:
        exc = _check_error(case, outcome, emu_env)
        if case.error == "JobFailedError":
            assert "Content policy violation" in str(exc)  # the provider's reason reaches the user
    [record] = journal.list(limit=0)
    assert record.state.value == case.state, f"{case.id}: {record.state} ({record.error})"
    if case.jobs and case.state != "uncertain":
        assert record.provider_job_id in emu_env.emulator.jobs
    if case.state == "interrupted":
        assert record.resumable
    if case.error is not None:
        assert record.error, "the journal keeps what went wrong"
        assert getattr(outcome, "journal_id", None) == record.id, "the error names its journal record"
    _assert_no_key_in_journal(journal, emu_env)


async def test_poll_timeout_leaves_the_job_resumable(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = ft.BY_ID["poll-timeout"]
    _prepare(case, emu_env, monkeypatch)
    journal = Journal(tmp_path / "journal.sqlite3")
    outcome = await _run(case, _request(), _settings(tmp_path, journal, **case.settings))
    exc = _check_error(case, outcome, emu_env)
    _assert_counts(case, emu_env)
    [record] = journal.list(limit=0)
    assert record.state.value == case.state and record.resumable
    assert f"ltx2 jobs resume {record.id}" in str(exc)  # the command names this very job
    assert emu_env.emulator.jobs[record.provider_job_id].cancelled_at is None  # still the user's to collect


async def test_interrupt_stops_waiting_and_keeps_the_job(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = ft.BY_ID["interrupt"]
    _prepare(case, emu_env, monkeypatch)
    journal = Journal(tmp_path / "journal.sqlite3")
    polls: list[str] = []

    def on_progress(event: Any) -> None:
        if event.phase in ("queued", "processing"):
            polls.append(event.phase)

    settings = _settings(tmp_path, journal, on_progress=on_progress, cancel_check=lambda: len(polls) >= 4)
    outcome = await asyncio.wait_for(_run(case, _request(), settings), 30)
    _check_error(case, outcome, emu_env)
    _assert_counts(case, emu_env)
    [record] = journal.list(limit=0)
    assert record.state.value == case.state and record.resumable and record.provider_job_id
    assert not list(tmp_path.rglob("*.mp4")), "nothing was downloaded"


async def test_expired_output_url_then_resume_collects_the_same_job(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = ft.BY_ID["download-expired"]
    _prepare(case, emu_env, monkeypatch)
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = _settings(tmp_path, journal)
    outcome = await _run(case, _request(), settings)
    exc = _check_error(case, outcome, emu_env)
    assert "resume" in str(exc)
    [record] = journal.list(limit=0)
    assert record.state is RecordState.SUCCEEDED and record.resumable and record.error
    assert not any(settings.output_dir.glob("*.mp4*")), "no partial file is left behind"

    result = await runner.resume(record.id, settings)  # the fault is used up: the URL works again
    _assert_video(result)
    _assert_counts(case, emu_env)
    assert result.request_id == record.provider_job_id and result.journal_id == record.id
    final = journal.get(record.id)
    assert final.state.value == case.state and final.result_path == str(Path(result.path).resolve())


async def test_ltx_concurrency_limit_never_submits_a_job_twice(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = ft.BY_ID["ltx-concurrency"]
    _prepare(case, emu_env, monkeypatch)
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = _settings(tmp_path, journal)
    reqs = [_request("ltx", prompt=f"shot {n}: a paper boat on a river") for n in range(3)]
    results = await asyncio.wait_for(asyncio.gather(*(runner.generate(r, settings) for r in reqs)), 60)

    _assert_counts(case, emu_env)
    assert emu_env.emulator.submit_requests["ltx"] > 3, "the concurrency limit was never hit"
    assert len({r.request_id for r in results}) == 3
    assert len({r.path for r in results}) == 3
    for result in results:
        _assert_video(result)
    records = journal.list(limit=0)
    assert len(records) == 3 and {r.state.value for r in records} == {case.state}
    assert sorted(r.provider_job_id for r in records) == sorted(emu_env.emulator.jobs)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ltx2_nodes.api.cli.main", *args]


def test_killed_process_then_resume_collects_without_a_new_submit(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = ft.BY_ID["process-killed"]
    _prepare(case, emu_env, monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ)  # emu_env pointed base URLs, keys and the data folder at this test
    gen = subprocess.Popen(
        _cli(
            "generate",
            "--provider",
            "gmi",
            "--mode",
            "text-to-video",
            "--prompt",
            "a kite over dunes",
            "--duration",
            "6",
            "--resolution",
            "1920x1080",
            "--fps",
            "25",
            "--no-generate-audio",
            "-o",
            str(out / "first.mp4"),
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    journal = Journal()  # the default journal under LTX2_DATA_DIR, as the CLI uses it
    record = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and gen.poll() is None:
            records = journal.list(limit=0)
            if records and records[0].provider_job_id:
                record = records[0]
                break
            time.sleep(0.1)
        assert record is not None, (
            f"no provider id was journalled: {gen.stderr.read().decode() if gen.poll() is not None else ''}"
        )
        gen.send_signal(signal.SIGKILL)
    finally:
        if gen.poll() is None:
            gen.kill()
        gen.wait(30)
    assert gen.returncode == -signal.SIGKILL
    killed = journal.get(record.id)
    assert killed.resumable and killed.state in (RecordState.SUBMITTED, RecordState.RUNNING)

    # Time passes: the provider finishes the job while nothing is polling it.
    emu_env.emulator.jobs[record.provider_job_id].processing_seconds = 0.0
    done = subprocess.run(
        _cli("jobs", "resume", record.id[:8], "-o", str(out / "resumed.mp4"), "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["request_id"] == record.provider_job_id and info["journal_id"] == record.id
    final = journal.get(record.id)
    assert final.state.value == case.state
    assert Path(final.result_path) == out / "resumed.mp4"
    assert (out / "resumed.mp4").read_bytes()[4:8] == b"ftyp"
    _assert_counts(case, emu_env)
    for key in emu_env.emulator.config.keys.values():
        assert key not in done.stdout and key not in done.stderr

"""One payment per request across processes (real ``ltx2`` processes, real emulator over loopback):
two processes racing the same fixed-seed request pay once and both get the video; a process killed
while its submit is in flight leaves a claim that is never resubmitted silently and is listed at once
as maybe billed; a journal locked by another process when the job is accepted keeps the job id."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ltx2_nodes.api import jobstate, runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import JournalError
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.types import GenerationRequest, Mode

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
REQUEST = {
    "gmi": ["--mode", "text-to-video", "--duration", "6", "--resolution", "1920x1080", "--fps", "25"],
    "ltx": [
        "--mode",
        "text-to-video",
        "--model",
        "ltx-2-3-fast",
        "--duration",
        "6",
        "--resolution",
        "1920x1080",
    ],
    "apiinone": [
        "--mode",
        "text-to-video",
        "--duration",
        "5",
        "--resolution",
        "480p",
        "--aspect-ratio",
        "16:9",
    ],
}


def cli_env(tmp: Path, emulator: RunningEmulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(LTX2_DATA_DIR=str(tmp / "data"), LTX2_CONFIG=str(tmp / "config.json"), **emulator.env())
    return env


def generate_args(provider: str, out: Path, *extra: str) -> list[str]:
    return [
        *CLI,
        "generate",
        "--poll-interval",
        "0.1",
        "--provider",
        provider,
        *REQUEST[provider],
        "--prompt",
        "a heron in the reeds",
        "--seed",
        "11",
        "-o",
        str(out),
        *extra,
    ]


def ltx2(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def wait_for_submit(emulator: RunningEmulator, provider: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while emulator.emulator.submit_requests[provider] == 0 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)
    assert emulator.emulator.submit_requests[provider] == 1, "the CLI never sent its submit"


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


@pytest.mark.parametrize("provider", ["gmi", "ltx", "apiinone"])
def test_two_processes_racing_the_same_request_pay_once_and_both_get_the_video(
    emulator: RunningEmulator, tmp_path: Path, provider: str
) -> None:
    # The first submit takes a while to answer: the second process starts while it is in flight.
    emulator.emulator.add_fault(Fault(provider=provider, op="submit", kind="delay", delay=1.5))
    env = cli_env(tmp_path, emulator)
    outs = [tmp_path / f"first_{provider}.mp4", tmp_path / f"second_{provider}.mp4"]
    procs = [
        subprocess.Popen(
            generate_args(provider, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for out in outs
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert emulator.emulator.submit_requests[provider] == 1 and emulator.emulator.jobs_created[provider] == 1
    for out in outs:
        assert probe(out).width, f"{out.name} is not a video"
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert any("nothing was billed" in stdout for stdout, _ in results), (
        "one of them reused the other's video"
    )
    jobs = json.loads(ltx2("jobs", "list", "--all", "--json", env=env).stdout)
    assert [j["state"] for j in jobs] == ["downloaded"]


def test_a_process_killed_mid_submit_is_never_resubmitted_silently(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    # The provider accepts the job (it is billed), but the answer comes late: the process dies first.
    emulator.emulator.add_fault(
        Fault(provider="gmi", op="submit", kind="delay", delay=8.0, after_accept=True)
    )
    env = cli_env(tmp_path, emulator)
    first = subprocess.Popen(
        generate_args("gmi", tmp_path / "a.mp4"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_submit(emulator, "gmi", first)
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(30)
    [record] = Journal(tmp_path / "data" / "journal.sqlite3").list(limit=0)
    assert record.state is RecordState.PENDING and record.orphaned

    # `ltx2 jobs` names it at once as maybe billed.
    overview = ltx2("jobs", env=env)
    assert overview.returncode == 0, overview.stderr
    assert f"Job {record.id} may have been billed" in overview.stdout
    [doc] = json.loads(ltx2("jobs", "list", "--json", env=env).stdout)
    assert doc["billing"] == "maybe"

    # A rerun of the same request stops with one line naming the id and the ways forward.
    again = subprocess.run(
        generate_args("gmi", tmp_path / "b.mp4"), env=env, capture_output=True, text=True, timeout=120
    )
    errors = [line for line in again.stderr.splitlines() if line.startswith("ltx2: error:")]
    assert again.returncode == 1 and len(errors) == 1, again.stderr
    assert record.id in errors[0] and f"ltx2 jobs show {record.id}" in errors[0] and "--new-take" in errors[0]
    assert "dashboard" in errors[0] and "Traceback" not in again.stderr
    assert emulator.emulator.submit_requests["gmi"] == 1 and not (tmp_path / "b.mp4").exists()

    # Asking for a new take buys one; the dead claim stays listed as maybe billed.
    new = subprocess.run(
        generate_args("gmi", tmp_path / "c.mp4", "--new-take"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert new.returncode == 0, new.stderr
    assert emulator.emulator.submit_requests["gmi"] == 2 and probe(tmp_path / "c.mp4").width
    old = Journal(tmp_path / "data" / "journal.sqlite3").get(record.id)
    assert old.state is RecordState.UNCERTAIN
    assert f"Job {record.id} may have been billed" in ltx2("jobs", env=env).stdout


def test_sigterm_is_handled_like_ctrl_c(emulator: RunningEmulator, tmp_path: Path) -> None:
    emulator.emulator.add_fault(Fault(provider="gmi", op="job", kind="stuck"))
    env = cli_env(tmp_path, emulator)
    proc = subprocess.Popen(
        generate_args("gmi", tmp_path / "t.mp4"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(e.op == "status" for e in emulator.emulator.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    [record] = Journal(tmp_path / "data" / "journal.sqlite3").list(limit=0)
    assert record.state is RecordState.INTERRUPTED and record.resumable
    assert f"ltx2 jobs resume {record.id}" in err


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
print("ready", flush=True)
sys.stdin.readline()
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


async def test_a_journal_locked_by_another_process_at_acceptance_keeps_the_job_id(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobstate, "ACCEPT_RETRY_DELAYS", (0.05, 0.05))
    emu_env.emulator.add_fault(Fault(provider="gmi", op="submit", kind="delay", delay=2.0, after_accept=True))
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, busy_timeout=0.2)
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout.readline().strip() == "ready"
        req = GenerationRequest(
            provider="gmi",
            mode=Mode.TEXT_TO_VIDEO,
            prompt="a lock",
            duration=6,
            resolution="1920x1080",
            fps=25,
            seed=4,
        )
        settings = runner.RunSettings(
            output_dir=tmp_path / "out",
            journal=journal,
            poll_interval=0.05,
            retry=RetryPolicy(base_delay=0.05),
        )
        run = asyncio.create_task(runner.generate(req, settings))
        while emu_env.emulator.jobs_created["gmi"] == 0:  # accepted; its answer is still on the way
            assert not run.done(), run.exception()
            await asyncio.sleep(0.02)
        locker.stdin.write("lock\n")
        locker.stdin.flush()
        assert (await asyncio.to_thread(locker.stdout.readline)).strip() == "locked"
        with pytest.raises(JournalError) as info:
            await run
    finally:
        if locker.poll() is None:
            locker.stdin.write("release\n")
            locker.stdin.flush()
            locker.wait(30)
    [job_id] = emu_env.emulator.jobs
    text = str(info.value)
    assert job_id in text and "locked" in text and str(journal.fallback_path) in text and info.value.billed
    reopened = Journal(path)  # the next open reconciles the kept id
    [record] = reopened.list(limit=0)
    assert record.provider_job_id == job_id and record.resumable and record.state is not RecordState.UNCERTAIN
    # Run again in this same process: the ended run's claim (the journal could not be told) is not
    # waited for; the accepted job is collected.
    again = runner.RunSettings(
        output_dir=tmp_path / "out", journal=reopened, poll_interval=0.05, poll_timeout=60
    )
    result = await runner.generate(req, again)
    assert probe(result.path).width and emu_env.emulator.submit_requests["gmi"] == 1


async def test_comfyui_and_the_cli_running_the_same_request_pay_once(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    # The CLI's submit is in flight when the same request starts in this process (as a ComfyUI node
    # would run it, sharing the data folder): this run waits for the CLI's claim and reuses its video.
    from ltx2_nodes.api.cli.generate import build_request
    from ltx2_nodes.api.cli.main import build_parser

    emu_env.emulator.add_fault(Fault(provider="gmi", op="submit", kind="delay", delay=1.5))
    args = generate_args("gmi", tmp_path / "cli.mp4")
    cli = subprocess.Popen(
        args, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        await asyncio.to_thread(wait_for_submit, emu_env, "gmi", cli)
        req = build_request(build_parser().parse_args(args[len(CLI) :]))
        settings = runner.RunSettings(output_dir=tmp_path / "comfy", poll_interval=0.05)
        result = await runner.generate(req, settings)
    finally:
        _, err = await asyncio.to_thread(cli.communicate, timeout=120)
    assert cli.returncode == 0, err
    assert result.from_cache and result.path.read_bytes() == (tmp_path / "cli.mp4").read_bytes()
    assert emu_env.emulator.submit_requests["gmi"] == 1

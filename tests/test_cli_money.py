"""``ltx2 generate`` and ``ltx2 jobs resume`` around the paid submit: an interrupt before it sends
nothing, an output folder that cannot take the file is refused before anything is sent, and every
message about the journal tells the truth about the job (real subprocess, real emulator)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.emulator.core import Fault
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.probe import probe

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
FAST_POLL = ("--poll-interval", "0.1")


def cli_env(tmp: Path, emulator: RunningEmulator | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(LTX2_DATA_DIR=str(tmp / "data"), LTX2_CONFIG=str(tmp / "config.json"))
    if emulator is not None:
        env.update(emulator.env())
    return env


def ltx2(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def journal(env: dict[str, str]) -> list[dict]:
    return json.loads(ltx2("jobs", "list", "--all", "--json", env=env).stdout)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ltx2: error:")]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "first.png"
    path.write_bytes(synth.test_png(96, 64, seed=1))
    return path


def interrupt_when(
    emulator: RunningEmulator, args: list[str], env: dict[str, str], op: str, *, signals: int = 1
) -> tuple[int, str]:
    """Run ``ltx2 generate``, send Ctrl-C (``signals`` times) once the emulator has seen ``op``."""
    proc = subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(e.op == op for e in emulator.emulator.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(e.op == op for e in emulator.emulator.log), f"the CLI never reached {op}"
        for n in range(signals):
            if n:
                time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def test_ctrl_c_while_uploading_stops_before_the_paid_submit(emulator, tmp_path, image):
    """The input is still being hosted when Ctrl-C comes: the run stops there, nothing is bought."""
    emulator.emulator.add_fault(Fault(provider="ltx", op="upload", kind="delay", delay=2.0))
    env = cli_env(tmp_path, emulator)
    args = ["generate", *FAST_POLL, "--provider", "ltx", "--mode", "image-to-video", "--prompt", "x"]
    args += ["--image", str(image), "-o", str(tmp_path / "x.mp4")]
    code, err = interrupt_when(emulator, args, env, "upload")
    assert code == 130, err
    assert emulator.emulator.submit_requests["ltx"] == 0  # the paid call was never sent
    assert emulator.emulator.jobs_created["ltx"] == 0
    assert "nothing was billed" in err
    assert "stays resumable" not in err and "Traceback" not in err
    assert all(r["state"] == "rejected" and r["provider_job_id"] is None for r in journal(env))
    assert "never collected" not in ltx2("jobs", env=env).stdout


def test_ctrl_c_twice_during_an_unanswered_submit_does_not_promise_a_resume(emulator, tmp_path):
    """A submit cut off before its answer is *uncertain*: 'jobs resume' cannot collect it, so the
    CLI must not say it can; it points at 'jobs show' and the provider's dashboard instead."""
    emulator.emulator.add_fault(Fault(provider="ltx", op="submit", kind="delay", delay=3.0))
    env = cli_env(tmp_path, emulator)
    args = ["generate", *FAST_POLL, "--provider", "ltx", "--mode", "text-to-video", "--prompt", "x"]
    args += ["-o", str(tmp_path / "x.mp4")]
    code, err = interrupt_when(emulator, args, env, "submit", signals=2)
    assert code == 130, err
    (record,) = journal(env)
    assert record["state"] == "uncertain" and not record["resumable"]
    assert "stays resumable" not in err and "ltx2 jobs resume" not in err
    assert f"ltx2 jobs show {record['id']}" in err
    refused = ltx2("jobs", "resume", record["id"], env=env)
    assert refused.returncode == 1 and "cannot be resumed" in refused.stderr


@pytest.mark.parametrize("where", ["below-a-file", "proc"])
def test_output_folder_that_cannot_take_the_file_is_refused_before_any_request(emulator, tmp_path, where):
    if where == "proc":
        if not Path("/proc/self").is_dir():
            pytest.skip("needs Linux /proc (a folder no one can create files in)")
        out = "/proc/ltx2-out.mp4"
    else:
        (tmp_path / "a-file").write_text("not a folder")
        out = str(tmp_path / "a-file" / "x.mp4")
    env = cli_env(tmp_path, emulator)
    proc = ltx2(
        "generate", *FAST_POLL, "--provider", "gmi", "--mode", "text-to-video", "--prompt", "x", "-o", out,
        env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "--output" in line and "cannot write" in line and "nothing was sent" in line
    assert "Traceback" not in proc.stderr and "Error:" not in line  # no exception type names
    assert emulator.emulator.log == []  # nothing reached the provider, nothing was paid
    assert journal(env) == []


def test_error_after_acceptance_names_the_journal_id_to_resume(emulator, tmp_path):
    """A poll timeout leaves a paid job with the provider: the one error line gives the real id
    (not a placeholder), and that id collects the video without a second submit."""
    emulator.emulator.config.processing_seconds = 3.0
    env = cli_env(tmp_path, emulator)
    out = tmp_path / "late.mp4"
    proc = ltx2(
        "generate", *FAST_POLL, "--poll-timeout", "0.5", "--provider", "ltx", "--mode", "text-to-video",
        "--prompt", "x", "-o", str(out),
        env=env,
    )  # fmt: skip
    assert proc.returncode == 1
    (line,) = error_lines(proc.stderr)
    (record,) = journal(env)
    assert record["resumable"]
    assert f"ltx2 jobs resume {record['id']}" in line
    assert "jobs resume ID" not in line
    # Resuming into a folder that cannot take the file stops before polling the provider.
    (tmp_path / "a-file").write_text("not a folder")
    polls = sum(e.op == "status" for e in emulator.emulator.log)
    blocked = ltx2("jobs", "resume", record["id"], "-o", str(tmp_path / "a-file" / "x.mp4"), env=env)
    assert blocked.returncode == 1 and "cannot write" in blocked.stderr and "Traceback" not in blocked.stderr
    assert sum(e.op == "status" for e in emulator.emulator.log) == polls
    resumed = ltx2("jobs", "resume", record["id"], *FAST_POLL, "-o", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert probe(out).duration == pytest.approx(6.0, abs=0.5)
    assert emulator.emulator.submit_requests["ltx"] == 1


def test_resume_that_times_out_again_names_the_same_journal_id(emulator, tmp_path):
    emulator.emulator.add_fault(Fault(provider="gmi", op="job", kind="stuck"))
    env = cli_env(tmp_path, emulator)
    first = ltx2(
        "generate", *FAST_POLL, "--poll-timeout", "0.5", "--provider", "gmi", "--mode", "text-to-video",
        "--prompt", "x", "-o", str(tmp_path / "x.mp4"),
        env=env,
    )  # fmt: skip
    (record,) = journal(env)
    assert f"ltx2 jobs resume {record['id']}" in first.stderr
    again = ltx2("jobs", "resume", record["id"][:8], *FAST_POLL, "--poll-timeout", "0.5", env=env)
    assert again.returncode == 1
    (line,) = error_lines(again.stderr)
    assert f"ltx2 jobs resume {record['id']}" in line
    assert emulator.emulator.submit_requests["gmi"] == 1

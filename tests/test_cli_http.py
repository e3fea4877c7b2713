"""The command line over the HTTP layer (real subprocess, real emulator): the download cap flag,
keys refused before any request, and provider text printed without terminal control sequences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ltx2_nodes.api.emulator import Fault, RunningEmulator

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
GEN = (
    "generate",
    "--provider",
    "gmi",
    "--mode",
    "text-to-video",
    "--prompt",
    "a fox",
    "--poll-interval",
    "0.1",
)


def env_for(tmp: Path, emulator: RunningEmulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(LTX2_DATA_DIR=str(tmp / "data"), LTX2_CONFIG=str(tmp / "config.json"))
    env.update(emulator.env())
    env.update(extra)
    return env


def ltx2(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("ltx2: error:")]
    return line


def test_max_download_mb_caps_the_result_and_resume_can_raise_it(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    emulator.emulator.config.max_render_side = 64
    env = env_for(tmp_path, emulator)
    line = one_error_line(ltx2(*GEN, "--max-download-mb", "0", "-o", str(tmp_path / "a.mp4"), env=env))
    assert "LTX2_MAX_DOWNLOAD_MB='0'" in line and emulator.emulator.log == []  # nothing sent

    line = one_error_line(ltx2(*GEN, "--max-download-mb", "0.001", "-o", str(tmp_path / "v.mp4"), env=env))
    (record,) = json.loads(ltx2("jobs", "list", "--json", env=env).stdout)
    assert "over the download limit of 1048 bytes" in line and f"ltx2 jobs resume {record['id']}" in line
    resumed = ltx2(
        "jobs", "resume", record["id"], "--max-download-mb", "64", "-o", str(tmp_path / "v.mp4"), env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "v.mp4").read_bytes()[4:8] == b"ftyp"
    assert emulator.emulator.submit_requests["gmi"] == 1


def test_a_key_with_a_zero_width_space_is_refused_before_any_request(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    key = emulator.emulator.config.keys["gmi"]
    env = env_for(tmp_path, emulator, GMI_API_KEY=key + "\u200b")
    proc = ltx2(*GEN, "-o", str(tmp_path / "v.mp4"), env=env)
    line = one_error_line(proc)
    assert (
        "GMI_API_KEY" in line and "U+200B ZERO WIDTH SPACE" in line and key not in proc.stderr + proc.stdout
    )
    assert emulator.emulator.log == []
    assert json.loads(ltx2("jobs", "list", "--json", env=env).stdout) == []


def test_provider_text_is_printed_without_control_sequences(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    emulator.emulator.config.max_render_side = 64
    emulator.emulator.add_fault(
        Fault(
            op="job",
            kind="fail",
            provider="gmi",
            message="\x1b]0;pwned\x07\x1b[2K\rflagged \x1b[31mprompt\x1b[0m",
        )
    )
    proc = ltx2(*GEN, "-o", str(tmp_path / "v.mp4"), env=env_for(tmp_path, emulator))
    line = one_error_line(proc)
    assert "flagged prompt" in line
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr and "\x07" not in proc.stderr


def test_the_progress_line_shows_no_control_sequences() -> None:
    from ltx2_nodes.api.cli.progress import format_event
    from ltx2_nodes.api.types import ProgressEvent

    line = format_event(ProgressEvent("queued", 1.0, "accepted job \x1b[2K\rab\x1b]0;t\x07c\nd"))
    assert "accepted job abc d" in line and "\x1b" not in line and "\r" not in line

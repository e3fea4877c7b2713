"""``ltx2 demo --fast``: every provider x mode the registry offers runs end to end on the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ltx2_nodes.api.cli.demo import DemoInputs, expected_for, smallest_request
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.providers import all_providers
from ltx2_nodes.api.types import Mode


def offered() -> list[tuple[str, Mode]]:
    return [(p.name, mode) for p in all_providers() for mode in p.modes()]


def test_full_fast_demo_runs_every_provider_and_mode(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env["LTX2_CONFIG"] = str(tmp_path / "config.json")  # no user config file can leak in
    proc = subprocess.run(
        [sys.executable, "-m", "ltx2_nodes.api.cli.main", "demo", "--fast", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pairs = offered()
    assert len(pairs) >= 7 and {mode for _, mode in pairs} == set(Mode)  # every mode has a provider
    rows = {tuple(line.split()[:2]): line for line in proc.stdout.splitlines() if line.split()}
    for provider, mode in pairs:
        video = out / f"{provider}_{mode.value}.mp4"
        sheet = out / f"{provider}_{mode.value}.png"
        assert video.is_file() and sheet.is_file(), f"{provider} {mode.value} wrote no files"
        info = probe(video)
        assert info.video_codec == "h264" and info.frame_count and info.frame_count > 0
        assert max(info.width or 0, info.height or 0) <= 320  # --fast caps renders
        assert probe(sheet).format == "png"
        assert rows[(provider, mode.value)].rstrip().endswith("OK")
    assert f"{len(pairs)} of {len(pairs)} runs OK" in proc.stdout
    assert (out / ".ltx2" / "journal.sqlite3").is_file()
    # The demo's own journal records every run, pointing at the file where it ended up.
    listed = subprocess.run(
        [sys.executable, "-m", "ltx2_nodes.api.cli.main", "jobs", "list", "--all", "--json"],
        env={**env, "LTX2_DATA_DIR": str(out / ".ltx2")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    records = json.loads(listed.stdout)
    assert sorted((r["provider"], r["mode"]) for r in records) == sorted((p, m.value) for p, m in pairs)
    assert {r["state"] for r in records} == {"downloaded"}
    assert {r["result_path"] for r in records} == {str(out / f"{p}_{m.value}.mp4") for p, m in pairs}


def test_smallest_requests_are_valid_and_minimal(tmp_path: Path) -> None:
    inputs = DemoInputs(tmp_path / "inputs")
    for provider in all_providers():
        for mode in provider.modes():
            req = smallest_request(provider.name, mode, inputs)
            spec = provider.validate(req)  # valid as built
            if spec.durations and req.duration is not None and mode not in (Mode.RETAKE, Mode.EXTEND):
                assert req.duration == min(spec.durations)
            if spec.resolutions and req.resolution is not None:
                assert req.resolution in spec.resolutions
            assert expected_for(req).duration is not None  # every run has a length to check

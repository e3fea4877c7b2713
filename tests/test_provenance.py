"""The provenance sidecar next to each result, over real loopback HTTP against the emulator: what it
holds (media by hash, never bytes or keys), and that it goes with the file the CLI moves to ``-o``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ltx2_nodes.api import provenance, runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.inputs import media_from_bytes
from ltx2_nodes.api.types import GenerationRequest, MediaKind, Mode

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


async def test_the_sidecar_traces_the_result_without_bytes_or_keys(emu_env, tmp_path: Path) -> None:
    png = synth.test_png(96, 64, seed=3)
    req = GenerationRequest(
        provider="ltx",
        mode=Mode.IMAGE_TO_VIDEO,
        model="ltx-2-3-fast",
        prompt="it comes alive",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=9,
        image=media_from_bytes(png, MediaKind.IMAGE, filename="first.png"),
    )
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = runner.RunSettings(
        output_dir=tmp_path / "out",
        journal=journal,
        poll_interval=0.05,
        retry=RetryPolicy(base_delay=0.05, max_delay=0.5),
    )
    result = await runner.generate(req, settings)
    sidecar = provenance.sidecar_path(result.path)
    assert sidecar.is_file() and sidecar.name == result.path.name + ".ltx2.json"
    text = sidecar.read_text()
    doc = json.loads(text)
    assert doc["provider"] == "ltx" and doc["mode"] == "image-to-video" and doc["model"] == "ltx-2-3-fast"
    assert doc["journal_id"] == result.journal_id and doc["request_id"] == result.request_id
    assert doc["request"]["image"]["sha256"] == hashlib.sha256(png).hexdigest()
    assert doc["request"]["prompt"] == "it comes alive" and doc["request"]["seed"] == 9
    assert doc["estimated_cost"]["amount"] == pytest.approx(result.cost.amount)
    assert doc["estimated_cost"]["unit"] == "USD"
    assert doc["sha256"] == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert doc["file"] == result.path.name and doc["collect_again"].endswith(result.journal_id)
    assert {"submit", "queue", "download", "total"} <= set(doc["timings"])
    assert len(text) < 4000  # the image's bytes are not in it
    key = emu_env.env()["LTX_API_KEY"]
    assert key not in text


def test_the_cli_keeps_the_sidecar_with_the_file_it_moves(emu_env, tmp_path: Path) -> None:
    env = dict(os.environ)
    args = [*CLI, "generate", "--provider", "apiinone", "--mode", "text-to-video", "--prompt", "a lantern"]
    args += ["--duration", "5", "--seed", "4", "--poll-interval", "0.1"]
    out = tmp_path / "clips" / "fox.mp4"
    first = subprocess.run([*args, "-o", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    doc = provenance.read_sidecar(out)
    assert doc is not None and doc["file"] == "fox.mp4" and doc["provider"] == "apiinone"
    assert doc["estimated_cost"]["unit"] == "credits"
    assert sorted(p.name for p in out.parent.iterdir()) == ["fox.mp4", "fox.mp4.ltx2.json"]

    # The cached rerun copies the file, and its sidecar with it.
    again = tmp_path / "again.mp4"
    second = subprocess.run([*args, "-o", str(again)], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    copied = provenance.read_sidecar(again)
    assert copied is not None and copied["file"] == "again.mp4"
    assert copied["journal_id"] == doc["journal_id"]
    assert provenance.read_sidecar(out) is not None  # the cache's own file keeps its sidecar

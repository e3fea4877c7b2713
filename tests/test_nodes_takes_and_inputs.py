"""Generation nodes against the real emulator: an explicit fresh take, and input names in errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ltx2_nodes.api.media import synth
from ltx2_nodes.nodes.convert import audio_waveform
from ltx2_nodes.nodes.errors import LTX2InputError
from ltx2_nodes.nodes.generation import LTX2Extend, LTX2TextToVideo


@pytest.fixture
def env(emu_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("LTX2_POLL_INTERVAL", "0.05")
    return emu_env


T2V = dict(
    provider="GMI Cloud",
    model="auto",
    prompt="a quiet harbour",
    duration=6,
    resolution="auto",
    fps="auto",
    aspect_ratio="auto",
    camera_motion="none",
    generate_audio=False,
    seed=21,
    max_frames=2,
)


async def test_force_rerun_buys_a_new_take_instead_of_the_cached_one(env) -> None:
    first = await LTX2TextToVideo().generate(**T2V)
    again = await LTX2TextToVideo().generate(**T2V)  # equal inputs: the paid result is reused
    assert env.emulator.submit_requests["gmi"] == 1
    assert json.loads(again["result"][5])["from_cache"] is True

    fresh = await LTX2TextToVideo().generate(**T2V, force_rerun=True)
    assert env.emulator.submit_requests["gmi"] == 2
    info = json.loads(fresh["result"][5])
    assert not info.get("from_cache")
    assert info["request_id"] != json.loads(first["result"][5])["request_id"]
    assert fresh["result"][0].get_stream_source() != first["result"][0].get_stream_source()


async def test_a_bad_soundtrack_for_frames_names_the_frames_audio_input(env) -> None:
    frames = torch.from_numpy(synth.test_frames(80, 96, 64, seed=3)).float().div(255.0)
    with pytest.raises(LTX2InputError) as caught:
        await LTX2Extend().generate(
            provider="LTX (Lightricks)",
            model="auto",
            prompt="",
            duration=2.0,
            extend_mode="end",
            context=0.0,
            seed=0,
            frames=frames,
            frames_fps=25.0,
            frames_audio={"waveform": torch.zeros(1, 2, 0), "sample_rate": 48000},
        )
    assert "'frames_audio'" in str(caught.value)
    assert env.emulator.log == []


@pytest.mark.parametrize("waveform", [0.5, [[[[0.0, 0.1]]]], [[[[[0.0]]]]]])
def test_an_audio_waveform_of_the_wrong_rank_is_refused_with_a_message(waveform: object) -> None:
    from ltx2_nodes.api.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="'audio'") as caught:
        audio_waveform({"waveform": waveform, "sample_rate": 48000})
    assert "shape" in str(caught.value)

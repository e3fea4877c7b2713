"""Every generation node against the real emulator over loopback HTTP, with real torch tensors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from ltx2_nodes.api.emulator import Fault
from ltx2_nodes.api.media import synth
from ltx2_nodes.nodes.convert import decode_frames_tensor
from ltx2_nodes.nodes.errors import LTX2InputError, LTX2NodeError
from ltx2_nodes.nodes.generation import (
    LTX2AudioToVideo,
    LTX2Control,
    LTX2Extend,
    LTX2ImageToVideo,
    LTX2Lipsync,
    LTX2Retake,
    LTX2TextToVideo,
)
from ltx2_nodes.nodes.video import LTX2Video

KEYS = {"gmi": "SECRET-gmi-9f8e7d6c5b", "apiinone": "aio_SECRET_4a3b2c1d0e", "ltx": "SECRET-ltx-1a2b3c4d5e"}
KEY_ENV = {"gmi": "GMI_API_KEY", "apiinone": "APIINONE_API_KEY", "ltx": "LTX_API_KEY"}


@pytest.fixture
def env(emu_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Emulator with recognisable keys, results under tmp_path, fast polling."""
    keys = emu_env.emulator.config.keys
    saved = dict(keys)
    keys.update(KEYS)
    for provider, var in KEY_ENV.items():
        monkeypatch.setenv(var, KEYS[provider])
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("LTX2_POLL_INTERVAL", "0.05")
    yield emu_env
    keys.clear()
    keys.update(saved)


def image_tensor(width: int, height: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(synth.test_image(width, height, seed)).float().div(255.0).unsqueeze(0)


def audio_dict(seconds: float, channels: int = 2, rate: int = 48000) -> dict:
    wave = synth.speech_like_audio(seconds, rate, channels, 1)
    return {"waveform": torch.from_numpy(wave).unsqueeze(0), "sample_rate": rate}


def assert_no_key(text: str) -> None:
    for key in KEYS.values():
        assert key not in text


def check_outputs(out: dict, provider: str) -> dict:
    """Types, shapes, dtypes and ranges of the six outputs; the info JSON; no key anywhere."""
    video, frames, audio, fps, count, info_text = out["result"]
    assert isinstance(frames, torch.Tensor) and frames.dtype == torch.float32
    assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.shape[0] == count
    assert float(frames.min()) >= 0.0 and float(frames.max()) <= 1.0 and float(frames.std()) > 0.01
    assert audio["waveform"].dtype == torch.float32 and audio["waveform"].ndim == 3
    assert audio["waveform"].shape[0] == 1 and audio["sample_rate"] > 0
    assert isinstance(fps, float) and fps > 0 and isinstance(count, int)
    path = Path(video.get_stream_source())
    assert path.is_file() and path.parent.name == "ltx2"
    assert video.get_dimensions() == (frames.shape[2], frames.shape[1])
    assert abs(video.get_duration() - count / fps) < 0.2
    ui = out["ui"]
    assert ui["animated"] == (True,)
    assert ui["images"] == [{"filename": path.name, "subfolder": "ltx2", "type": "output"}]
    info = json.loads(info_text)
    assert info["provider"] == provider and info["request_id"] and info["journal_id"]
    assert info["estimated_cost"]["amount"] > 0
    assert info["video"]["frame_count"] == count
    assert_no_key(info_text)
    with av.open(str(path)) as container:
        tags = " ".join(f"{k}={v}" for k, v in container.metadata.items())
        for stream in container.streams:
            tags += " ".join(f"{k}={v}" for k, v in stream.metadata.items())
    assert_no_key(tags)
    assert_no_key(path.read_bytes().decode("latin-1"))
    return info


async def test_text_to_video(env) -> None:
    out = await LTX2TextToVideo().generate(
        provider="LTX (Lightricks)",
        model="auto",
        prompt="a lighthouse at dusk",
        duration=6,
        resolution="auto",
        fps="25",
        aspect_ratio="auto",
        camera_motion="dolly_in",
        generate_audio=True,
        seed=3,
    )
    info = check_outputs(out, "ltx")
    assert info["mode"] == "text-to-video"
    assert out["result"][4] == out["result"][1].shape[0] >= 6 * 25
    assert env.emulator.submit_requests["ltx"] == 1


async def test_image_to_video_starts_from_the_image(env) -> None:
    image = image_tensor(192, 108, seed=5)
    out = await LTX2ImageToVideo().generate(
        provider="GMI Cloud",
        model="auto",
        prompt="the shapes drift",
        duration=6,
        resolution="1920x1080",
        fps="25",
        camera_motion="none",
        generate_audio=False,
        seed=1,
        image=image,
    )
    check_outputs(out, "gmi")
    frames = out["result"][1]
    h, w = frames.shape[1:3]
    expected = torch.nn.functional.interpolate(
        image.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=False
    ).permute(0, 2, 3, 1)[0]
    assert float((frames[0] - expected).abs().mean()) < 0.08


async def test_audio_to_video_is_as_long_as_the_audio(env) -> None:
    audio = audio_dict(2.4)
    out = await LTX2AudioToVideo().generate(
        provider="LTX (Lightricks)",
        model="auto",
        prompt="a singer",
        resolution="auto",
        guidance_scale=0.0,
        seed=0,
        audio=audio,
    )
    check_outputs(out, "ltx")
    wave = out["result"][2]
    assert abs(wave["waveform"].shape[-1] / wave["sample_rate"] - 2.4) <= 0.1
    assert abs(out["result"][4] / out["result"][3] - 2.4) <= 0.1


async def test_lipsync_with_image_and_audio(env) -> None:
    out = await LTX2Lipsync().generate(
        provider="API in One",
        model="auto",
        prompt="",
        resolution="720p",
        seed=0,
        audio=audio_dict(5.2, channels=1),
        image=image_tensor(96, 96, seed=2),
    )
    check_outputs(out, "apiinone")
    wave = out["result"][2]
    assert abs(wave["waveform"].shape[-1] / wave["sample_rate"] - 5.2) <= 0.1


async def test_retake_uploads_the_file_byte_for_byte_and_keeps_frames_outside(env, tmp_path: Path) -> None:
    source = tmp_path / "input.mp4"
    source.write_bytes(synth.test_mp4(3.2, 192, 108, fps=25, seed=4))
    out = await LTX2Retake().generate(
        provider="LTX (Lightricks)",
        model="auto",
        prompt="",
        start_time=1.2,
        duration=2.0,
        retake_mode="replace_video",
        seed=0,
        video=LTX2Video(source),
    )
    check_outputs(out, "ltx")
    stored = [entry.data for entry in env.emulator.files.values() if entry.content_type == "video/mp4"]
    assert source.read_bytes() in stored  # sent as it is: no re-encode
    original, _ = decode_frames_tensor(source)
    result = out["result"][1]
    assert result.shape[0] == original.shape[0]
    kept = slice(0, 25)  # the first second is before the section
    assert float((result[kept] - original[kept]).abs().mean()) < 0.04
    changed = slice(35, 75)
    assert float((result[changed] - original[changed]).abs().mean()) > 0.04


async def test_extend_from_frames_keeps_the_original_frames(env) -> None:
    frames = torch.from_numpy(synth.test_frames(80, 160, 96, seed=7)).float().div(255.0)
    out = await LTX2Extend().generate(
        provider="LTX (Lightricks)",
        model="auto",
        prompt="",
        duration=2.0,
        extend_mode="end",
        context=0.0,
        seed=0,
        frames=frames,
        frames_fps=25.0,
        frames_audio=audio_dict(3.2),
    )
    check_outputs(out, "ltx")
    result = out["result"][1]
    assert result.shape[0] >= 80 + 2 * 25 - 2
    assert float((result[:80] - frames).abs().mean()) < 0.04


async def test_control_from_a_video_url(env) -> None:
    token = env.emulator.put_file(synth.test_mp4(5.2, 128, 96, fps=25, seed=8), "video/mp4", ttl=600)
    out = await LTX2Control().generate(
        provider="API in One",
        model="auto",
        prompt="a dancer",
        control_mode="canny",
        audio_mode="preserve",
        resolution="480p",
        seed=0,
        video_url=f"{env.origin}/_files/{token}",
    )
    info = check_outputs(out, "apiinone")
    assert info["mode"] == "control"


async def test_frames_are_not_decoded_when_unlinked(env) -> None:
    graph = {
        "3": {"class_type": "LTX2TextToVideo", "inputs": {"prompt": "x"}},
        "4": {"class_type": "SaveVideo", "inputs": {"video": ["3", 0]}},
    }
    out = await LTX2TextToVideo().generate(
        provider="GMI Cloud",
        model="auto",
        prompt="a lighthouse",
        duration=6,
        resolution="auto",
        fps="auto",
        aspect_ratio="auto",
        camera_motion="none",
        generate_audio=True,
        seed=0,
        unique_id="3",
        workflow_prompt=graph,
    )
    video, frames, _audio, fps, count, info = out["result"]
    assert tuple(frames.shape) == (1, 8, 8, 3) and float(frames.abs().max()) == 0.0
    assert count >= 6 * 25 and fps == 25.0  # still the video's real numbers
    assert json.loads(info)["video"]["frames_decoded"] is False
    assert Path(video.get_stream_source()).is_file()


async def test_a_batch_image_is_refused_before_any_request(env) -> None:
    batch = torch.cat([image_tensor(64, 64), image_tensor(64, 64, seed=1)])
    with pytest.raises(LTX2InputError) as caught:
        await LTX2ImageToVideo().generate(
            provider="GMI Cloud",
            model="auto",
            prompt="x",
            duration=6,
            resolution="auto",
            fps="auto",
            camera_motion="none",
            generate_audio=True,
            seed=0,
            image=batch,
        )
    assert "'image'" in str(caught.value) and "batch of 2" in str(caught.value)
    assert env.emulator.log == []


@pytest.mark.parametrize(
    ("node", "inputs", "named"),
    [
        (
            LTX2TextToVideo,
            {"provider": "LTX (Lightricks)", "model": "ltx-2-3-pro", "duration": 20},
            "duration",
        ),
        (LTX2TextToVideo, {"provider": "LTX (Lightricks)", "model": "ltx-2-pro"}, "model"),
        (
            LTX2TextToVideo,
            {"provider": "LTX (Lightricks)", "model": "ltx-2-3-fast", "duration": "auto"},
            "duration",
        ),
        (LTX2TextToVideo, {"provider": "GMI Cloud", "resolution": "480p"}, "resolution"),
        (LTX2TextToVideo, {"provider": "API in One", "fps": "50"}, "fps"),
        (LTX2ImageToVideo, {"provider": "GMI Cloud"}, "image"),
    ],
)
async def test_invalid_combinations_never_reach_the_wire(env, node, inputs: dict, named: str) -> None:
    values = {
        "model": "auto",
        "prompt": "x",
        "duration": 6,
        "resolution": "auto",
        "fps": "auto",
        "aspect_ratio": "auto",
        "camera_motion": "none",
        "generate_audio": True,
        "seed": 0,
        **inputs,
    }
    with pytest.raises(LTX2InputError) as caught:
        await node().generate(**values)
    assert f"'{named}'" in str(caught.value)
    assert_no_key(str(caught.value))
    assert env.emulator.log == []


async def test_provider_errors_are_plain_messages_without_the_key(env) -> None:
    env.emulator.add_fault(Fault(op="submit", kind="http", provider="ltx", status=402, message="no credit"))
    with pytest.raises(LTX2NodeError) as caught:
        await LTX2TextToVideo().generate(
            provider="LTX (Lightricks)",
            model="auto",
            prompt="x",
            duration=6,
            resolution="auto",
            fps="auto",
            aspect_ratio="auto",
            camera_motion="none",
            generate_audio=True,
            seed=11,
        )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    message = str(caught.value)
    assert message and "Traceback" not in message
    assert_no_key(message)
    assert env.emulator.submit_requests["ltx"] == 1


async def test_equal_requests_reuse_the_collected_result(env) -> None:
    values = dict(
        provider="GMI Cloud",
        model="auto",
        prompt="same",
        duration=6,
        resolution="auto",
        fps="auto",
        aspect_ratio="auto",
        camera_motion="none",
        generate_audio=True,
        seed=42,
        max_frames=5,
    )
    first = await LTX2TextToVideo().generate(**values)
    second = await LTX2TextToVideo().generate(**values)
    assert env.emulator.submit_requests["gmi"] == 1
    assert json.loads(second["result"][5])["from_cache"] is True
    assert second["result"][0].get_stream_source() == first["result"][0].get_stream_source()
    assert second["result"][1].shape[0] == 5
    assert np.allclose(first["result"][1].numpy(), second["result"][1].numpy())


async def test_a_saved_sync_setting_runs_as_a_resumable_job(env) -> None:
    # The LTX API's synchronous v1 call is retired: a saved workflow that still carries ``sync``
    # loads and runs through the v2 job API, whose job id makes the paid result resumable.
    from ltx2_nodes.nodes.settings import LTX2ProviderSettings

    (settings,) = LTX2ProviderSettings().build(sync=True)
    out = await LTX2TextToVideo().generate(
        provider="LTX (Lightricks)",
        model="auto",
        prompt="a lighthouse at dusk",
        duration=6,
        resolution="auto",
        fps="25",
        aspect_ratio="auto",
        camera_motion="none",
        generate_audio=False,
        seed=4,
        settings=settings,
    )
    video, frames, *_ = out["result"]
    assert Path(video.get_stream_source()).read_bytes()[4:8] == b"ftyp" and frames.shape[0] > 0
    paths = [entry.path for entry in env.emulator.log]
    assert paths[0] == "/ltx/v2/text-to-video" and not any("/v1/text" in p for p in paths)

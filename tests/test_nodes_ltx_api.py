"""The nodes on the LTX API as it is today: first + last frame, automatic duration, the new
audio-to-video inputs (and AAC instead of WAV), and reframe from IMAGE frames."""

from __future__ import annotations

import json

import pytest
from ltx2_nodes.nodes.errors import LTX2InputError
from ltx2_nodes.nodes.generation import LTX2AudioToVideo, LTX2ImageToVideo, LTX2Reframe
from test_nodes_generation import audio_dict, check_outputs, env, image_tensor  # noqa: F401

LTX = "LTX (Lightricks)"


def submit_body(running) -> dict:  # type: ignore[no-untyped-def]
    (entry,) = [e for e in running.emulator.log if e.op == "submit"]
    return entry.json


async def test_first_and_last_frame_with_automatic_duration(env) -> None:  # noqa: F811
    out = await LTX2ImageToVideo().generate(
        provider=LTX,
        model="ltx-2-5-pro",
        prompt="from one picture to the other",
        duration="auto",
        resolution="1280x720",
        fps="24",
        camera_motion="none",
        generate_audio=False,
        seed=1,
        image=image_tensor(160, 90, seed=1),
        last_frame=image_tensor(160, 90, seed=2),
    )
    check_outputs(out, "ltx")
    body = submit_body(env)
    assert body["duration"] is None and body["image_uri"] != body["last_frame_uri"]


async def test_audio_to_video_sends_aac_and_the_new_fields(env) -> None:  # noqa: F811
    out = await LTX2AudioToVideo().generate(
        provider=LTX,
        model="ltx-2-5-fast",
        prompt="a singer",
        resolution="auto",
        guidance_scale=0.0,
        seed=0,
        audio=audio_dict(2.4),
        fps="50",
        camera_motion="static",
    )
    info = check_outputs(out, "ltx")
    assert info["video"]["fps"] == 50
    body = submit_body(env)
    assert (body["fps"], body["camera_motion"], body["model"]) == (50, "static", "ltx-2-5-fast")
    uploads = [e for e in env.emulator.log if e.op == "upload"]
    assert uploads and all("wav" not in json.dumps(e.json) for e in uploads)


async def test_reframe_from_frames(env) -> None:  # noqa: F811
    import torch

    frames = torch.cat([image_tensor(128, 72, seed=i % 3) for i in range(50)])
    out = await LTX2Reframe().generate(
        provider=LTX,
        model="auto",
        resolution="1080x1080",
        placement="custom",
        placement_x=0.0,
        placement_y=0.2,
        placement_width=1.0,
        placement_height=0.0,
        seed=0,
        frames=frames,
        frames_fps=25.0,
    )
    video = out["result"][0]
    width, height = video.get_dimensions()
    assert width == height
    assert submit_body(env)["placement"] == {"x": 0.0, "y": 0.2, "width": 1.0}


async def test_removed_model_from_a_saved_workflow_is_refused_before_any_request(env) -> None:  # noqa: F811
    with pytest.raises(LTX2InputError, match="use ltx-2-3-fast instead"):
        await LTX2ImageToVideo().generate(
            provider=LTX,
            model="ltx-2-fast",
            prompt="p",
            duration=6,
            resolution="auto",
            fps="25",
            camera_motion="none",
            generate_audio=True,
            seed=0,
            image=image_tensor(64, 36),
        )
    assert env.emulator.log == []

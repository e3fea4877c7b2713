"""Saved workflows keep working: every released node keeps its input names in their order, and
inputs added since are optional and come after them (ComfyUI stores widget values by position)."""

from __future__ import annotations

import pytest
from ltx2_nodes.nodes import NODE_CLASS_MAPPINGS
from ltx2_nodes.nodes.generation import LTX2AudioToVideo, LTX2ImageToVideo

# Input names in order, as released.
RELEASED: dict[str, tuple[str, ...]] = {
    "LTX2TextToVideo": (
        "provider",
        "model",
        "prompt",
        "duration",
        "resolution",
        "fps",
        "aspect_ratio",
        "camera_motion",
        "generate_audio",
        "seed",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
    "LTX2ImageToVideo": (
        "provider",
        "model",
        "prompt",
        "duration",
        "resolution",
        "fps",
        "camera_motion",
        "generate_audio",
        "seed",
        "image",
        "image_url",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
    "LTX2AudioToVideo": (
        "provider",
        "model",
        "prompt",
        "resolution",
        "guidance_scale",
        "seed",
        "image",
        "image_url",
        "audio",
        "audio_url",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
    "LTX2Lipsync": (
        "provider",
        "model",
        "prompt",
        "resolution",
        "seed",
        "image",
        "image_url",
        "audio",
        "audio_url",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
    "LTX2Retake": (
        "provider",
        "model",
        "prompt",
        "start_time",
        "duration",
        "retake_mode",
        "seed",
        "video",
        "frames",
        "frames_fps",
        "frames_audio",
        "video_url",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
    "LTX2Extend": (
        "provider",
        "model",
        "prompt",
        "duration",
        "extend_mode",
        "context",
        "seed",
        "video",
        "frames",
        "frames_fps",
        "frames_audio",
        "video_url",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
    "LTX2Control": (
        "provider",
        "model",
        "prompt",
        "control_mode",
        "audio_mode",
        "resolution",
        "seed",
        "video",
        "frames",
        "frames_fps",
        "frames_audio",
        "video_url",
        "settings",
        "filename_prefix",
        "max_frames",
        "frame_stride",
        "max_side",
        "force_rerun",
    ),
}


@pytest.mark.parametrize("node", sorted(RELEASED))
def test_released_inputs_keep_their_names_and_order(node: str) -> None:
    spec = NODE_CLASS_MAPPINGS[node].INPUT_TYPES()
    names = [*spec["required"], *spec.get("optional", {})]
    released = list(RELEASED[node])
    assert names[: len(released)] == released
    assert set(names[len(released) :]) <= set(spec.get("optional", {}))  # added inputs are optional


def test_last_frame_and_new_audio_inputs_are_appended() -> None:
    i2v = list(LTX2ImageToVideo.INPUT_TYPES()["optional"])
    assert i2v[-2:] == ["last_frame", "last_frame_url"]
    a2v = list(LTX2AudioToVideo.INPUT_TYPES()["optional"])
    assert a2v[-4:] == ["fps", "camera_motion", "last_frame", "last_frame_url"]
    assert LTX2AudioToVideo.INPUT_TYPES()["optional"]["fps"][1]["default"] == "auto"


def test_reframe_node_inputs() -> None:
    spec = NODE_CLASS_MAPPINGS["LTX2Reframe"].INPUT_TYPES()
    assert "prompt" not in spec["required"]
    assert spec["required"]["provider"][0] == ["LTX (Lightricks)"]
    assert spec["required"]["placement"][0][0] == "center" and "custom" in spec["required"]["placement"][0]
    assert "1080x1920" in spec["required"]["resolution"][0]
    assert {"video", "frames", "frames_fps", "video_url"} <= set(spec["optional"])


def test_an_old_saved_duration_value_is_still_offered() -> None:
    choices = NODE_CLASS_MAPPINGS["LTX2TextToVideo"].INPUT_TYPES()["required"]["duration"][0]
    assert 6 in choices and 6.0 in choices and "auto" in choices

"""Loading the pack, node definitions, settings validation, IS_CHANGED and link detection."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.errors import InvalidInputError
from ltx2_nodes.api.types import Mode
from ltx2_nodes.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS, widgets
from ltx2_nodes.nodes.errors import LTX2InputError
from ltx2_nodes.nodes.generation import LTX2ImageToVideo, LTX2Retake, LTX2TextToVideo
from ltx2_nodes.nodes.outputs import output_linked
from ltx2_nodes.nodes.settings import LTX2ProviderSettings, LTX2Settings

NODE_IDS = {
    "LTX2TextToVideo": "LTX-2 Text to Video",
    "LTX2ImageToVideo": "LTX-2 Image to Video",
    "LTX2AudioToVideo": "LTX-2 Audio to Video",
    "LTX2Lipsync": "LTX-2 Lipsync",
    "LTX2Retake": "LTX-2 Retake",
    "LTX2Extend": "LTX-2 Extend",
    "LTX2Control": "LTX-2 Control",
    "LTX2Reframe": "LTX-2 Reframe",
    "LTX2ProviderSettings": "LTX-2 Provider Settings",
    "LTX2DecodeVideo": "LTX-2 Decode Video",
    "LTX2LoadJobResult": "LTX-2 Load Job Result",
}


def test_import_loads_no_heavy_module() -> None:
    code = "import sys, ltx2_nodes; print(','.join(m for m in ('torch', 'av', 'httpx', 'aiohttp', 'numpy') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(filter(None, done.stdout.strip().split(",")))
    # aiohttp too: ComfyUI has it loaded already, but the `ltx2` command would pay for it.
    assert not loaded & {"torch", "av", "httpx", "aiohttp"}, loaded
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    for heavy in ("torch", "av", "httpx", "aiohttp"):
        assert heavy not in imported


def test_every_node_is_registered_with_its_display_name() -> None:
    assert set(NODE_CLASS_MAPPINGS) == set(NODE_IDS)
    assert NODE_DISPLAY_NAME_MAPPINGS == NODE_IDS
    for cls in NODE_CLASS_MAPPINGS.values():
        assert cls.CATEGORY == "LTX-2"
        assert isinstance(cls.INPUT_TYPES(), dict)
        assert callable(getattr(cls, cls.FUNCTION))


@pytest.mark.parametrize(
    "node_id", [n for n in NODE_IDS if n not in ("LTX2ProviderSettings", "LTX2DecodeVideo")]
)
def test_generation_nodes_share_outputs_and_hidden_inputs(node_id: str) -> None:
    cls = NODE_CLASS_MAPPINGS[node_id]
    assert cls.RETURN_TYPES == ("VIDEO", "IMAGE", "AUDIO", "FLOAT", "INT", "STRING")
    assert cls.RETURN_NAMES == ("video", "frames", "audio", "fps", "frame_count", "info")
    assert cls.OUTPUT_NODE is True
    spec = cls.INPUT_TYPES()
    assert spec["hidden"] == {"unique_id": "UNIQUE_ID", "workflow_prompt": "PROMPT"}
    for name in ("max_frames", "frame_stride", "max_side"):
        assert spec["optional"][name][0] == "INT"
    assert "placeholder" in cls.OUTPUT_TOOLTIPS[1]


def test_inputs_come_from_the_provider_registry() -> None:
    spec = LTX2TextToVideo.INPUT_TYPES()
    req = spec["required"]
    providers = req["provider"][0]
    assert providers == [p.display_name for p in widgets.providers_for(Mode.TEXT_TO_VIDEO)]
    assert req["model"][0][0] == "auto"
    choices, opts = req["duration"]  # a list: whole seconds, and "auto" (LTX-2.5 picks the length)
    all_durations = [
        d for s in widgets.model_specs(Mode.TEXT_TO_VIDEO) for d in (*s.durations, *(s.duration_range or ()))
    ]
    assert choices[-1] == "auto" and opts["default"] == 6
    assert choices[0] == min(all_durations) and choices[-2] == max(all_durations)
    assert all(float(d) in choices for d in all_durations)
    assert widgets.mode_widget("duration", Mode.RETAKE)[0] == "FLOAT"  # no model picks a section itself
    resolutions = {r for s in widgets.model_specs(Mode.TEXT_TO_VIDEO) for r in s.resolutions}
    assert set(req["resolution"][0]) == {"auto", *resolutions}
    assert req["camera_motion"][0][0] == "none"
    assert req["seed"][0] == "INT" and req["seed"][1]["default"] == 0
    assert LTX2ImageToVideo.INPUT_TYPES()["optional"]["image"][0] == "IMAGE"
    assert "image_url" in LTX2ImageToVideo.INPUT_TYPES()["optional"]
    retake = LTX2Retake.INPUT_TYPES()
    assert {"video", "frames", "frames_fps", "video_url", "settings"} <= set(retake["optional"])
    assert retake["required"]["retake_mode"][0] == [
        "replace_audio_and_video",
        "replace_audio",
        "replace_video",
    ]


def test_resolution_spelling_is_mapped_to_the_providers_own() -> None:
    assert widgets.equivalent_resolution("1080p", ("1920x1080", "3840x2160")) == "1920x1080"
    assert widgets.equivalent_resolution("1920x1080", ("480p", "720p", "1080p")) == "1080p"
    assert widgets.equivalent_resolution("999p", ("720p",)) == "999p"


# --- settings ----------------------------------------------------------------------------------

KEY_LIKE = st.one_of(
    st.builds(lambda s: "aio_" + s, st.text("abcdef0123456789", min_size=1, max_size=30)),
    st.builds(lambda s: "sk-" + s, st.text("abcdef0123456789", min_size=1, max_size=30)),
    st.builds(lambda s: "Bearer " + s, st.text("abcdef0123456789", min_size=1, max_size=30)),
    st.text("ABCDEFabcdef0123456789", min_size=41, max_size=80),
)


@settings(max_examples=60, deadline=None, database=None)
@given(KEY_LIKE)
def test_settings_refuse_anything_that_looks_like_a_key(value: str) -> None:
    with pytest.raises(LTX2InputError) as caught:
        LTX2ProviderSettings().build(key_profile=value)
    message = str(caught.value)
    assert "key_profile" in message and "environment" in message and "config" in message
    assert value not in message


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}", fullmatch=True).filter(
        lambda s: not s.lower().startswith(("aio_", "sk-", "bearer", "gmi_", "ltx_"))
    )
)
def test_settings_accept_profile_names(name: str) -> None:
    (value,) = LTX2ProviderSettings().build(
        key_profile=name, hosting="data-uri", poll_timeout=60, use_cache=False
    )
    assert value == LTX2Settings(key_profile=name, hosting="data-uri", poll_timeout=60, use_cache=False)


def test_settings_refuse_credentials_in_the_base_url() -> None:
    with pytest.raises(LTX2InputError, match="base_url"):
        LTX2ProviderSettings().build(base_url="https://user:pass@api.example.com/v1")
    with pytest.raises(LTX2InputError, match="base_url"):
        LTX2ProviderSettings().build(base_url="ftp://example.com")


# --- IS_CHANGED ----------------------------------------------------------------------------------

WIDGET_VALUES = st.dictionaries(
    st.sampled_from(["prompt", "duration", "resolution", "fps", "camera_motion", "generate_audio"]),
    st.one_of(st.integers(0, 2**31), st.floats(allow_nan=False), st.text(max_size=20), st.booleans()),
)


@settings(max_examples=80, deadline=None, database=None)
@given(WIDGET_VALUES, st.integers(0, 2**31 - 1))
def test_is_changed_is_stable_and_sensitive_to_the_seed(values: dict, seed: int) -> None:
    a = LTX2TextToVideo.IS_CHANGED(**values, seed=seed, unique_id="1", workflow_prompt={"x": 1})
    b = LTX2TextToVideo.IS_CHANGED(**dict(values), seed=seed, unique_id="9", workflow_prompt={"y": 2})
    assert a == b
    assert LTX2TextToVideo.IS_CHANGED(**values, seed=seed + 1) != a
    rerun = LTX2TextToVideo.IS_CHANGED(**values, seed=seed, force_rerun=True)
    assert isinstance(rerun, float) and math.isnan(rerun) and rerun != rerun


def test_is_changed_hashes_tensors_by_content() -> None:
    image = torch.rand(1, 16, 16, 3)
    same = image.clone()
    other = image.clone()
    other[0, 3, 3, 1] += 0.01
    audio = {"waveform": torch.zeros(1, 2, 100), "sample_rate": 48000}
    base = LTX2ImageToVideo.IS_CHANGED(image=image, audio=audio, seed=0)
    assert LTX2ImageToVideo.IS_CHANGED(image=same, audio=dict(audio), seed=0) == base
    assert LTX2ImageToVideo.IS_CHANGED(image=other, audio=audio, seed=0) != base
    louder = {"waveform": torch.full((1, 2, 100), 0.1), "sample_rate": 48000}
    assert LTX2ImageToVideo.IS_CHANGED(image=image, audio=louder, seed=0) != base
    assert LTX2ImageToVideo.IS_CHANGED(image=image.to(torch.bfloat16), seed=0) != LTX2ImageToVideo.IS_CHANGED(
        image=image, seed=0
    )


def test_is_changed_hashes_a_file_video_by_path_size_and_mtime(tmp_path) -> None:
    import os

    from ltx2_nodes.nodes.video import LTX2Video

    path = tmp_path / "clip.mp4"
    path.write_bytes(b"0" * 100)
    first = LTX2Retake.IS_CHANGED(video=LTX2Video(path), seed=0)
    assert LTX2Retake.IS_CHANGED(video=LTX2Video(path), seed=0) == first
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert LTX2Retake.IS_CHANGED(video=LTX2Video(path), seed=0) != first


# --- frames output link detection ------------------------------------------------------------------


def test_frames_output_link_detection() -> None:
    graph = {
        "5": {"class_type": "LTX2TextToVideo", "inputs": {"prompt": "x"}},
        "6": {"class_type": "SaveVideo", "inputs": {"video": ["5", 0]}},
    }
    assert output_linked(graph, "5", 1) is False
    graph["7"] = {"class_type": "PreviewImage", "inputs": {"images": ["5", 1]}}
    assert output_linked(graph, "5", 1) is True
    assert output_linked(graph, 5, 1) is True  # ids compare as text
    assert output_linked(None, "5", 1) is True  # no graph information: decode
    assert output_linked(graph, "42", 1) is True  # node not in the graph (expanded): decode


def test_requests_are_built_from_widget_values() -> None:
    from ltx2_nodes.api.providers import get_provider

    node = LTX2TextToVideo()
    inputs = {
        "provider": "GMI Cloud",
        "model": "auto",
        "prompt": "  a boat  ",
        "duration": 8,
        "resolution": "1080p",
        "fps": "25",
        "aspect_ratio": "auto",
        "camera_motion": "none",
        "generate_audio": False,
        "seed": 7,
    }
    provider = node.provider(inputs)
    req = node.build_request(provider, inputs, {})
    assert (req.provider, req.mode, req.model, req.prompt) == ("gmi", Mode.TEXT_TO_VIDEO, None, "a boat")
    assert (req.duration, req.resolution, req.fps, req.seed) == (8.0, "1920x1080", 25, 7)
    assert req.aspect_ratio is None and req.camera_motion is None and req.generate_audio is False
    aio = node.build_request(get_provider("apiinone"), {**inputs, "resolution": "1920x1080"}, {})
    assert aio.resolution == "1080p"
    with pytest.raises(InvalidInputError, match="provider"):
        node.provider({"provider": "Nobody"})

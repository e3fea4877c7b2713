"""Conversions between graph values and media, with real tensors and real MP4s (no server needed)."""

from __future__ import annotations

import io
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.errors import InvalidInputError
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.decode import plan_decode
from ltx2_nodes.api.types import MediaKind
from ltx2_nodes.nodes.convert import (
    audio_to_media,
    decode_audio_dict,
    decode_frames_tensor,
    frames_to_media,
    image_to_media,
    image_to_uint8,
    video_output,
    video_to_media,
)
from ltx2_nodes.nodes.decode import LTX2DecodeVideo
from ltx2_nodes.nodes.errors import LTX2InputError
from ltx2_nodes.nodes.video import Components, LTX2Video
from PIL import Image


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    path.write_bytes(synth.test_mp4(2.0, 160, 96, fps=25, seed=1))
    return path


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("media") / "silent.mp4"
    path.write_bytes(synth.test_mp4(1.2, 96, 64, fps=25, audio=False, seed=2))
    return path


class ComponentsOnlyVideo:
    """A VIDEO that is not file-backed (like ComfyUI's VideoFromComponents)."""

    def __init__(self, images: torch.Tensor, fps: float, audio: dict | None = None) -> None:
        self.components = Components(images=images, frame_rate=Fraction(fps), audio=audio)

    def get_components(self) -> Components:
        return self.components


# --- decode ------------------------------------------------------------------------------------------


def test_frames_decode_into_the_one_preallocated_tensor(clip: Path) -> None:
    plan = plan_decode(clip)
    target = torch.empty((plan.frame_count, plan.height, plan.width, 3), dtype=torch.float32)
    frames, fps = decode_frames_tensor(clip, out=target)
    assert frames.data_ptr() == target.data_ptr() and frames.shape == target.shape
    assert fps == 25.0 and frames.shape == (50, 96, 160, 3)
    reference = synth.test_frames(50, 160, 96, seed=1).astype(np.float32) / 255.0
    assert float(np.abs(frames.numpy() - reference).mean()) < 0.03  # really filled, not left empty


_PEAK_SCRIPT = """
import sys, tracemalloc
from ltx2_nodes.nodes.convert import decode_frames_tensor
decode_frames_tensor(sys.argv[1])  # first use imports torch and PyAV: not what is measured
tracemalloc.start()
tracemalloc.reset_peak()
frames, _ = decode_frames_tensor(sys.argv[1])
_, peak = tracemalloc.get_traced_memory()
print(peak, frames.numel() * frames.element_size())
"""


def test_decoding_allocates_no_second_copy(clip: Path) -> None:
    # A fresh interpreter: tracemalloc counts every thread, and no other work may run meanwhile.
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(clip)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    peak, tensor_bytes = int(out[0]), int(out[1])
    # torch's own buffer is not traced; any numpy frame list or stacked copy would be
    assert peak < 0.15 * tensor_bytes


def test_cap_stride_and_downscale(clip: Path) -> None:
    frames, fps = decode_frames_tensor(clip, max_frames=7, stride=3, max_side=80)
    assert frames.shape == (7, 48, 80, 3) and fps == pytest.approx(25 / 3)


def test_decode_video_node(clip: Path, silent_clip: Path) -> None:
    import asyncio

    frames, audio, fps, count = asyncio.run(
        LTX2DecodeVideo().decode(LTX2Video(clip), max_frames=0, frame_stride=2)
    )
    assert frames.shape == (25, 96, 160, 3) and count == 25 and fps == 12.5
    assert audio["waveform"].shape[:2] == (1, 2) and audio["sample_rate"] == 48000
    assert float(audio["waveform"].abs().max()) > 0.05
    frames, audio, fps, count = asyncio.run(LTX2DecodeVideo().decode(LTX2Video(silent_clip)))
    assert count == frames.shape[0] == 30
    assert audio["sample_rate"] == 48000 and audio["waveform"].shape[1] == 2
    assert (
        abs(audio["waveform"].shape[-1] / 48000 - 1.2) < 0.05 and float(audio["waveform"].abs().max()) == 0.0
    )
    components = ComponentsOnlyVideo(torch.rand(12, 64, 96, 3), 24.0)
    frames, audio, fps, count = asyncio.run(LTX2DecodeVideo().decode(components))
    assert frames.shape == (12, 64, 96, 3) and fps == 24.0
    with pytest.raises(LTX2InputError, match="frame_stride"):
        asyncio.run(LTX2DecodeVideo().decode(LTX2Video(clip), frame_stride=0))


def test_silent_track_when_the_video_has_no_audio(silent_clip: Path) -> None:
    audio = decode_audio_dict(silent_clip)
    assert audio["waveform"].shape == (1, 2, round(1.2 * 48000))
    assert decode_audio_dict(silent_clip, silent_when_missing=False) is None


# --- VIDEO values -----------------------------------------------------------------------------------------


def test_video_output_is_file_backed_and_saves_without_reencoding(clip: Path, tmp_path: Path) -> None:
    video = video_output(clip)
    assert isinstance(video, LTX2Video)
    assert video.get_stream_source() == str(clip)
    assert video.get_dimensions() == (160, 96)
    assert abs(video.get_duration() - 2.0) < 0.1 and video.get_frame_rate() == 25
    assert "mp4" in video.get_container_format()
    copy = tmp_path / "copy.mp4"
    video.save_to(str(copy))
    assert copy.read_bytes() == clip.read_bytes()
    buffer = io.BytesIO()
    video.save_to(buffer)
    assert buffer.getvalue() == clip.read_bytes()
    tagged = tmp_path / "tagged.mp4"
    video.save_to(tagged, metadata={"prompt": {"1": "x"}})
    with av.open(str(tagged)) as out, av.open(str(clip)) as src:
        assert out.metadata.get("prompt") == '{"1": "x"}'
        packets = [(p.size, p.pts) for p in out.demux(out.streams.video[0]) if p.size]
        original = [(p.size, p.pts) for p in src.demux(src.streams.video[0]) if p.size]
    assert packets == original  # remuxed, same compressed frames
    with pytest.raises(ValueError, match="re-encoding"):
        video.save_to(tmp_path / "x.webm", format="webm")
    components = video.get_components()
    assert components.images.shape == (50, 96, 160, 3) and components.frame_rate == 25
    assert components.audio["waveform"].shape[:2] == (1, 2)


def test_file_backed_mp4_is_sent_as_it_is(clip: Path) -> None:
    media = video_to_media(LTX2Video(clip))
    assert media.data == clip.read_bytes() and media.content_type == "video/mp4"
    assert media.kind is MediaKind.VIDEO and media.info.frame_count == 50

    class InMemoryVideo:  # like VideoFromFile(BytesIO)
        def get_stream_source(self) -> io.BytesIO:
            return io.BytesIO(clip.read_bytes())

    assert video_to_media(InMemoryVideo()).data == clip.read_bytes()


def test_other_videos_are_encoded_once(tmp_path: Path) -> None:
    images = torch.from_numpy(synth.test_frames(20, 64, 48, seed=4)).float() / 255.0
    audio = {
        "waveform": torch.from_numpy(synth.speech_like_audio(0.8, 48000, 2, 0)).unsqueeze(0),
        "sample_rate": 48000,
    }
    media = video_to_media(ComponentsOnlyVideo(images, 25.0, audio))
    assert media.data[4:8] == b"ftyp" and media.info.frame_count == 20 and media.info.has_audio
    webm = tmp_path / "clip.webm"  # a file-backed video in another container is re-encoded too
    with av.open(str(webm), "w") as out:
        stream = out.add_stream("libvpx-vp9", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in synth.test_frames(10, 64, 48):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))

    class WebmVideo(ComponentsOnlyVideo):
        def get_stream_source(self) -> str:
            return str(webm)

    media = video_to_media(WebmVideo(images[:10], 25.0))
    assert media.data != webm.read_bytes() and media.info.video_codec == "h264"


def test_frames_with_audio_become_an_mp4() -> None:
    frames = torch.rand(15, 48, 64, 3)
    media = frames_to_media(frames, 25.0, audio={"waveform": torch.zeros(1, 1, 30000), "sample_rate": 48000})
    assert media.info.frame_count == 15 and media.info.width == 64 and media.info.has_audio
    with pytest.raises(InvalidInputError, match="frames_fps"):
        frames_to_media(frames, 0.0)


# --- IMAGE / AUDIO ---------------------------------------------------------------------------------


def test_image_becomes_a_lossless_png() -> None:
    pixels = synth.test_image(40, 30, seed=9)
    tensor = torch.from_numpy(pixels).float().div(255.0).unsqueeze(0)
    media = image_to_media(tensor)
    assert media.content_type == "image/png" and media.info.width == 40 and media.info.height == 30
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(media.data)).convert("RGB")), pixels)


def test_a_batch_is_refused_with_the_input_name() -> None:
    with pytest.raises(InvalidInputError) as caught:
        image_to_media(torch.rand(3, 16, 16, 3), "image")
    assert "'image'" in str(caught.value) and "batch of 3" in str(caught.value)
    assert image_to_uint8(torch.rand(3, 16, 16, 3), allow_batch=True).shape == (3, 16, 16, 3)


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.integers(1, 3),
    st.integers(1, 24),
    st.integers(1, 24),
    st.sampled_from([1, 3, 4]),
    st.floats(-2.0, 3.0, allow_nan=False),
)
def test_any_image_shape_converts_to_rgb_uint8(
    batch: int, h: int, w: int, channels: int, value: float
) -> None:
    tensor = torch.full((batch, h, w, channels), value)
    pixels = image_to_uint8(tensor, allow_batch=True)
    assert pixels.shape == (batch, h, w, 3) and pixels.dtype == np.uint8
    assert int(pixels.max()) == round(min(max(value, 0.0), 1.0) * 255)


@settings(max_examples=20, deadline=None, database=None)
@given(st.sampled_from([1, 2, 5]), st.integers(1, 24))
def test_bad_image_shapes_are_refused(ndim: int, size: int) -> None:
    tensor = torch.zeros((1,) * (ndim - 1) + (size,))
    with pytest.raises(InvalidInputError, match="'image'"):
        image_to_uint8(tensor, "image")


def test_audio_becomes_wav_with_its_duration() -> None:
    wave = torch.from_numpy(synth.speech_like_audio(1.5, 44100, 2, 3))
    media = audio_to_media({"waveform": torch.stack([wave, wave * 0.5]), "sample_rate": 44100})
    assert media.content_type == "audio/wav" and media.data[:4] == b"RIFF"
    assert media.info.duration == pytest.approx(1.5, abs=0.01) and media.info.channels == 2
    with pytest.raises(InvalidInputError, match="'audio'"):
        audio_to_media({"waveform": torch.zeros(1, 2, 0), "sample_rate": 44100})
    with pytest.raises(InvalidInputError, match="sample_rate"):
        audio_to_media({"waveform": torch.zeros(1, 2, 10), "sample_rate": 0})


def test_preview_of_a_file_outside_the_output_folder(clip: Path, tmp_path: Path, monkeypatch) -> None:
    from ltx2_nodes.nodes.outputs import preview_ui

    out = tmp_path / "output"
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(out))
    ui = preview_ui(clip)
    assert ui == {
        "images": [{"filename": "clip.mp4", "subfolder": "ltx2", "type": "output"}],
        "animated": (True,),
    }
    assert (out / "ltx2" / "clip.mp4").read_bytes() == clip.read_bytes()
    inside = out / "ltx2" / "sub" / "x.mp4"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"x")
    assert preview_ui(inside)["images"][0] == {"filename": "x.mp4", "subfolder": "ltx2/sub", "type": "output"}

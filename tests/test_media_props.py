"""Property checks of the media arithmetic and parsing (few examples each: they run in a shared CI)."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.errors import MediaError
from ltx2_nodes.api.media.decode import output_frame_count, scaled_size
from ltx2_nodes.api.media.encode import encode_audio, encode_image, exact_fps
from ltx2_nodes.api.media.probe import detect_content_type, probe
from ltx2_nodes.api.types import MediaInfo
from PIL import Image

FEW = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

sides = st.integers(min_value=2, max_value=8192)


@FEW
@given(width=sides, height=sides, max_side=st.integers(min_value=2, max_value=4096))
def test_downscale_keeps_aspect_and_stays_even(width: int, height: int, max_side: int) -> None:
    new_w, new_h = scaled_size(width, height, max_side)
    if max(width, height) <= max_side:
        assert (new_w, new_h) == (width, height)  # never upscaled, never changed
        return
    assert new_w % 2 == 0 and new_h % 2 == 0 and new_w >= 2 and new_h >= 2
    assert max(new_w, new_h) <= max_side
    assert max(new_w, new_h) >= max_side - 1  # uses the room it has
    # The shorter side is within 1 px of the exact proportional size (or at the 2 px floor).
    longer, shorter = max(width, height), min(width, height)
    new_longer, new_shorter = max(new_w, new_h), min(new_w, new_h)
    exact = shorter * new_longer / longer
    assert abs(new_shorter - exact) <= 1.0 or new_shorter == 2
    assert new_w >= new_h if width > height else new_h >= new_w  # orientation kept


@FEW
@given(width=sides, height=sides)
def test_no_max_side_keeps_size(width: int, height: int) -> None:
    assert scaled_size(width, height, 0) == (width, height)


@FEW
@given(source=st.integers(0, 100_000), max_frames=st.integers(0, 5000), stride=st.integers(1, 64))
def test_frame_count_after_cap_and_stride(source: int, max_frames: int, stride: int) -> None:
    n = output_frame_count(source, max_frames, stride)
    kept = len(range(0, source, stride))  # the indices decode_frames keeps
    assert n == (min(kept, max_frames) if max_frames else kept)
    assert 0 <= n <= source


@FEW
@given(fps=st.floats(min_value=1.0, max_value=240.0, allow_nan=False))
def test_exact_fps_is_close_and_small(fps: float) -> None:
    rate = exact_fps(fps)
    assert abs(float(rate) - fps) < 0.0016
    assert rate.denominator <= 1001


@FEW
@given(data=st.binary(min_size=0, max_size=512))
def test_detection_never_crashes_and_probe_fails_cleanly(data: bytes) -> None:
    assert isinstance(detect_content_type(data), str)
    try:
        info = probe(data)
    except MediaError as exc:
        assert str(exc)  # a message for the user
    else:
        assert isinstance(info, MediaInfo)  # FFmpeg found something it can read in random bytes


@FEW
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    channels=st.sampled_from([0, 3, 4]),
    seed=st.integers(0, 2**16),
)
def test_png_round_trip_is_lossless(h: int, w: int, channels: int, seed: int) -> None:
    shape = (h, w) if channels == 0 else (h, w, channels)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    data = encode_image(image, "png")
    with Image.open(io.BytesIO(data)) as img:
        np.testing.assert_array_equal(np.asarray(img), image)
    info = probe(data)
    assert (info.width, info.height) == (w, h)


@FEW
@given(samples=st.integers(1, 4000), channels=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_wav_round_trip_within_half_a_step(samples: int, channels: int, seed: int) -> None:
    wav = np.random.default_rng(seed).uniform(-1.2, 1.2, (channels, samples)).astype(np.float32)
    data = encode_audio(wav, 16000, "wav")
    info = probe(data)
    assert info.channels == channels and info.sample_rate == 16000
    pcm = np.frombuffer(data[44:], dtype="<i2").reshape(samples, channels).T / 32768.0
    assert np.abs(pcm - np.clip(wav, -1.0, 32767 / 32768)).max() <= 0.5 / 32768 + 1e-7

"""Emulator renderings: sizes, frame counts, kept frames, audio handling, control modes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.emulator.render import (
    SAMPLE_RATE,
    ClipSpec,
    frame_count,
    render_clip,
    render_control,
    render_extend,
    render_retake,
    render_size,
)
from ltx2_nodes.api.media.decode import decode_video_bytes
from ltx2_nodes.api.media.encode import encode_audio, encode_image, encode_video
from ltx2_nodes.api.media.probe import probe

W, H, FPS = 128, 72, 25


def _decode(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    frames, audio, _ = decode_video_bytes(data)
    return frames, None if audio is None else audio.waveform


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def _tone(seconds: float, freq: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]


def _dominant_freq(wave: np.ndarray, rate: int) -> float:
    mono = wave.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.fft.rfftfreq(mono.size, 1 / rate)[int(spectrum.argmax())])


@pytest.fixture(scope="module")
def source() -> bytes:
    """A 3 s, 25 fps clip with a 440 Hz track: the input of retake / extend / control."""
    rng = np.random.default_rng(7)
    frames = np.empty((75, H, W, 3), dtype=np.uint8)
    base = rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(75):
        frames[i] = np.roll(base, i, axis=1)
        frames[i, 20:50, 10 + i : 30 + i] = 255  # a bright moving block
    return encode_video(frames, FPS, audio=_tone(3.0, 440.0), sample_rate=SAMPLE_RATE, crf=10)


@pytest.fixture(scope="module")
def source_frames(source: bytes) -> np.ndarray:
    return _decode(source)[0]


# --- sizes and counts -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(16, 4096),
    h=st.integers(16, 4096),
    scale=st.sampled_from([1.0, 0.5, 0.1, 0.05]),
    cap=st.sampled_from([0, 64, 192, 512]),
)
def test_render_size_even_capped_and_aspect_kept(w: int, h: int, scale: float, cap: int) -> None:
    rw, rh = render_size(w, h, scale, cap)
    assert rw % 2 == 0 and rh % 2 == 0
    assert min(rw, rh) >= 16
    if cap and min(w, h) * min(1.0, cap / (max(w, h) * scale)) * scale >= 16:
        assert max(rw, rh) <= cap
    if min(rw, rh) >= 32:  # rounding to even moves small sizes a lot
        assert abs(rw / rh - w / h) / (w / h) < 0.1


def test_render_size_examples() -> None:
    assert render_size(1920, 1080) == (1920, 1080)
    assert render_size(1920, 1080, 1.0, 192) == (192, 108)
    assert render_size(1080, 1920, 0.1) == (108, 192)
    assert render_size(3840, 2160, 0.001)[1] == 16


@settings(max_examples=80, deadline=None)
@given(duration=st.floats(0.2, 30.0), fps=st.sampled_from([24, 25, 30, 48, 50]))
def test_frame_count_is_nearest_8k_plus_1(duration: float, fps: int) -> None:
    n = frame_count(duration, fps)
    assert n % 8 == 1 and n >= 9
    if duration * fps >= 9:
        assert abs(n - duration * fps) <= 4


def test_frame_count_examples() -> None:
    assert frame_count(6, 25) == 153  # 150 -> nearest of 145 / 153
    assert frame_count(5, 24) == 121
    assert frame_count(10, 50) == 497
    with pytest.raises(ValueError):
        frame_count(0, 25)


# --- clips -------------------------------------------------------------------------------------------------


def test_text_to_video_is_animated_seeded_and_has_audio() -> None:
    a = render_clip(ClipSpec(W, H, FPS, 1.0, "a lighthouse at dusk", 1))
    info = probe(a)
    assert (info.width, info.height, info.fps) == (W, H, 25.0)
    assert info.frame_count == frame_count(1.0, FPS) == 25
    assert info.has_audio and info.channels == 2 and info.sample_rate == SAMPLE_RATE
    frames, audio = _decode(a)
    assert _diff(frames[0], frames[-1]) > 0.02  # clearly animated
    assert audio is not None and float(np.abs(audio).max()) > 0.05
    again, _ = _decode(render_clip(ClipSpec(W, H, FPS, 1.0, "a lighthouse at dusk", 1)))
    other, _ = _decode(render_clip(ClipSpec(W, H, FPS, 1.0, "a lighthouse at dusk", 2, generate_audio=False)))
    assert _diff(frames[0], again[0]) < 0.01  # same prompt and seed, same picture
    assert _diff(frames[0], other[0]) > 0.05  # another seed, another scene


def test_image_to_video_starts_on_the_image_and_moves() -> None:
    img = np.zeros((H * 2, W * 2, 3), dtype=np.uint8)
    img[:, :W] = (220, 40, 40)
    img[40:100, 150:230] = (30, 200, 90)
    data = render_clip(ClipSpec(W, H, FPS, 1.0, "", 0, image=encode_image(img), generate_audio=False))
    assert probe(data).has_audio is False
    frames, audio = _decode(data)
    expected = img[::2, ::2].astype(np.float32) / 255  # same aspect: a plain downscale
    assert _diff(frames[0], expected) < 0.03
    assert _diff(frames[-1], expected) > _diff(frames[0], expected) + 0.01
    assert audio is None


def test_audio_sets_length_and_drives_a_mouth() -> None:
    # 1 s of tone then 1 s of silence, at 44.1 kHz mono: resampled, carried, length kept
    wave = np.concatenate([_tone(1.0, 330.0, 44100), np.zeros((1, 44100), np.float32)], axis=1)
    img = np.full((H, W, 3), 200, dtype=np.uint8)
    data = render_clip(
        ClipSpec(W, H, FPS, None, "", 0, image=encode_image(img), audio=encode_audio(wave, 44100))
    )
    info = probe(data)
    assert info.frame_count == 50
    assert abs(info.duration - 2.0) <= 1 / FPS
    frames, audio = _decode(data)
    assert audio is not None and abs(audio.shape[1] / SAMPLE_RATE - 2.0) < 0.05
    loud, quiet = audio[:, :SAMPLE_RATE], audio[:, SAMPLE_RATE + 2400 :]
    assert np.abs(loud).mean() > 10 * np.abs(quiet).mean()
    assert abs(_dominant_freq(loud, SAMPLE_RATE) - 330.0) < 5
    mouth = (slice(int(H * 0.6), int(H * 0.85)), slice(int(W * 0.35), int(W * 0.65)))
    assert _diff(frames[12][mouth], frames[0][mouth]) > 0.1  # open while it sounds
    assert _diff(frames[40][mouth], frames[0][mouth]) < _diff(frames[12][mouth], frames[0][mouth])


def test_clip_without_duration_or_audio_is_refused() -> None:
    with pytest.raises(ValueError):
        render_clip(ClipSpec(W, H, FPS, None))


# --- retake --------------------------------------------------------------------------------------------------


def test_retake_replaces_only_the_section(source: bytes, source_frames: np.ndarray) -> None:
    out = render_retake(source, 1.0, 1.0, "replace_audio_and_video", "a storm", 3)
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frame_count) == (W, H, 25.0, 75)
    frames, audio = _decode(out)
    for i in (0, 10, 24, 50, 60, 74):  # outside [25, 50)
        assert _diff(frames[i], source_frames[i]) < 0.02, i
    for i in (25, 37, 49):
        assert _diff(frames[i], source_frames[i]) > 0.08, i
    src_audio = _decode(source)[1]
    assert audio is not None and src_audio is not None
    assert abs(_dominant_freq(audio[:, : SAMPLE_RATE - 2400], SAMPLE_RATE) - 440) < 5
    inside = audio[:, SAMPLE_RATE + 2400 : 2 * SAMPLE_RATE - 2400]
    assert abs(_dominant_freq(inside, SAMPLE_RATE) - 440) > 20


def test_retake_audio_only_keeps_every_frame(source: bytes, source_frames: np.ndarray) -> None:
    frames, audio = _decode(render_retake(source, 0.5, 2.0, "replace_audio"))
    assert frames.shape == source_frames.shape
    assert max(_diff(a, b) for a, b in zip(frames, source_frames, strict=True)) < 0.02
    assert audio is not None
    assert abs(_dominant_freq(audio[:, SAMPLE_RATE : 2 * SAMPLE_RATE], SAMPLE_RATE) - 440) > 20


def test_retake_video_only_keeps_the_sound(source: bytes, source_frames: np.ndarray) -> None:
    frames, audio = _decode(render_retake(source, 1.0, 1.0, "replace_video"))
    assert _diff(frames[30], source_frames[30]) > 0.08
    assert audio is not None
    assert abs(_dominant_freq(audio[:, SAMPLE_RATE + 2400 : 2 * SAMPLE_RATE], SAMPLE_RATE) - 440) < 5
    with pytest.raises(ValueError):
        render_retake(source, 1.0, 1.0, "replace_everything")


# --- extend ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["end", "start"])
def test_extend_keeps_frames_and_adds_new_ones(source: bytes, source_frames: np.ndarray, where: str) -> None:
    out = render_extend(source, 1.0, where, "more", 1)
    frames, audio = _decode(out)
    n_new = 25  # 1 s x 25 fps
    assert frames.shape[0] == 75 + n_new
    offset = 0 if where == "end" else n_new
    for i in (0, 30, 74):
        assert _diff(frames[offset + i], source_frames[i]) < 0.02
    boundary = source_frames[-1] if where == "end" else source_frames[0]
    nearest = frames[75] if where == "end" else frames[n_new - 1]
    farthest = frames[-1] if where == "end" else frames[0]
    assert _diff(nearest, boundary) < _diff(farthest, boundary)  # continues from the boundary frame
    assert _diff(farthest, boundary) > 0.02
    assert audio is not None and abs(audio.shape[1] / SAMPLE_RATE - 4.0) < 0.06
    kept = (
        audio[:, SAMPLE_RATE // 2 : SAMPLE_RATE]
        if where == "end"
        else audio[:, 2 * SAMPLE_RATE : 3 * SAMPLE_RATE]
    )
    assert abs(_dominant_freq(kept, SAMPLE_RATE) - 440) < 5


def test_extend_without_audio_stays_silent() -> None:
    frames = np.full((20, 32, 48, 3), 90, dtype=np.uint8)
    out = render_extend(encode_video(frames, 25), 0.4, "end")
    info = probe(out)
    assert info.frame_count == 30 and info.has_audio is False
    with pytest.raises(ValueError):
        render_extend(encode_video(frames, 25), 1.0, "middle")


# --- control -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def control_outputs(source: bytes) -> dict[str, bytes]:
    return {mode: render_control(source, mode, "none", 96, 54, 25) for mode in ("canny", "depth", "pose")}


def test_control_modes_follow_the_video_and_differ(control_outputs: dict[str, bytes]) -> None:
    decoded = {}
    for mode, data in control_outputs.items():
        info = probe(data)
        assert (info.width, info.height, info.frame_count, info.has_audio) == (96, 54, 75, False), mode
        decoded[mode] = _decode(data)[0]
    canny, depth, pose = decoded["canny"], decoded["depth"], decoded["pose"]
    # canny: white edges on black (nearly binary, mostly black), moving with the block
    assert (canny < 0.15).mean() + (canny > 0.85).mean() > 0.9
    assert 0.02 < (canny > 0.5).mean() < 0.6
    assert _diff(canny[0], canny[40]) > 0.01
    # depth: coloured (channels differ), smooth
    assert float(np.abs(depth[..., 0] - depth[..., 2]).mean()) > 0.1
    # pose: mostly black background with coloured limbs
    assert 0.5 < (pose.max(axis=-1) < 0.1).mean() < 0.995
    for a, b in (("canny", "depth"), ("depth", "pose"), ("canny", "pose")):
        assert _diff(decoded[a][10], decoded[b][10]) > 0.05


def test_control_audio_modes_and_length(source: bytes) -> None:
    preserved = render_control(source, "canny", "preserve", 64, 36, 50, duration=1.0)
    info = probe(preserved)
    assert info.frame_count == frame_count(1.0, 50) == 49 and info.fps == 50.0 and info.has_audio
    _, audio = _decode(preserved)
    assert audio is not None and abs(_dominant_freq(audio, SAMPLE_RATE) - 440) < 5
    _, generated = _decode(render_control(source, "depth", "generate", 64, 36, 25))
    assert generated is not None and abs(_dominant_freq(generated, SAMPLE_RATE) - 440) > 20
    assert probe(render_control(source, "pose", "none", 64, 36, 25, duration=0.5)).has_audio is False
    with pytest.raises(ValueError):
        render_control(source, "edges", "none", 64, 36, 25)
    with pytest.raises(ValueError):
        render_control(source, "canny", "loud", 64, 36, 25)


def test_large_renders_keep_the_stated_size_fps_and_frame_count() -> None:
    from ltx2_nodes.api.emulator.render import DETAIL_SIDE, detail_size

    assert detail_size(W, H) == (W, H)  # small renders are drawn at their size
    assert max(detail_size(1920, 1080)) == DETAIL_SIDE and detail_size(1080, 1920) == (360, 640)
    data = render_clip(ClipSpec(1280, 720, FPS, 0.36, "a harbour at noon", 4))
    info = probe(data)
    assert (info.width, info.height, info.fps, info.frame_count) == (1280, 720, 25.0, 9)
    assert info.video_codec == "h264" and info.has_audio and info.channels == 2
    frames, _ = _decode(data)
    assert frames.shape == (9, 720, 1280, 3) and float(frames.std()) > 0.05
    assert _diff(frames[0], frames[-1]) > 0.01  # still animated

"""Deterministic synthetic media for tests and the offline demo: nothing is downloaded.

Images and frames are gradients with shapes (clearly not uniform, so compression and decoding
errors show); audio is speech-like (voiced syllables with a pitch contour and formants), so
lipsync and audio-to-video paths get something with a speech rhythm rather than a pure tone.
"""

from __future__ import annotations

import numpy as np

from .encode import encode_audio, encode_image, encode_video

# Formant frequencies (Hz) of five vowels (a, e, i, o, u), typical adult values.
_VOWELS = np.array(
    [
        [730.0, 1090.0, 2440.0],
        [530.0, 1840.0, 2480.0],
        [270.0, 2290.0, 3010.0],
        [570.0, 840.0, 2410.0],
        [300.0, 870.0, 2240.0],
    ]
)
_FORMANT_BANDWIDTHS = np.array([90.0, 110.0, 170.0])
_FORMANT_GAINS = np.array([1.0, 0.6, 0.3])
_PEAK = 0.8


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs / max(1, width - 1), ys / max(1, height - 1)


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"size must be at least 1x1; got {width}x{height}")


def test_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 [H,W,3]: two-way colour gradient, a disc, a rectangle and stripes placed by ``seed``."""
    _check_size(width, height)
    rng = np.random.default_rng(seed)
    u, v = _grid(width, height)
    img = np.empty((height, width, 3), dtype=np.float32)
    img[..., 0] = u
    img[..., 1] = v
    img[..., 2] = 0.5 + 0.5 * np.sin(6.0 * (u + v) + seed)
    cx, cy, r = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0.12, 0.22)
    aspect = width / height
    disc = ((u - cx) * aspect) ** 2 + (v - cy) ** 2 < r * r
    img[disc] = rng.uniform(0.0, 1.0, 3)
    x0, y0 = rng.uniform(0.05, 0.55), rng.uniform(0.05, 0.55)
    rect = (u > x0) & (u < x0 + 0.3) & (v > y0) & (v < y0 + 0.2)
    img[rect] = 1.0 - img[rect]
    stripes = (v > 0.85) & ((np.floor(u * 16) % 2) == 0)
    img[stripes] = 0.05
    return np.rint(img * 255.0).astype(np.uint8)


def test_frames(count: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 [N,H,W,3]: a drifting gradient with a disc and a square that move, so every frame differs."""
    _check_size(width, height)
    if count < 1:
        raise ValueError(f"count must be at least 1; got {count}")
    rng = np.random.default_rng(seed)
    u, v = _grid(width, height)
    aspect = width / height
    disc_colour = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    square_colour = rng.uniform(0.0, 0.4, 3).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    work = np.empty((height, width, 3), dtype=np.float32)
    for i in range(count):
        t = i / max(1, count - 1)
        work[..., 0] = 0.5 + 0.4 * np.sin(2 * np.pi * (u + t) + phase)
        work[..., 1] = v * (0.6 + 0.4 * t)
        work[..., 2] = 0.3 + 0.3 * np.cos(2 * np.pi * (v - t))
        cx, cy = 0.15 + 0.7 * t, 0.5 + 0.3 * np.sin(2 * np.pi * t + phase)
        work[((u - cx) * aspect) ** 2 + (v - cy) ** 2 < 0.15**2] = disc_colour
        sx, sy = 0.8 - 0.6 * t, 0.25
        work[(np.abs(u - sx) < 0.08) & (np.abs(v - sy) < 0.08 * aspect)] = square_colour
        work[(v > 0.95) & (u < t)] = 1.0  # a progress bar: frame order is visible
        np.multiply(work, 255.0, out=work)
        np.rint(work, out=work)
        frames[i] = work
    return frames


def speech_like_audio(
    seconds: float, sample_rate: int = 48000, channels: int = 1, seed: int = 0
) -> np.ndarray:
    """float32 [C,T], peak <= 0.8: voiced syllables about 4 per second with short pauses.

    Each syllable has a pitch contour within 100-220 Hz and harmonics shaped by three formant
    resonances of a vowel; phrases end in longer pauses, onsets carry a short noise burst."""
    if seconds <= 0 or sample_rate <= 0 or channels < 1:
        raise ValueError(
            f"need seconds > 0, sample_rate > 0, channels >= 1; got {seconds}, {sample_rate}, {channels}"
        )
    rng = np.random.default_rng(seed)
    total = max(1, round(seconds * sample_rate))
    t = np.arange(total, dtype=np.float64) / sample_rate

    f0 = np.full(total, 140.0)
    formants = np.tile(_VOWELS[0], (total, 1))
    envelope = np.zeros(total)
    noise = np.zeros(total)

    pos, syllable = 0.03, 0
    while pos < seconds:
        length = rng.uniform(0.14, 0.24)
        start, end = int(pos * sample_rate), min(total, int((pos + length) * sample_rate))
        if end - start > 8:
            n = end - start
            x = np.linspace(0.0, 1.0, n)
            # Rise then fall around a base that declines over a phrase (kept within 100-220 Hz).
            base = 175.0 - 8.0 * (syllable % 5) + rng.uniform(-15, 15)
            f0[start:end] = np.clip(base + rng.uniform(15, 35) * np.sin(np.pi * x) - 20.0 * x, 100.0, 220.0)
            vowel, following = _VOWELS[rng.integers(len(_VOWELS))], _VOWELS[rng.integers(len(_VOWELS))]
            # Glide part way towards the next vowel, as coarticulation does.
            formants[start:end] = vowel + (following - vowel) * (x**2)[:, None] * 0.5
            attack = np.clip(x / 0.2, 0.0, 1.0)
            release = np.clip((1.0 - x) / 0.35, 0.0, 1.0)
            envelope[start:end] = (np.sin(0.5 * np.pi * attack) * np.sin(0.5 * np.pi * release)) ** 1.5
            burst = min(n, int(0.02 * sample_rate))
            noise[start : start + burst] = np.hanning(2 * burst)[burst:] * 0.25
        syllable += 1
        pos += length + rng.uniform(0.02, 0.07)
        if syllable % 5 == 0:
            pos += rng.uniform(0.15, 0.3)  # end of a phrase

    # Harmonic source shaped by the formants: amplitude of harmonic k at k*f0(t).
    phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
    signal = np.zeros(total)
    top = min(4000.0, sample_rate / 2 - 200.0)
    for k in range(1, int(top // 100.0) + 1):
        freq = k * f0
        gain = np.zeros(total)
        for j in range(3):
            gain += _FORMANT_GAINS[j] / (1.0 + ((freq - formants[:, j]) / _FORMANT_BANDWIDTHS[j]) ** 2)
        gain *= (freq < top) / np.sqrt(k)  # spectral tilt of a glottal source
        signal += gain * np.sin(k * phase)
    signal *= envelope
    signal += noise * rng.standard_normal(total) * (envelope > 0)
    signal += 1e-4 * np.sin(2 * np.pi * 50.0 * t)  # a faint hum: silence is never digital zero

    peak = float(np.max(np.abs(signal))) or 1.0
    signal *= _PEAK / peak
    out = np.empty((channels, total), dtype=np.float32)
    for c in range(channels):
        out[c] = signal * (1.0 - 0.1 * c / channels)  # channels slightly apart, never above the peak
    return out


def test_png(width: int, height: int, seed: int = 0) -> bytes:
    return encode_image(test_image(width, height, seed), "png")


def test_wav(seconds: float, sample_rate: int = 48000, seed: int = 0, channels: int = 1) -> bytes:
    return encode_audio(speech_like_audio(seconds, sample_rate, channels, seed), sample_rate, "wav")


def test_mp4(
    seconds: float,
    width: int,
    height: int,
    fps: float = 25,
    audio: bool = True,
    seed: int = 0,
    sample_rate: int = 48000,
) -> bytes:
    """An H.264 MP4 of moving shapes (+ stereo speech-like AAC audio when ``audio``)."""
    count = max(1, round(seconds * fps))
    frames = test_frames(count, width, height, seed)
    if not audio:
        return encode_video(frames, fps)
    wav = speech_like_audio(count / fps, sample_rate, 2, seed)
    return encode_video(frames, fps, audio=wav, sample_rate=sample_rate)


# These are media builders, not tests: keep pytest from collecting them when imported by name.
for _builder in (test_image, test_frames, test_png, test_wav, test_mp4):
    _builder.__test__ = False  # type: ignore[attr-defined]
del _builder

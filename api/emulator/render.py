"""Real MP4s for the emulator: generated clips, retake, extend, control and lipsync renderings.

Everything is procedural and seeded (no model): the point is real, probe-able MP4s whose
content depends visibly on the inputs, cheap enough to render in tests. Frames are built as
uint8 arrays with numpy and handed to ``api.media.encode.encode_video``.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import TypeVar

import numpy as np

SAMPLE_RATE = 48_000  # generated and carried audio is resampled to this (AAC stereo)
KEEP_CRF = 12  # re-encodes that keep input frames (retake, extend) stay close to the input
CLIP_CRF = 18
# x264's quickest preset: a few times faster than "veryfast" for a somewhat larger file, which a
# loopback emulator does not mind. Still H.264 yuv420p that every player reads.
PRESET = "ultrafast"
# Generated pictures (scenes, image drift, control maps) are drawn with the longer side at most this
# long and scaled to the stated size by libswscale while encoding: the file has the requested size,
# fps and frame count at a fraction of the drawing cost. Frames kept from an input are not scaled.
DETAIL_SIDE = 640
RETAKE_MODES = ("replace_audio_and_video", "replace_audio", "replace_video")
EXTEND_WHERE = ("end", "start")
CONTROL_MODES = ("canny", "depth", "pose")
AUDIO_MODES = ("preserve", "generate", "none")

_T = TypeVar("_T")


@dataclass(frozen=True)
class ClipSpec:
    width: int  # rendered size (already scaled with render_size)
    height: int
    fps: float
    duration: float | None  # seconds; None = as long as ``audio``
    prompt: str = ""
    seed: int = 0
    image: bytes | None = None  # first frame (image-to-video; audio-to-video / lipsync with an image)
    audio: bytes | None = (
        None  # audio carried as-is (audio-to-video, lipsync); sets the length when duration is None
    )
    generate_audio: bool = True  # add a generated audio track (ignored when ``audio`` is given)


# --- sizes and counts -------------------------------------------------------------------------------


def render_size(width: int, height: int, scale: float = 1.0, max_side: int = 0) -> tuple[int, int]:
    """Requested size -> rendered size: scaled, capped, even (yuv420p)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive, got {width}x{height}")
    scale = scale if scale > 0 else 1.0
    w, h = width * scale, height * scale
    if max_side and max(w, h) > max_side:
        shrink = max_side / max(w, h)
        w, h = w * shrink, h * shrink
    # Keep the aspect: the shorter side is at least 16, the longer grows with it.
    short = min(w, h)
    if short < 16:
        grow = 16 / short
        w, h = w * grow, h * grow
    return max(16, _even(w)), max(16, _even(h))


def _even(x: float) -> int:
    return max(2, round(x / 2.0) * 2)


def detail_size(width: int, height: int) -> tuple[int, int]:
    """The size generated pictures are drawn at for a ``width`` x ``height`` video (see DETAIL_SIDE)."""
    if max(width, height) <= DETAIL_SIDE:
        return width, height
    shrink = DETAIL_SIDE / max(width, height)
    return max(16, _even(width * shrink)), max(16, _even(height * shrink))


def frame_count(duration: float, fps: float) -> int:
    """Frames the LTX-2 model would make: the 8k+1 count nearest duration x fps (at least 9)."""
    if duration <= 0 or fps <= 0:
        raise ValueError(f"duration and fps must be positive, got {duration} s at {fps} fps")
    k = math.floor((duration * fps - 1) / 8 + 0.5)
    return max(9, 8 * k + 1)


def _seconds_to_frames(seconds: float, fps: float) -> int:
    return max(1, round(seconds * fps))


# --- seeded randomness ------------------------------------------------------------------------------


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


# --- media I/O through api.media ---------------------------------------------------------------------


def _with_temp(data: bytes, suffix: str, fn: Callable[[str], _T]) -> _T:
    """Run ``fn`` on a temporary file holding ``data`` (the decoders read paths)."""
    fd, path = tempfile.mkstemp(prefix="ltx2-emu-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return fn(path)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


@dataclass
class _Decoded:
    frames: np.ndarray  # uint8 [N,H,W,3]
    fps: float
    audio: np.ndarray | None  # float32 [2,T] at SAMPLE_RATE


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    if frames.dtype == np.uint8:
        return frames
    out = np.empty(frames.shape, dtype=np.uint8)
    # chunked so a float copy of the whole clip is never made
    for i in range(0, frames.shape[0], 16):
        np.clip(frames[i : i + 16] * 255.0 + 0.5, 0, 255, out=frames[i : i + 16])
        out[i : i + 16] = frames[i : i + 16]
    return out


def _decode_video(video: bytes, *, max_side: int = 0, with_audio: bool = True) -> _Decoded:
    from ..media.decode import decode_audio, decode_frames, plan_decode

    def run(path: str) -> _Decoded:
        plan = plan_decode(path, max_side=max_side)
        frames = _to_uint8(np.asarray(decode_frames(path, max_side=max_side)))
        audio = None
        if with_audio:
            decoded = decode_audio(path)
            if decoded is not None:
                audio = _normalise_audio(decoded.waveform, decoded.sample_rate)
        return _Decoded(frames, float(plan.source_fps), audio)

    return _with_temp(video, ".mp4", run)


def _decode_audio_bytes(audio: bytes) -> np.ndarray:
    from ..media.decode import decode_audio

    decoded = _with_temp(audio, _audio_suffix(audio), decode_audio)
    if decoded is None:
        raise ValueError("the audio input holds no audio track")
    return _normalise_audio(decoded.waveform, decoded.sample_rate)


def _audio_suffix(data: bytes) -> str:
    head = data[:16]
    if head[:4] == b"RIFF":
        return ".wav"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:4] == b"fLaC":
        return ".flac"
    return ".mp3"


def _normalise_audio(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """Any [C,T] or [T] float audio -> float32 stereo [2,T] at SAMPLE_RATE."""
    wav = np.asarray(waveform, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None, :]
    if wav.shape[0] == 1:
        wav = np.repeat(wav, 2, axis=0)
    elif wav.shape[0] > 2:
        wav = wav[:2]
    if sample_rate != SAMPLE_RATE and wav.shape[1] > 1:
        n_out = max(1, round(wav.shape[1] * SAMPLE_RATE / sample_rate))
        src_t = np.arange(wav.shape[1], dtype=np.float64) / sample_rate
        dst_t = np.arange(n_out, dtype=np.float64) / SAMPLE_RATE
        wav = np.stack([np.interp(dst_t, src_t, ch) for ch in wav]).astype(np.float32)
    return np.ascontiguousarray(wav)


def _fit_audio(wav: np.ndarray, n_samples: int) -> np.ndarray:
    """Trim or zero-pad [2,T] to exactly ``n_samples``."""
    if wav.shape[1] >= n_samples:
        return np.ascontiguousarray(wav[:, :n_samples])
    return np.pad(wav, ((0, 0), (0, n_samples - wav.shape[1])))


def _encode(
    frames: Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None,
    crf: int,
    size: tuple[int, int] | None = None,
) -> bytes:
    """Frames (an array, or any iterable of [h,w,3] pictures scaled to ``size``) -> MP4 bytes."""
    from ..media.encode import encode_video_stream

    rate = SAMPLE_RATE if audio is not None else None
    if size is None:
        frames = np.asarray(frames)
        size = (frames.shape[2], frames.shape[1])
    return encode_video_stream(
        frames, fps, size, audio=audio, sample_rate=rate, crf=crf, preset=PRESET, fast_audio=True
    )


def _load_image(data: bytes, width: int, height: int) -> np.ndarray:
    """Input image, cover-resized (aspect kept, centre crop) to width x height, uint8 RGB."""
    from PIL import Image

    from ..media.probe import MAX_IMAGE_PIXELS

    try:
        opened = Image.open(BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ValueError(f"the input image is a decompression bomb: {exc}") from exc
    with opened as img:
        if img.width * img.height > MAX_IMAGE_PIXELS:  # never expand a decompression bomb
            raise ValueError(
                f"the input image has {img.width}x{img.height} pixels; at most {MAX_IMAGE_PIXELS:,}"
            )
        img = img.convert("RGB")
        iw, ih = img.size
        scale = max(width / iw, height / ih)
        cw, ch = width / scale, height / scale
        left, top = (iw - cw) / 2, (ih - ch) / 2
        img = img.resize((width, height), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))
        return np.asarray(img, dtype=np.uint8).copy()


def _resize_nearest(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    ys = np.minimum((np.arange(height) + 0.5) * h / height, h - 1).astype(np.intp)
    xs = np.minimum((np.arange(width) + 0.5) * w / width, w - 1).astype(np.intp)
    return frame[ys[:, None], xs[None, :]]


# --- generated audio ---------------------------------------------------------------------------------


def generate_audio(n_samples: int, prompt: str = "", seed: int = 0) -> np.ndarray:
    """A soft seeded chord over a quiet noise bed: float32 stereo [2, n_samples] at 48 kHz."""
    rng = _rng("audio", prompt, seed)
    t = np.arange(n_samples, dtype=np.float64) / SAMPLE_RATE
    root = float(rng.choice([130.81, 146.83, 164.81, 174.61, 196.0, 220.0, 246.94]))
    chord = rng.choice([(1.0, 1.25, 1.5), (1.0, 1.2, 1.5), (1.0, 1.335, 1.5), (1.0, 1.25, 1.875)])
    out = np.zeros((2, n_samples), dtype=np.float64)
    for i, ratio in enumerate(chord):
        freq = root * ratio
        lfo_rate = 0.2 + 0.3 * rng.random()
        for ch in range(2):
            lfo = 0.6 + 0.4 * np.sin(2 * np.pi * lfo_rate * t + ch * 1.3 + i)
            out[ch] += 0.08 * lfo * np.sin(2 * np.pi * freq * t + rng.random() * 2 * np.pi)
    # noise bed, low-passed by a short moving average so it sounds like air rather than hiss
    noise = rng.standard_normal((2, n_samples + 32))
    kernel = np.ones(32) / 32
    for ch in range(2):
        out[ch] += 0.03 * np.convolve(noise[ch], kernel, mode="valid")[:n_samples]
    fade = min(n_samples // 2, int(0.01 * SAMPLE_RATE))
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade)
        out[:, :fade] *= ramp
        out[:, n_samples - fade :] *= ramp[::-1]
    return out.astype(np.float32)


def _splice_audio(base: np.ndarray, lo: int, hi: int, new: np.ndarray) -> np.ndarray:
    """``base`` with samples [lo, hi) replaced by ``new`` (5 ms crossfades at the edges)."""
    out = base.copy()
    lo, hi = max(0, lo), min(base.shape[1], hi)
    if hi <= lo:
        return out
    seg = new[:, : hi - lo].copy()
    xf = min((hi - lo) // 4, int(0.005 * SAMPLE_RATE))
    if xf > 0:
        ramp = np.linspace(0.0, 1.0, xf, dtype=np.float32)
        seg[:, :xf] = seg[:, :xf] * ramp + base[:, lo : lo + xf] * (1 - ramp)
        seg[:, -xf:] = seg[:, -xf:] * ramp[::-1] + base[:, hi - xf : hi] * (1 - ramp[::-1])
    out[:, lo:hi] = seg
    return out


def _envelope(audio: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """RMS loudness per video frame, 0..1 (drives the lipsync-style mouth)."""
    mono = audio.mean(axis=0)
    per = SAMPLE_RATE / fps
    env = np.zeros(n_frames, dtype=np.float32)
    for i in range(n_frames):
        a, b = int(i * per), int((i + 1) * per)
        if a < mono.shape[0]:
            seg = mono[a : min(b, mono.shape[0])]
            env[i] = float(np.sqrt(np.mean(seg * seg))) if seg.size else 0.0
    peak = float(env.max())
    return env / peak if peak > 1e-6 else env


# --- procedural pictures ------------------------------------------------------------------------------


class _Scene:
    """A seeded scene: two-colour drifting gradient with stripes and orbiting soft discs."""

    def __init__(self, width: int, height: int, prompt: str, seed: int) -> None:
        rng = _rng("scene", prompt, seed)
        self.w, self.h = width, height
        self.x = np.arange(width, dtype=np.float32)
        self.y = np.arange(height, dtype=np.float32)
        self.col_a = rng.uniform(20, 235, 3).astype(np.float32)
        self.col_b = rng.uniform(20, 235, 3).astype(np.float32)
        # gradient colour for each of 256 mix levels: a lookup beats per-pixel float blending
        levels = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None]
        self.lut = np.clip(self.col_a + (self.col_b - self.col_a) * levels + 0.5, 0, 255).astype(np.uint8)
        angle = rng.uniform(0, 2 * np.pi)
        self.dir = (math.cos(angle), math.sin(angle))
        self.stripes = rng.uniform(1.5, 4.0)
        self.drift = rng.uniform(0.08, 0.25) * rng.choice(
            [-1, 1]
        )  # camera drift, fraction of width per second
        n = int(rng.integers(3, 6))
        self.discs = [
            (
                rng.uniform(0, 255, 3).astype(np.float32),  # colour
                rng.uniform(0.07, 0.18) * min(width, height) * 1.6,  # radius
                rng.uniform(0.4, 1.6, 2),  # angular speeds (x, y)
                rng.uniform(0, 2 * np.pi, 2),  # phases
                rng.uniform(0.2, 0.42, 2),  # orbit radii (fractions of w, h)
            )
            for _ in range(n)
        ]

    def frame(self, t: float) -> np.ndarray:
        w, h = self.w, self.h
        pan = self.drift * t * w
        # Stripes: sin(a(x) + b(y)) split into two outer products (no per-pixel trigonometry).
        k = 2 * np.pi * self.stripes / max(w, h)
        ax = k * (self.x + pan) * self.dir[0] + 2 * np.pi * 0.15 * t
        by = k * self.y * self.dir[1]
        wave = np.outer(np.cos(by), np.sin(ax))
        wave += np.outer(np.sin(by), np.cos(ax))
        wave += 1.0
        wave *= 127.5
        wave += 0.5
        img = np.take(self.lut, wave.astype(np.uint8), axis=0)
        for colour, radius, speed, phase, orbit in self.discs:
            cx = w * (0.5 + orbit[0] * math.sin(speed[0] * t * 2.0 + phase[0])) - pan * 0.3
            cy = h * (0.5 + orbit[1] * math.sin(speed[1] * t * 2.0 + phase[1]))
            # Only the disc's bounding box can change.
            x0, x1 = max(0, int(cx - radius) - 1), min(w, int(cx + radius) + 2)
            y0, y1 = max(0, int(cy - radius) - 1), min(h, int(cy + radius) + 2)
            if x0 >= x1 or y0 >= y1:
                continue
            dist = np.sqrt((self.x[None, x0:x1] - cx) ** 2 + (self.y[y0:y1, None] - cy) ** 2)
            alpha = np.clip(radius - dist, 0.0, 1.5)[..., None] / 1.5
            region = img[y0:y1, x0:x1].astype(np.float32)
            img[y0:y1, x0:x1] = np.clip(region + (colour - region) * alpha + 0.5, 0, 255).astype(np.uint8)
        return img


class _Drift:
    """Zoom and drift away from a still picture, with a moving marker (image-to-video, extend)."""

    def __init__(self, base: np.ndarray, prompt: str, seed: int) -> None:
        rng = _rng("drift", prompt, seed)
        self.base = base
        self.h, self.w = base.shape[:2]
        self.zoom = rng.uniform(0.08, 0.2)
        self.pan = rng.uniform(-0.06, 0.06, 2)
        self.marker_phase = rng.uniform(0, 2 * np.pi)
        self.marker = max(2, min(self.w, self.h) // 10)
        # a colour far from the picture's mean, so the marker is always visible
        self.marker_colour = np.where(base.reshape(-1, 3).mean(axis=0) > 127, 0, 255).astype(np.uint8)

    def frame(self, p: float, t: float) -> np.ndarray:
        """``p`` = progress 0..1 (0 = the base picture exactly), ``t`` = seconds (marker motion)."""
        w, h = self.w, self.h
        z = 1.0 + self.zoom * p
        cx = w / 2 + self.pan[0] * w * p
        cy = h / 2 + self.pan[1] * h * p
        xs = np.clip(np.rint(cx + (np.arange(w) - w / 2) / z), 0, w - 1).astype(np.intp)
        ys = np.clip(np.rint(cy + (np.arange(h) - h / 2) / z), 0, h - 1).astype(np.intp)
        out = self.base[ys[:, None], xs[None, :]]
        if p > 0:
            m = self.marker
            angle = self.marker_phase + 2.0 * t
            mx = int((w - m) * (0.5 + 0.4 * math.cos(angle)))
            my = int((h - m) * (0.5 + 0.4 * math.sin(angle)))
            out[my : my + m, mx : mx + m] = self.marker_colour
        return out


def _draw_mouth(frame: np.ndarray, openness: float) -> None:
    """A dark ellipse in the lower middle whose height follows the audio loudness."""
    h, w = frame.shape[:2]
    cx, cy = w / 2, h * 0.72
    rx = w * 0.12
    ry = max(1.0, h * 0.01 + h * 0.09 * openness)
    y0, y1 = int(max(0, cy - ry - 1)), int(min(h, cy + ry + 2))
    x0, x1 = int(max(0, cx - rx - 1)), int(min(w, cx + rx + 2))
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    frame[y0:y1, x0:x1][inside] = (90, 10, 20)


# --- public renderings ---------------------------------------------------------------------------------


def render_clip(spec: ClipSpec) -> bytes:
    """Text-, image-, audio-to-video and lipsync: a seeded scene (or the input image drifting),
    with carried, generated or no audio."""
    w, h, fps = spec.width, spec.height, float(spec.fps)
    carried = _decode_audio_bytes(spec.audio) if spec.audio is not None else None
    if spec.duration is None:
        if carried is None:
            raise ValueError("a clip needs a duration or an audio input to set its length")
        n = _seconds_to_frames(carried.shape[1] / SAMPLE_RATE, fps)
        audio: np.ndarray | None = carried  # carried exactly, as long as it is
    else:
        n = frame_count(spec.duration, fps)
        n_samples = round(n / fps * SAMPLE_RATE)
        if carried is not None:
            audio = _fit_audio(carried, n_samples)
        elif spec.generate_audio:
            audio = generate_audio(n_samples, spec.prompt, spec.seed)
        else:
            audio = None

    dw, dh = detail_size(w, h)
    env = _envelope(carried, n, fps) if carried is not None else None

    def pictures() -> Iterator[np.ndarray]:
        drift = _Drift(_load_image(spec.image, dw, dh), spec.prompt, spec.seed) if spec.image else None
        scene = _Scene(dw, dh, spec.prompt, spec.seed) if drift is None else None
        for i in range(n):
            picture = (
                drift.frame(i / max(1, n - 1), i / fps) if drift is not None else scene.frame(i / fps)  # type: ignore[union-attr]
            )
            # lipsync-style: a mouth that opens with the sound (never on frame 0 of an image)
            if env is not None and (i > 0 or spec.image is None):
                _draw_mouth(picture, float(env[i]))
            yield picture

    return _encode(pictures(), fps, audio, CLIP_CRF, size=(w, h))


def render_retake(
    video: bytes, start: float, duration: float, mode: str, prompt: str = "", seed: int = 0
) -> bytes:
    """Replace [start, start+duration) of ``video``: mode replace_audio_and_video | replace_audio | replace_video.
    Frames and audio outside the section are kept."""
    if mode not in RETAKE_MODES:
        raise ValueError(f"retake mode {mode!r}: expected one of {', '.join(RETAKE_MODES)}")
    src = _decode_video(video)
    frames, fps = src.frames, src.fps
    n, h, w = frames.shape[:3]
    lo = min(n, max(0, math.ceil(start * fps - 1e-6)))
    hi = min(n, max(lo, math.ceil((start + duration) * fps - 1e-6)))
    if mode in ("replace_video", "replace_audio_and_video") and hi > lo:
        scene = _Scene(w, h, prompt or "retake", seed)
        for i in range(lo, hi):
            # mostly new picture, a trace of the original so it reads as an edit of the same shot
            new = scene.frame(i / fps).astype(np.uint16) * 3 + frames[i].astype(np.uint16)
            frames[i] = (new // 4).astype(np.uint8)
    audio = src.audio
    if mode in ("replace_audio", "replace_audio_and_video"):
        total = round(n / fps * SAMPLE_RATE)
        base = (
            _fit_audio(audio, max(total, audio.shape[1]))
            if audio is not None
            else np.zeros((2, total), np.float32)
        )
        s_lo, s_hi = round(start * SAMPLE_RATE), round((start + duration) * SAMPLE_RATE)
        new_audio = generate_audio(max(0, min(s_hi, base.shape[1]) - s_lo), prompt or "retake", seed + 1)
        audio = _splice_audio(base, s_lo, s_hi, new_audio)
    return _encode(frames, fps, audio, KEEP_CRF)


def render_extend(
    video: bytes,
    duration: float,
    where: str = "end",
    prompt: str = "",
    seed: int = 0,
    context: float | None = None,
) -> bytes:
    """``video`` with ``duration`` new seconds added at the "end" or "start"; original frames kept.

    New frames: round(duration x fps), continuing from the boundary frame (zoom/drift + marker).
    ``context`` is accepted for the LTX protocol; the continuation only needs the boundary frame.
    """
    if where not in EXTEND_WHERE:
        raise ValueError(f"extend where {where!r}: expected 'end' or 'start'")
    if duration <= 0:
        raise ValueError(f"extend duration must be positive, got {duration}")
    src = _decode_video(video)
    frames, fps = src.frames, src.fps
    n_old = frames.shape[0]
    n_new = _seconds_to_frames(duration, fps)
    boundary = frames[-1] if where == "end" else frames[0]
    drift = _Drift(boundary.copy(), prompt or "extend", seed)
    out = np.empty((n_old + n_new, *frames.shape[1:]), dtype=np.uint8)
    offset = 0 if where == "end" else n_new
    out[offset : offset + n_old] = frames
    del frames
    for j in range(n_new):  # j = 0 is the new frame next to the boundary
        picture = drift.frame((j + 1) / n_new, (j + 1) / fps)
        out[n_old + j if where == "end" else n_new - 1 - j] = picture

    audio = None
    if src.audio is not None:
        old = _fit_audio(src.audio, round(n_old / fps * SAMPLE_RATE))
        new = generate_audio(round(n_new / fps * SAMPLE_RATE), prompt or "extend", seed)
        audio = np.concatenate([old, new] if where == "end" else [new, old], axis=1)
    return _encode(out, fps, audio, KEEP_CRF)


def render_control(
    video: bytes,
    control_mode: str,
    audio_mode: str,
    width: int,
    height: int,
    fps: float,
    duration: float | None = None,
    prompt: str = "",
    seed: int = 0,
) -> bytes:
    """Frames derived from the control video (canny edges / depth-like / pose-like rendering);
    audio per audio_mode: preserve (the control video's track) | generate | none.

    ``width`` x ``height`` is the rendered size (already scaled). Length: ``frame_count(duration, fps)``
    when a duration is given, else as long as the control video.
    """
    if control_mode not in CONTROL_MODES:
        raise ValueError(f"control mode {control_mode!r}: expected one of {', '.join(CONTROL_MODES)}")
    if audio_mode not in AUDIO_MODES:
        raise ValueError(f"audio mode {audio_mode!r}: expected one of {', '.join(AUDIO_MODES)}")
    dw, dh = detail_size(width, height)
    src = _decode_video(video, max_side=max(dw, dh), with_audio=audio_mode == "preserve")
    n_src = src.frames.shape[0]
    fps = float(fps)
    n = frame_count(duration, fps) if duration is not None else _seconds_to_frames(n_src / src.fps, fps)
    draw = {"canny": _canny, "depth": _depth, "pose": _pose}[control_mode]

    def pictures() -> Iterator[np.ndarray]:
        for i in range(n):
            j = min(n_src - 1, int(i / fps * src.fps + 1e-6))
            yield draw(_resize_nearest(src.frames[j], dw, dh))

    n_samples = round(n / fps * SAMPLE_RATE)
    audio = None
    if audio_mode == "preserve" and src.audio is not None:
        audio = _fit_audio(src.audio, n_samples)
    elif audio_mode == "generate":
        audio = generate_audio(n_samples, prompt, seed)
    return _encode(pictures(), fps, audio, CLIP_CRF, size=(width, height))


# --- control renderers (one frame, uint8 RGB -> uint8 RGB) ---------------------------------------------


def _luma(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float32) / 255.0
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _canny(frame: np.ndarray) -> np.ndarray:
    """Sobel edge magnitude, thresholded: white edges on black."""
    p = np.pad(_luma(frame), 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    edges = np.hypot(gx, gy) > 0.35
    return np.repeat((edges * 255).astype(np.uint8)[..., None], 3, axis=2)


def _box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur via cumulative sums (edges padded)."""
    k = 2 * radius + 1
    p = np.pad(img, radius, mode="edge")
    c = np.cumsum(np.pad(p, ((0, 0), (1, 0))), axis=1)
    p = (c[:, k:] - c[:, :-k]) / k
    c = np.cumsum(np.pad(p, ((1, 0), (0, 0))), axis=0)
    return (c[k:, :] - c[:-k, :]) / k


_DEPTH_RAMP = np.array(
    [[12, 16, 70], [120, 30, 140], [230, 90, 60], [255, 235, 130]], dtype=np.float32
)  # far -> near


def _depth(frame: np.ndarray) -> np.ndarray:
    """Blurred luminance (bright = near) mapped onto a far -> near colour ramp."""
    h, w = frame.shape[:2]
    radius = max(1, min(h, w) // 24)
    d = _box_blur(_box_blur(_luma(frame), radius), radius)
    lo, hi = float(d.min()), float(d.max())
    d = (d - lo) / (hi - lo) if hi - lo > 1e-6 else np.full_like(d, 0.5)
    pos = d * (len(_DEPTH_RAMP) - 1)
    idx = np.minimum(pos.astype(np.intp), len(_DEPTH_RAMP) - 2)
    frac = (pos - idx)[..., None]
    out = _DEPTH_RAMP[idx] * (1 - frac) + _DEPTH_RAMP[idx + 1] * frac
    return (out + 0.5).astype(np.uint8)


def _centroid(weights: np.ndarray, x0: int, y0: int) -> tuple[float, float]:
    total = float(weights.sum())
    h, w = weights.shape
    if total < 1e-6:
        return x0 + w / 2, y0 + h / 2
    ys, xs = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    return x0 + float(weights.sum(axis=0) @ xs) / total, y0 + float(weights.sum(axis=1) @ ys) / total


# OpenPose-like limb colours
_LIMB_COLOURS = [
    (255, 0, 0),
    (255, 128, 0),
    (255, 255, 0),
    (0, 255, 0),
    (0, 255, 255),
    (0, 128, 255),
    (0, 0, 255),
    (128, 0, 255),
    (255, 0, 255),
    (255, 0, 128),
]


def _pose(frame: np.ndarray) -> np.ndarray:
    """A stick figure on black whose joints follow bright / dark centroids of image regions."""
    h, w = frame.shape[:2]
    lum = _luma(frame)
    bright, dark = lum**2, (1 - lum) ** 2

    def region(fx0: float, fy0: float, fx1: float, fy1: float, weights: np.ndarray) -> tuple[float, float]:
        x0, y0, x1, y1 = (
            int(w * fx0),
            int(h * fy0),
            max(int(w * fx0) + 1, int(w * fx1)),
            max(int(h * fy0) + 1, int(h * fy1)),
        )
        return _centroid(weights[y0:y1, x0:x1], x0, y0)

    head = region(0.3, 0.0, 0.7, 0.25, bright)
    neck = region(0.35, 0.2, 0.65, 0.35, dark)
    hips = region(0.35, 0.45, 0.65, 0.6, bright)
    elbow_l, hand_l = region(0.05, 0.25, 0.35, 0.45, dark), region(0.0, 0.35, 0.3, 0.6, bright)
    elbow_r, hand_r = region(0.65, 0.25, 0.95, 0.45, dark), region(0.7, 0.35, 1.0, 0.6, bright)
    knee_l, foot_l = region(0.2, 0.6, 0.5, 0.8, dark), region(0.15, 0.8, 0.5, 1.0, bright)
    knee_r, foot_r = region(0.5, 0.6, 0.8, 0.8, dark), region(0.5, 0.8, 0.85, 1.0, bright)
    limbs = [
        (head, neck),
        (neck, hips),
        (neck, elbow_l),
        (elbow_l, hand_l),
        (neck, elbow_r),
        (elbow_r, hand_r),
        (hips, knee_l),
        (knee_l, foot_l),
        (hips, knee_r),
        (knee_r, foot_r),
    ]
    out = np.zeros((h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    thick = max(1.0, min(h, w) / 60)
    for (a, b), colour in zip(limbs, _LIMB_COLOURS, strict=False):
        out[_segment_mask(xx, yy, a, b, thick)] = colour
    for joint in (head, neck, hips, elbow_l, hand_l, elbow_r, hand_r, knee_l, foot_l, knee_r, foot_r):
        out[(xx - joint[0]) ** 2 + (yy - joint[1]) ** 2 <= (thick * 1.8) ** 2] = (255, 255, 255)
    return out


def _segment_mask(
    xx: np.ndarray, yy: np.ndarray, a: tuple[float, float], b: tuple[float, float], thick: float
) -> np.ndarray:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    if length2 < 1e-9:
        return (xx - ax) ** 2 + (yy - ay) ** 2 <= thick**2
    s = np.clip(((xx - ax) * dx + (yy - ay) * dy) / length2, 0.0, 1.0)
    return (xx - ax - s * dx) ** 2 + (yy - ay - s * dy) ** 2 <= thick**2

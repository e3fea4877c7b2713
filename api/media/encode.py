"""Encode numpy arrays into upload-ready bytes."""

from __future__ import annotations

import numpy as np


def encode_image(image: np.ndarray, fmt: str = "png", *, quality: int = 92, png_compress_level: int = 1) -> bytes:
    """[H,W,3] (or [H,W,4], [H,W]) uint8 or float 0..1 -> PNG / JPEG / WebP bytes. fmt: "png" | "jpeg" | "webp"."""
    raise NotImplementedError


def encode_audio(waveform: np.ndarray, sample_rate: int, fmt: str = "wav") -> bytes:
    """float32 [C,T] (or [T]) in -1..1 -> WAV (16-bit PCM) / MP3 / M4A (AAC) bytes. fmt: "wav" | "mp3" | "m4a"."""
    raise NotImplementedError


def encode_video(frames: np.ndarray, fps: float, *, audio: np.ndarray | None = None, sample_rate: int | None = None,
                 crf: int = 18, preset: str = "veryfast") -> bytes:
    """[N,H,W,3] uint8 or float 0..1 (+ optional float32 audio [C,T]) -> MP4 bytes, H.264 yuv420p + AAC.
    Odd sizes are padded to even (yuv420p needs it)."""
    raise NotImplementedError

"""Decode an MP4 straight into one preallocated float32 array; audio as float32 [C,T]."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class DecodePlan:
    """Shape of what ``decode_frames`` will produce, known before decoding (for preallocation)."""

    frame_count: int  # after cap and stride
    height: int  # after downscale
    width: int
    fps: float  # of the output frames (source fps / stride)
    source_frame_count: int
    source_fps: float
    duration: float  # seconds of the source video stream


@dataclass
class DecodedAudio:
    waveform: np.ndarray  # float32 [C,T]
    sample_rate: int


def plan_decode(path: str | Path, *, max_frames: int = 0, stride: int = 1, max_side: int = 0) -> DecodePlan:
    """What decoding with these options yields. ``max_frames`` 0 = all; ``max_side`` 0 = no downscale
    (else the longer side is scaled down to it, aspect kept, even sizes)."""
    raise NotImplementedError


def decode_frames(path: str | Path, *, max_frames: int = 0, stride: int = 1, max_side: int = 0,
                  out: np.ndarray | None = None,
                  allocate: Callable[[tuple[int, int, int, int]], np.ndarray] | None = None,
                  on_frame: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Decode frames as float32 RGB 0..1 into one array [N,H,W,3]. ``out`` (or ``allocate(shape)``)
    supplies the array, e.g. a torch tensor's numpy view, so no second copy is made. ``on_frame(i, n)``
    reports progress. Returns the (possibly trimmed) array."""
    raise NotImplementedError


def decode_audio(path: str | Path, *, mono: bool = False) -> DecodedAudio | None:
    """The first audio track as float32 [C,T] with its sample rate, or None when there is none."""
    raise NotImplementedError

"""A contact sheet of a video: evenly spaced frames in a grid, each with its timestamp."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_BACKGROUND = (24, 24, 28)
_TEXT = (235, 235, 235)
_PAD = 6
_TITLE_H = 26
_LABEL_H = 20


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def frame_indices(frame_count: int, count: int) -> list[int]:
    """``count`` indices from the first frame towards the last, evenly spaced by a whole stride (so one
    strided decode yields them all)."""
    if frame_count <= 0:
        return []
    count = max(1, min(count, frame_count))
    stride = (frame_count - 1) // (count - 1) if count > 1 else 1
    return [i * stride for i in range(count)]


def _timestamp(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60.0)
    return f"{int(minutes):02d}:{secs:05.2f}"


def contact_sheet(
    video: str | Path,
    dest: str | Path,
    *,
    count: int = 6,
    columns: int = 3,
    thumb_side: int = 240,
    title: str = "",
) -> Path:
    """Write a PNG grid of ``count`` evenly spaced frames of ``video`` to ``dest``.

    Only the picked frames are kept, at thumbnail size, so memory stays small for any video length.
    """
    from ..media.decode import decode_frames, plan_decode

    plan = plan_decode(video, max_side=thumb_side)
    indices = frame_indices(plan.frame_count, count)
    if not indices:
        raise ValueError(f"{video}: no video frames to show")
    stride = indices[1] - indices[0] if len(indices) > 1 else 1
    frames = decode_frames(video, max_frames=len(indices), stride=stride, max_side=thumb_side)
    picks = list(zip(indices, frames, strict=False))
    height, width = picks[0][1].shape[:2]
    columns = max(1, min(columns, len(picks)))
    rows = math.ceil(len(picks) / columns)
    title_h = _TITLE_H if title else 0
    sheet = Image.new(
        "RGB",
        (columns * (width + _PAD) + _PAD, title_h + rows * (height + _LABEL_H + _PAD) + _PAD),
        _BACKGROUND,
    )
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((_PAD, 5), title, fill=_TEXT, font=_font(15))
    label_font = _font(13)
    fps = plan.source_fps or plan.fps or 1.0
    for n, (index, frame) in enumerate(picks):
        x = _PAD + (n % columns) * (width + _PAD)
        y = title_h + _PAD + (n // columns) * (height + _LABEL_H + _PAD)
        pixels = np.clip(np.asarray(frame, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        sheet.paste(Image.fromarray(pixels, "RGB"), (x, y))
        draw.text(
            (x + 2, y + height + 3), f"{_timestamp(index / fps)}  #{index}", fill=_TEXT, font=label_font
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(dest, format="PNG", compress_level=3)
    return dest

"""LTX-2 Decode Video: VIDEO -> IMAGE frames (one preallocated tensor), AUDIO, fps, frame count."""

from __future__ import annotations

import asyncio
from typing import Any

from .base import CATEGORY, decode_inputs
from .errors import user_errors
from .outputs import DecodeOptions


def decode_video(video: Any, options: DecodeOptions) -> tuple[Any, dict, float, int]:
    """A VIDEO backed by a file (or an in-memory file) is decoded straight into one tensor by this
    pack's decoder; any other VIDEO already holds its frames in memory, so they are sliced (views,
    no copy) and only resized when asked."""
    from .convert import decode_frames_and_audio, in_memory_bytes, video_file_path

    path = video_file_path(video)
    source = path if path is not None else in_memory_bytes(video)
    if source is not None:
        frames, fps, audio = decode_frames_and_audio(
            source, max_frames=options.max_frames, stride=options.frame_stride, max_side=options.max_side
        )
        return frames, audio, fps, int(frames.shape[0])
    return from_components(video.get_components(), options)


def from_components(components: Any, options: DecodeOptions) -> tuple[Any, dict, float, int]:
    import torch

    from .convert import SILENT_CHANNELS, SILENT_SAMPLE_RATE, audio_waveform

    frames = components.images[:: options.frame_stride]
    if options.max_frames:
        frames = frames[: options.max_frames]
    height, width = int(frames.shape[1]), int(frames.shape[2])
    if options.max_side and max(height, width) > options.max_side:
        scale = options.max_side / max(height, width)
        size = (max(2, int(height * scale) // 2 * 2), max(2, int(width * scale) // 2 * 2))
        frames = (
            torch.nn.functional.interpolate(
                frames.permute(0, 3, 1, 2), size=size, mode="bilinear", antialias=True, align_corners=False
            )
            .permute(0, 2, 3, 1)
            .clamp_(0.0, 1.0)
            .contiguous()
        )
    fps = float(components.frame_rate) / options.frame_stride
    audio = getattr(components, "audio", None)
    if audio is not None:
        wave, rate = audio_waveform(audio, "video.audio")
        audio = {"waveform": torch.from_numpy(wave).unsqueeze(0), "sample_rate": rate}
    else:
        seconds = components.images.shape[0] / float(components.frame_rate)
        samples = max(1, round(seconds * SILENT_SAMPLE_RATE))
        audio = {"waveform": torch.zeros((1, SILENT_CHANNELS, samples)), "sample_rate": SILENT_SAMPLE_RATE}
    return frames, audio, fps, int(frames.shape[0])


class LTX2DecodeVideo:
    """Decode any VIDEO into frames and audio, with frame cap, stride and downscale."""

    CATEGORY = CATEGORY
    FUNCTION = "decode"
    RETURN_TYPES = ("IMAGE", "AUDIO", "FLOAT", "INT")
    RETURN_NAMES = ("frames", "audio", "fps", "frame_count")
    DESCRIPTION = (
        "Decode a VIDEO straight into one IMAGE tensor (no intermediate frame list) plus its audio "
        "(silent stereo when it has none)."
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"video": ("VIDEO",)}, "optional": decode_inputs()}

    async def decode(
        self, video: Any, max_frames: int = 0, frame_stride: int = 1, max_side: int = 0
    ) -> tuple:
        with user_errors():
            options = DecodeOptions.from_inputs(
                {"max_frames": max_frames, "frame_stride": frame_stride, "max_side": max_side}
            )
            return await asyncio.to_thread(decode_video, video, options)

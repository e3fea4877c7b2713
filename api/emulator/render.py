"""Real MP4s for the emulator: generated clips, retake, extend, control and lipsync renderings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClipSpec:
    width: int  # rendered size (already scaled with render_size)
    height: int
    fps: float
    duration: float | None  # seconds; None = as long as ``audio``
    prompt: str = ""
    seed: int = 0
    image: bytes | None = None  # first frame (image-to-video; audio-to-video / lipsync with an image)
    audio: bytes | None = None  # audio carried as-is (audio-to-video, lipsync); sets the length when duration is None
    generate_audio: bool = True  # add a generated audio track (ignored when ``audio`` is given)


def render_size(width: int, height: int, scale: float = 1.0, max_side: int = 0) -> tuple[int, int]:
    """Requested size -> rendered size: scaled, capped, even (yuv420p)."""
    raise NotImplementedError


def frame_count(duration: float, fps: float) -> int:
    """Frames the LTX-2 model would make: the 8k+1 count nearest duration x fps (at least 9)."""
    raise NotImplementedError


def render_clip(spec: ClipSpec) -> bytes:
    raise NotImplementedError


def render_retake(video: bytes, start: float, duration: float, mode: str, prompt: str = "", seed: int = 0) -> bytes:
    """Replace [start, start+duration) of ``video``: mode replace_audio_and_video | replace_audio | replace_video.
    Frames and audio outside the section are kept."""
    raise NotImplementedError


def render_extend(video: bytes, duration: float, where: str = "end", prompt: str = "", seed: int = 0,
                  context: float | None = None) -> bytes:
    """``video`` with ``duration`` new seconds added at the "end" or "start"; original frames kept."""
    raise NotImplementedError


def render_control(video: bytes, control_mode: str, audio_mode: str, width: int, height: int, fps: float,
                   duration: float | None = None, prompt: str = "", seed: int = 0) -> bytes:
    """Frames derived from the control video (canny edges / depth-like / pose-like rendering);
    audio per audio_mode: preserve (the control video's track) | generate | none."""
    raise NotImplementedError

"""The LTX-2 mode nodes: each is data over ``LTX2GenerationNode``."""

from __future__ import annotations

from typing import Any

from ..api.types import MediaInput, Mode
from .base import LTX2GenerationNode

_SHOT = ("duration", "resolution", "fps")


class LTX2TextToVideo(LTX2GenerationNode):
    """A video (with sound) from a text prompt."""

    MODE = Mode.TEXT_TO_VIDEO
    WIDGETS = (*_SHOT, "aspect_ratio", "camera_motion", "generate_audio")
    DESCRIPTION = "Generate a video from a text prompt with LTX-2."


class LTX2ImageToVideo(LTX2GenerationNode):
    """A video that starts from an image."""

    MODE = Mode.IMAGE_TO_VIDEO
    MEDIA = ("image",)
    REQUIRED_MEDIA = ("image",)
    WIDGETS = (*_SHOT, "camera_motion", "generate_audio")
    APPENDED_MEDIA = ("last_frame",)
    DESCRIPTION = "Animate an image (the first frame, optionally to a last frame) with LTX-2."


class LTX2AudioToVideo(LTX2GenerationNode):
    """A video as long as the audio, driven by it (optionally from a first-frame image)."""

    MODE = Mode.AUDIO_TO_VIDEO
    MEDIA = ("audio", "image")
    REQUIRED_MEDIA = ("audio",)
    WIDGETS = ("resolution", "guidance_scale")
    APPENDED_WIDGETS = ("fps", "camera_motion")
    APPENDED_MEDIA = ("last_frame",)
    PROMPT_REQUIRED = False
    DESCRIPTION = (
        "Generate a video for an audio track (2-20 s) with LTX-2; the video is as long as the audio."
    )

    def collect_media(self, inputs: dict[str, Any]) -> dict[str, MediaInput]:
        media = super().collect_media(inputs)
        audio = media.get("audio")
        if audio is not None and inputs.get("audio") is not None:
            media["audio"] = audio_the_provider_takes(self.provider(inputs), inputs["audio"], audio)
        return media


class LTX2Lipsync(LTX2GenerationNode):
    """A talking video synced to the audio, optionally of the person in an image."""

    MODE = Mode.LIPSYNC
    MEDIA = ("audio", "image")
    REQUIRED_MEDIA = ("audio",)
    WIDGETS = ("resolution",)
    PROMPT_REQUIRED = False
    DESCRIPTION = "Lip-synced video for an audio track (optionally of the face in an image) with LTX-2."


class LTX2Retake(LTX2GenerationNode):
    """Regenerate a section of a video; everything outside it is kept."""

    MODE = Mode.RETAKE
    MEDIA = ("video",)
    REQUIRED_MEDIA = ("video",)
    WIDGETS = ("start_time", "duration", "retake_mode")
    PROMPT_REQUIRED = False
    DESCRIPTION = "Regenerate a section [start_time, start_time + duration) of a video with LTX-2."


class LTX2Extend(LTX2GenerationNode):
    """Add seconds at the end (or start) of a video; the original frames are kept."""

    MODE = Mode.EXTEND
    MEDIA = ("video",)
    REQUIRED_MEDIA = ("video",)
    WIDGETS = ("duration", "extend_mode", "context")
    PROMPT_REQUIRED = False
    DESCRIPTION = "Extend a video at its end or start with LTX-2."


class LTX2Control(LTX2GenerationNode):
    """A new video following the pose, depth or edges of a control video."""

    MODE = Mode.CONTROL
    MEDIA = ("video",)
    REQUIRED_MEDIA = ("video",)
    WIDGETS = ("control_mode", "audio_mode", "resolution")
    DESCRIPTION = "Generate a video that follows a control video's pose, depth or edges with LTX-2."


class LTX2Reframe(LTX2GenerationNode):
    """The same video in another frame size; the area outside the original is generated."""

    MODE = Mode.REFRAME
    MEDIA = ("video",)
    REQUIRED_MEDIA = ("video",)
    WIDGETS = ("resolution", "placement", "placement_x", "placement_y", "placement_width", "placement_height")
    PROMPT_WIDGET = False
    PROMPT_REQUIRED = False
    DESCRIPTION = (
        "Reframe a video (up to 60 s) to another size and aspect ratio with LTX; the area outside the "
        "original is generated."
    )


def audio_the_provider_takes(provider: Any, audio: Any, media: MediaInput) -> MediaInput:
    """The graph's AUDIO as WAV when the provider takes WAV, else as M4A (AAC): the LTX API does
    not accept PCM."""
    from ..api.providers.common import canonical_content_type

    accepted = {canonical_content_type(t) for t in provider.media_limits(media.kind).content_types}
    if canonical_content_type(media.content_type) in accepted or "audio/mp4" not in accepted:
        return media
    from ..api.media.encode import encode_audio
    from ..api.media.inputs import media_from_bytes
    from .convert import audio_waveform

    waveform, sample_rate = audio_waveform(audio, "audio")
    data = encode_audio(waveform, sample_rate, "m4a")
    return media_from_bytes(data, media.kind, filename="audio.m4a", content_type="audio/mp4")


GENERATION_NODES: dict[str, tuple[type, str]] = {
    "LTX2TextToVideo": (LTX2TextToVideo, "LTX-2 Text to Video"),
    "LTX2ImageToVideo": (LTX2ImageToVideo, "LTX-2 Image to Video"),
    "LTX2AudioToVideo": (LTX2AudioToVideo, "LTX-2 Audio to Video"),
    "LTX2Lipsync": (LTX2Lipsync, "LTX-2 Lipsync"),
    "LTX2Retake": (LTX2Retake, "LTX-2 Retake"),
    "LTX2Extend": (LTX2Extend, "LTX-2 Extend"),
    "LTX2Control": (LTX2Control, "LTX-2 Control"),
    "LTX2Reframe": (LTX2Reframe, "LTX-2 Reframe"),
}

"""The fixed word lists the providers share, each in one place: the provider specs, node widgets,
CLI choices and docs all read them from here."""

from __future__ import annotations

CAMERA_MOTIONS: tuple[str, ...] = (
    "dolly_in",
    "dolly_out",
    "dolly_left",
    "dolly_right",
    "jib_up",
    "jib_down",
    "static",
    "focus_shift",
)
RETAKE_MODES: tuple[str, ...] = ("replace_audio_and_video", "replace_audio", "replace_video")
EXTEND_MODES: tuple[str, ...] = ("end", "start")
CONTROL_MODES: tuple[str, ...] = ("pose", "depth", "canny")
AUDIO_MODES: tuple[str, ...] = ("preserve", "generate", "none")
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16")
# Reframe: where the source video sits in the new frame; "custom" = the x/y/width/height box.
PLACEMENT_ANCHORS: tuple[str, ...] = (
    "center",
    "top",
    "bottom",
    "left",
    "right",
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
)
CUSTOM_PLACEMENT = "custom"

# Request field -> its word list (what a node widget or a CLI flag offers).
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "camera_motion": CAMERA_MOTIONS,
    "retake_mode": RETAKE_MODES,
    "extend_mode": EXTEND_MODES,
    "control_mode": CONTROL_MODES,
    "audio_mode": AUDIO_MODES,
    "aspect_ratio": ASPECT_RATIOS,
    "placement": (*PLACEMENT_ANCHORS, CUSTOM_PLACEMENT),
}

"""Widget definitions built from the provider registry: what each mode offers, as the union
over the providers that serve it. Only valid combinations reach the wire: the chosen provider's
``validate`` refuses the rest with a message naming the input."""

from __future__ import annotations

import logging
from typing import Any

from ..api.providers import DISPLAY_NAMES, get_provider, provider_names
from ..api.providers.base import ModelSpec, Provider
from ..api.providers.vocab import FIELD_WORDS
from ..api.types import AUTO_DURATION, Mode

log = logging.getLogger("ltx2_nodes")

AUTO = "auto"
NONE = "none"

# Same picture size, spelled the way different providers spell it.
RESOLUTION_ALIASES: tuple[tuple[str, ...], ...] = (
    ("1920x1080", "1080p"),
    ("2560x1440", "1440p"),
    ("3840x2160", "2160p", "4k"),
    ("1280x720", "720p"),
    ("854x480", "848x480", "480p"),
)


def providers_for(mode: Mode) -> list[Provider]:
    """Providers serving ``mode`` in registry order; a provider whose module is missing or broken
    is left out rather than breaking every node."""
    found: list[Provider] = []
    for name in provider_names():
        try:
            provider = get_provider(name)
            if mode in provider.modes():
                found.append(provider)
        except Exception as exc:
            log.debug("LTX-2: provider %s unavailable: %s", name, exc)
    return found


def provider_choices(mode: Mode) -> list[str]:
    names = [p.display_name for p in providers_for(mode)]
    return names or [DISPLAY_NAMES[n] for n in provider_names()]


def model_specs(mode: Mode) -> list[ModelSpec]:
    specs: list[ModelSpec] = []
    for provider in providers_for(mode):
        try:
            specs.extend(provider.models(mode))
        except Exception as exc:
            log.debug("LTX-2: models of %s unavailable: %s", provider.name, exc)
    return specs


def _unique(values: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def model_choices(mode: Mode) -> list[str]:
    return [AUTO, *_unique(spec.name for spec in model_specs(mode))]


def resolution_choices(mode: Mode) -> list[str]:
    return [AUTO, *_unique(r for spec in model_specs(mode) for r in spec.resolutions)]


def fps_choices(mode: Mode) -> list[str]:
    return [AUTO, *(str(f) for f in sorted(_unique(f for spec in model_specs(mode) for f in spec.fps)))]


def value_choices(mode: Mode, field: str) -> list[str]:
    """The words a field (e.g. ``camera_motion``) takes: the union over the mode's providers, else
    the shared word list."""
    values: list[str] = []
    for provider in providers_for(mode):
        values.extend(str(v) for v in provider.choices(field, mode))
    return _unique(values) or list(FIELD_WORDS[field])


def duration_widget(
    mode: Mode, *, fallback: tuple[float, float, float] = (2.0, 20.0, 6.0), tooltip: str = ""
) -> tuple[str, dict[str, Any]]:
    """INT when every allowed duration is whole seconds, else FLOAT; bounds are the overall min/max."""
    lows: list[float] = []
    highs: list[float] = []
    points: list[float] = []
    default: float | None = None
    for spec in model_specs(mode):
        if spec.durations:
            lows.append(min(spec.durations))
            highs.append(max(spec.durations))
            points.extend(spec.durations)
        if spec.duration_range:
            lows.append(spec.duration_range[0])
            highs.append(spec.duration_range[1])
            points.extend(spec.duration_range)
        if default is None and spec.default_duration is not None:
            default = spec.default_duration
    low = min(lows) if lows else fallback[0]
    high = max(highs) if highs else fallback[1]
    if default is None:
        default = min(max(fallback[2], low), high)
    if any(spec.auto_duration for spec in model_specs(mode)):
        # A list (whole seconds and "auto") rather than a number: saved workflows hold a number of
        # seconds, which stays a valid choice.
        seconds = range(int(low), int(high) + 1)
        return [*seconds, AUTO_DURATION], {  # type: ignore[return-value]
            "default": int(default),
            "tooltip": f"{tooltip} auto = the model chooses the length (LTX-2.5 only).",
        }
    opts = {"default": default, "min": low, "max": high, "tooltip": tooltip}
    if all(float(p).is_integer() for p in [*points, default]) and mode not in (Mode.RETAKE, Mode.EXTEND):
        return "INT", {**opts, "default": int(default), "min": int(low), "max": int(high), "step": 1}
    return "FLOAT", {
        **opts,
        "default": float(default),
        "min": float(low),
        "max": float(high),
        "step": 0.1,
        "round": 0.01,
    }


def equivalent_resolution(value: str, allowed: tuple[str, ...] | list[str]) -> str:
    """``value`` spelled the way ``allowed`` spells it ("1080p" -> "1920x1080"), else unchanged."""
    if not allowed or value in allowed:
        return value
    lowered = value.lower()
    for group in RESOLUTION_ALIASES:
        if lowered in group:
            for candidate in allowed:
                if candidate.lower() in group:
                    return candidate
    return value


# --- widget catalogue --------------------------------------------------------------------------


def mode_widget(name: str, mode: Mode) -> tuple[str, Any] | tuple[Any, dict[str, Any]]:
    """(type, options) of one mode-specific widget."""
    if name == "duration":
        tips = {
            Mode.RETAKE: "Length of the section to regenerate, in seconds.",
            Mode.EXTEND: "Seconds to add to the video.",
        }
        return duration_widget(mode, tooltip=tips.get(mode, "Length of the video in seconds."))
    if name == "resolution":
        return resolution_choices(mode), {
            "default": AUTO,
            "tooltip": "Output size; auto = the provider's default.",
        }
    if name == "fps":
        return fps_choices(mode), {
            "default": AUTO,
            "tooltip": "Frames per second; auto = the provider's default.",
        }
    if name == "aspect_ratio":
        return [AUTO, *value_choices(mode, "aspect_ratio")], {
            "default": AUTO,
            "tooltip": "Aspect ratio (API in One text-to-video); auto = 16:9.",
        }
    if name == "camera_motion":
        return [NONE, *value_choices(mode, "camera_motion")], {"default": NONE}
    if name == "generate_audio":
        return "BOOLEAN", {"default": True, "tooltip": "Generate a soundtrack with the video."}
    if name == "guidance_scale":
        return "FLOAT", {
            "default": 0.0,
            "min": 0.0,
            "max": 20.0,
            "step": 0.1,
            "tooltip": "How closely to follow the prompt; 0 = the provider's default.",
        }
    if name == "start_time":
        return "FLOAT", {
            "default": 0.0,
            "min": 0.0,
            "max": 600.0,
            "step": 0.1,
            "tooltip": "Start of the section to regenerate, in seconds.",
        }
    if name == "retake_mode":
        choices = value_choices(mode, "retake_mode")
        return choices, {"default": choices[0]}
    if name == "extend_mode":
        choices = value_choices(mode, "extend_mode")
        return choices, {"default": choices[0], "tooltip": "Add the new seconds at the end or the start."}
    if name == "context":
        return "FLOAT", {
            "default": 0.0,
            "min": 0.0,
            "max": 20.0,
            "step": 0.1,
            "tooltip": "Seconds of the input used as context; 0 = the provider's default.",
        }
    if name == "control_mode":
        choices = value_choices(mode, "control_mode")
        return choices, {"default": choices[0]}
    if name == "audio_mode":
        choices = value_choices(mode, "audio_mode")
        return choices, {
            "default": choices[0],
            "tooltip": "preserve = keep the control video's sound, generate = new sound, none = silent.",
        }
    if name == "placement":
        choices = value_choices(mode, "placement")
        return choices, {
            "default": choices[0],
            "tooltip": "Where the video sits in the new frame; custom = the placement_* box below.",
        }
    if name in _BOX_TIPS:
        return "FLOAT", {
            "default": 0.0,
            "min": 0.0,
            "max": 1.0,
            "step": 0.01,
            "tooltip": f"{_BOX_TIPS[name]} (placement custom; 0 = unset).",
        }
    raise KeyError(name)


_BOX_TIPS = {
    "placement_x": "Left edge of the video, as a fraction of the output width",
    "placement_y": "Top edge of the video, as a fraction of the output height",
    "placement_width": "Width of the video, as a fraction of the output width",
    "placement_height": "Height of the video, as a fraction of the output height",
}


def widget_value(name: str, value: Any) -> Any:
    """A widget value as a ``GenerationRequest`` field: "auto"/"none"/0-defaults become None."""
    if value is None:
        return None
    if name in ("resolution", "aspect_ratio", "fps", "camera_motion") and str(value).lower() in (
        AUTO,
        NONE,
        "",
    ):
        return None
    if name == "fps":
        return int(float(value))
    if name in ("guidance_scale", "context") or name in _BOX_TIPS:
        return None if float(value) <= 0 else float(value)
    if name == "duration" and str(value).strip().lower() == AUTO_DURATION:
        return AUTO_DURATION
    if name in ("duration", "start_time"):
        return float(value)
    if name == "generate_audio":
        return bool(value)
    return value

"""Provider capabilities and cost estimates as plain JSON, for the front-end extension and docs.

Built from the provider registry only: no I/O, no ComfyUI.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .errors import LTX2Error
from .providers import all_providers, normalize_provider_name
from .types import AUTO_DURATION, MEDIA_FIELDS, GenerationRequest, MediaInfo, MediaInput, MediaKind, Mode

# Widget names that map one-to-one onto GenerationRequest fields.
_REQUEST_FIELDS = {f.name for f in dataclasses.fields(GenerationRequest)} - {
    "provider",
    "mode",
    *MEDIA_FIELDS,
}
_EMPTY = ("", "none", "auto", "default", None)
_LENGTH_FOLLOWS_AUDIO = (Mode.AUDIO_TO_VIDEO, Mode.LIPSYNC)


def capabilities() -> dict[str, Any]:
    """{providers: {name: {display_name, hosting_methods, default_hosting, modes: {mode: [model...]},
    choices: {mode: {field: [word...]}}}}}."""
    out: dict[str, Any] = {}
    for provider in all_providers():
        modes: dict[str, list[dict[str, Any]]] = {}
        for spec in provider.models():
            entry = dataclasses.asdict(spec)
            entry["mode"] = spec.mode.value
            modes.setdefault(spec.mode.value, []).append(entry)
        choices = {
            mode.value: {
                f: list(provider.choices(f, mode)) for f in provider.SPEC.choices if provider.choices(f, mode)
            }
            for mode in provider.modes()
        }
        out[provider.name] = {
            "display_name": provider.display_name,
            "hosting_methods": list(provider.hosting_methods),
            "default_hosting": provider.default_hosting,
            "can_cancel": provider.can_cancel,
            "modes": modes,
            "choices": choices,
        }
    return {"providers": out}


def _coerce(name: str, value: Any) -> Any:
    if name == "duration" and isinstance(value, str) and value.strip().lower() == AUTO_DURATION:
        return AUTO_DURATION
    if value in _EMPTY or (isinstance(value, str) and value.strip().lower() in _EMPTY):
        return None
    if name in ("duration", "start_time", "context", "guidance_scale") or name.startswith("placement_"):
        number = float(value)
        return None if name == "guidance_scale" and number == 0 else number
    if name in ("fps", "seed"):
        return int(float(value))
    return value


def estimate_from_widgets(mode: str, widgets: dict[str, Any]) -> dict[str, Any]:
    """Cost estimate for a node's current widget values (media inputs unknown: a per-second rate is
    shown where the length follows the media). Never raises for incomplete values."""
    try:
        provider_name = normalize_provider_name(str(widgets.get("provider", "")))
        fields = {k: _coerce(k, v) for k, v in widgets.items() if k in _REQUEST_FIELDS}
        req = GenerationRequest(
            provider=provider_name, mode=Mode(mode), **{k: v for k, v in fields.items() if v is not None}
        )
        from .providers import get_provider

        provider = get_provider(provider_name)
        cost = provider.estimate_cost(req)
        if cost is None and req.mode in _LENGTH_FOLLOWS_AUDIO:
            # The length is the audio's, unknown until it is connected: show the price of one second.
            one_second = MediaInput(
                kind=MediaKind.AUDIO,
                content_type="audio/wav",
                url="https://example.invalid/a.wav",
                info=MediaInfo(duration=1.0),
            )
            rate = provider.estimate_cost(dataclasses.replace(req, audio=one_second))
            if rate is not None:
                text = f"${rate.amount:.2f}/s" if rate.unit == "USD" else f"{rate.amount:g} {rate.unit}/s"
                return {
                    "text": text,
                    "amount": rate.amount,
                    "unit": rate.unit,
                    "per_second": True,
                    "detail": rate.detail,
                }
    except (LTX2Error, ValueError, TypeError, KeyError, OverflowError) as exc:
        return {"text": "", "error": str(exc)}
    if cost is None or not math.isfinite(cost.amount) or cost.amount < 0:
        return {"text": ""}
    return {"text": str(cost), "amount": cost.amount, "unit": cost.unit, "detail": cost.detail}

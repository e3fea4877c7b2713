"""The shared request builder: a validated request mapped onto a provider's wire fields, as its
spec's ``ModeRules.wire`` lists them. The provider wraps the body in its own envelope and path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..types import AUTO_DURATION, MEDIA_FIELDS, GenerationRequest
from . import common as c
from .base import ModelSpec
from .validate import shot_values
from .vocab import CUSTOM_PLACEMENT

if TYPE_CHECKING:
    from .base import Provider


def placement_value(req: GenerationRequest) -> dict[str, Any] | None:
    """Reframe placement: ``{"anchor": ...}`` or the box ``{"x", "y", "width", "height"}``."""
    if req.placement is None:
        return None
    if req.placement != CUSTOM_PLACEMENT:
        return {"anchor": req.placement}
    box = {
        "x": req.placement_x if req.placement_x is not None else 0.0,
        "y": req.placement_y if req.placement_y is not None else 0.0,
        "width": req.placement_width,
        "height": req.placement_height,
    }
    return {k: float(v) for k, v in box.items() if v is not None}


def _wire_value(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return c.wire_number(float(value)) if isinstance(value, float) else value


def request_body(
    provider: Provider, req: GenerationRequest, spec: ModelSpec, uris: Mapping[str, str]
) -> dict[str, Any]:
    """The mode's wire fields in order: media as hosted URIs, shot settings with the model's
    defaults where the mode always sends them, other fields only when set. A duration the model
    chooses itself goes as ``null``."""
    rules = provider.SPEC.modes[req.mode]
    duration, resolution, fps = shot_values(req, spec, rules)
    shot = {"duration": duration, "resolution": resolution, "fps": fps}
    body: dict[str, Any] = {}
    for name, wire in rules.wire:
        if name == "model":
            if spec.wire_id:
                body[wire] = spec.wire_id
            continue
        if name in MEDIA_FIELDS:
            media = getattr(req, name)
            if media is not None:
                body[wire] = c.media_uri(name, media, uris, provider=provider.name)
            continue
        if name == "duration" and duration == AUTO_DURATION:
            body[wire] = None
            continue
        if name in shot:
            value = shot[name]
        elif name == "prompt":
            value = (req.prompt or "").strip() or None
        elif name == "placement":
            value = placement_value(req)
        else:
            value = getattr(req, name)
            if value is None:
                value = rules.defaults.get(name)
        if name == "guidance_scale" and value is not None:
            value = float(value)
        if value is not None:
            body[wire] = _wire_value(value)
    return body

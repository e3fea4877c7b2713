"""Price estimates in USD from a provider spec's price table: seconds billed (by the mode's rule)
times the rate of the model at the output's resolution tier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import LTX2Error
from ..types import AUTO_DURATION, CostEstimate, GenerationRequest, MediaInfo
from . import common as c
from .validate import shot_values

if TYPE_CHECKING:
    from .base import Provider

_WHAT = {
    "duration": "s of output",
    "audio": "s of audio",
    "section": "s of section",
    "input": "s of input video",
    "duration+context": "s added and context",
}


def _rate(provider: Provider, model: str, mode, tier: str) -> tuple[float, str] | None:  # type: ignore[no-untyped-def]
    prices = provider.SPEC.prices
    flat = prices.flat.get((model, mode))
    if flat is not None:
        return flat, ""
    table = prices.by_tier.get(model)
    if not table:
        return None
    # a tier the table lacks prices as the next one up that it has (e.g. 720p input on a 1080p list)
    for candidate in c.TIERS[c.TIERS.index(tier) :]:
        if candidate in table:
            return table[candidate], candidate
    return None


def estimate_usd(provider: Provider, req: GenerationRequest) -> CostEstimate | None:
    try:
        spec = provider.resolve_model(req)
    except LTX2Error:
        return None
    rules = provider.SPEC.modes[req.mode]
    duration, resolution, _ = shot_values(req, spec, rules)
    video = req.video.info if req.video is not None else MediaInfo()
    prefix = ""
    if rules.billed == "audio":
        seconds = req.audio.info.duration if req.audio is not None else None
    elif rules.billed == "input":
        seconds = video.duration
    elif rules.billed == "duration+context":
        seconds = None if req.duration is None else float(req.duration) + float(req.context or 0.0)  # type: ignore[arg-type]
    elif duration == AUTO_DURATION:  # the model picks the length: price the longest it may choose
        longest = max(spec.durations) if spec.durations else None
        seconds, prefix = longest, "up to "
    else:
        seconds = None if duration is None else float(duration)
    if seconds is None:
        return None
    if resolution is not None:
        tier = c.resolution_tier(resolution)
    elif video.width and video.height:
        tier = c.resolution_tier(width=video.width, height=video.height)
    else:
        tier = c.resolution_tier(spec.default_resolution)
    found = _rate(provider, spec.name, req.mode, tier)
    if found is None:
        return None
    rate, priced_tier = found
    where = f" at {priced_tier}" if priced_tier else ""
    note = f"; {provider.SPEC.prices.note}" if provider.SPEC.prices.note else ""
    return CostEstimate(
        amount=round(rate * seconds, 4),
        unit="USD",
        detail=f"{prefix}{rate:g} USD/s x {seconds:g} {_WHAT[rules.billed]}{where} ({spec.wire_id or spec.name}){note}",
    )

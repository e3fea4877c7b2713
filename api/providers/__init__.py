"""Provider registry. Providers are imported on first use so loading the pack stays cheap."""

from __future__ import annotations

import importlib

from ..errors import InvalidInputError
from ..types import Mode
from .base import Provider

# name -> (module, class). Order is the order shown in the nodes' provider list.
_REGISTRY: dict[str, tuple[str, str]] = {
    "ltx": ("ltx", "LtxProvider"),
    "gmi": ("gmi", "GmiProvider"),
    "apiinone": ("apiinone", "ApiInOneProvider"),
}
DISPLAY_NAMES: dict[str, str] = {"ltx": "LTX (Lightricks)", "gmi": "GMI Cloud", "apiinone": "API in One"}
_cache: dict[str, Provider] = {}


def provider_names() -> list[str]:
    return list(_REGISTRY)


def get_provider(name: str) -> Provider:
    """A provider by name or display name ("gmi", "GMI Cloud", ...)."""
    key = normalize_provider_name(name)
    if key not in _cache:
        module_name, cls_name = _REGISTRY[key]
        module = importlib.import_module(f"{__name__}.{module_name}")
        _cache[key] = getattr(module, cls_name)()
    return _cache[key]


def normalize_provider_name(name: str) -> str:
    lowered = (name or "").strip().lower()
    for key, display in DISPLAY_NAMES.items():
        if lowered in (key, display.lower()):
            return key
    aliases = {
        "api in one": "apiinone",
        "api-in-one": "apiinone",
        "aio": "apiinone",
        "gmicloud": "gmi",
        "gmi-cloud": "gmi",
        "lightricks": "ltx",
        "ltx-api": "ltx",
    }
    if lowered in aliases:
        return aliases[lowered]
    raise InvalidInputError("provider", name, ", ".join(f"{k} ({v})" for k, v in DISPLAY_NAMES.items()))


def all_providers() -> list[Provider]:
    return [get_provider(n) for n in _REGISTRY]


def providers_for_mode(mode: Mode) -> list[Provider]:
    return [p for p in all_providers() if mode in p.modes()]

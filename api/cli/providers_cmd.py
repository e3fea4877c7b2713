"""``ltx2 providers``: the provider x mode table, straight from the provider registry."""

from __future__ import annotations

import argparse
import itertools
import json

from ..providers import all_providers
from ..providers.base import ModelSpec, Provider
from ..types import Mode
from .table import markdown_table, text_table

MODE_HEADERS = (
    "Provider",
    "Mode",
    "Model (wire id)",
    "Durations (s)",
    "Resolutions",
    "FPS",
    "Price",
    "Notes",
)
ACCESS_HEADERS = ("Provider", "Key variable", "Base URL variable", "Media hosting (default first)")


def _num(value: float) -> str:
    return f"{value:g}"


def format_durations(spec: ModelSpec) -> str:
    values = sorted(spec.durations)
    if len(values) >= 4:
        steps = {round(b - a, 6) for a, b in itertools.pairwise(values)}
        if len(steps) == 1:
            return f"{_num(values[0])}–{_num(values[-1])} (step {_num(steps.pop())})"
    if values:
        return ", ".join(_num(v) for v in values)
    if spec.duration_range is not None:
        low, high = spec.duration_range
        return f"{_num(low)}–{_num(high)}"
    return "input length"


def _mark_default(values: tuple, default: object, mode: Mode) -> str:
    if not values:  # retake, extend and reframe keep the input's size / frame rate
        return "as input" if mode in (Mode.RETAKE, Mode.EXTEND, Mode.REFRAME) else "-"
    return ", ".join(f"{v}*" if v == default and len(values) > 1 else str(v) for v in values)


def format_price(provider: Provider, spec: ModelSpec) -> str:
    """USD per second by resolution tier, from the provider's price table ("-" when unknown)."""
    prices = provider.SPEC.prices
    flat = prices.flat.get((spec.name, spec.mode))
    if flat is not None:
        return f"${flat:g}/s"
    table = prices.by_tier.get(spec.name)
    if not table:
        return "credits" if provider.name == "apiinone" else "-"
    return " / ".join(f"{tier} ${rate:g}" for tier, rate in table.items()) + " per s"


def format_notes(spec: ModelSpec) -> str:
    notes = []
    if spec.auto_duration:
        notes.append("duration auto")
    if spec.last_frame:
        notes.append("last frame")
    for rule in spec.duration_rules:
        where = " and ".join(
            part for part in (", ".join(rule.resolutions), ", ".join(f"{f} fps" for f in rule.fps)) if part
        )
        notes.append(
            f"{format_durations(ModelSpec(spec.name, spec.wire_id, spec.mode, rule.durations))} s only at {where}"
        )
    return "; ".join(notes) or "-"


def mode_rows(providers: list[Provider] | None = None) -> list[list[str]]:
    rows = []
    for provider in providers or all_providers():
        for mode in provider.modes():
            for spec in provider.models(mode):
                if not spec.wire_id:
                    model = f"{spec.name} (no model field)"
                else:
                    model = spec.name if spec.name == spec.wire_id else f"{spec.name} (`{spec.wire_id}`)"
                rows.append(
                    [
                        provider.display_name,
                        mode.value,
                        model,
                        format_durations(spec),
                        _mark_default(spec.resolutions, spec.default_resolution, mode),
                        _mark_default(spec.fps, spec.default_fps, mode),
                        format_price(provider, spec),
                        format_notes(spec),
                    ]
                )
    return rows


def access_rows(providers: list[Provider] | None = None) -> list[list[str]]:
    rows = []
    for provider in providers or all_providers():
        methods = [provider.default_hosting] + [
            m for m in provider.hosting_methods if m != provider.default_hosting
        ]
        rows.append([provider.display_name, provider.key_env, provider.base_url_env, ", ".join(methods)])
    return rows


def providers_json() -> list[dict]:
    out = []
    for provider in all_providers():
        out.append(
            {
                "name": provider.name,
                "display_name": provider.display_name,
                "key_env": provider.key_env,
                "base_url_env": provider.base_url_env,
                "hosting_methods": list(provider.hosting_methods),
                "default_hosting": provider.default_hosting,
                "models": [
                    {
                        "mode": s.mode.value,
                        "name": s.name,
                        "wire_id": s.wire_id,
                        "durations": list(s.durations),
                        "duration_range": list(s.duration_range) if s.duration_range else None,
                        "resolutions": list(s.resolutions),
                        "fps": list(s.fps),
                        "default_duration": s.default_duration,
                        "default_resolution": s.default_resolution,
                        "default_fps": s.default_fps,
                        "auto_duration": s.auto_duration,
                        "last_frame": s.last_frame,
                        "duration_rules": [
                            {
                                "durations": list(r.durations),
                                "resolutions": list(r.resolutions),
                                "fps": list(r.fps),
                            }
                            for r in s.duration_rules
                        ],
                    }
                    for s in provider.models()
                ],
            }
        )
    return out


def render_markdown() -> str:
    """Two tables: modes and models; keys, base URLs and hosting. ``*`` marks a default."""
    return markdown_table(MODE_HEADERS, mode_rows()) + "\n\n" + markdown_table(ACCESS_HEADERS, access_rows())


def cmd_providers(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(providers_json(), indent=2))
    elif args.markdown:
        print(render_markdown())
    else:
        print(text_table(MODE_HEADERS, [[c.replace("`", "") for c in row] for row in mode_rows()]))
        print()
        print(text_table(ACCESS_HEADERS, access_rows()))
        print("\n* = default")
    return 0

"""``ltx2 emulator``: serve the three providers' protocols on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import re
import shlex

from ..emulator.core import (
    FAULT_KINDS,
    FAULT_OPS,
    FAULT_PROVIDERS,
    PROVIDERS,
    EmulatorConfig,
    Fault,
    serve_forever,
)
from ..providers import get_provider
from ..urlpolicy import is_loopback_host
from .common import CommandError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """A host to bind the emulator to on this machine only (the URL policy's loopback rule, plus
    the loopback names some systems' hosts files use)."""
    return host.strip("[]").lower() in _LOOPBACK_NAMES or is_loopback_host(host)


def parse_keys(items: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for item in items:
        provider, sep, key = item.partition("=")
        provider = provider.strip().lower()
        if not sep or provider not in PROVIDERS or not key:
            raise CommandError(
                f"--key {provider or item!r}: expected PROVIDER=KEY with PROVIDER one of "
                f"{', '.join(PROVIDERS)}"
            )
        keys[provider] = key
    return keys


_FAULT = re.compile(r"(?P<body>.+?)(?:x(?P<count>\d+))?")
# What the emulator's faults understand (see emulator.core.Fault); anything else would never fire.


DEFAULT_FAULT_DELAY = 5.0  # seconds a "delay" fault waits unless its fourth field says (e.g. ":2.5s")


def _one_of(text: str, name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CommandError(f"--fault {text!r}: {name} {value!r} is not one of {', '.join(allowed)}")
    return value


def parse_fault(text: str) -> Fault:
    """``PROVIDER:OP:KIND[:STATUS][xCOUNT]`` (or ``PROVIDER:OP:shape:VARIANT[xCOUNT]``). The count suffix is read only when digits follow the
    "x", so kinds that contain an x ("expire") parse as themselves. A ``delay`` waits
    DEFAULT_FAULT_DELAY seconds, or as long as a fourth field such as ``2.5s`` says."""
    match = _FAULT.fullmatch(text.strip())
    parts = match.group("body").split(":") if match else []
    if len(parts) < 3 or len(parts) > 4 or not all(parts[:3]):
        raise CommandError(
            f"--fault {text!r}: expected PROVIDER:OP:KIND[:STATUS][xCOUNT], e.g. gmi:status:http:503x2"
        )
    if parts[2].lower() == "shape":  # PROVIDER:OP:shape:VARIANT - an answer shape seen in the wild
        if len(parts) != 4 or not parts[3]:
            raise CommandError(
                f"--fault {text!r}: a shape needs its variant, e.g. gmi:status:shape:video_url"
            )
        try:
            return Fault(
                provider=_one_of(text, "PROVIDER", parts[0].lower(), FAULT_PROVIDERS),
                op=_one_of(text, "OP", parts[1].lower(), FAULT_OPS),
                kind=f"shape:{parts[3]}",
                count=int(match.group("count")) if match and match.group("count") else 1,
            )
        except ValueError as exc:  # a shape on an op that has none
            raise CommandError(f"--fault {text!r}: {exc}") from None
    values: dict = dict(
        provider=_one_of(text, "PROVIDER", parts[0].lower(), FAULT_PROVIDERS),
        op=_one_of(text, "OP", parts[1].lower(), FAULT_OPS),
        kind=_one_of(text, "KIND", parts[2].lower(), FAULT_KINDS),
    )
    if match and match.group("count"):
        values["count"] = int(match.group("count"))
        if values["count"] < 1:
            raise CommandError(f"--fault {text!r}: xCOUNT must be 1 or more")
    if values["kind"] == "delay":
        values["delay"] = DEFAULT_FAULT_DELAY
    if len(parts) == 4 and parts[3]:
        field = parts[3]
        if values["kind"] == "delay" and field.endswith("s"):
            try:
                values["delay"] = float(field[:-1])
            except ValueError:
                values["delay"] = -1.0
            if not 0 <= values["delay"] < float("inf"):
                raise CommandError(
                    f"--fault {text!r}: a delay is SECONDS followed by s (e.g. 2.5s), not {field!r}"
                )
        elif not field.isdigit() or not 100 <= int(field) <= 599:
            raise CommandError(f"--fault {text!r}: STATUS must be an HTTP status code, not {field!r}")
        else:
            values["status"] = int(field)
    try:
        fault = Fault(**values)
    except ValueError as exc:  # a kind that never fires on that op, an op that provider never applies
        raise CommandError(f"--fault {text!r}: {exc}") from None
    return fault


def parse_faults(items: list[str]) -> list[Fault]:
    return [parse_fault(item) for item in items]


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    cfg = EmulatorConfig()
    for name in ("queue_seconds", "processing_seconds", "render_scale", "max_render_side"):
        value = getattr(args, name)
        if value is not None:
            if not 0 <= value < float("inf"):  # also refuses nan
                raise CommandError(f"--{name.replace('_', '-')} = {value:g}: must be 0 or more")
            setattr(cfg, name, value)
    cfg.keys.update(parse_keys(args.key))
    cfg.faults = parse_faults(args.fault)
    return cfg


def ready_text(origin: str, cfg: EmulatorConfig) -> str:
    """Base URLs and the ``export`` lines that point the pack at this emulator."""
    lines = [f"LTX-2 emulator listening on {origin}", ""]
    for name in PROVIDERS:
        lines.append(f"  {get_provider(name).display_name:<18} {origin}/{name}")
    lines += [
        "",
        f"  control: {origin}/_emulator/faults | stats | reset",
        "",
        "Point the pack at it (these are the emulator's own test keys):",
    ]
    for name in PROVIDERS:
        provider = get_provider(name)
        lines.append(f"export {provider.base_url_env}={shlex.quote(f'{origin}/{name}')}")
        lines.append(f"export {provider.key_env}={shlex.quote(cfg.keys[name])}")
    if cfg.faults:
        lines += ["", "Faults: " + ", ".join(f"{f.provider}:{f.op}:{f.kind} x{f.count}" for f in cfg.faults)]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def cmd_emulator(args: argparse.Namespace) -> int:
    if not is_loopback(args.host) and not args.allow_remote:
        raise CommandError(
            f"--host {args.host!r} is not a loopback address: the emulator accepts test keys and "
            "serves files to anyone who can reach it. Use 127.0.0.1, or add --allow-remote."
        )
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port}: must be between 0 and 65535")
    cfg = build_config(args)

    def on_ready(origin: str) -> None:
        print(ready_text(origin, cfg), flush=True)

    try:
        asyncio.run(serve_forever(cfg, args.host, args.port, on_ready))
    except KeyboardInterrupt:
        print("Emulator stopped.", flush=True)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    return 0

"""HTTP routes for the front-end extension, added to ComfyUI's server when it is present.

GET  /ltx2/capabilities  providers, modes, models and their allowed values
POST /ltx2/estimate      {mode, widgets} -> estimated cost of a node's current settings
GET  /ltx2/keys          where each provider's key comes from (env / config / missing), never the key
POST /ltx2/keys          {provider, key[, profile]} stores a key in the user config file (loopback only)
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
from typing import TYPE_CHECKING, Any

from . import comfy

if TYPE_CHECKING:  # aiohttp is loaded by ComfyUI already; the command line never needs it here
    from aiohttp import web

log = logging.getLogger("ltx2_nodes")
_registered = False


def _is_loopback(remote: str | None) -> bool:
    try:
        address = ipaddress.ip_address((remote or "").split("%", 1)[0])
    except ValueError:
        return False
    # A dual-stack server sees a local IPv4 browser as ::ffff:127.0.0.1.
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


_FORWARDED_FOR = re.compile(r'(?i)(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]*)')


def _forwarded_clients(headers: Any) -> list[str]:
    """Client addresses named by a proxy (X-Forwarded-For, X-Real-IP, Forwarded), ports removed."""
    found: list[str] = []
    for value in headers.getall("X-Forwarded-For", []):
        found.extend(part.strip() for part in value.split(","))
    found.extend(value.strip() for value in headers.getall("X-Real-IP", []))
    for value in headers.getall("Forwarded", []):
        found.extend(match.group(1).strip('"') for match in _FORWARDED_FOR.finditer(value))
    clients = []
    for item in found:
        if item.startswith("["):  # [v6]:port
            item = item[1:].split("]", 1)[0]
        elif item.count(":") == 1:  # v4:port
            item = item.split(":", 1)[0]
        clients.append(item)
    return clients


def _request_is_local(request: web.Request) -> bool:
    """From this machine: a loopback peer and, when a proxy or tunnel on this machine relays the
    request, a loopback client behind it too (a tunnel connects from 127.0.0.1 for everyone)."""
    return _is_loopback(request.remote) and all(_is_loopback(c) for c in _forwarded_clients(request.headers))


def _valid_estimate(answer: Any) -> bool:
    """An answer the browser can parse (no NaN/Infinity) and show (no negative amount)."""
    if not isinstance(answer, dict):
        return False
    amount = answer.get("amount")
    if amount is None:
        return True
    return isinstance(amount, (int, float)) and math.isfinite(amount) and amount >= 0


async def capabilities_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.capabilities import capabilities

    return web.json_response(capabilities())


async def estimate_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.capabilities import estimate_from_widgets

    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "expected a JSON body"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), dict):
        return web.json_response({"error": "expected {mode, widgets}"}, status=400)
    try:
        answer = estimate_from_widgets(str(body.get("mode", "")), body["widgets"])
    except Exception as exc:  # a badge must never break the page: odd values just show no estimate
        log.debug("LTX-2: no estimate for %r: %s", body, exc)
        answer = {"text": "", "error": "no estimate for these values"}
    if not _valid_estimate(answer):
        answer = {"text": "", "error": "no estimate for these values"}
    return web.json_response(answer)


async def keys_get_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.config import config_path, key_status
    from ..api.errors import LTX2Error
    from ..api.providers import get_provider

    try:
        status = key_status()
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=400)
    providers: dict[str, Any] = {}
    for name, source in status.items():
        provider = get_provider(name)
        providers[name] = {
            "display_name": provider.display_name,
            "source": source,
            "env_var": provider.key_env,
        }
    return web.json_response({"providers": providers, "config_file": str(config_path())})


async def keys_post_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.config import save_key
    from ..api.errors import InvalidInputError, LTX2Error
    from .settings import check_profile

    # A key typed into a browser must not be settable by anyone who can reach a ComfyUI that
    # listens on the network.
    if not _request_is_local(request) and os.environ.get("LTX2_ALLOW_REMOTE_KEY_SETUP") != "1":
        return web.json_response(
            {
                "error": "Keys can only be set from the machine running ComfyUI (or set LTX2_ALLOW_REMOTE_KEY_SETUP=1)."
            },
            status=403,
        )
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "expected a JSON body"}, status=400)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("provider"), str)
        or not isinstance(body.get("key"), str)
    ):
        return web.json_response({"error": "expected {provider, key}"}, status=400)
    profile = body.get("profile") or None
    try:
        if profile is not None:
            if not isinstance(profile, str):
                raise InvalidInputError("profile", type(profile).__name__, "the name of a key profile")
            check_profile(profile)  # the same names the LTX-2 Provider Settings node accepts
        path = save_key(body["provider"], body["key"], profile)
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=400)
    log.info("LTX-2: a key for %s was saved to %s", body["provider"], path)
    return web.json_response({"message": f"Stored in {path}."})


def add_routes(routes: Any) -> None:
    """Add the handlers to an aiohttp RouteTableDef (ComfyUI's) or a router."""
    routes.get("/ltx2/capabilities")(capabilities_handler)
    routes.post("/ltx2/estimate")(estimate_handler)
    routes.get("/ltx2/keys")(keys_get_handler)
    routes.post("/ltx2/keys")(keys_post_handler)


def register_routes() -> bool:
    """Register with ComfyUI's PromptServer once; a no-op outside ComfyUI."""
    global _registered
    if _registered:
        return True
    server = comfy._module("server")
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    if instance is None or not hasattr(instance, "routes"):
        return False
    add_routes(instance.routes)
    _registered = True
    return True

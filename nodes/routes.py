"""HTTP routes for the front-end extension, added to ComfyUI's server when it is present.

GET  /ltx2/capabilities  providers, modes, models and their allowed values
POST /ltx2/estimate      {mode, widgets} -> estimated cost of a node's current settings
GET  /ltx2/keys          where each provider's key comes from (env / config / missing), never the key
POST /ltx2/keys          {provider, key[, profile]} stores a key in the user config file (loopback only)
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import TYPE_CHECKING, Any

from . import comfy

if TYPE_CHECKING:  # aiohttp is loaded by ComfyUI already; the command line never needs it here
    from aiohttp import web

log = logging.getLogger("ltx2_nodes")
_registered = False


def _is_loopback(remote: str | None) -> bool:
    try:
        return ipaddress.ip_address((remote or "").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


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
    return web.json_response(estimate_from_widgets(str(body.get("mode", "")), body["widgets"]))


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
        providers[name] = {"display_name": provider.display_name, "source": source, "env_var": provider.key_env}
    return web.json_response({"providers": providers, "config_file": str(config_path())})


async def keys_post_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.config import save_key
    from ..api.errors import LTX2Error

    # A key typed into a browser must not be settable by anyone who can reach a ComfyUI that
    # listens on the network.
    if not _is_loopback(request.remote) and os.environ.get("LTX2_ALLOW_REMOTE_KEY_SETUP") != "1":
        return web.json_response(
            {"error": "Keys can only be set from the machine running ComfyUI (or set LTX2_ALLOW_REMOTE_KEY_SETUP=1)."},
            status=403)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "expected a JSON body"}, status=400)
    if not isinstance(body, dict) or not isinstance(body.get("provider"), str) or not isinstance(body.get("key"), str):
        return web.json_response({"error": "expected {provider, key}"}, status=400)
    try:
        path = save_key(body["provider"], body["key"], body.get("profile") or None)
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

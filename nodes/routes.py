"""HTTP routes for the front-end extension, added to ComfyUI's server when it is present.

GET    /ltx2/capabilities   providers, modes, models and their allowed values
POST   /ltx2/estimate       {mode, widgets} -> estimated cost of a node's current settings
GET    /ltx2/keys           where each provider's key comes from (env / config / missing), never the key
POST   /ltx2/keys           {provider, key[, profile]} stores a key in the user config file (this machine only)
DELETE /ltx2/keys           {provider[, profile]} removes a stored key (the only way one is removed)
GET    /ltx2/jobs           journal jobs, newest first (?state=GROUP&provider=NAME&limit=N)
POST   /ltx2/jobs/collect   {id} polls and downloads a paid job in the background, never resubmitting it
GET    /ltx2/spend          estimated spend today and this month per provider, with the budget
POST   /ltx2/budget         {daily_usd, monthly_usd, daily_credits, monthly_credits, allow_unknown_cost}

Every route that changes state refuses a request from another site (an ``Origin`` that is not this
server, ``Sec-Fetch-Site: cross-site``), a foreign ``Host`` (DNS rebinding: only loopback names, the
address the server was reached on, or ``LTX2_ALLOWED_HOSTS``) and any body that is not JSON (a
``text/plain`` POST needs no CORS preflight, so a web page could send one). Every route checks the
``Host``. No route ever returns a key.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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


ALLOWED_HOSTS_ENV = "LTX2_ALLOWED_HOSTS"  # extra Host names (comma separated), e.g. behind a reverse proxy
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split_host(value: str, scheme: str) -> tuple[str, int] | None:
    """("host", port) of a Host header value; None when it cannot be parsed."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/@?# \t"):
        return None
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            return None
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    elif ":" in value:
        return None  # a bare IPv6 address must be bracketed in a Host header
    else:
        host, port_text = value, ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return None
        port = int(port_text)
    else:
        port = _DEFAULT_PORTS.get(scheme, 80)
    return (host.rstrip("."), port) if host else None


def _host_allowed(request: web.Request, host: str) -> bool:
    from ..api.config import is_loopback_host

    if is_loopback_host(host):
        return True
    extra = {h.strip().lower() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()}
    if host in extra:
        return True
    # The address this connection reached (ComfyUI on a LAN address, opened as http://192.168.1.5:8188).
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    if sockname:
        local = str(sockname[0]).split("%", 1)[0].lower()
        if local.startswith("::ffff:"):
            local = local[7:]
        return host == local
    return False


def refusal(request: web.Request, *, changes_state: bool) -> web.Response | None:
    """A 403/415 answer for a request that must not be served, else None."""
    from aiohttp import web

    def refuse(status: int, message: str) -> web.Response:
        log.warning("LTX-2: refused %s %s: %s", request.method, request.path, message)
        return web.json_response({"error": message}, status=status)

    host = _split_host(request.headers.get("Host", ""), request.scheme)
    if host is None or not _host_allowed(request, host[0]):
        return refuse(
            403,
            f"Refused: the Host header does not name this ComfyUI server (set {ALLOWED_HOSTS_ENV} to allow "
            f"a name, e.g. behind a reverse proxy).",
        )
    if not changes_state:
        return None
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return refuse(403, "Refused: the request came from another site.")
    origin = request.headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin.strip())
        origin_host = (
            _split_host(parts.netloc, parts.scheme)
            if parts.scheme in _DEFAULT_PORTS and parts.netloc
            else None
        )
        if origin_host != host:
            return refuse(403, "Refused: the request came from another origin than this ComfyUI page.")
    if request.content_type != "application/json":
        return refuse(415, "Refused: the body must be JSON (Content-Type: application/json).")
    return None


async def _json_body(request: web.Request) -> Any:
    """The parsed JSON body, or None when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None


def guarded(handler: Any, *, changes_state: bool) -> Any:
    """``handler`` behind ``refusal``."""

    async def run(request: web.Request) -> web.Response:
        refused = refusal(request, changes_state=changes_state)
        if refused is not None:
            return refused
        return await handler(request)

    run.__name__ = getattr(handler, "__name__", "handler")
    return run


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


_LOCAL_ONLY = (
    "{what} can only be changed from the machine running ComfyUI (or set LTX2_ALLOW_REMOTE_KEY_SETUP=1)."
)


def _local_only(request: web.Request, what: str) -> web.Response | None:
    """Keys and the budget typed into a browser must not be changeable by anyone who can reach a
    ComfyUI that listens on the network."""
    from aiohttp import web

    if _request_is_local(request) or os.environ.get("LTX2_ALLOW_REMOTE_KEY_SETUP") == "1":
        return None
    return web.json_response({"error": _LOCAL_ONLY.format(what=what)}, status=403)


def _key_target(body: Any) -> tuple[str, str | None]:
    """(provider, profile) of a key request; InvalidInputError for anything else."""
    from ..api.errors import InvalidInputError
    from .settings import check_profile

    if not isinstance(body, dict) or not isinstance(body.get("provider"), str):
        raise InvalidInputError("provider", None, "a JSON body with a provider name: gmi, apiinone or ltx")
    profile = body.get("profile") or None
    if profile is not None:
        if not isinstance(profile, str):
            raise InvalidInputError("profile", type(profile).__name__, "the name of a key profile")
        check_profile(profile)  # the same names the LTX-2 Provider Settings node accepts
    return body["provider"], profile


async def keys_post_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.config import save_key
    from ..api.errors import LTX2Error

    refused = _local_only(request, "Keys")
    if refused is not None:
        return refused
    body = await _json_body(request)
    if body is None:
        return web.json_response({"error": "expected a JSON body"}, status=400)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("provider"), str)
        or not isinstance(body.get("key"), str)
    ):
        return web.json_response({"error": "expected {provider, key}"}, status=400)
    if not body["key"].strip():
        # An empty key would wipe the stored one: removing a key is an explicit DELETE only.
        return web.json_response(
            {"error": "the key is empty: nothing was changed (delete a key explicitly)"}, status=400
        )
    try:
        provider, profile = _key_target(body)
        path = save_key(provider, body["key"], profile)
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=400)
    log.info("LTX-2: a key for %s was saved to %s", provider, path)
    return web.json_response({"message": f"Stored in {path}."})


async def keys_delete_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.config import remove_key
    from ..api.errors import LTX2Error

    refused = _local_only(request, "Keys")
    if refused is not None:
        return refused
    body = await _json_body(request)
    try:
        provider, profile = _key_target(body)
        path = remove_key(provider, profile)
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=400)
    log.info("LTX-2: the stored key for %s was removed from %s", provider, path)
    return web.json_response({"message": f"Removed from {path}."})


async def jobs_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.errors import LTX2Error
    from .sidebar import GROUPS, jobs_doc

    state = request.query.get("state") or None
    provider = request.query.get("provider") or None
    if state is not None and state not in GROUPS:
        return web.json_response({"error": f"state: expected one of {', '.join(GROUPS)}"}, status=400)
    try:
        limit = int(request.query.get("limit", "200"))
    except ValueError:
        return web.json_response({"error": "limit: expected a number"}, status=400)
    try:
        doc = jobs_doc(state=state, provider=provider, limit=limit)
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=500)
    return web.json_response(doc)


async def collect_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.errors import LTX2Error
    from .sidebar import start_collect

    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"].strip():
        return web.json_response({"error": "expected {id}"}, status=400)
    try:
        record_id = start_collect(body["id"].strip())
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(
        {"collecting": record_id, "message": "Collecting the paid job (no new submit)."}, status=202
    )


async def spend_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api.budget import spend_report
    from ..api.errors import LTX2Error

    try:
        doc = spend_report(create=False)  # a fresh install's first look creates no journal
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=500)
    return web.json_response(doc)


async def budget_handler(request: web.Request) -> web.Response:
    from aiohttp import web

    from ..api import budget
    from ..api.errors import LTX2Error

    refused = _local_only(request, "The budget")
    if refused is not None:
        return refused
    body = await _json_body(request)
    if not isinstance(body, dict) or not body:
        return web.json_response(
            {
                "error": "expected {daily_usd, monthly_usd, daily_credits, monthly_credits, allow_unknown_cost}"
            },
            status=400,
        )
    try:
        saved = budget.save(body)
    except LTX2Error as exc:
        return web.json_response({"error": str(exc)}, status=400)
    log.info("LTX-2: the budget was changed")
    return web.json_response({"message": f"Saved in {budget.config.config_path()}.", "budget": saved.doc()})


def add_routes(routes: Any) -> None:
    """Add the handlers to an aiohttp RouteTableDef (ComfyUI's) or a router."""
    reads = {
        "/ltx2/capabilities": capabilities_handler,
        "/ltx2/keys": keys_get_handler,
        "/ltx2/jobs": jobs_handler,
        "/ltx2/spend": spend_handler,
    }
    for path, handler in reads.items():
        routes.get(path)(guarded(handler, changes_state=False))
    # The estimate changes nothing and answers any body (it only reads widget values).
    routes.post("/ltx2/estimate")(guarded(estimate_handler, changes_state=False))
    routes.post("/ltx2/keys")(guarded(keys_post_handler, changes_state=True))
    routes.delete("/ltx2/keys")(guarded(keys_delete_handler, changes_state=True))
    routes.post("/ltx2/jobs/collect")(guarded(collect_handler, changes_state=True))
    routes.post("/ltx2/budget")(guarded(budget_handler, changes_state=True))


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

"""URL media inputs read only to learn their length before any paid request: every hop under the
URL policy (no redirect from loopback to another host's plain http), size-capped, with a deadline,
and never with a key. Errors are ValueError (UrlRefused among them), OSError or httpx.HTTPError,
each naming what went wrong."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urljoin

import httpx

from .. import urlpolicy
from .connections import Timeouts, build_http
from .jsonbody import BodyTooLarge, read_capped

URL_PROBE_MAX_BYTES = 64 << 20
URL_PROBE_DEADLINE = 120.0  # seconds for the whole read
MAX_REDIRECTS = 5
_TIMEOUTS = Timeouts(connect=10.0, read=30.0, write=30.0, pool=10.0)


async def fetch_url_media(
    url: str,
    *,
    max_bytes: int = URL_PROBE_MAX_BYTES,
    resolver: urlpolicy.Resolver | None = None,
    deadline: float = URL_PROBE_DEADLINE,
) -> bytes:
    """The bytes behind a user's media URL. Raises ValueError."""
    http, pinned = build_http(_TIMEOUTS, resolver=resolver)
    try:
        return await asyncio.wait_for(_fetch(http, pinned, url, max_bytes, resolver), deadline)
    except asyncio.TimeoutError:
        raise ValueError(f"reading it took longer than {deadline:g} s") from None
    finally:
        await http.aclose()


async def _fetch(
    http: httpx.AsyncClient, pinned: bool, url: str, max_bytes: int, resolver: urlpolicy.Resolver | None
) -> bytes:
    target = url
    for _hop in range(MAX_REDIRECTS + 1):
        if pinned:
            urlpolicy.check_url(target)  # the connection checks the resolved addresses
        else:
            await urlpolicy.check_url_resolved(target, resolver=resolver)
        request = http.build_request("GET", target)
        resp = await http.send(request, stream=True)
        async with contextlib.aclosing(resp):
            if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                target = urljoin(target, resp.headers["Location"])
                continue
            if resp.status_code != 200:
                raise ValueError(f"the server answered HTTP {resp.status_code}")
            try:
                return await read_capped(resp, max_bytes)
            except BodyTooLarge:
                raise ValueError(f"it is larger than {max_bytes / (1 << 20):g} MB") from None
    raise ValueError("too many redirects")

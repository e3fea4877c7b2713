"""JSON answers read within caps: a body is streamed and abandoned past ``MAX_JSON_BYTES`` (a huge
answer costs at most that much memory), and nesting deeper than ``MAX_JSON_DEPTH`` is refused (no
RecursionError anywhere later)."""

from __future__ import annotations

import json
from typing import Any

import httpx

MAX_JSON_BYTES = 4 << 20  # an API answer is a few KiB; 4 MiB leaves room for long job lists
MAX_ERROR_BYTES = 64 << 10  # of an error answer only the start is kept
MAX_JSON_DEPTH = 64


class BodyTooLarge(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(f"the answer is larger than {cap / (1 << 20):g} MiB")
        self.cap = cap


class BadJson(ValueError):
    """A body that is not JSON, or JSON nested too deep."""


async def read_capped(resp: httpx.Response, cap: int, *, truncate: bool = False) -> bytes:
    """The (decoded) body of a streamed response, at most ``cap`` bytes. Past the cap: the start of
    the body with ``truncate``, else BodyTooLarge. The rest is never read."""
    length = resp.headers.get("Content-Length", "")
    if not truncate and length.isdigit() and int(length) > cap and _identity(resp):
        raise BodyTooLarge(cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            if truncate:
                return b"".join(chunks)[:cap]
            raise BodyTooLarge(cap)
    return b"".join(chunks)


def _identity(resp: httpx.Response) -> bool:
    return resp.headers.get("Content-Encoding", "identity").strip().lower() in ("", "identity")


def text_of(raw: bytes, resp: httpx.Response | None = None) -> str:
    encoding = (resp.charset_encoding if resp is not None else None) or "utf-8"
    try:
        return raw.decode(encoding, errors="replace")
    except LookupError:  # an unknown charset name
        return raw.decode("utf-8", errors="replace")


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` nests at most ``limit`` containers deep (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON (None for an empty body). BadJson when it is not JSON or nests deeper than ``max_depth``."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise BadJson(f"not JSON ({exc.__class__.__name__})") from None
    if not json_depth_ok(value, max_depth):
        raise BadJson(f"JSON nested deeper than {max_depth} levels")
    return value


def decode_body(text: str) -> Any:
    """An error answer's body: JSON when it parses within the depth cap, else the text."""
    try:
        return parse_json(text)
    except BadJson:
        return text

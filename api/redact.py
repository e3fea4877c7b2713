"""Remove secrets from anything that may be shown, logged or stored, and terminal control
sequences from provider text before it is printed or stored."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=*-]+")
# Key shapes: API in One's "aio_…" and the common "sk-…"; "gmi_…" / "ltx_…" only when long and holding
# a digit, so names such as "ltx_extend.mp4" or "gmi_image-to-video" stay readable. Every key the
# config hands out is also registered and removed exactly.
# A run of name characters followed by a file extension ("gmi_text-to-video_20260101-1200_ab12.mp4") is a
# file name, never a key: it is left alone.
_NOT_A_FILE_NAME = r"(?![A-Za-z0-9_-]*\.[A-Za-z0-9]{1,5}\b)"
_KEYLIKE = re.compile(
    rf"\b(aio_|sk-){_NOT_A_FILE_NAME}[A-Za-z0-9_-]{{8,}}"
    rf"|\b(gmi_|ltx_){_NOT_A_FILE_NAME}(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{{16,}}"
)
_QUERY_SECRETS = re.compile(
    r"(?i)([?&](?:x-amz-signature|x-goog-signature|signature|sig|token|key|api_key|apikey)=)[^&\s\"']+"
)
_SECRET_FIELDS = {"authorization", "api_key", "apikey", "key", "token", "secret", "password", "x-api-key"}
_MASK = "***"

_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a key so every later redaction removes it wherever it appears (also in the forms
    it takes inside a URL or a JSON string)."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


@functools.lru_cache(maxsize=512)
def _forms(secret: str) -> tuple[str, ...]:
    """The secret as written raw, percent-encoded (in a URL) and escaped (in a JSON string)."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return tuple(f for f in forms if f)


def _mask_secrets(text: str, secrets: set[str]) -> str:
    """Replace every occurrence of every secret form. Overlapping occurrences (one key's tail is
    another key's head) are merged into one masked span, so no fragment of either survives."""
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        for form in _forms(secret):
            start = text.find(form)
            while start >= 0:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    pos = 0
    cur_start, cur_end = spans[0]
    for start, end in spans[1:]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        out.append(text[pos:cur_start] + _MASK)
        pos = cur_end
        cur_start, cur_end = start, end
    out.append(text[pos:cur_start] + _MASK)
    out.append(text[cur_end:])
    return "".join(out)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    # Known secrets first, exactly and wherever they are (a structural pattern applied first could
    # stop inside a key and leave its tail), then patterns for keys this process was never told about.
    known = {s for s in (*_known_secrets.copy(), *secrets) if s}  # copy(): atomic against other threads
    if known:
        text = _mask_secrets(text, known)
    text = _BEARER.sub(r"\1***", text)
    text = _QUERY_SECRETS.sub(r"\1***", text)
    return _KEYLIKE.sub(lambda m: (m.group(1) or m.group(2)) + _MASK, text)


def redact_keys(text: str) -> str:
    """Only the registered keys removed (in every form they take: raw, in a URL, in JSON): for stored
    values that must stay usable, such as an output URL whose signature is needed to download it."""
    known = {s for s in _known_secrets.copy() if s}
    return _mask_secrets(text, known) if known else text


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Deep copy of ``value`` with secrets removed from strings and secret-named fields masked.
    Parts nested deeper than a JSON answer may be are masked whole, so no value exhausts the stack."""
    secrets = tuple(secrets)
    return _redact(value, secrets, 0)


_MAX_DEPTH = 200  # answers are depth-capped far below this when parsed; deeper parts are dropped


def _redact(value: Any, secrets: tuple[str, ...], depth: int) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if depth >= _MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        return _MASK
    if isinstance(value, dict):
        return {
            k: (_MASK if str(k).lower() in _SECRET_FIELDS and v else _redact(v, secrets, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v, secrets, depth + 1) for v in value)
    return value


# --- terminal control sequences -------------------------------------------------------------------

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC strings (ESC P/X/^/_ ... ST),
# two-character escapes, then any remaining C0 (except tab and newline), DEL and C1 controls, and the
# Unicode bidirectional overrides that reorder what a terminal shows.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|\x9d[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)


def strip_control(text: str) -> str:
    """``text`` without terminal control sequences (ANSI CSI, OSC, C0 except newline and tab, C1):
    provider text cannot rewrite the user's terminal line or title."""
    if not isinstance(text, str):
        return text
    return _CONTROL.sub("", text)


def clean_value(value: Any) -> Any:
    """``strip_control`` applied to every string of a JSON-like value."""
    if isinstance(value, str):
        return strip_control(value)
    if isinstance(value, dict):
        return {clean_value(k) if isinstance(k, str) else k: clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_value(v) for v in value)
    return value

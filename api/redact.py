"""Remove secrets from anything that may be shown, logged or stored."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
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

_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a key so every later redaction removes it wherever it appears."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    # Structural patterns first, so a registered secret that is part of a token cannot leave the
    # token's tail behind; then every known secret wherever else it appears.
    text = _BEARER.sub(r"\1***", text)
    text = _QUERY_SECRETS.sub(r"\1***", text)
    for secret in sorted({*_known_secrets, *secrets}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


def redact_keys(text: str) -> str:
    """Only the registered keys removed (exact matches): for stored values that must stay usable, such
    as an output URL whose signature is needed to download it."""
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Deep copy of ``value`` with secrets removed from strings and secret-named fields masked."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {
            k: ("***" if str(k).lower() in _SECRET_FIELDS and v else redact(v, secrets))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    return value

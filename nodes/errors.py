"""Typed errors -> exceptions ComfyUI shows as a plain message: the user message only, redacted,
with no chain of internal exceptions attached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..api.errors import InvalidInputError, LTX2Error
from ..api.redact import redact_text


class LTX2NodeError(RuntimeError):
    """A generation could not complete (provider, network, journal ...)."""


class LTX2InputError(ValueError):
    """An input breaks a documented limit; nothing was sent."""


def node_error(exc: LTX2Error) -> Exception:
    message = redact_text(str(exc))
    if isinstance(exc, InvalidInputError):
        return LTX2InputError(message)
    return LTX2NodeError(message)


@contextmanager
def user_errors() -> Iterator[None]:
    """Re-raise ``LTX2Error``s as node errors carrying only the user message."""
    try:
        yield
    except LTX2Error as exc:
        raise node_error(exc) from None

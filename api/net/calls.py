"""Calls that are safe to repeat (status, cancel, upload slot, list): sent through the one retry
helper, which tries again on network errors, timeouts, 429, 5xx and unreadable answers."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from .. import urlpolicy
from ..errors import ProviderError
from ..providers.base import HttpCall
from .jsonbody import BadJson
from .retry import Retry, retrying
from .transport import INVALID, RESUMABLE, CancelCheck, Wire


async def idempotent(
    wire: Wire, call: HttpCall, *, op: str, expect_json: bool = True, cancel_check: CancelCheck | None = None
) -> Any:
    """The JSON answer of ``call`` (None without ``expect_json``); the last error when no try is left."""

    async def attempt(n: int, attempts: int) -> Any:
        try:
            answer = await wire.until_cancelled(
                wire.send(call), cancel_check, f"Stopped waiting; {RESUMABLE}."
            )
        except urlpolicy.UrlRefused as exc:
            raise ProviderError(
                f"{wire.display} pointed {op} at a URL that is refused: {exc}.", provider=wire.name
            ) from None
        except INVALID as exc:
            raise wire.network_error(call, exc, n) from None
        except httpx.HTTPError as exc:
            wire.log(
                logging.WARNING,
                "%s %s %s: %s (attempt %d/%d)",
                wire.name,
                call.method,
                wire.path_of(call),
                type(exc).__name__,
                n,
                attempts,
            )
            raise Retry(wire.network_error(call, exc, n)) from None
        wire.log(
            logging.INFO,
            "%s %s %s -> %d (attempt %d/%d)",
            wire.name,
            call.method,
            wire.path_of(call),
            answer.status,
            n,
            attempts,
        )
        if answer.ok:
            if not expect_json:
                return None
            try:
                return answer.json()
            except BadJson as exc:
                raise Retry(
                    ProviderError(
                        f"{wire.display} answered {op} with a body that is not usable JSON "
                        f"(HTTP {answer.status}: {exc}).",
                        provider=wire.name,
                        status_code=answer.status,
                        raw=wire.clean(answer.text[:2000]),
                    )
                ) from None
        err = wire.error(answer)
        if answer.status != 429 and answer.status < 500:
            raise err
        raise Retry(err, retry_after=answer.headers.get("Retry-After"))

    return await retrying(
        attempt,
        attempts=wire.retry.attempts,
        policy=wire.retry,
        pause=lambda s: wire.pause(s, cancel_check),
    )

"""The paid submit and its money rule: it is sent again only when it provably never reached the
provider (no connection was made) or the provider refused it with 429/503 before giving any job
id. Anything else that leaves its fate unknown is a SubmitUncertainError, never resent."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from .. import urlpolicy
from ..errors import Interrupted, LTX2Error, SubmitUncertainError
from ..providers.base import HttpCall
from ..types import GenerationRequest, SubmittedJob
from .jsonbody import BadJson
from .retry import Retry, retrying
from .transport import INVALID, NOT_SENT, CancelCheck, Wire


def _uncertain(
    wire: Wire, what: str, *, raw: Any = None, status_code: int | None = None
) -> SubmitUncertainError:
    return SubmitUncertainError(
        f"The submit to {wire.display} may or may not have been accepted: {wire.clean(what)}. It was not resent.",
        provider=wire.name,
        status_code=status_code,
        raw=raw,
    )


async def submit(
    wire: Wire, req: GenerationRequest, uris: Mapping[str, str], *, cancel_check: CancelCheck | None = None
) -> SubmittedJob:
    """POST the job. ``cancel_check`` is watched while waiting to send it again (nothing was accepted
    then); the POST itself is never abandoned half way, so its answer is always read."""
    call = wire.provider.build_submit(req, uris)

    async def attempt(n: int, attempts: int) -> SubmittedJob:
        try:
            answer = await wire.send(call)
        except urlpolicy.UrlRefused as exc:  # refused before connecting: nothing was sent
            raise wire.network_error(call, exc, n) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            _not_sent_or_raise(wire, call, exc, n, attempts)
            raise Retry(wire.network_error(call, exc, n), use_hint=False) from None
        except (UnicodeError, ValueError) as exc:  # a header that cannot be encoded: never sent
            raise wire.network_error(call, exc, n) from None
        wire.log(
            logging.INFO,
            "%s submit %s %s -> %d (attempt %d/%d)",
            wire.name,
            call.method,
            wire.path_of(call),
            answer.status,
            n,
            attempts,
        )
        if answer.ok:
            try:
                body = answer.json()
            except BadJson as exc:  # accepted, maybe billed, but unreadable: never resend
                raise _uncertain(
                    wire,
                    f"the answer (HTTP {answer.status}) carried no job id: the body is {exc}",
                    raw=wire.clean(answer.text[:2000]),
                ) from None
            try:
                return wire.provider.parse_submit(req, body)
            except Exception as exc:  # accepted, maybe billed, but no id we can read: never resend
                detail = exc.message if isinstance(exc, LTX2Error) else type(exc).__name__
                raise _uncertain(
                    wire,
                    f"the answer (HTTP {answer.status}) carried no job id: {detail}",
                    raw=wire.redact(body),
                ) from None
        err = wire.error(answer)
        if answer.status in (429, 503):  # refused before any job id: safe to send again
            raise Retry(err, retry_after=answer.headers.get("Retry-After"))
        if answer.status >= 500:
            raise _uncertain(
                wire,
                f"it answered HTTP {answer.status}: {err.message}",
                raw=err.raw,
                status_code=answer.status,
            ) from None
        raise err

    async def pause(seconds: float) -> None:
        if cancel_check is None:
            await wire.sleep(seconds)
            return
        try:
            await wire.pause(seconds, cancel_check)
        except Interrupted:
            raise Interrupted(
                f"Stopped before sending the request to {wire.display} again; it had been refused, "
                f"so nothing was billed.",
                provider=wire.name,
            ) from None

    return await retrying(attempt, attempts=wire.retry.submit_attempts, policy=wire.retry, pause=pause)


def _not_sent_or_raise(wire: Wire, call: HttpCall, exc: BaseException, n: int, attempts: int) -> None:
    """Returns only when the request provably never left this machine (so it may be sent again)."""
    if isinstance(exc, INVALID):
        raise wire.network_error(call, exc, n) from None
    sent = not isinstance(exc, NOT_SENT)
    wire.log(
        logging.WARNING,
        "%s submit %s %s: %s %s (attempt %d/%d)",
        wire.name,
        call.method,
        wire.path_of(call),
        type(exc).__name__,
        "after sending, not resent" if sent else "not sent",
        n,
        attempts,
    )
    if sent:
        raise _uncertain(
            wire, f"the connection broke after the request was sent ({type(exc).__name__})"
        ) from None

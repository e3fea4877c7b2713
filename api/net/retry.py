"""The one retry loop. Each call site says what one attempt is and which failures are worth
another try (by raising ``Retry``); this module owns how many tries, how long to wait between them
(``Retry-After`` first, then jittered exponential backoff) and when to give up."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import LTX2Error, RateLimitError
from ..providers.common import parse_retry_after

__all__ = ["Retry", "RetryPolicy", "parse_retry_after", "retrying"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # total tries for idempotent calls
    submit_attempts: int = 4  # total tries for a submit (only provably-unsent / 429 / 503)
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.25  # +-25 %

    def backoff(self, attempt: int) -> float:
        """Jittered exponential delay before try ``attempt + 1`` (attempt counts from 1)."""
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))

    def delay(self, attempt: int, failure: Retry) -> float:
        """The wait after a failed attempt: the server's hint (capped), else the backoff."""
        hinted = parse_retry_after(failure.retry_after_header) if failure.retry_after_header else None
        if hinted is None and isinstance(failure.error, RateLimitError):
            hinted = failure.error.retry_after
        if hinted is not None and failure.use_hint:
            return min(self.max_delay, hinted)
        return self.backoff(attempt)


class Retry(Exception):
    """Raised by one attempt whose failure is worth another try. ``error`` is what the caller sees
    when no try is left."""

    def __init__(self, error: LTX2Error, *, retry_after: str | None = None, use_hint: bool = True) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after_header = retry_after
        self.use_hint = use_hint


async def retrying(
    attempt: Callable[[int, int], Awaitable[_T]],
    *,
    attempts: int,
    policy: RetryPolicy,
    pause: Callable[[float], Awaitable[None]],
    give_up: Callable[[], bool] | None = None,
    exhausted: Callable[[Retry, int], BaseException] | None = None,
) -> _T:
    """Run ``attempt(n, attempts)`` until it returns, raises anything but Retry, or the tries (or
    ``give_up()``, e.g. a deadline) run out: then ``exhausted(last, n)`` (default: the last error)
    is raised. ``pause(seconds)`` waits between tries (and may raise, e.g. on an interrupt)."""
    attempts = max(1, attempts)
    last: Retry | None = None
    tried = 0
    for n in range(1, attempts + 1):
        tried = n
        try:
            return await attempt(n, attempts)
        except Retry as failure:
            last = failure
        if n >= attempts or (give_up is not None and give_up()):
            break
        await pause(policy.delay(n, last))
    assert last is not None
    if exhausted is not None:
        raise exhausted(last, tried) from None
    raise last.error from None

"""Job status: one status call, and the wait loop until the job ends. Status words, reasons and
progress come from the provider: they are cleaned of keys and terminal control sequences here."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..errors import JobCancelledError, JobFailedError, LTX2Error, PollTimeoutError, ProviderError
from ..redact import clean_value
from ..types import JobState, JobStatus, SubmittedJob
from .calls import idempotent
from .transport import CancelCheck, Wire

MIN_INTERVAL = 0.05
UNKNOWN_STATUS_TRIES = 3  # unrecognisable status answers tolerated in a row


def parse_status(wire: Wire, body: Any) -> JobStatus:
    try:
        status = wire.provider.parse_status(body)
    except LTX2Error as exc:
        raise wire.cleaned(exc) from None
    except Exception as exc:  # a body shape the parser did not expect
        raise ProviderError(
            f"{wire.display} sent a status answer that could not be read ({type(exc).__name__}).",
            provider=wire.name,
            raw=wire.redact(body),
        ) from None
    return dataclasses.replace(
        status,
        raw_status=wire.clean(status.raw_status) if status.raw_status else status.raw_status,
        error=wire.clean(status.error) if status.error else status.error,
        raw=clean_value(status.raw),
    )


async def status(wire: Wire, job: SubmittedJob) -> JobStatus:
    body = await idempotent(wire, wire.provider.build_status(job), op="the status request")
    return parse_status(wire, body)


async def wait(
    wire: Wire,
    job: SubmittedJob,
    *,
    interval: float | None = None,
    timeout: float = 1800.0,
    cancel_check: CancelCheck | None = None,
    on_status: Callable[[JobStatus], None] | None = None,
) -> JobStatus:
    """Poll until finished. Returns the SUCCEEDED status; raises JobFailedError, JobCancelledError,
    JobExpiredError, PollTimeoutError or Interrupted (cancel_check is called at least once a second)."""
    step = max(MIN_INTERVAL, wire.provider.poll_interval if interval is None else interval)
    deadline = wire.clock() + timeout
    call = wire.provider.build_status(job)
    unknown = 0
    name = wire.display
    job_id = wire.clean(job.job_id)
    st: JobStatus | None = None
    while True:
        await wire.pause(0, cancel_check)
        body = await idempotent(wire, call, op="the status request", cancel_check=cancel_check)
        try:
            st = parse_status(wire, body)
        except ProviderError as exc:
            unknown += 1
            wire.log(
                logging.WARNING,
                "%s status of %s not understood (%d/%d): %s",
                wire.name,
                job.job_id,
                unknown,
                UNKNOWN_STATUS_TRIES,
                exc.message,
            )
            if unknown >= UNKNOWN_STATUS_TRIES:
                raise
        else:
            unknown = 0
            if on_status is not None:
                on_status(st)
            if st.state is JobState.SUCCEEDED:
                return st
            if st.state is JobState.FAILED:
                reason = st.error or f"status '{st.raw_status or 'failed'}' without a reason"
                raise JobFailedError(
                    f"{name} reports that job {job_id} failed: {reason}",
                    provider=wire.name,
                    raw=wire.redact(st.raw),
                )
            if st.state is JobState.CANCELLED:
                why = f": {st.error}" if st.error else "."
                raise JobCancelledError(
                    f"{name} reports that job {job_id} was cancelled{why}",
                    provider=wire.name,
                    raw=wire.redact(st.raw),
                )
        now = wire.clock()
        if now >= deadline:
            last = st.raw_status if unknown == 0 and st is not None else "not understood"
            raise PollTimeoutError(
                f"{name} job {job_id} did not finish within {timeout:g} s (last status: {last}).",
                provider=wire.name,
            )
        await wire.pause(min(step, max(0.0, deadline - now)), cancel_check, deadline)

"""The job state machine and the billing decision, written once.

Every change of a journal record's state goes through this module (``Journal.set_state`` checks
``ALLOWED``): the runner, the CLI and the nodes call the named transitions of ``JobTracker``. Two
facts decide what a failure costs: a submit the provider refused before giving a job id billed
nothing (``submit_refused``); anything after an accepted id may be billed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable
from typing import Literal

from .errors import JournalError, LTX2Error, ProviderError, SubmitUncertainError
from .journal import SENDING, JobRecord, Journal, RecordState
from .redact import redact_text
from .types import SubmittedJob

log = logging.getLogger("ltx2_nodes")

S = RecordState
_COLLECTING = frozenset({S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.INTERRUPTED})

#: state -> the states it may move to. Nothing goes back to PENDING; a refused submit stays refused; a
#: record that has a provider job id is never again "refused" or "uncertain"; an uncertain submit only
#: learns its id later (from the fallback file). A provider's answer on resume is the truth, so the
#: collecting states may move among each other.
ALLOWED: dict[RecordState, frozenset[RecordState]] = {
    S.PENDING: frozenset({S.REJECTED, S.UNCERTAIN, S.SUBMITTED}),
    S.UNCERTAIN: frozenset({S.SUBMITTED}),
    S.REJECTED: frozenset(),
    S.SUBMITTED: _COLLECTING | {S.SUBMITTED},
    S.RUNNING: _COLLECTING,
    S.SUCCEEDED: _COLLECTING | {S.DOWNLOADED},
    S.DOWNLOADED: _COLLECTING | {S.DOWNLOADED},
    S.FAILED: _COLLECTING,
    S.CANCELLED: _COLLECTING,
    S.INTERRUPTED: _COLLECTING | {S.SUBMITTED},
}

# Retries of the write that records an accepted job's id (each waits up to the journal's busy timeout).
ACCEPT_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)


class IllegalTransition(Exception):
    """A state change the state machine does not allow (a bug, never a user error)."""


def check_transition(current: RecordState, new: RecordState) -> None:
    if new not in ALLOWED[current]:
        raise IllegalTransition(f"journal state {current.value} -> {new.value} is not allowed")


# --- the billing decision --------------------------------------------------------------------------


def submit_refused(exc: BaseException) -> bool:
    """True when a failed submit provably created nothing: the provider refused it (4xx, auth,
    payment, invalid input, 429/503) or it never left this machine. Anything else may have been
    accepted and billed, so it is recorded as UNCERTAIN."""
    if isinstance(exc, SubmitUncertainError) or not isinstance(exc, LTX2Error):
        return False
    code = exc.status_code
    return not (isinstance(exc, ProviderError) and (code is None or (code >= 500 and code != 503)))


Billing = Literal["billed", "maybe", "none"]


def billing(record: JobRecord) -> Billing:
    """Whether the provider may charge for this record: accepted jobs are billed; a submit without an
    answer (uncertain, or a claim whose process died mid-submit) maybe; refused ones never."""
    if record.provider_job_id is not None and record.state not in (S.PENDING, S.REJECTED, S.UNCERTAIN):
        return "billed"
    if record.state is S.UNCERTAIN or record.orphaned:
        return "maybe"
    return "none"


# --- transitions done inside the journal's own transactions ----------------------------------------


def abandon_orphans(journal: Journal, conn: sqlite3.Connection, records: Iterable[JobRecord]) -> None:
    """A new take was asked for over claims whose process died mid-submit: they become UNCERTAIN
    (still listed as maybe billed, no longer blocking the request)."""
    for record in records:
        journal.set_state(
            record.id,
            S.UNCERTAIN,
            conn=conn,
            error="The process that sent this submit stopped before its answer; it may have been "
            "accepted and billed. A new take of the same request was bought after it.",
        )


def close_unsent(journal: Journal, conn: sqlite3.Connection, record: JobRecord) -> None:
    """A claim whose process died while it hosted the inputs: its submit was never sent."""
    journal.set_state(
        record.id,
        S.REJECTED,
        conn=conn,
        error="The process stopped before the submit was sent: nothing was billed.",
    )


def collect_again(journal: Journal, conn: sqlite3.Connection, record: JobRecord) -> JobRecord:
    """An interrupted job taken over by a new run is being collected again."""
    if record.state is S.INTERRUPTED:
        return journal.set_state(record.id, S.SUBMITTED, conn=conn)
    return record


def apply_remembered_accept(
    journal: Journal, conn: sqlite3.Connection, record_id: str, job_id: str, job_model: str | None
) -> int:
    """An accepted job id kept in the fallback file reaches its record (1 when applied)."""
    current = journal._fetch(conn, record_id)
    if current is None or current.provider_job_id is not None:
        return 0
    if S.SUBMITTED not in ALLOWED[current.state]:
        return 0
    journal.set_state(
        record_id,
        S.SUBMITTED,
        conn=conn,
        provider_job_id=job_id,
        job_model=job_model,
        error="The job id was recorded late: the journal was busy when the provider accepted the job.",
    )
    return 1


# --- one run's record ------------------------------------------------------------------------------


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class JobTracker:
    """The named transitions of one journal record during a run."""

    def __init__(self, journal: Journal, record: JobRecord) -> None:
        self.journal = journal
        self.record = record

    @property
    def id(self) -> str:
        return self.record.id

    def _set(self, state: RecordState, **changes: object) -> JobRecord:
        self.record = self.journal.set_state(self.id, state, **changes)
        return self.record

    def _best_effort(self, state: RecordState | None, **changes: object) -> None:
        """A write that must not stop a paid job being collected (the journal may be busy): on failure
        the job stays in its previous, still resumable state."""
        try:
            if state is None:
                self.record = self.journal.update(self.id, **changes)
            else:
                self._set(state, **changes)
        except JournalError as exc:
            log.warning("LTX-2: %s (job %s goes on)", exc.message, self.id[:8])
        except IllegalTransition as exc:  # bookkeeping must never stop a paid job being collected
            log.warning("LTX-2: job %s: %s", self.id[:8], exc)

    # --- before / at the submit ---------------------------------------------------------------
    def sending(self) -> None:
        """Mark the claim as sent, just before the submit leaves: from here on a death of this process
        leaves a submit that may have been billed. Raises JournalError (then nothing is sent)."""
        self.record = self.journal.update(self.id, raw_status=SENDING)

    def not_sent(self, exc: BaseException) -> None:
        self._set(S.REJECTED, error=f"Stopped before the submit was sent: {_text(exc)}")

    def submit_failed(self, exc: BaseException) -> RecordState:
        """The submit raised: refused (nothing billed) or uncertain (may be billed)."""
        state = S.REJECTED if submit_refused(exc) else S.UNCERTAIN
        self._set(state, error=_text(exc))
        return state

    async def accepted(self, job: SubmittedJob, provider_name: str) -> JobRecord:
        """Record the id of an accepted (billed) job. A busy journal is asked again with backoff; one
        that still refuses gets the id in the fallback file (reconciled at the next open), and the
        error says so: the id is never replaced by "uncertain"."""
        changes = dict(provider_job_id=job.job_id, job_model=job.model)
        last: JournalError | None = None
        for delay in (0.0, *ACCEPT_RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            try:
                return self._set(S.SUBMITTED, **changes)
            except JournalError as exc:
                last = exc
        assert last is not None
        try:
            kept = self.journal.remember_accepted(self.id, job.job_id, job.model)
            where = f"its id is kept in {kept} and is written into the journal the next time it opens"
        except OSError as exc:
            where = f"and the fallback file could not be written either ({exc.strerror or exc})"
        raise JournalError(
            f"{provider_name} accepted job {job.job_id} (journal id {self.id}), and it is billed, but "
            f"{last.message[:-1]}: {where}.",
            path=str(self.journal.path),
            provider=job.provider,
            hint=f"Collect it with 'ltx2 jobs resume {self.id}' once the journal is free.",
            journal_id=self.id,
            billed=True,
        ) from None

    def close_after_failure(self, exc: BaseException, *, sent: bool) -> None:
        """A record still PENDING after a failure: uncertain when the submit was sent (its outcome
        could not be recorded), refused when it never was. An id kept in the fallback file wins."""
        try:
            current = self.journal.get(self.id)
            if current is None or current.state is not S.PENDING:
                return
            if sent:
                if self._id_kept_aside():
                    return
                self._set(S.UNCERTAIN, error=_text(exc))
            else:
                self.not_sent(exc)
        except (JournalError, IllegalTransition):  # never hide the original error behind this
            pass

    def _id_kept_aside(self) -> bool:
        try:
            return f'"id": "{self.id}"' in self.journal.fallback_path.read_text(encoding="utf-8")
        except OSError:
            return False

    # --- while collecting -----------------------------------------------------------------------
    def status(self, raw: str, *, running: bool) -> None:
        self._best_effort(S.RUNNING if running else None, raw_status=raw)

    def succeeded(self, video_url: str | None, raw: str | None) -> JobRecord:
        self._best_effort(S.SUCCEEDED, video_url=video_url, raw_status=raw, error=None)
        if self.record.video_url != video_url:  # the write failed: carry on with the URL in memory
            import dataclasses

            self.record = dataclasses.replace(self.record, state=S.SUCCEEDED, video_url=video_url)
        return self.record

    def note(self, error: str) -> None:
        self._best_effort(None, error=error)

    def failed(self, exc: BaseException) -> None:
        self._best_effort(S.FAILED, error=_text(exc))

    def cancelled(self, exc: BaseException) -> None:
        self._best_effort(S.CANCELLED, error=_text(exc))

    def interrupted(self, note: str) -> None:
        self._best_effort(S.INTERRUPTED, error=note)

    def download_failed(self, exc: BaseException) -> None:
        """The provider finished: a resume polls again for a fresh URL and downloads."""
        self._best_effort(S.SUCCEEDED, error=redact_text(_text(exc)))

    def downloaded(self, path: str, size: int, sha256: str) -> bool:
        """Record the checked result. False when the journal refused (the file is there anyway)."""
        try:
            self._set(S.DOWNLOADED, result_path=path, result_size=size, result_sha256=sha256, error=None)
            return True
        except JournalError as exc:
            log.warning("LTX-2: %s; the video is saved as %s", exc.message, path)
            return False

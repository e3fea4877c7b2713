"""Tell the user once per process about paid jobs that were never collected."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("ltx2_nodes")
_lock = threading.Lock()
_reported = False


def report_unfinished_once() -> int | None:
    """Log the journalled jobs that are unfinished (first call only): accepted jobs never collected,
    and submits that may have been billed without an answer (listed by journal id at once, also when
    the process that sent them died). Opens the journal only if its file already exists, so a fresh
    install creates nothing. Returns the count, or None when already reported or unknown."""
    global _reported
    with _lock:
        if _reported:
            return None
        _reported = True
    try:
        from ..api.journal import Journal, default_path

        path = default_path()
        if not path.exists():
            return 0
        unfinished = Journal(path).unfinished()
    except Exception as exc:  # a journal problem must not stop a generation
        log.warning("LTX-2: the job journal cannot be read: %s", exc)
        return None
    collectable = [r for r in unfinished if r.resumable]
    if collectable:
        log.warning(
            "LTX-2: %d paid %s never collected; run `ltx2 jobs list` or use the LTX-2 Load Job Result node",
            len(collectable),
            "job was" if len(collectable) == 1 else "jobs were",
        )
    for record in unfinished:
        if not record.resumable:
            log.warning(
                "LTX-2: job %s (%s %s) may have been billed: its submit got no answer%s. Check "
                "`ltx2 jobs show %s` and the provider's dashboard; set force_rerun to buy a new take.",
                record.id,
                record.provider,
                record.mode,
                " (the process sending it stopped)" if record.orphaned else "",
                record.id,
            )
    return len(unfinished)


def reset() -> None:
    """Report again on the next call."""
    global _reported
    with _lock:
        _reported = False

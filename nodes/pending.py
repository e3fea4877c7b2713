"""Tell the user once per process about paid jobs that were never collected."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("ltx2_nodes")
_lock = threading.Lock()
_reported = False


def report_unfinished_once() -> int | None:
    """Log how many journalled jobs are unfinished (first call only). Opens the journal only if
    its file already exists, so a fresh install creates nothing. Returns the count, or None when
    already reported or unknown."""
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
        count = len(Journal(path).unfinished())
    except Exception as exc:  # a journal problem must not stop a generation
        log.debug("LTX-2: journal not readable: %s", exc)
        return None
    if count:
        log.warning(
            "LTX-2: %d paid %s never collected; run `ltx2 jobs list` or use the LTX-2 Load Job Result node",
            count,
            "job was" if count == 1 else "jobs were",
        )
    return count


def reset() -> None:
    """Report again on the next call."""
    global _reported
    with _lock:
        _reported = False

"""Who holds a claim in the job journal, and whether that process still lives.

A claim records the host name, the pid, the process start time (so a reused pid is told apart) and
a random token of the process, plus a heartbeat the live owner refreshes. On the same host a dead
owner is known at once (its pid is gone or belongs to a younger process); elsewhere, or where the
start time cannot be read, a heartbeat older than the lease means it is gone.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

LEASE_SECONDS = 90.0  # a live owner refreshes its heartbeat far more often than this
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: float | None  # process start time (clock ticks since boot on Linux); None when unknown
    token: str  # random per process: a claim of this very process is recognised without guessing


def process_start_time(pid: int) -> float | None:
    """The start time of process ``pid`` as the kernel reports it, or None when it cannot be read
    (no /proc, no such process)."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except (OSError, ValueError):
        return None
    # The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return float(fields[19])  # field 22 of stat(5): starttime
    except (IndexError, ValueError):
        return None


def _pid_running(pid: int) -> bool | None:
    """True / False on POSIX; None where a liveness probe is not safe (Windows' os.kill kills)."""
    if os.name != "posix" or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return None
    return True


_current: Owner | None = None
# Claims of this process whose runs have ended: known here even when the journal could not be told.
_ended_here: set[str] = set()


def ended_here(record_id: str) -> None:
    _ended_here.add(record_id)


def working_here(record_id: str) -> None:
    """This process (again) works on the claim."""
    _ended_here.discard(record_id)


def has_ended_here(record_id: str) -> bool:
    return record_id in _ended_here


def current() -> Owner:
    """This process (computed again after a fork: the child is another owner)."""
    global _current
    pid = os.getpid()
    if _current is None or _current.pid != pid:
        _current = Owner(
            host=socket.gethostname() or "localhost",
            pid=pid,
            started=process_start_time(pid),
            token=uuid.uuid4().hex,
        )
    return _current


def alive(
    host: str | None,
    pid: int | None,
    started: float | None,
    token: str | None,
    seen: float | None,
    *,
    now: float,
    me: Owner | None = None,
) -> bool:
    """Whether the owner recorded with a claim may still be working on it."""
    me = me or current()
    if token is not None and token == me.token:
        return True
    if host == me.host and pid is not None:
        running = _pid_running(int(pid))
        if running is False:
            return False
        if running and started is not None:
            now_started = process_start_time(int(pid))
            if now_started is not None:
                return now_started == started  # otherwise the pid was reused by a younger process
        if running and int(pid) == me.pid:
            return False  # this pid, another token: an earlier process that had the same pid
    return seen is not None and now - seen < LEASE_SECONDS

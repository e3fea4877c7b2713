"""Small pieces shared by the command modules."""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing failure of a command that is not an LTX2Error (bad path, unknown job id)."""


def check_wait_flags(poll_interval: float | None, poll_timeout: float | None) -> None:
    """Polling flags must be positive numbers (0 would poll in a tight loop or never wait)."""
    if poll_interval is not None and not poll_interval > 0:
        raise CommandError(f"--poll-interval {poll_interval:g}: must be more than 0 seconds")
    if poll_timeout is not None and not poll_timeout > 0:
        raise CommandError(f"--poll-timeout {poll_timeout:g}: must be more than 0 seconds")

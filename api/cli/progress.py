"""Progress on stderr: one redrawn status line on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import re
import sys
from typing import TextIO

from ..redact import redact_text, strip_control
from ..types import ProgressEvent

_BAR_WIDTH = 24
_ELAPSED = re.compile(r"\s*\(\d+(?:\.\d+)? ?s\)")


def _bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * _BAR_WIDTH)
    return "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + f"] {fraction * 100:5.1f}%"


def format_event(event: ProgressEvent, label: str = "") -> str:
    """``label  phase  raw status / message  elapsed  [bar]`` in one line."""
    parts = [label] if label else []
    parts.append(f"{event.phase:<11}")
    if event.message:
        parts.append(strip_control(redact_text(event.message)).replace("\n", " "))
    parts.append(f"{event.elapsed:6.1f}s")
    if event.fraction is not None:
        parts.append(_bar(event.fraction))
    return "  ".join(parts)


class ProgressPrinter:
    """Callable for ``RunSettings.on_progress``.

    On a TTY the line is redrawn in place. Elsewhere a line is written only when the phase or
    the provider's status word changes, and downloads report in quarter steps, so logs stay short.
    """

    def __init__(
        self, stream: TextIO | None = None, *, tty: bool | None = None, label: str = "", quiet: bool = False
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.label = label
        self.quiet = quiet
        self._last_key: tuple[str, str, int] | None = None
        self._drawn = False
        self._width = 0

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet:
            return
        line = format_event(event, self.label)
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
            self._drawn = True
            if event.phase == "done":
                self.finish()
            self.stream.flush()
            return
        if event.phase == "downloading":  # byte counts change constantly: report quarters only
            bucket = -1 if event.fraction is None else int(max(0.0, min(1.0, event.fraction)) * 4)
            key: tuple[str, str, int] = (event.phase, "", bucket)
        else:  # the message repeats the elapsed time: a new line only when the status word changes
            key = (event.phase, _ELAPSED.sub("", event.message), -1)
        if key != self._last_key:
            self._last_key = key
            self.stream.write(line + "\n")
            self.stream.flush()

    def finish(self) -> None:
        """End a redrawn line so later output starts on a fresh one."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
            self._width = 0

"""Learn duration, size, fps, format of media bytes or files without decoding everything."""

from __future__ import annotations

from pathlib import Path

from ..types import MediaInfo


def probe(source: bytes | str | Path) -> MediaInfo:
    """Probe an image, audio or video (bytes or a file path). Raises MediaError when unreadable."""
    raise NotImplementedError

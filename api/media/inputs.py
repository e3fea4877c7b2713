"""Build probed ``MediaInput`` values from bytes, files and URLs."""

from __future__ import annotations

from pathlib import Path

from ..types import MediaInput, MediaKind


def media_from_bytes(data: bytes, kind: MediaKind, *, filename: str = "", content_type: str | None = None) -> MediaInput:
    """Probe ``data`` (duration, size, fps, format) and detect its content type when not given."""
    raise NotImplementedError


def media_from_file(path: str | Path, kind: MediaKind | None = None) -> MediaInput:
    """Read and probe a local file; ``kind`` None = guess from the content."""
    raise NotImplementedError


def media_from_url(url: str, kind: MediaKind) -> MediaInput:
    """An http(s) URL the user already hosts (pass-through; probed later only if a limit needs it)."""
    raise NotImplementedError


def media_from_source(source: str, kind: MediaKind) -> MediaInput:
    """A local path or an http(s) URL."""
    raise NotImplementedError

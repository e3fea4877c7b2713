"""Only a video is a result: the downloaded body is checked before the journal says downloaded.

A web page, a JSON error, a cut-off MP4 or an audio-only file answered with 200 must never be saved,
cached and returned as the paid video: the job stays resumable and the error says what came back.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MediaError, ResultNotVideoError
from .journal import file_digest
from .redact import redact_text

_HEAD = 4096
_SHOWN = 48  # first bytes quoted in the error
_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")
_BMFF_CONTAINERS = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"moof", b"mfra")


@dataclass(frozen=True)
class CheckedVideo:
    size: int
    sha256: str
    duration: float


def first_bytes(data: bytes) -> str:
    """The start of a body as safe, printable text (control and binary bytes as '.', keys removed)."""
    text = "".join(ch if ch in _PRINTABLE else "." for ch in data[:_SHOWN].decode("latin-1"))
    return redact_text(text)


def _looks_like(head: bytes) -> str:
    from .media.probe import detect_content_type

    text = head.lstrip()[:256].lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text or b"<body" in text:
        return "text/html"
    if text.startswith((b"{", b"[")):
        return "application/json"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "text/xml"
    ctype = detect_content_type(head)
    if (
        ctype == "application/octet-stream"
        and head
        and all(32 <= b < 127 or b in b"\t\r\n" for b in head[:256])
    ):
        return "text/plain"
    return ctype


def _bmff_boxes_complete(path: Path, size: int) -> str | None:
    """For an MP4 / MOV: None when the top-level boxes fill the file exactly and hold the movie header
    and the media data; else what is wrong (a cut-off download keeps a valid start)."""
    seen: set[bytes] = set()
    offset = 0
    with open(path, "rb") as fh:
        while offset < size:
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                return f"it ends inside a box header at byte {offset}"
            length = int.from_bytes(header[:4], "big")
            kind = header[4:8]
            if length == 1:
                if len(header) < 16:
                    return f"it ends inside a box header at byte {offset}"
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:  # the box runs to the end of the file
                length = size - offset
            if length < 8:
                return f"a box at byte {offset} has an impossible size"
            if offset + length > size:
                return f"it is cut off: its '{kind.decode('latin-1')}' box needs {offset + length} bytes, the file has {size}"
            seen.add(kind)
            offset += length
    missing = [name.decode() for name in (b"moov", b"mdat") if name not in seen]
    if missing and b"moof" not in seen:
        return f"it has no '{missing[0]}' box"
    return None


def _plausible(duration: float, mode: str, params: dict[str, Any]) -> str | None:
    """None when the length fits the request; else why not."""
    asked = params.get("duration")
    if not isinstance(asked, (int, float)) or isinstance(asked, bool) or asked <= 0:
        return None
    if mode in ("text-to-video", "image-to-video"):
        low, high = 0.5 * asked, 2.0 * asked + 2.0
        if not low <= duration <= high:
            return f"it lasts {duration:.2f} s, the request asked for {asked:g} s"
    elif mode in ("extend", "retake") and duration < 0.5 * asked:
        return f"it lasts {duration:.2f} s, shorter than the {asked:g} s the request asked for"
    return None


def check_video(path: str | Path, *, mode: str, params: dict[str, Any]) -> CheckedVideo:
    """Check a downloaded result; ``ResultNotVideoError`` says what came back instead."""
    from .media.probe import probe

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    ctype = _looks_like(head)

    def refuse(reason: str) -> ResultNotVideoError:
        return ResultNotVideoError(
            f"The output URL answered {ctype} ({size} bytes, starting '{first_bytes(head)}') instead of "
            f"the video: {reason}. Nothing was saved.",
            hint="The job finished and is billed; it stays resumable: ltx2 jobs resume ID",
        )

    if size == 0:
        raise refuse("it is empty")
    if not ctype.startswith("video/") and ctype != "audio/mp4":
        raise refuse("it is not a video file")
    if len(head) >= 8 and head[4:8] in _BMFF_CONTAINERS:
        broken = _bmff_boxes_complete(path, size)
        if broken:
            raise refuse(broken)
    try:
        info = probe(path)
    except MediaError as exc:
        raise refuse(f"it cannot be decoded ({redact_text(exc.message)})") from None
    if info.width is None or not info.frame_count:
        raise refuse("it holds no video stream" + (" (audio only)" if info.has_audio else ""))
    if not info.duration or info.duration <= 0:
        raise refuse("it has no length")
    odd = _plausible(float(info.duration), mode, params)
    if odd:
        raise refuse(odd)
    size, sha = file_digest(path)
    return CheckedVideo(size=size, sha256=sha, duration=float(info.duration))

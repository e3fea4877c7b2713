"""Build probed ``MediaInput`` values from bytes, files and URLs."""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from ..errors import InvalidInputError, MediaError
from ..redact import redact_text
from ..types import MediaInfo, MediaInput, MediaKind
from .probe import FORMAT_OF_TYPE, OCTET_STREAM, TYPE_OF_FORMAT, detect_content_type, detect_kind, probe

_IMAGE_FORMATS = {"png", "jpeg", "webp", "gif"}
# Extension -> content type for URLs (mimetypes differs between systems for several of these).
_TYPE_OF_EXTENSION = {
    **{fmt: ctype for ctype, fmt in FORMAT_OF_TYPE.items()},
    "jpg": "image/jpeg",
    "mpeg": "audio/mpeg",
    "qt": "video/quicktime",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
}
# Used when a URL's name says nothing; the provider reads the real type from the bytes it fetches.
_DEFAULT_TYPE = {MediaKind.IMAGE: "image/png", MediaKind.AUDIO: "audio/wav", MediaKind.VIDEO: "video/mp4"}
_ALLOWED = {
    MediaKind.IMAGE: "a PNG, JPEG, WebP or GIF image",
    MediaKind.AUDIO: "audio (WAV, MP3, M4A, OGG, FLAC) or a video file with an audio track",
    MediaKind.VIDEO: "a video file (MP4, MOV, MKV, WebM)",
}


def _check_kind(kind: MediaKind, info: MediaInfo, label: str) -> None:
    """The probed media must be usable as ``kind`` (an MP4's audio track may serve as audio)."""
    is_image = info.format in _IMAGE_FORMATS
    ok = {
        MediaKind.IMAGE: is_image,
        MediaKind.AUDIO: bool(info.has_audio),
        MediaKind.VIDEO: not is_image and info.width is not None,
    }[kind]
    if not ok:
        found = info.format or "unknown data"
        reason = (
            f"the {found} data holds no audio track"
            if kind is MediaKind.AUDIO and not is_image
            else f"got {found}"
        )
        raise InvalidInputError(kind.value, label, _ALLOWED[kind], reason=reason)


def media_from_bytes(
    data: bytes,
    kind: MediaKind,
    *,
    filename: str = "",
    content_type: str | None = None,
    check_kind: bool = True,
) -> MediaInput:
    """Probe ``data`` (duration, size, fps, format) and detect its content type when not given.

    Unreadable data raises MediaError; data of the wrong kind InvalidInputError (``check_kind``)."""
    label = filename or f"{kind.value} data ({len(data)} bytes)"
    if not data:
        raise InvalidInputError(kind.value, label, _ALLOWED[kind], reason="the data is empty")
    try:
        info = probe(data, verify=True)  # whole and decodable: never upload or pay for a broken file
    except MediaError as exc:
        raise MediaError(f"The {kind.value} input {label!r} cannot be read: {exc.message}") from exc
    if check_kind:
        _check_kind(kind, info, label)
    if content_type is None:
        content_type = detect_content_type(data)
        if content_type == OCTET_STREAM and info.format in TYPE_OF_FORMAT:
            content_type = TYPE_OF_FORMAT[info.format]
    if not filename:
        ext = {"jpeg": "jpg"}.get(info.format or "", info.format or "bin")
        filename = f"{kind.value}.{ext}"
    return MediaInput(kind=kind, content_type=content_type, data=bytes(data), filename=filename, info=info)


def media_from_file(path: str | Path, kind: MediaKind | None = None) -> MediaInput:
    """Read and probe a local file; ``kind`` None = guess from the content."""
    path = Path(path).expanduser()
    field = kind.value if kind is not None else "path"
    if not path.is_file():
        reason = "it is a folder" if path.is_dir() else "no such file"
        raise InvalidInputError(field, str(path), "the path of an existing media file", reason=reason)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            field, str(path), "a readable media file", reason=exc.strerror or str(exc)
        ) from exc
    if kind is None:
        try:
            kind = detect_kind(data)
        except MediaError as exc:
            raise MediaError(f"The file '{path}' cannot be read as media: {exc.message}") from exc
    return media_from_bytes(data, kind, filename=path.name)


def media_from_url(url: str, kind: MediaKind) -> MediaInput:
    """An http(s) URL the user already hosts (pass-through; probed later only if a limit needs it)."""
    text = (url or "").strip()
    allowed = "an http:// or https:// URL of a file the provider can download"
    try:
        parts = urlsplit(text)
        host, _port = parts.hostname, parts.port  # both raise ValueError on a malformed authority
    except ValueError as exc:
        raise InvalidInputError(
            kind.value, redact_text(text), allowed, reason=f"not a valid URL ({exc})"
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidInputError(kind.value, redact_text(text), allowed)
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidInputError(
            kind.value,
            redact_text(text),
            allowed + " (spaces written as %20)",
            reason="a URL cannot contain spaces or control characters",
        )
    name = PurePosixPath(unquote(parts.path)).name
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    content_type = _TYPE_OF_EXTENSION.get(ext) or (mimetypes.guess_type(name)[0] if ext else None)
    if not content_type or not content_type.startswith(("image/", "audio/", "video/")):
        content_type = _DEFAULT_TYPE[kind]
    # Nothing is fetched here, so nothing is known yet: ``info`` stays empty (probed later if needed).
    return MediaInput(
        kind=kind,
        content_type=content_type,
        url=text,
        filename=name or f"{kind.value}.{ext or 'bin'}",
        info=MediaInfo(),
    )


def media_from_source(source: str, kind: MediaKind) -> MediaInput:
    """A local path or an http(s) URL."""
    text = (source or "").strip()
    if not text:
        raise InvalidInputError(
            kind.value, source, "a local file path or an http(s) URL", reason="it is empty"
        )
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme == "file":
        return media_from_file(unquote(urlsplit(text).path), kind)
    if scheme:  # http(s) passes; any other scheme is refused with the input's name
        return media_from_url(text, kind)
    return media_from_file(text, kind)

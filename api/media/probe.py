"""Learn duration, size, fps, format of media bytes or files without decoding everything."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..errors import MediaError
from ..types import MediaInfo, MediaKind

OCTET_STREAM = "application/octet-stream"

# Content type -> normalised format name (as MediaInfo.format reports it).
FORMAT_OF_TYPE = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/x-matroska": "mkv",
    "video/webm": "webm",
}
TYPE_OF_FORMAT = {fmt: ctype for ctype, fmt in FORMAT_OF_TYPE.items()}

_HEAD_BYTES = 4096  # enough of the file start for every signature checked below
# Largest image accepted, in pixels: Pillow's own default bound (about 9459 x 9459), checked here
# whatever a host application set Pillow's global to. Beyond it a small file can expand to gigabytes.
MAX_IMAGE_PIXELS = 89_478_485
# A stream that declares more than it holds is truncated when this much (seconds) is missing.
_MISSING_SECONDS = 0.1


def detect_content_type(data: bytes) -> str:
    """MIME type from magic bytes ("image/png", "audio/wav", "video/mp4", ...); unknown -> octet-stream."""
    head = bytes(data[:_HEAD_BYTES])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF"):
        if head[8:12] == b"WEBP":
            return "image/webp"
        if head[8:12] == b"WAVE":
            return "audio/wav"
    if head.startswith(b"RF64") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "audio/mp4"
        return "video/mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video/quicktime"  # old QuickTime files start without ftyp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        # MPEG audio frame sync: layer bits 00 mean ADTS AAC, anything else MP1/2/3.
        return "audio/aac" if (head[1] & 0x06) == 0 else "audio/mpeg"
    return OCTET_STREAM


def _kind_of_type(content_type: str) -> MediaKind | None:
    major = content_type.split("/", 1)[0]
    return {"image": MediaKind.IMAGE, "audio": MediaKind.AUDIO, "video": MediaKind.VIDEO}.get(major)


def detect_kind(data: bytes | str | Path) -> MediaKind:
    """Image, audio or video. Containers that may hold either (MP4, MKV, Ogg) are opened to look
    for a video stream. Raises MediaError when the data is no known media."""
    head = _head(data)
    ctype = detect_content_type(head)
    kind = _kind_of_type(ctype)
    if (
        ctype in ("video/mp4", "video/quicktime", "video/x-matroska", "video/webm", "audio/ogg", "audio/mp4")
        or kind is None
    ):
        info = probe(data)
        if info.width is not None and info.format not in ("png", "jpeg", "webp", "gif"):
            return MediaKind.VIDEO
        if info.has_audio:
            return MediaKind.AUDIO
        if info.width is not None:
            return MediaKind.IMAGE
        raise MediaError("The media holds neither a video nor an audio stream.")
    return kind


def _head(source: bytes | str | Path) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:_HEAD_BYTES])
    try:
        with open(source, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise MediaError(f"Cannot read media file '{source}': {exc.strerror or exc}.") from exc


def _describe(source: bytes | str | Path) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"media data ({len(source)} bytes)"
    return f"media file '{source}'"


def _probe_image(source: bytes | str | Path, ctype: str, verify: bool = False) -> MediaInfo:
    from PIL import Image

    def stream() -> Any:
        return io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source

    try:
        with Image.open(stream()) as img:
            pixels = img.width * img.height
            if pixels > MAX_IMAGE_PIXELS:
                raise MediaError(_too_many_pixels(source, img.width, img.height))
            frames = int(getattr(img, "n_frames", 1) or 1)
            duration = None
            if frames > 1 and img.info.get("duration"):
                duration = frames * float(img.info["duration"]) / 1000.0  # GIF/WebP: ms per frame
            info = MediaInfo(
                width=img.width,
                height=img.height,
                format=(img.format or "").lower() or FORMAT_OF_TYPE.get(ctype),
                frame_count=frames if frames > 1 else None,
                duration=duration,
            )
        if verify:
            _verify_image(stream)
        return info
    except Image.DecompressionBombError as exc:
        raise MediaError(
            f"The {_describe(source)} declares too many pixels to decode safely "
            f"(at most {MAX_IMAGE_PIXELS:,}): {exc}."
        ) from exc
    except MediaError:
        raise
    except Exception as exc:  # hostile bytes surface as any of Pillow's decoder errors
        raise MediaError(f"Cannot read {_describe(source)} as an image: {exc}.") from exc


def _too_many_pixels(source: bytes | str | Path, width: int, height: int) -> str:
    return (
        f"The {_describe(source)} is {width}x{height} = {width * height:,} pixels; at most "
        f"{MAX_IMAGE_PIXELS:,} are accepted (a small file that large is usually a decompression bomb)."
    )


def _verify_image(stream: Any) -> None:
    """Structure and checksums (``verify``), then every pixel (``load``): a truncated or damaged
    image raises here. ``stream`` makes a fresh file object each call."""
    from PIL import Image

    with Image.open(stream()) as img:
        img.verify()
    with Image.open(stream()) as img:
        img.load()


def _container_format(name: str, ctype: str) -> str:
    """PyAV demuxer name -> "mp4" | "mov" | "m4a" | "mkv" | "webm" | "wav" | ... ."""
    first = name.split(",", 1)[0]
    if first == "mov":  # mov,mp4,m4a,3gp,3g2,mj2: the brand decides
        return (
            FORMAT_OF_TYPE.get(ctype, "mp4")
            if ctype in ("video/quicktime", "audio/mp4", "video/mp4")
            else "mp4"
        )
    if first == "matroska":
        return "webm" if ctype == "video/webm" else "mkv"
    return {"mp3": "mp3", "wav": "wav", "ogg": "ogg", "flac": "flac", "aac": "aac"}.get(first, first)


def _seconds(value: Any, time_base: Any) -> float | None:
    if value is None or time_base is None:
        return None
    seconds = float(value * time_base)
    return seconds if seconds > 0 else None


def count_video_packets(container: Any, stream: Any) -> int:
    """Frames of a video stream counted from demuxed packets (no decoding). Rewinds nothing."""
    count = 0
    for packet in container.demux(stream):
        if packet.size:  # the demuxer ends with an empty flush packet
            count += 1
    return count


def _verify_av(source: bytes | str | Path, info: MediaInfo) -> None:
    """Every packet of the first video and audio stream is present (none missing from what the
    container declares) and each stream decodes at least one frame; else MediaError."""
    import av

    target: Any = (
        io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else str(source)
    )
    name = _describe(source)
    with av.open(target, "r") as container:
        streams = [s for s in (container.streams.video[:1] + container.streams.audio[:1])]
        packets = dict.fromkeys((s.index for s in streams), 0)
        seconds = dict.fromkeys((s.index for s in streams), 0.0)
        decoded = dict.fromkeys((s.index for s in streams), False)
        for packet in container.demux(*streams):
            if not packet.size:  # the demuxer's final flush packet
                continue
            index = packet.stream.index
            packets[index] += 1
            if packet.duration and packet.time_base is not None:
                seconds[index] += float(packet.duration * packet.time_base)
            if not decoded[index]:
                decoded[index] = bool(packet.decode())
        for stream in streams:
            kind = stream.type
            if packets[stream.index] == 0:
                what = "video frames" if kind == "video" else "audio samples"
                raise MediaError(f"The {name} holds no {what} (its {kind} stream is empty).")
            if not decoded[stream.index]:
                decoded[stream.index] = bool(stream.codec_context.decode(None))  # frames held back
            if not decoded[stream.index]:
                raise MediaError(f"The {name} has a {kind} stream that does not decode.")
            declared_frames = int(stream.frames or 0) if kind == "video" else 0
            if declared_frames and packets[stream.index] < declared_frames:
                raise MediaError(
                    f"The {name} is truncated: its video declares {declared_frames} frames and "
                    f"holds {packets[stream.index]}."
                )
            declared = _seconds(stream.duration, stream.time_base)
            if (
                declared
                and seconds[stream.index]
                and seconds[stream.index] < declared - max(_MISSING_SECONDS, 0.02 * declared)
            ):
                raise MediaError(
                    f"The {name} is truncated: its {kind} declares {declared:.2f} s and holds "
                    f"{seconds[stream.index]:.2f} s."
                )
    if info.duration is not None and info.duration <= 0:
        raise MediaError(f"The {name} has no length.")
    if info.format == "wav":
        _verify_wav_size(source, name)


def _verify_wav_size(source: bytes | str | Path, name: str) -> None:
    """FFmpeg takes a WAV's length from the bytes present; the header says how many there should be."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, size = bytes(source[:_HEAD_BYTES]), len(source)
    else:
        data, size = _head(source), Path(source).stat().st_size
    if not data.startswith(b"RIFF"):
        return  # RF64 keeps its sizes elsewhere
    pos = 12
    while pos + 8 <= len(data):
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind == b"data":
            present = size - (pos + 8)
            if length not in (0, 0xFFFFFFFF) and present < length:  # 0 / -1: written while streaming
                raise MediaError(
                    f"The {name} is truncated: its WAV header announces {length:,} bytes of samples "
                    f"and {max(0, present):,} are present."
                )
            return
        pos += 8 + length + (length & 1)


def _probe_av(source: bytes | str | Path, ctype: str, verify: bool = False) -> MediaInfo:
    import av

    target: Any = (
        io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else str(source)
    )
    try:
        with av.open(target, "r") as container:
            info = _av_info(container, source, ctype)
        if verify:
            _verify_av(source, info)
        return info
    except MediaError:
        raise
    except Exception as exc:  # hostile bytes surface as any of PyAV's or FFmpeg's errors
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise MediaError(f"Cannot read {_describe(source)} as audio or video: {reason}.") from exc


def _av_info(container: Any, source: bytes | str | Path, ctype: str) -> MediaInfo:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise MediaError(f"The {_describe(source)} has neither a video nor an audio stream.")
    fmt = _container_format(container.format.name, ctype)
    container_seconds = container.duration / 1_000_000 if container.duration else None
    main = video if video is not None else audio
    duration = _seconds(main.duration, main.time_base) or container_seconds
    if video is None:
        return MediaInfo(
            duration=duration,
            has_audio=True,
            sample_rate=audio.rate or None,
            channels=audio.channels or None,
            format=fmt,
        )
    rate = video.average_rate or video.guessed_rate or video.base_rate
    frames = int(video.frames or 0)
    if frames <= 0:
        frames = count_video_packets(container, video)
    fps = float(rate) if rate else None
    if duration is None and fps and frames:
        duration = frames / fps
    return MediaInfo(
        duration=duration,
        width=video.codec_context.width or None,
        height=video.codec_context.height or None,
        fps=fps,
        frame_count=frames or None,
        has_audio=audio is not None,
        sample_rate=(audio.rate or None) if audio is not None else None,
        channels=(audio.channels or None) if audio is not None else None,
        format=fmt,
        video_codec=video.codec_context.name,
    )


def probe(source: bytes | str | Path, *, verify: bool = False) -> MediaInfo:
    """Probe an image, audio or video (bytes or a file path). Raises MediaError when unreadable.

    ``verify`` also proves the media whole: every pixel of an image decodes; every packet an audio
    or video stream declares is present and each stream decodes. Inputs are probed so before they
    are sent anywhere (a truncated or empty file is refused locally, not paid for)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise MediaError("The media data is empty (0 bytes).")
    elif not Path(source).is_file():
        raise MediaError(f"Media file '{source}' does not exist or is not a file.")
    ctype = detect_content_type(_head(source))
    if ctype.startswith("image/"):
        return _probe_image(source, ctype, verify)
    if ctype == OCTET_STREAM:
        # Unknown signature: let FFmpeg try (it knows many more formats), then report clearly.
        try:
            return _probe_av(source, ctype, verify)
        except MediaError as exc:
            raise MediaError(
                f"Unrecognised {_describe(source)}: no image, audio or video format this pack "
                f"reads matches its first bytes, and FFmpeg could not open it either."
            ) from exc
    return _probe_av(source, ctype, verify)

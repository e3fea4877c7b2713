"""Encode numpy arrays into upload-ready bytes."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError

# Sample rates the AAC encoder accepts; anything else is resampled to the nearest one.
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
# MPEG-1/2/2.5 layer III rates.
MP3_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)

IMAGE_FORMATS = ("png", "jpeg", "webp")
AUDIO_FORMATS = ("wav", "mp3", "m4a")


# ---------------------------------------------------------------------------------------------
# value conversion


def to_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 stays as is; floats are taken as 0..1, clipped and rounded."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        scaled = np.clip(array, 0.0, 1.0) * 255.0
        return np.rint(scaled, out=scaled).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return np.clip(array, 0, 255).astype(np.uint8)
    raise MediaError(f"Unsupported pixel type {array.dtype}: use uint8 or float 0..1.")


def _as_channels_first(waveform: np.ndarray) -> np.ndarray:
    """[T] or [C,T] -> float32 C-contiguous [C,T] clipped to -1..1."""
    wav = np.asarray(waveform)
    if wav.ndim == 1:
        wav = wav[None, :]
    if wav.ndim != 2:
        raise MediaError(f"Audio waveform must be [T] or [channels, samples]; got shape {tuple(wav.shape)}.")
    if wav.shape[0] > 8 and wav.shape[1] <= 8:
        raise MediaError(
            f"Audio waveform shape {tuple(wav.shape)} looks like [samples, channels]; pass [channels, samples]."
        )
    if wav.shape[0] == 0 or wav.shape[1] == 0:
        raise MediaError(f"Audio waveform is empty (shape {tuple(wav.shape)}).")
    return np.ascontiguousarray(np.clip(wav, -1.0, 1.0), dtype=np.float32)


def _fold_to_stereo(wav: np.ndarray) -> np.ndarray:
    """More than two channels -> stereo (left = mean of the even channels, right = of the odd ones).
    The compressed formats here carry mono or stereo: MP3 holds no more, the providers' audio is
    stereo, and PyAV cannot build frames for every wider layout."""
    if wav.shape[0] <= 2:
        return wav
    return np.stack([wav[0::2].mean(axis=0), wav[1::2].mean(axis=0)]).astype(np.float32)


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _nearest_rate(rate: int, allowed: tuple[int, ...]) -> int:
    if rate in allowed:
        return rate
    above = [r for r in allowed if r >= rate]
    return min(above) if above else max(allowed)


def exact_fps(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction: 25 -> 25/1, 23.976 -> 24000/1001, 29.97 -> 30000/1001."""
    if isinstance(fps, Fraction):
        return fps
    if fps <= 0:
        raise MediaError(f"Frame rate must be positive; got {fps}.")
    if float(fps).is_integer():
        return Fraction(int(fps), 1)
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(float(ntsc) - fps) < 0.0015:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


# ---------------------------------------------------------------------------------------------
# images


def encode_image(
    image: np.ndarray, fmt: str = "png", *, quality: int = 92, png_compress_level: int = 1
) -> bytes:
    """[H,W,3] (or [H,W,4], [H,W]) uint8 or float 0..1 -> PNG / JPEG / WebP bytes. fmt: "png" | "jpeg" | "webp"."""
    from PIL import Image

    fmt = fmt.lower()
    fmt = {"jpg": "jpeg"}.get(fmt, fmt)
    if fmt not in IMAGE_FORMATS:
        raise MediaError(f"Image format {fmt!r} is not supported; use one of {', '.join(IMAGE_FORMATS)}.")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise MediaError(f"Image must be [H,W], [H,W,3] or [H,W,4]; got shape {tuple(arr.shape)}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise MediaError(f"Image is empty (shape {tuple(arr.shape)}).")
    arr = np.ascontiguousarray(to_uint8(arr))
    mode = "L" if arr.ndim == 2 else ("RGB" if arr.shape[2] == 3 else "RGBA")
    img = Image.fromarray(arr, mode=mode)
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG", compress_level=int(png_compress_level))
    elif fmt == "jpeg":
        if img.mode == "RGBA":  # JPEG has no alpha channel
            img = img.convert("RGB")
        img.save(buf, format="JPEG", quality=int(quality))
    else:
        img.save(buf, format="WEBP", quality=int(quality), method=4)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# audio


def _wav_bytes(wav: np.ndarray, sample_rate: int) -> bytes:
    # Scale by 2^15 and clip, as FFmpeg does, so a decode (÷ 2^15) returns the same values.
    pcm = np.clip(np.rint(wav.T * 32768.0), -32768, 32767).astype("<i2")  # interleaved [T,C]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(wav.shape[0])
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def _audio_frames(wav: np.ndarray, sample_rate: int, chunk: int = 48000) -> Iterator[Any]:
    """Planar float frames of up to ``chunk`` samples with running pts (samples)."""
    import av

    layout = _layout(wav.shape[0])
    for start in range(0, wav.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(wav[:, start : start + chunk]), format="fltp", layout=layout
        )
        frame.sample_rate = int(sample_rate)
        frame.pts = start
        frame.time_base = Fraction(1, int(sample_rate))
        yield frame


def _add_audio_stream(container: Any, codec: str, channels: int, rate: int, fast: bool = False) -> Any:
    # FFmpeg's AAC "fast" coder is several times quicker than its default search, at some quality.
    options = {"aac_coder": "fast"} if fast and codec == "aac" else {}
    stream = container.add_stream(codec, rate=rate, options=options)
    stream.layout = _layout(channels)
    stream.thread_type = "AUTO"
    return stream


def _mux_audio(container: Any, stream: Any, wav: np.ndarray, sample_rate: int) -> None:
    # The encoder's own resampler converts rate and chunks to the codec's frame size.
    for frame in _audio_frames(wav, sample_rate):
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def encode_audio(waveform: np.ndarray, sample_rate: int, fmt: str = "wav") -> bytes:
    """float32 [C,T] (or [T]) in -1..1 -> WAV (16-bit PCM) / MP3 / M4A (AAC) bytes. fmt: "wav" | "mp3" | "m4a"."""
    fmt = fmt.lower()
    fmt = {"aac": "m4a", "mp4": "m4a"}.get(fmt, fmt)
    if fmt not in AUDIO_FORMATS:
        raise MediaError(f"Audio format {fmt!r} is not supported; use one of {', '.join(AUDIO_FORMATS)}.")
    if int(sample_rate) <= 0:
        raise MediaError(f"Audio sample rate must be positive; got {sample_rate}.")
    wav = _as_channels_first(waveform)
    if fmt == "wav":
        return _wav_bytes(wav, int(sample_rate))

    import av

    wav = _fold_to_stereo(wav)
    if fmt == "mp3":
        try:
            av.codec.Codec("libmp3lame", "w")
        except Exception as exc:  # the PyAV build has no LAME encoder
            raise MediaError(
                "MP3 encoding needs PyAV built with libmp3lame, which this installation lacks; use 'wav' or 'm4a'."
            ) from exc
        codec, container_fmt, rate = "libmp3lame", "mp3", _nearest_rate(int(sample_rate), MP3_RATES)
    else:
        codec, container_fmt, rate = "aac", "ipod", _nearest_rate(int(sample_rate), AAC_RATES)

    buf = io.BytesIO()
    try:
        with av.open(buf, "w", format=container_fmt) as container:
            stream = _add_audio_stream(container, codec, wav.shape[0], rate)
            _mux_audio(container, stream, wav, int(sample_rate))
    except av.FFmpegError as exc:
        raise MediaError(f"Could not encode {fmt.upper()} audio: {exc}") from exc
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# video


def _even_frame(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """One frame as uint8 RGB [height,width,3], odd edges padded by repeating the last row/column."""
    if frame.shape[2] == 4:
        frame = frame[:, :, :3]
    elif frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    frame = to_uint8(frame)
    pad_h, pad_w = height - frame.shape[0], width - frame.shape[1]
    if pad_h or pad_w:
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def _check_frames(frames: np.ndarray) -> tuple[int, int, int]:
    if frames.ndim != 4 or frames.shape[3] not in (1, 3, 4):
        raise MediaError(
            f"Video frames must be [N,H,W,3] (or 1/4 channels); got shape {tuple(frames.shape)}."
        )
    n, h, w = frames.shape[:3]
    if n == 0 or h == 0 or w == 0:
        raise MediaError(f"Video has no frames or no pixels (shape {tuple(frames.shape)}).")
    return n, h, w


def _write_video(
    target: Any,
    frames: Iterable[np.ndarray],
    size: tuple[int, int],
    fps: float | Fraction,
    audio: np.ndarray | None,
    sample_rate: int | None,
    crf: int,
    preset: str,
    options: dict[str, str],
    fast_audio: bool = False,
) -> int:
    """Encode ``frames`` (each [h,w,C]) as ``size`` (width, height) H.264 + AAC; returns the frame count.

    A frame of another size than ``size`` is scaled to it by libswscale while it is converted to
    yuv420p (one pass); a frame of ``size`` with odd edges is padded instead."""
    import av
    from av.video.reformatter import VideoReformatter

    w, h = size
    rate = exact_fps(fps)
    wav = None
    if audio is not None:
        if not sample_rate or int(sample_rate) <= 0:
            raise MediaError("Audio for the video needs a positive sample_rate.")
        wav = _fold_to_stereo(_as_channels_first(audio))
    even_h, even_w = h + (h % 2), w + (w % 2)
    scaler = VideoReformatter()
    count = 0
    try:
        with av.open(target, "w", format="mp4", options=options) as container:
            video = container.add_stream(
                "libx264", rate=rate, options={"crf": str(int(crf)), "preset": preset}
            )
            video.width, video.height, video.pix_fmt = even_w, even_h, "yuv420p"
            video.thread_type = "AUTO"
            audio_stream = None
            audio_frames: Iterator[Any] = iter(())
            if wav is not None:
                audio_stream = _add_audio_stream(
                    container, "aac", wav.shape[0], _nearest_rate(int(sample_rate), AAC_RATES), fast_audio
                )
                audio_frames = _audio_frames(wav, int(sample_rate), chunk=max(1024, int(sample_rate) // 5))
            pending_audio = next(audio_frames, None)
            for i, picture in enumerate(frames):
                if picture.ndim != 3 or picture.shape[2] not in (1, 3, 4) or 0 in picture.shape:
                    raise MediaError(f"Video frame {i} must be [H,W,3]; got shape {tuple(picture.shape)}.")
                fh, fw = picture.shape[:2]
                if (fw, fh) == (w, h):
                    rgb = av.VideoFrame.from_ndarray(_even_frame(picture, even_h, even_w), format="rgb24")
                    frame = scaler.reformat(rgb, format="yuv420p")
                else:
                    rgb = av.VideoFrame.from_ndarray(_even_frame(picture, fh, fw), format="rgb24")
                    frame = scaler.reformat(
                        rgb, width=even_w, height=even_h, format="yuv420p", interpolation="BILINEAR"
                    )
                frame.pts = i
                frame.time_base = 1 / rate
                for packet in video.encode(frame):
                    container.mux(packet)
                count = i + 1
                # Feed audio up to this frame's time so the muxer interleaves with little buffering.
                limit = (i + 1) / rate
                while pending_audio is not None and Fraction(pending_audio.pts, int(sample_rate)) < limit:
                    for packet in audio_stream.encode(pending_audio):
                        container.mux(packet)
                    pending_audio = next(audio_frames, None)
            if count == 0:
                raise MediaError("Video has no frames.")
            for packet in video.encode(None):
                container.mux(packet)
            if audio_stream is not None:
                while pending_audio is not None:
                    for packet in audio_stream.encode(pending_audio):
                        container.mux(packet)
                    pending_audio = next(audio_frames, None)
                for packet in audio_stream.encode(None):
                    container.mux(packet)
    except av.FFmpegError as exc:
        raise MediaError(f"Could not encode the MP4 video: {exc}") from exc
    return count


def encode_video(
    frames: np.ndarray,
    fps: float,
    *,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> bytes:
    """[N,H,W,3] uint8 or float 0..1 (+ optional float32 audio [C,T]) -> MP4 bytes, H.264 yuv420p + AAC.
    Odd sizes are padded to even (yuv420p needs it)."""
    frames = np.asarray(frames)
    _n, h, w = _check_frames(frames)
    return encode_video_stream(
        frames, fps, (w, h), audio=audio, sample_rate=sample_rate, crf=crf, preset=preset
    )


def encode_video_stream(
    frames: Iterable[np.ndarray],
    fps: float,
    size: tuple[int, int],
    *,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    fast_audio: bool = False,
) -> bytes:
    """Frames one at a time (so a long clip never sits in memory whole) -> MP4 bytes of ``size``
    (width, height). Frames of another size are scaled to it, e.g. pictures drawn at reduced size.
    ``fast_audio`` picks the AAC encoder's quick coder."""
    buf = io.BytesIO()
    # The muxer's own faststart pass re-opens the output by name, which an in-memory buffer has not;
    # the index is moved to the front afterwards instead.
    _write_video(buf, frames, size, fps, audio, sample_rate, crf, preset, {}, fast_audio)
    return faststart(buf.getvalue())


def encode_video_file(
    frames: np.ndarray,
    fps: float,
    path: str | Path,
    *,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> Path:
    """Like ``encode_video`` but writes the MP4 to ``path`` (index at the front). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(frames)
    _n, h, w = _check_frames(frames)
    _write_video(str(path), frames, (w, h), fps, audio, sample_rate, crf, preset, {"movflags": "+faststart"})
    return path


# ---------------------------------------------------------------------------------------------
# faststart: move the 'moov' index before 'mdat' so players can start before the whole file arrives

_CONTAINER_ATOMS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf"}


def _atoms(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset, header size, total size) of each atom in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos, header, size
        pos += size


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, shift: int) -> bool:
    for kind, pos, header, size in _atoms(moov, start, end):
        if kind in _CONTAINER_ATOMS:
            if not _shift_chunk_offsets(moov, pos + header, pos + size, shift):
                return False
        elif kind in (b"stco", b"co64"):
            count = struct.unpack_from(">I", moov, pos + header + 4)[0]
            table = pos + header + 8
            if kind == b"stco":
                offsets = (
                    np.frombuffer(bytes(moov[table : table + 4 * count]), dtype=">u4").astype(np.int64)
                    + shift
                )
                if count and offsets.max() >= 1 << 32:
                    return False  # would need co64; leave the file as it is
                moov[table : table + 4 * count] = offsets.astype(">u4").tobytes()
            else:
                offsets = np.frombuffer(bytes(moov[table : table + 8 * count]), dtype=">u8") + np.uint64(
                    shift
                )
                moov[table : table + 8 * count] = offsets.astype(">u8").tobytes()
    return True


def faststart(data: bytes) -> bytes:
    """Return the MP4 with its 'moov' atom moved before 'mdat' (unchanged if already so or unparsable)."""
    top = list(_atoms(data, 0, len(data)))
    kinds = [a[0] for a in top]
    if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
        return data
    if sum(a[3] for a in top) != len(data):  # trailing bytes that are no atom: leave it alone
        return data
    moov_atom = next(a for a in top if a[0] == b"moov")
    first_data = next(a for a in top if a[0] == b"mdat")
    moov = bytearray(data[moov_atom[1] : moov_atom[1] + moov_atom[3]])
    # Everything from the first mdat on moves back by the moov size.
    if not _shift_chunk_offsets(moov, moov_atom[2], len(moov), len(moov)):
        return data
    head = b"".join(
        data[off : off + size] for kind, off, _, size in top if off < first_data[1] and kind != b"moov"
    )
    tail = b"".join(
        data[off : off + size] for kind, off, _, size in top if off >= first_data[1] and kind != b"moov"
    )
    return head + bytes(moov) + tail

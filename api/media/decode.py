"""Decode an MP4 straight into one preallocated float32 array; audio as float32 [C,T]."""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Interrupted, MediaError
from .pages import Pager
from .probe import count_video_packets
from .rgb import RgbConverter

Source = str | Path | bytes

_INV_255 = np.float32(1.0 / 255.0)
_IN_FLIGHT = 2  # decoded frames waiting per conversion thread: bounds the extra memory


@dataclass(frozen=True)
class DecodePlan:
    """Shape of what ``decode_frames`` will produce, known before decoding (for preallocation)."""

    frame_count: int  # after cap and stride
    height: int  # after downscale
    width: int
    fps: float  # of the output frames (source fps / stride)
    source_frame_count: int
    source_fps: float
    duration: float  # seconds of the source video stream

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.frame_count, self.height, self.width, 3)

    @property
    def nbytes(self) -> int:
        """Bytes of the float32 output array."""
        return self.frame_count * self.height * self.width * 3 * 4


@dataclass
class DecodedAudio:
    waveform: np.ndarray  # float32 [C,T]
    sample_rate: int

    @property
    def duration(self) -> float:
        return self.waveform.shape[1] / self.sample_rate if self.sample_rate else 0.0


# ---------------------------------------------------------------------------------------------
# size arithmetic (pure, so it can be checked exhaustively)


def _even_down(value: int) -> int:
    return max(2, value - (value % 2))


def scaled_size(width: int, height: int, max_side: int = 0) -> tuple[int, int]:
    """(width, height) with the longer side scaled down to at most ``max_side``, aspect kept and
    both sides even. ``max_side`` 0, or a frame already small enough, keeps the size."""
    if width <= 0 or height <= 0:
        raise MediaError(f"Video size must be positive; got {width}x{height}.")
    if max_side <= 0 or max(width, height) <= max_side:
        return width, height
    longer, shorter = max(width, height), min(width, height)
    new_longer = _even_down(max_side)
    # Nearest even size to the exact proportional one: at most 1 px from the true aspect.
    new_shorter = max(2, 2 * round(shorter * new_longer / longer / 2))
    return (new_longer, new_shorter) if width >= height else (new_shorter, new_longer)


def output_frame_count(source_frames: int, max_frames: int = 0, stride: int = 1) -> int:
    """Frames kept from ``source_frames``: every ``stride``-th one, at most ``max_frames`` (0 = all)."""
    if stride < 1:
        raise MediaError(f"Frame stride must be at least 1; got {stride}.")
    if max_frames < 0:
        raise MediaError(f"max_frames must be 0 (all) or positive; got {max_frames}.")
    kept = -(-max(0, source_frames) // stride)
    return min(kept, max_frames) if max_frames else kept


# ---------------------------------------------------------------------------------------------
# opening


@contextmanager
def _open(source: Source) -> Iterator[Any]:
    import av

    if isinstance(source, (bytes, bytearray, memoryview)):
        target: Any = io.BytesIO(bytes(source))
        name = f"video data ({len(source)} bytes)"
    else:
        if not Path(source).is_file():
            raise MediaError(f"Video file '{source}' does not exist or is not a file.")
        target, name = str(source), f"video file '{source}'"
    try:
        container = av.open(target, "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MediaError(f"Cannot open {name}: {reason}.") from exc
    try:
        yield container
    finally:
        container.close()


def _video_stream(container: Any, source: Source) -> Any:
    if not container.streams.video:
        shown = "the video data" if isinstance(source, (bytes, bytearray, memoryview)) else f"'{source}'"
        raise MediaError(f"There is no video stream in {shown}.")
    return container.streams.video[0]


def _check_options(max_frames: int, stride: int, max_side: int) -> None:
    if max_side < 0:
        raise MediaError(f"max_side must be 0 (no downscale) or positive; got {max_side}.")
    output_frame_count(0, max_frames, stride)


def plan_decode(path: str | Path, *, max_frames: int = 0, stride: int = 1, max_side: int = 0) -> DecodePlan:
    """What decoding with these options yields. ``max_frames`` 0 = all; ``max_side`` 0 = no downscale
    (else the longer side is scaled down to it, aspect kept, even sizes).

    ``max_frames`` caps the output frames (counted after ``stride``). ``path`` may also be bytes."""
    _check_options(max_frames, stride, max_side)  # before opening anything
    with _open(path) as container:
        return _plan(container, _video_stream(container, path), max_frames, stride, max_side)[0]


def _plan(
    container: Any, stream: Any, max_frames: int, stride: int, max_side: int
) -> tuple[DecodePlan, bool]:
    """The plan of an open container, and whether working it out read the packets (so decoding
    needs the file opened afresh)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    source_fps = float(rate) if rate else 0.0
    source_frames = int(stream.frames or 0)
    read_packets = source_frames <= 0
    if read_packets:  # MKV/WebM and some MOVs do not say: count packets, decode nothing
        source_frames = count_video_packets(container, stream)
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    if duration <= 0 and container.duration:
        duration = container.duration / 1_000_000
    if duration <= 0 and source_fps:
        duration = source_frames / source_fps
    width, height = scaled_size(stream.codec_context.width, stream.codec_context.height, max_side)
    plan = DecodePlan(
        frame_count=output_frame_count(source_frames, max_frames, stride),
        height=height,
        width=width,
        fps=source_fps / stride if source_fps else 0.0,
        source_frame_count=source_frames,
        source_fps=source_fps,
        duration=duration,
    )
    return plan, read_packets


def available_memory() -> int | None:
    """Bytes the system can hand out now without swapping (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits_in_memory(plan: DecodePlan, *, share: float = 0.9) -> None:
    """Refuse a decode whose output would not fit in memory: an over-committed allocation succeeds
    and then gets the whole process killed while it fills."""
    free = available_memory()
    if free is not None and plan.nbytes > share * free:
        raise MediaError(
            f"Decoding {plan.frame_count} frames of {plan.width}x{plan.height} needs "
            f"{plan.nbytes / 2**30:.1f} GB and {free / 2**30:.1f} GB of memory are available; "
            "lower max_frames or max_side, or raise frame_stride."
        )


# ---------------------------------------------------------------------------------------------
# frames


def _target_array(
    plan: DecodePlan,
    out: np.ndarray | None,
    allocate: Callable[[tuple[int, int, int, int]], np.ndarray] | None,
) -> np.ndarray:
    if out is None:
        out = allocate(plan.shape) if allocate is not None else np.empty(plan.shape, dtype=np.float32)
    out = np.asarray(out)  # no copy for numpy arrays and torch tensors' numpy views
    if out.ndim != 4 or out.shape[1:] != plan.shape[1:] or out.shape[0] < plan.frame_count:
        raise MediaError(
            f"The output array has shape {tuple(out.shape)}; decoding needs {plan.shape} "
            f"(at least {plan.frame_count} frames of {plan.height}x{plan.width}x3)."
        )
    if not np.issubdtype(out.dtype, np.floating):
        raise MediaError(f"The output array must be a float array; got {out.dtype}.")
    if not out.flags.writeable:
        raise MediaError("The output array is read-only.")
    return out


def _converter_count(frame_bytes: int = 0, output_bytes: int = 0) -> int:
    """Conversion threads: two on a small machine (the decoder's own threads take the rest), up to
    four where there are cores for them, while the frames they hold (each thread's queue and the
    one it converts, as float) stay within 5% of the output."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 2
    count = min(4, cores // 2)
    if frame_bytes > 0 and output_bytes > 0:
        count = min(count, int(0.05 * output_bytes) // ((_IN_FLIGHT + 1) * frame_bytes))
    return max(2, count)


class _Converters:
    """The threads of a decode beside FFmpeg's: decoded frames -> RGB -> float32 0..1 slots of
    ``target``, taking frames in turn.

    The first write to each page of a fresh multi-gigabyte output traps into the kernel, which
    costs about as much CPU as decoding itself; spread over these threads (which run without the
    GIL: swscale, numpy's cast and the faults), that cost runs on every core at once instead of
    following one thread's conversion."""

    def __init__(self, target: np.ndarray, stream: Any, width: int, height: int, pager: Pager | None) -> None:
        self.target = target
        self.pager = pager
        self.error: BaseException | None = None
        count = _converter_count(target[0].nbytes, target.nbytes)
        # Built here, on the decoding thread, from the stream; each then used by one thread only.
        converters = [RgbConverter(stream, width, height) for _ in range(count)]
        self._queues: list[queue.Queue[tuple[int, Any] | None]] = [
            queue.Queue(maxsize=_IN_FLIGHT) for _ in range(count)
        ]
        self._threads = [
            threading.Thread(target=self._run, args=(q, c), name=f"ltx2-decode-{i}", daemon=True)
            for i, (q, c) in enumerate(zip(self._queues, converters, strict=True))
        ]
        for thread in self._threads:
            thread.start()

    def put(self, index: int, frame: Any) -> None:
        if self.error is not None:
            raise self.error
        self._queues[index % len(self._queues)].put((index, frame))

    def close(self) -> None:
        """Wait until every frame put so far is written; re-raise what went wrong in a thread."""
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join()
        if self.error is not None:
            raise self.error

    def _run(self, frames: queue.Queue[tuple[int, Any] | None], converter: RgbConverter) -> None:
        import av

        try:
            while (item := frames.get()) is not None:
                index, frame = item
                try:
                    rgb = converter.convert(frame)
                except av.FFmpegError as exc:
                    reason = getattr(exc, "strerror", None) or exc
                    raise MediaError(f"Could not convert frame {index + 1} of the video: {reason}.") from exc
                del frame, item  # the decoder's buffer goes back to its pool now
                if self.pager is not None:
                    self.pager.prepare(index)
                # One pass: numpy casts uint8 -> float32 in cache-sized chunks as it scales (the
                # same float32 values as a cast then a scale, at half the memory traffic).
                np.multiply(rgb, _INV_255, out=self.target[index], dtype=np.float32, casting="unsafe")
        except BaseException as exc:  # handed to the decoding thread, which raises it
            if self.error is None:
                self.error = exc
            while frames.get() is not None:  # keep the producer from blocking on a full queue
                pass


def decode_frames(
    path: str | Path,
    *,
    max_frames: int = 0,
    stride: int = 1,
    max_side: int = 0,
    out: np.ndarray | None = None,
    allocate: Callable[[tuple[int, int, int, int]], np.ndarray] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    plan: DecodePlan | None = None,
    fresh: bool | None = None,
    planned: Callable[[DecodePlan], None] | None = None,
) -> np.ndarray:
    """Decode frames as float32 RGB 0..1 into one array [N,H,W,3]. ``out`` (or ``allocate(shape)``)
    supplies the array, e.g. a torch tensor's numpy view, so no second copy is made. ``on_frame(i, n)``
    reports progress. Returns the (possibly trimmed) array.

    ``on_frame`` receives the number of frames written so far (1..n) and the planned count; it may
    raise to stop the decode. ``should_stop()`` is asked before each frame: True raises Interrupted.
    ``plan``: what ``plan_decode`` returned for the same options, when the caller already has it.
    ``fresh``: the output's memory was just allocated and never touched, so its pages may be chosen
    (huge where cheap); default: when this function allocates it. ``planned(plan)`` receives the
    plan before anything is allocated.
    ``path`` may also be bytes."""
    _check_options(max_frames, stride, max_side)
    if fresh is None:
        fresh = out is None
    with ExitStack() as opened:
        # One opening serves the plan and the decode: opening an MP4 decodes its first frame to
        # learn the stream's parameters (tens of milliseconds at 1080p).
        container = opened.enter_context(_open(path))
        stream = _video_stream(container, path)
        if plan is None:
            plan, read_packets = _plan(container, stream, max_frames, stride, max_side)
            if read_packets:  # the packets were read to count them: start again from the top
                container = opened.enter_context(_open(path))
                stream = _video_stream(container, path)
        if planned is not None:
            planned(plan)
        if out is None and fresh:  # memory about to be allocated (not a caller's buffer)
            check_fits_in_memory(plan)
        target = _target_array(plan, out, allocate)
        if plan.frame_count == 0:
            return target[:0]
        return _decode_into(container, stream, target, plan, stride, fresh, on_frame, should_stop)


def _decode_into(
    container: Any,
    stream: Any,
    target: np.ndarray,
    plan: DecodePlan,
    stride: int,
    fresh: bool,
    on_frame: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None,
) -> np.ndarray:
    import av

    n = plan.frame_count
    pager = Pager(target[:n], n) if fresh and target[:n].flags.c_contiguous else None
    stream.thread_type = "AUTO"  # frame + slice threads: several frames decode at once
    # Converted to the planned size, so a stream that changes size midway still fits.
    converters = _Converters(target, stream, plan.width, plan.height, pager)
    written = 0
    try:
        for index, frame in enumerate(container.decode(stream)):
            if should_stop is not None and should_stop():
                raise Interrupted("Decoding the video was interrupted.")
            if index % stride:
                continue  # decoded (later frames depend on it) but never converted
            converters.put(written, frame)
            written += 1
            if on_frame is not None:
                on_frame(written, n)
            if written == n:
                break
    except av.FFmpegError as exc:
        if written == 0:
            converters.close()
            raise MediaError(f"Could not decode the video: {getattr(exc, 'strerror', None) or exc}.") from exc
        # A damaged tail: keep what decoded.
    except BaseException:
        try:
            converters.close()
        except Exception:  # the first error is the one to report
            pass
        raise
    converters.close()
    return target[:written] if written < target.shape[0] else target


# ---------------------------------------------------------------------------------------------
# audio


# PyAV builds the array of a planar frame from a fixed table of 8 plane pointers: from 8 channels on
# it reads past it and crashes the process. Planar frames are only read below that; wider audio is
# converted to packed float (one plane, any channel count) and split into channels with numpy.
_PLANAR_CHANNELS_MAX = 7


def _channel_count(frame: Any) -> int:
    return len(frame.layout.channels) if frame.layout is not None else 0


def decode_audio(path: str | Path, *, mono: bool = False) -> DecodedAudio | None:
    """The first audio track as float32 [C,T] with its sample rate, or None when there is none.

    ``mono`` averages the channels into [1,T]. ``path`` may also be bytes. Any channel count."""
    import av

    with _open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        sample_rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        channels = 0
        resampler: Any = None
        chunks: list[np.ndarray] = []

        def packed(frames: list[Any]) -> None:
            for out in frames:
                interleaved = out.to_ndarray().reshape(-1, channels)  # [samples, C]
                chunks.append(interleaved.T)

        try:
            for frame in container.decode(stream):
                if not sample_rate:
                    sample_rate = frame.sample_rate
                if not channels:
                    channels = _channel_count(frame) or 1
                if (
                    resampler is None
                    and frame.format.name == "fltp"
                    and frame.sample_rate == sample_rate
                    and _channel_count(frame) == channels <= _PLANAR_CHANNELS_MAX
                ):
                    chunks.append(frame.to_ndarray())  # already planar float [C, samples]: no resampling
                    continue
                if resampler is None:
                    # Packed float at one rate and layout for the rest of the stream (a stream whose
                    # layout or rate changes midway is converted to the first one's).
                    resampler = av.AudioResampler(format="flt", layout=frame.layout, rate=sample_rate)
                packed(resampler.resample(frame))
            if resampler is not None:
                packed(resampler.resample(None))
        except (av.FFmpegError, ValueError) as exc:
            if not chunks:
                raise MediaError(
                    f"Could not decode the audio: {getattr(exc, 'strerror', None) or exc}."
                ) from exc
        # Read while the container is open: a stream's fields are freed with it.
        channels = channels or stream.channels or 1
        seconds = None
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
    if not chunks:
        waveform = np.zeros((channels, 0), dtype=np.float32)
    else:
        waveform = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    # AAC pads its last frame; the stream's duration says where the real audio ends.
    if seconds is not None and sample_rate:
        expected = round(seconds * sample_rate)
        if 0 < expected < waveform.shape[1] <= expected + 2048:
            waveform = waveform[:, :expected]
    if mono and waveform.shape[0] > 1:
        waveform = waveform.mean(axis=0, keepdims=True, dtype=np.float32)
    return DecodedAudio(waveform=np.ascontiguousarray(waveform), sample_rate=sample_rate)


def decode_video_bytes(
    data: bytes, *, max_frames: int = 0, stride: int = 1, max_side: int = 0
) -> tuple[np.ndarray, DecodedAudio | None, DecodePlan]:
    """Frames, audio and plan of an in-memory video (convenience for small clips; files stay the main path)."""
    plan = plan_decode(data, max_frames=max_frames, stride=stride, max_side=max_side)  # type: ignore[arg-type]
    frames = decode_frames(data, max_frames=max_frames, stride=stride, max_side=max_side)  # type: ignore[arg-type]
    return frames, decode_audio(data), plan  # type: ignore[arg-type]

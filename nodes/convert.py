"""Graph values <-> ``api`` values: IMAGE / AUDIO / VIDEO inputs to probed ``MediaInput``s, and a
result MP4 back to VIDEO, IMAGE (one preallocated tensor) and AUDIO.

torch, numpy and PyAV are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..api.errors import InvalidInputError
from ..api.types import MediaInfo, MediaInput, MediaKind

SILENT_SAMPLE_RATE = 48000
SILENT_CHANNELS = 2
_PASS_THROUGH_CODECS = ("h264", "hevc", "h265")


# --- IMAGE -----------------------------------------------------------------------------------


def image_to_uint8(image: Any, name: str = "image", *, allow_batch: bool = False) -> Any:
    """IMAGE tensor [B,H,W,C] float 0..1 -> numpy uint8 [H,W,3] (or [B,H,W,3] with ``allow_batch``).

    A batch of more than one image is refused unless the node accepts batches: sending only the
    first one silently would be a surprise.
    """
    import torch

    if not isinstance(image, torch.Tensor):
        raise InvalidInputError(
            name, type(image).__name__, "an IMAGE tensor [batch, height, width, channels]"
        )
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4) or image.shape[0] < 1:
        raise InvalidInputError(
            name,
            f"tensor of shape {tuple(image.shape)}",
            "an IMAGE tensor [batch, height, width, 1|3|4 channels]",
        )
    if image.shape[0] > 1 and not allow_batch:
        raise InvalidInputError(
            name,
            f"a batch of {image.shape[0]} images",
            "a single image (batch size 1)",
            reason="this input takes one image; pick one with an image-batch node first",
        )
    image = image.detach().to("cpu")
    if image.shape[-1] == 1:
        image = image.expand(*image.shape[:-1], 3)
    elif image.shape[-1] == 4:
        image = image[..., :3]
    pixels = (image.float().clamp(0.0, 1.0) * 255.0).round_().to(torch.uint8).numpy()
    return pixels if allow_batch else pixels[0]


def image_to_media(image: Any, name: str = "image") -> MediaInput:
    """One IMAGE -> PNG bytes (fast, low compression) -> probed ``MediaInput``."""
    from ..api.media.encode import encode_image
    from ..api.media.inputs import media_from_bytes

    pixels = image_to_uint8(image, name)
    data = encode_image(pixels, "png", png_compress_level=1)
    media = media_from_bytes(data, MediaKind.IMAGE, filename=f"{name}.png", content_type="image/png")
    if media.info.width is None:  # the size is known here even if a probe could not tell
        media = dataclasses.replace(
            media,
            info=dataclasses.replace(
                media.info, width=int(pixels.shape[1]), height=int(pixels.shape[0]), format="png"
            ),
        )
    return media


# --- AUDIO -----------------------------------------------------------------------------------


def audio_waveform(audio: Any, name: str = "audio") -> tuple[Any, int]:
    """AUDIO dict -> (numpy float32 [C,T] of the first batch item, sample rate)."""
    import torch

    if not isinstance(audio, dict) or "waveform" not in audio or "sample_rate" not in audio:
        raise InvalidInputError(
            name,
            type(audio).__name__,
            'an AUDIO value {"waveform": [batch, channels, samples], "sample_rate"}',
        )
    waveform = audio["waveform"]
    if not isinstance(waveform, torch.Tensor):
        waveform = torch.as_tensor(waveform)
    given_shape = tuple(waveform.shape)
    if waveform.ndim == 1:
        waveform = waveform.unsqueeze(0)
    if waveform.ndim == 3:
        if waveform.shape[0] < 1:
            raise InvalidInputError(name, "an empty batch", "at least one audio clip")
        waveform = waveform[0]
    if waveform.ndim != 2 or waveform.shape[-1] == 0:
        raise InvalidInputError(
            name,
            f"waveform of shape {given_shape}",
            "a non-empty waveform [batch, channels, samples]",
        )
    sample_rate = int(audio["sample_rate"])
    if sample_rate <= 0:
        raise InvalidInputError(f"{name}.sample_rate", sample_rate, "a positive number of samples per second")
    return waveform.detach().to("cpu", torch.float32).contiguous().numpy(), sample_rate


def audio_to_media(audio: Any, name: str = "audio") -> MediaInput:
    """AUDIO -> WAV bytes (first batch item, channels kept) with its duration in ``info``."""
    from ..api.media.encode import encode_audio
    from ..api.media.inputs import media_from_bytes

    waveform, sample_rate = audio_waveform(audio, name)
    data = encode_audio(waveform, sample_rate, "wav")
    media = media_from_bytes(data, MediaKind.AUDIO, filename=f"{name}.wav", content_type="audio/wav")
    duration = waveform.shape[-1] / sample_rate
    if media.info.duration is None or abs(media.info.duration - duration) > 0.05:
        media = dataclasses.replace(
            media,
            info=dataclasses.replace(
                media.info,
                duration=duration,
                sample_rate=sample_rate,
                channels=int(waveform.shape[0]),
                format="wav",
            ),
        )
    return media


# --- VIDEO -----------------------------------------------------------------------------------


def video_file_path(video: Any) -> Path | None:
    """The file behind a VIDEO value, when it is file-backed."""
    candidates: list[Any] = []
    getter = getattr(video, "get_stream_source", None)
    if callable(getter):
        try:
            candidates.append(getter())
        except Exception:  # a VIDEO without a stream source still converts through components
            pass
    for attr in ("path", "file", "_VideoFromFile__file"):
        candidates.append(getattr(video, attr, None))
    for candidate in candidates:
        if isinstance(candidate, (str, os.PathLike)) and Path(candidate).is_file():
            return Path(candidate)
    return None


def in_memory_bytes(video: Any) -> bytes | None:
    """The bytes of a VIDEO whose stream source is an in-memory file (``VideoFromFile(BytesIO)``)."""
    getter = getattr(video, "get_stream_source", None)
    if not callable(getter):
        return None
    try:
        source = getter()
    except Exception:
        return None
    if hasattr(source, "getvalue"):
        return bytes(source.getvalue())
    return None


def _passes_through(info: MediaInfo, path: Path) -> bool:
    fmt = (info.format or "").lower()
    is_mp4 = "mp4" in fmt.split(",") or (fmt.startswith("mov") and path.suffix.lower() in (".mp4", ".m4v"))
    return is_mp4 and (info.video_codec or "").lower() in _PASS_THROUGH_CODECS


def video_to_media(video: Any, name: str = "video") -> MediaInput:
    """VIDEO -> MP4 ``MediaInput``. An H.264/H.265 MP4 (a file, or an in-memory file) is sent byte
    for byte; anything else is decoded to components once and encoded to H.264 MP4."""
    from ..api.errors import MediaError
    from ..api.media.inputs import media_from_bytes
    from ..api.media.probe import probe

    path = video_file_path(video)
    memory = in_memory_bytes(video) if path is None else None
    source = path if path is not None else memory
    if source is not None:
        label = path if path is not None else Path(f"{name}.mp4")
        try:
            info = probe(source)
        except MediaError as exc:
            raise MediaError(f"The {name} input '{label.name}' cannot be read: {exc.message}") from exc
        if _passes_through(info, label):
            data = path.read_bytes() if path is not None else memory
            return media_from_bytes(data, MediaKind.VIDEO, filename=label.name, content_type="video/mp4")
        # Re-encoded from this pack's own decoders (any channel count, bounded memory), never
        # through the VIDEO's components.
        frames, fps, audio = decode_frames_and_audio(source, silent_when_missing=False)
        return frames_to_media(frames, fps, audio=audio, name=name, audio_name=f"{name}.audio")
    getter = getattr(video, "get_components", None)
    if not callable(getter):
        raise InvalidInputError(
            name, type(video).__name__, "a VIDEO value (e.g. from Load Video or Create Video)"
        )
    components = getter()
    audio = getattr(components, "audio", None)
    return frames_to_media(
        components.images, float(components.frame_rate), audio=audio, name=name, audio_name=f"{name}.audio"
    )


def frames_to_media(
    frames: Any, fps: float, *, audio: Any = None, name: str = "frames", audio_name: str = "audio"
) -> MediaInput:
    """IMAGE frames + fps (+ AUDIO) -> H.264/AAC MP4 ``MediaInput``. ``name`` and ``audio_name`` are
    the inputs named in errors."""
    from ..api.media.encode import encode_video
    from ..api.media.inputs import media_from_bytes

    if not fps or fps <= 0:
        raise InvalidInputError(f"{name}_fps", fps, "a frame rate above 0, e.g. 25")
    pixels = image_to_uint8(frames, name, allow_batch=True)
    wave = rate = None
    if audio is not None:
        wave, rate = audio_waveform(audio, audio_name)
    data = encode_video(pixels, float(fps), audio=wave, sample_rate=rate)
    return media_from_bytes(data, MediaKind.VIDEO, filename=f"{name}.mp4", content_type="video/mp4")


def url_to_media(url: str, kind: MediaKind, name: str) -> MediaInput:
    from ..api.media.inputs import media_from_url

    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidInputError(name, url, "an http(s) URL of a file the provider can download")
    return media_from_url(url, kind)


# --- results back to graph values ------------------------------------------------------------


def video_output(path: str | Path) -> Any:
    """A result file as a VIDEO value: ComfyUI's ``VideoFromFile`` when present, else ``LTX2Video``."""
    from .comfy import video_from_file_class

    cls = video_from_file_class()
    if cls is not None:
        return cls(str(path))
    from .video import LTX2Video

    return LTX2Video(path)


def decode_frames_tensor(
    path: str | Path | bytes,
    *,
    max_frames: int = 0,
    stride: int = 1,
    max_side: int = 0,
    on_frame: Any = None,
    out: Any = None,
    plan: Any = None,
) -> tuple[Any, float]:
    """MP4 -> IMAGE tensor float32 [N,H,W,3] allocated once and filled in place; returns (tensor, fps).
    ``out`` may supply that tensor (of the shape ``plan_decode`` announces); ``plan`` is that
    announcement when the caller already has it. ``path`` may also be the bytes of an in-memory
    video. ComfyUI's Cancel stops the decode between two frames."""
    import torch

    from ..api.media.decode import DecodePlan, decode_frames
    from .comfy import processing_interrupted

    tensors: list[Any] = []
    planned: list[DecodePlan] = []

    def allocate(shape: tuple[int, int, int, int]) -> Any:
        if out is not None:
            if tuple(out.shape) != shape or out.dtype != torch.float32 or not out.is_contiguous():
                raise ValueError(
                    f"out must be a contiguous float32 tensor of shape {shape}, got {tuple(out.shape)}"
                )
            tensors.append(out)
        else:
            tensors.append(torch.empty(shape, dtype=torch.float32))
        return tensors[0].numpy()  # shares memory with the tensor: the decoder writes straight into it

    with comfy_interrupts():
        filled = decode_frames(
            path,
            max_frames=max_frames,
            stride=stride,
            max_side=max_side,
            allocate=allocate,
            on_frame=on_frame,
            should_stop=processing_interrupted,
            plan=plan,
            fresh=out is None,
            planned=planned.append,
        )
    if filled.shape[0] == 0:
        raise_empty(path)
    # A view of the one tensor (trimmed when the container had fewer frames than announced).
    return tensors[0][: filled.shape[0]], float(planned[0].fps)


def decode_frames_and_audio(
    path: str | Path | bytes,
    *,
    max_frames: int = 0,
    stride: int = 1,
    max_side: int = 0,
    on_frame: Any = None,
    duration: float | None = None,
    silent_when_missing: bool = True,
    plan: Any = None,
) -> tuple[Any, float, dict | None]:
    """``decode_frames_tensor`` and ``decode_audio_dict`` at once: the audio decodes on its own
    thread while the frames do, so it adds almost nothing to the wait. Returns (frames, fps, audio).
    ``plan``: what ``plan_decode`` returned for the same options, when the caller has it."""
    import threading

    audio: list[dict | None] = []
    failure: list[BaseException] = []

    def decode_audio() -> None:
        try:
            audio.append(decode_audio_dict(path, duration=duration, silent_when_missing=silent_when_missing))
        except BaseException as exc:  # re-raised on the calling thread
            failure.append(exc)

    worker = threading.Thread(target=decode_audio, name="ltx2-decode-audio", daemon=True)
    worker.start()
    try:
        frames, fps = decode_frames_tensor(
            path, max_frames=max_frames, stride=stride, max_side=max_side, on_frame=on_frame, plan=plan
        )
    finally:
        worker.join()
    if failure:
        raise failure[0]
    return frames, fps, audio[0]


@contextmanager
def comfy_interrupts() -> Iterator[None]:
    """Inside ComfyUI an interrupted decode ends as ComfyUI's own interruption (the run stops
    quietly, as after any Cancel); outside it stays ``Interrupted`` and the local flag is reset."""
    from ..api.errors import Interrupted
    from .comfy import _module, consume_local_interrupt

    try:
        yield
    except Interrupted:
        mm = _module("comfy.model_management")
        stop = getattr(mm, "InterruptProcessingException", None) if mm is not None else None
        if stop is not None:
            raise stop() from None
        consume_local_interrupt()
        raise


def raise_empty(path: str | Path | bytes) -> None:
    from ..api.errors import MediaError

    name = "in-memory video" if isinstance(path, (bytes, bytearray)) else f"video '{Path(path).name}'"
    raise MediaError(f"The {name} has no decodable frames.")


def placeholder_frames() -> Any:
    """The IMAGE returned when the frames output is not linked: one black 8x8 frame."""
    import torch

    return torch.zeros((1, 8, 8, 3), dtype=torch.float32)


def decode_audio_dict(
    path: str | Path | bytes, *, duration: float | None = None, silent_when_missing: bool = True
) -> dict | None:
    """MP4 audio -> AUDIO ``{"waveform": [1,C,T], "sample_rate"}``; a silent stereo 48 kHz track of the
    video's length when the file has no audio (so downstream audio nodes always get a value)."""
    import torch

    from ..api.media.decode import decode_audio

    decoded = decode_audio(path)
    if decoded is not None and decoded.waveform.size > 0:
        waveform = torch.from_numpy(decoded.waveform.astype("float32", copy=False)).unsqueeze(0)
        return {"waveform": waveform, "sample_rate": int(decoded.sample_rate)}
    if not silent_when_missing:
        return None
    if duration is None:
        from ..api.media.probe import probe

        duration = probe(path).duration or 0.0
    samples = max(1, round(duration * SILENT_SAMPLE_RATE))
    return {
        "waveform": torch.zeros((1, SILENT_CHANNELS, samples), dtype=torch.float32),
        "sample_rate": SILENT_SAMPLE_RATE,
    }

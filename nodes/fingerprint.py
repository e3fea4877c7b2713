"""``IS_CHANGED`` values: a stable hash of every input, so equal inputs never trigger a new paid
run, and NaN (never equal to itself) when a fresh take is asked for."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
from typing import Any

# Hidden inputs that say nothing about the output (the graph changes whenever anything does).
IGNORED_INPUTS = frozenset({"unique_id", "workflow_prompt", "prompt_graph", "extra_pnginfo", "dynprompt"})


def fingerprint(inputs: dict[str, Any], *, ignored: frozenset[str] = IGNORED_INPUTS) -> str | float:
    if inputs.get("force_rerun"):
        return float("nan")
    digest = hashlib.sha256()
    for name in sorted(inputs):
        if name in ignored:
            continue
        digest.update(f"|{name}=".encode())
        _feed(digest, inputs[name])
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
        return
    if isinstance(value, enum.Enum):
        _feed(digest, value.value)
        return
    if _is_tensor(value):
        _feed_tensor(digest, value)
        return
    if type(value).__module__ == "numpy" and hasattr(value, "tobytes"):
        import numpy as np

        array = np.ascontiguousarray(value)
        digest.update(f"ndarray:{array.dtype}:{array.shape};".encode())
        digest.update(array.view(np.uint8).reshape(-1) if array.size else b"")
        return
    if isinstance(value, dict):
        digest.update(b"{")
        for key in sorted(value, key=str):
            digest.update(f"{key}:".encode())
            _feed(digest, value[key])
        digest.update(b"}")
        return
    if isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _feed(digest, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        return
    if hasattr(value, "get_components") or hasattr(value, "get_stream_source"):
        _feed_video(digest, value)
        return
    digest.update(f"{type(value).__name__}:{value!r};".encode())


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "shape")


def _feed_tensor(digest: Any, tensor: Any) -> None:
    import torch

    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    digest.update(f"tensor:{flat.dtype}:{tuple(tensor.shape)};".encode())
    if flat.numel():
        digest.update(flat.view(torch.uint8).numpy())  # raw bytes of any dtype, no copy


def _feed_video(digest: Any, video: Any) -> None:
    """A file-backed VIDEO by path, size and modification time; anything else by its content."""
    from .convert import video_file_path

    path = video_file_path(video)
    if path is not None:
        stat = os.stat(path)
        digest.update(f"video-file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return
    components = video.get_components()
    digest.update(b"video-components:")
    _feed(digest, components.images)
    _feed(digest, getattr(components, "audio", None))
    _feed(digest, float(components.frame_rate))

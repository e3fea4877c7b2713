"""A result MP4 -> the six outputs of a generation node and the preview shown on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api.redact import redact

RETURN_TYPES = ("VIDEO", "IMAGE", "AUDIO", "FLOAT", "INT", "STRING")
RETURN_NAMES = ("video", "frames", "audio", "fps", "frame_count", "info")
OUTPUT_TOOLTIPS = (
    "The generated MP4 (file-backed; saving it does not re-encode).",
    "Decoded frames, float32 [N,H,W,3]. Only decoded when this output is linked; otherwise a 1x8x8 black placeholder.",
    "The soundtrack; a silent stereo track of the video's length when the video has none.",
    "Frames per second of the frames output (after frame_stride).",
    "Number of frames of the frames output (after max_frames and frame_stride).",
    "JSON: provider, model, request id, journal id, estimated cost, timings, file.",
)
FRAMES_OUTPUT = RETURN_NAMES.index("frames")


@dataclass(frozen=True)
class DecodeOptions:
    max_frames: int = 0  # 0 = all
    frame_stride: int = 1
    max_side: int = 0  # 0 = source size

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any]) -> DecodeOptions:
        from ..api.errors import InvalidInputError

        def number(name: str, default: int) -> int:
            value = inputs.get(name)
            return default if value is None else int(value)

        max_frames, stride, max_side = (
            number("max_frames", 0),
            number("frame_stride", 1),
            number("max_side", 0),
        )
        if max_frames < 0:
            raise InvalidInputError("max_frames", max_frames, "0 (all frames) or a positive frame count")
        if stride < 1:
            raise InvalidInputError("frame_stride", stride, "1 (every frame) or more")
        if max_side < 0 or 0 < max_side < 16:
            raise InvalidInputError("max_side", max_side, "0 (source size) or at least 16 pixels")
        return cls(max_frames, stride, max_side)


def output_linked(graph: Any, unique_id: Any, index: int) -> bool:
    """Whether any node of the API-format ``graph`` reads output ``index`` of node ``unique_id``.
    Without graph information (or when the node is not in it) the answer is yes: decode."""
    if not isinstance(graph, dict) or not graph or unique_id is None or str(unique_id) not in graph:
        return True
    uid = str(unique_id)
    for node in graph.values():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if not isinstance(inputs, dict):
            continue
        for value in inputs.values():
            if (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and str(value[0]) == uid
                and value[1] == index
            ):
                return True
    return False


@dataclass
class DecodedOutputs:
    video: Any
    frames: Any
    audio: dict
    fps: float
    frame_count: int
    facts: dict[str, Any]


def decode_outputs(path: Path, options: DecodeOptions, *, frames_wanted: bool) -> DecodedOutputs:
    """CPU work (run it in a thread): VIDEO value, frames (or the placeholder), audio, facts."""
    from ..api.media.decode import plan_decode
    from .convert import decode_audio_dict, decode_frames_and_audio, placeholder_frames, video_output

    plan = plan_decode(
        path, max_frames=options.max_frames, stride=options.frame_stride, max_side=options.max_side
    )
    if frames_wanted:
        frames, fps, audio = decode_frames_and_audio(
            path,
            max_frames=options.max_frames,
            stride=options.frame_stride,
            max_side=options.max_side,
            duration=plan.duration,
            plan=plan,
        )
        count = int(frames.shape[0])
    else:
        frames, fps, count = placeholder_frames(), float(plan.fps), int(plan.frame_count)
        audio = decode_audio_dict(path, duration=plan.duration)
    facts = {
        "width": plan.width,
        "height": plan.height,
        "fps": round(fps, 4),
        "frame_count": count,
        "source_frame_count": plan.source_frame_count,
        "source_fps": round(plan.source_fps, 4),
        "duration": round(plan.duration, 3),
        "frames_decoded": frames_wanted,
    }
    return DecodedOutputs(video_output(path), frames, audio, fps, count, facts)


def info_json(summary: dict[str, Any], facts: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    merged = {**summary, "video": facts, **(extra or {})}
    return json.dumps(redact(merged), sort_keys=False, default=str)


def preview_ui(path: Path) -> dict[str, Any]:
    """The same ``ui`` block ComfyUI's SaveVideo returns, so the node shows the video."""
    from .comfy import output_directory

    root = output_directory().resolve()
    shown = servable_copy(path, root)
    subfolder = shown.parent.relative_to(root).as_posix()
    return {
        "images": [
            {"filename": shown.name, "subfolder": "" if subfolder == "." else subfolder, "type": "output"}
        ],
        "animated": (True,),
    }


def servable_copy(path: Path, root: Path) -> Path:
    """``path`` when it lies in the output folder (the only place ComfyUI serves previews from); else a
    hard link (or copy) of it under ``<output>/ltx2/``, e.g. for a result downloaded by the command line."""
    import os
    import shutil

    resolved = path.resolve()
    if resolved.is_relative_to(root):
        return resolved
    target = root / "ltx2" / resolved.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(resolved, target)
        except OSError:  # another file system
            shutil.copy2(resolved, target)
    return target


def node_result(path: Path, outputs: DecodedOutputs, info: str) -> dict[str, Any]:
    return {
        "ui": preview_ui(path),
        "result": (
            outputs.video,
            outputs.frames,
            outputs.audio,
            float(outputs.fps),
            int(outputs.frame_count),
            info,
        ),
    }

"""A file-backed VIDEO value for use outside ComfyUI (inside ComfyUI the nodes hand out
ComfyUI's own ``VideoFromFile``). It offers the methods of ComfyUI's ``VideoInput``: lazy,
keeps its audio, and saves by copying or remuxing the file, never by re-encoding."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any


@dataclass
class Components:
    """Same fields as ComfyUI's ``VideoComponents``."""

    images: Any  # torch float32 [N,H,W,3]
    frame_rate: Fraction
    audio: dict | None = None
    metadata: dict | None = None


class LTX2Video:
    """A video stored in an MP4 (or other container) file on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"LTX2Video({str(self.path)!r})"

    # --- ComfyUI VideoInput methods ---------------------------------------------------------
    def get_stream_source(self) -> str:
        return str(self.path)

    def get_components(self) -> Any:
        from .comfy import video_components_class
        from .convert import decode_frames_and_audio

        frames, fps, audio = decode_frames_and_audio(self.path, silent_when_missing=False)
        cls = video_components_class() or Components
        return cls(
            images=frames, frame_rate=Fraction(fps).limit_denominator(1001), audio=audio, metadata=None
        )

    def get_dimensions(self) -> tuple[int, int]:
        info = self._probe()
        if not info.width or not info.height:
            raise ValueError(f"No video stream found in file '{self.path.name}'")
        return info.width, info.height

    def get_duration(self) -> float:
        info = self._probe()
        if info.duration is None:
            raise ValueError(f"Could not determine duration for file '{self.path.name}'")
        return float(info.duration)

    def get_frame_rate(self) -> Fraction:
        info = self._probe()
        return Fraction(info.fps or 0).limit_denominator(1001)

    def get_frame_count(self) -> int:
        return int(self._probe().frame_count or 0)

    def get_container_format(self) -> str:
        import av

        with av.open(str(self.path), mode="r") as container:
            return container.format.name

    def save_to(
        self,
        path: str | Path | IO[bytes],
        format: Any = "auto",
        codec: Any = "auto",
        metadata: dict | None = None,
    ) -> None:
        """Copy the file (or remux it to add ``metadata``); the streams are never re-encoded."""
        fmt = str(getattr(format, "value", format) or "auto").lower()
        cod = str(getattr(codec, "value", codec) or "auto").lower()
        info = self._probe()
        if fmt not in ("auto", "mp4") or (cod not in ("auto", info.video_codec or "") and info.video_codec):
            raise ValueError(
                f"This video is {info.video_codec or 'unknown'} in MP4; saving as "
                f"format={fmt!r}, codec={cod!r} would need re-encoding. Use format 'auto' and codec 'auto'."
            )
        if not metadata:
            if isinstance(path, (str, Path)):
                shutil.copyfile(self.path, path)
            else:
                with open(self.path, "rb") as src:
                    shutil.copyfileobj(src, path)
            return
        self._remux(path, metadata)

    # --- internals ----------------------------------------------------------------------------
    def _probe(self) -> Any:
        from ..api.media.probe import probe

        return probe(self.path)

    def _remux(self, dest: str | Path | IO[bytes], metadata: dict) -> None:
        import av

        kwargs: dict[str, Any] = {"mode": "w", "options": {"movflags": "use_metadata_tags"}}
        if isinstance(dest, io.IOBase) or not isinstance(dest, (str, Path)):
            kwargs["format"] = "mp4"
        with (
            av.open(str(self.path), mode="r") as src,
            av.open(dest if not isinstance(dest, Path) else str(dest), **kwargs) as out,
        ):
            for key, value in src.metadata.items():
                if key not in metadata:
                    out.metadata[key] = value
            for key, value in metadata.items():
                out.metadata[key] = value if isinstance(value, str) else json.dumps(value)
            mapping = {}
            for stream in src.streams:
                if stream.type in ("video", "audio"):
                    mapping[stream] = out.add_stream_from_template(template=stream, opaque=True)
            for packet in src.demux():
                if packet.stream in mapping and packet.dts is not None:
                    packet.stream = mapping[packet.stream]
                    out.mux(packet)

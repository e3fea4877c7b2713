"""Decoded video frames -> uint8 RGB arrays of one planned size.

Two ways, same pixels:

- an FFmpeg filter graph (``scale`` + ``format=rgb24``). Its output frames come from a buffer pool
  that recycles them, so a clip's RGB buffers are faulted in once. A ``VideoReformatter`` allocates
  a fresh buffer per frame, which the allocator often hands back to the kernel and faults in again:
  at 1080p that is about a tenth of a decode's CPU time.
- a ``VideoReformatter``, which is what every frame falls back to: for a size change (its area
  filter is what the pack has always used to shrink), for formats the graph converts differently
  (high bit depths dither differently), and whenever the graph refuses a frame.

The graph is only trusted while it gives exactly the reformatter's pixels on the frames checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The graph's pixels are checked against the reformatter's on its first frame and every so often
# after (a stream's colour properties may change midway): about 1% of the conversion work.
_CHECK_EVERY = 64


class RgbConverter:
    """``convert(frame)`` -> uint8 [height, width, 3]. One per thread: neither the graph nor the
    scaler context may be shared between threads."""

    def __init__(self, stream: Any, width: int, height: int) -> None:
        from av.video.reformatter import VideoReformatter

        self.width = width
        self.height = height
        source = (stream.codec_context.width, stream.codec_context.height)
        self._options: dict[str, Any] = {"format": "rgb24", "width": width, "height": height}
        if (width, height) != source:
            self._options["interpolation"] = "AREA"  # averages source pixels: no aliasing when shrinking
        self._reformatter = VideoReformatter()  # one scaler context for the whole clip, not one per frame
        self._graph: Any = None
        self._count = 0  # frames the graph converted
        if (width, height) == source:
            self._graph = _rgb_graph(stream, width, height)

    @property
    def uses_graph(self) -> bool:
        return self._graph is not None

    def convert(self, frame: Any) -> np.ndarray:
        if self._graph is not None:
            rgb = self._through_graph(frame)
            if rgb is not None:
                self._count += 1
                if (self._count - 1) % _CHECK_EVERY:
                    return rgb
                reference = self._reformat(frame)
                if rgb.shape == reference.shape and np.array_equal(rgb, reference):
                    return rgb
                self._graph = None  # converts differently for this clip: the reformatter from now on
                return reference
        return self._reformat(frame)

    def _reformat(self, frame: Any) -> np.ndarray:
        return self._reformatter.reformat(frame, **self._options).to_ndarray()

    def _through_graph(self, frame: Any) -> np.ndarray | None:
        import av

        try:
            self._graph.push(frame)
            rgb = self._graph.pull().to_ndarray()
        except (av.FFmpegError, ValueError):
            self._graph = None  # a frame it cannot take (format or size changed midway)
            return None
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            self._graph = None
            return None
        return rgb


def _rgb_graph(stream: Any, width: int, height: int) -> Any:
    """buffer -> scale (a pure format conversion at the same size) -> rgb24 -> sink, or None when
    FFmpeg cannot build it for this stream."""
    import av

    try:
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        # The explicit size keeps the output at the planned size should the stream change size.
        scale = graph.add("scale", f"{width}:{height}")
        rgb = graph.add("format", "rgb24")
        sink = graph.add("buffersink")
        source.link_to(scale)
        scale.link_to(rgb)
        rgb.link_to(sink)
        graph.configure()
    except (av.FFmpegError, ValueError, TypeError, AttributeError):
        return None
    return graph

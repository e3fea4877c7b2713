"""The decoder's conversion threads, its RGB converter (filter graph vs scaler) and its page policy."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import VideoReformatter
from ltx2_nodes.api.errors import Interrupted, MediaError
from ltx2_nodes.api.media import decode as decode_module
from ltx2_nodes.api.media import pages, synth
from ltx2_nodes.api.media.decode import decode_frames, plan_decode
from ltx2_nodes.api.media.encode import encode_video_file
from ltx2_nodes.api.media.rgb import RgbConverter


def _clip(
    images: np.ndarray,
    *,
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    container_format: str = "mp4",
    **tags,
) -> bytes:
    """RGB ``images`` [N,H,W,3] encoded in ``pix_fmt`` with the given codec, container and colour
    tags (raw ``h264`` and ``matroska`` carry no frame count)."""
    buf = io.BytesIO()
    height, width = images.shape[1:3]
    with av.open(buf, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for key, value in tags.items():
            setattr(stream.codec_context, key, value)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            for key, value in tags.items():
                setattr(frame, key, value)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def _encode(
    pix_fmt: str, *, codec: str = "libx264", width: int = 64, height: int = 48, n: int = 6, **tags
) -> bytes:
    """A small clip of random pixels (the worst case for any difference between two converters)."""
    images = np.random.default_rng(3).integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    return _clip(
        images,
        pix_fmt=pix_fmt,
        codec=codec,
        container_format="matroska" if codec == "ffv1" else "mp4",
        **tags,
    )


def _h264_clip(container_format: str, width: int, height: int, n: int, seed: int) -> bytes:
    return _clip(synth.test_frames(n, width, height, seed=seed), container_format=container_format)


def _reference(data: bytes, width: int | None = None, height: int | None = None) -> np.ndarray:
    """What the pack has always produced: the scaler's rgb24 (area filter when shrinking)."""
    out = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        w, h = width or stream.codec_context.width, height or stream.codec_context.height
        options = {"format": "rgb24", "width": w, "height": h}
        if (w, h) != (stream.codec_context.width, stream.codec_context.height):
            options["interpolation"] = "AREA"
        scaler = VideoReformatter()
        for frame in container.decode(stream):
            out.append(scaler.reformat(frame, **options).to_ndarray())
    return np.stack(out)


def _as_float(rgb: np.ndarray) -> np.ndarray:
    """uint8 -> float32 0..1 exactly as the decoder scales (a multiply by 1/255 in float32)."""
    return np.multiply(rgb, np.float32(1.0 / 255.0), dtype=np.float32)


def _converted(data: bytes, width: int | None = None, height: int | None = None) -> tuple[np.ndarray, bool]:
    out = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        w, h = width or stream.codec_context.width, height or stream.codec_context.height
        converter = RgbConverter(stream, w, h)
        for frame in container.decode(stream):
            out.append(converter.convert(frame).copy())
    return np.stack(out), converter.uses_graph


# --- RGB converter ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pix_fmt", "codec", "tags"),
    [
        ("yuv420p", "libx264", {}),
        ("yuvj420p", "libx264", {}),  # full range
        ("yuv420p", "libx264", {"colorspace": 1, "color_range": 1}),  # tagged BT.709
        ("yuv422p", "libx264", {}),
        ("yuv444p", "libx264", {}),
        ("gray", "ffv1", {}),
        ("rgb24", "libx264rgb", {}),
        ("yuv420p10le", "libx264", {}),  # the graph dithers differently: the scaler takes over
    ],
)
def test_converter_gives_the_scalers_pixels(pix_fmt: str, codec: str, tags: dict) -> None:
    data = _encode(pix_fmt, codec=codec, **tags)
    converted, graph_kept = _converted(data)
    assert np.array_equal(converted, _reference(data))
    if pix_fmt == "yuv420p10le":
        assert not graph_kept
    elif pix_fmt == "yuv420p":
        assert graph_kept  # the common case really takes the pooled path


def test_a_later_check_that_differs_hands_the_rest_to_the_scaler(monkeypatch) -> None:
    from ltx2_nodes.api.media import rgb as rgb_module

    monkeypatch.setattr(rgb_module, "_CHECK_EVERY", 4)
    original = RgbConverter._through_graph
    calls = {"n": 0}

    def drifting(self, frame):
        calls["n"] += 1
        out = original(self, frame)
        return out if calls["n"] < 5 else np.ascontiguousarray(255 - out)  # frame 5 is checked

    monkeypatch.setattr(RgbConverter, "_through_graph", drifting)
    data = _encode("yuv420p", n=8)
    converted, graph_kept = _converted(data)
    assert not graph_kept and calls["n"] == 5
    assert np.array_equal(converted, _reference(data))  # the drifted frame was never used


def test_shrinking_uses_the_area_scaler() -> None:
    data = _encode("yuv420p", width=160, height=96, n=3)
    converted, graph_kept = _converted(data, 80, 48)
    assert converted.shape == (3, 48, 80, 3) and not graph_kept
    assert np.array_equal(converted, _reference(data, 80, 48))


def test_a_stream_that_changes_size_midway_fills_the_planned_size(tmp_path: Path) -> None:
    # Two raw H.264 streams back to back: the second starts with a new, larger picture size.
    parts = [_h264_clip("h264", width, height, 5, seed=4) for width, height in ((64, 48), (96, 64))]
    path = tmp_path / "two-sizes.h264"
    path.write_bytes(b"".join(parts))
    plan = plan_decode(path)
    frames = decode_frames(path, plan=plan)
    assert frames.shape[1:] == (48, 64, 3) and frames.shape[0] == 10
    second = synth.test_frames(5, 96, 64, seed=4)[2].astype(np.float32) / 255
    # The larger frames arrive shrunk to the planned size, not garbage.
    small = np.asarray(
        av.VideoFrame.from_ndarray((second * 255).astype(np.uint8), format="rgb24")
        .reformat(width=64, height=48, interpolation="AREA")
        .to_ndarray(),
        dtype=np.float32,
    )
    assert float(np.abs(frames[7] - small / 255).mean()) < 0.05


# --- conversion threads -------------------------------------------------------------------------------


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ltx2-decode-")]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("threads") / "clip.mp4"
    return encode_video_file(synth.test_frames(30, 96, 64, seed=5), 25, path)


def test_frames_land_in_order_whichever_thread_converts_them(clip: Path) -> None:
    frames = decode_frames(clip)
    reference = _as_float(_reference(clip.read_bytes()))
    assert np.array_equal(frames, reference)
    assert not _decode_threads()


def test_a_conversion_failure_names_the_frame_and_stops_every_thread(clip: Path, monkeypatch) -> None:
    original = RgbConverter.convert
    calls = {"n": 0}

    def failing(self, frame):
        calls["n"] += 1
        if calls["n"] == 7:
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
        return original(self, frame)

    monkeypatch.setattr(RgbConverter, "convert", failing)
    with pytest.raises(MediaError, match=r"Could not convert frame \d+ of the video"):
        decode_frames(clip)
    assert not _decode_threads()


def test_an_interrupt_stops_the_threads_too(clip: Path) -> None:
    seen: list[int] = []
    with pytest.raises(Interrupted):
        decode_frames(clip, on_frame=lambda i, n: seen.append(i), should_stop=lambda: len(seen) >= 4)
    assert not _decode_threads()


def test_two_to_four_conversion_threads_holding_little_memory(monkeypatch) -> None:
    assert 2 <= decode_module._converter_count() <= 4
    monkeypatch.setattr(decode_module.os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    assert decode_module._converter_count(25 << 20, 100 << 30) == 4  # many cores, long output
    assert decode_module._converter_count(100 << 20, 25 * (100 << 20)) == 2  # 25 frames of 4K
    monkeypatch.setattr(decode_module.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert decode_module._converter_count(25 << 20, 100 << 30) == 2


# --- page policy --------------------------------------------------------------------------------------


class _Recorder(pages.Pager):
    """A pager whose huge-page faults are scripted: records which slots probed."""

    def __init__(self, array: np.ndarray, slots: int, cheap) -> None:
        super().__init__(array, slots)
        self.cheap = cheap
        self.probed: list[int] = []
        self.huge_pages = 0  # huge pages asked for
        self._current = -1

    def prepare(self, slot: int) -> None:
        self._current = slot
        super().prepare(slot)

    def _populate_is_cheap(self, page: int) -> bool:
        if not self.probed or self.probed[-1] != self._current:
            self.probed.append(self._current)
        self.huge_pages += 1
        return self.cheap(self._current)


@pytest.fixture
def madvise_mode(monkeypatch):
    if pages._madvise is None:
        pytest.skip("madvise is Linux-only")
    monkeypatch.setattr(pages, "thp_mode", lambda: "madvise")


def _big(slots: int = 40) -> np.ndarray:
    return np.zeros((slots, 4 << 20), dtype=np.uint8)  # 4 MiB slots, 160 MiB in all


def test_cheap_huge_pages_are_used_for_every_slot(madvise_mode) -> None:
    array = _big()
    pager = _Recorder(array, 40, cheap=lambda slot: True)
    assert pager.enabled
    for slot in range(40):
        pager.prepare(slot)
    assert pager.probed == list(range(40))
    assert pager.huge_pages >= 70  # about two huge pages start in each 4 MiB slot


def test_dear_huge_pages_back_off_to_small_pages(madvise_mode) -> None:
    array = _big()
    pager = _Recorder(array, 40, cheap=lambda slot: False)
    for slot in range(40):
        pager.prepare(slot)
    # After each dear probe the next comes 1, 2, 4, 8, 16, 16 ... slots later.
    assert pager.probed == [0, 1, 3, 7, 15, 31]


def test_cheap_again_resets_the_backoff(madvise_mode) -> None:
    array = _big()
    pager = _Recorder(array, 40, cheap=lambda slot: slot >= 7)
    for slot in range(40):
        pager.prepare(slot)
    assert pager.probed == [0, 1, 3, 7, *range(8, 40)]


def test_the_pager_keeps_the_contents(madvise_mode) -> None:
    array = _big()
    array[:, ::4096] = 7
    pager = pages.Pager(array, 40)
    for slot in range(40):
        pager.prepare(slot)
    assert int(array[:, ::4096].min()) == 7 and int(array[:, 1::4096].max()) == 0


def test_no_pager_where_it_cannot_help(monkeypatch) -> None:
    monkeypatch.setattr(pages, "thp_mode", lambda: "madvise")
    assert not pages.Pager(np.zeros(1 << 20, np.uint8), 4).enabled  # small
    assert not pages.Pager(_big()[:, ::2], 40).enabled  # not contiguous
    monkeypatch.setattr(pages, "thp_mode", lambda: "always")
    assert not pages.Pager(_big(), 40).enabled  # the kernel already does it


def test_a_refused_madvise_turns_the_pager_off(madvise_mode, monkeypatch) -> None:
    pager = pages.Pager(_big(), 40)
    monkeypatch.setattr(pages, "_madvise", lambda *args: -1)
    pager.prepare(0)  # no exception: paging is left to the kernel
    assert not pager.enabled


def test_a_large_fresh_decode_with_the_pager_keeps_the_values(tmp_path: Path, monkeypatch) -> None:
    # 24 frames of 1280x720 float32 = 265 MB: large enough for the pager.
    monkeypatch.setattr(pages, "thp_mode", lambda: "madvise")
    path = encode_video_file(synth.test_frames(24, 1280, 720, seed=6), 25, tmp_path / "720p.mp4")
    made: list[pages.Pager] = []

    class Spy(pages.Pager):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(decode_module, "Pager", Spy)
    frames = decode_frames(path)
    assert made and made[0].enabled == (pages._madvise is not None)
    reference = _as_float(_reference(path.read_bytes()))
    assert np.array_equal(frames, reference)


# --- one opening ----------------------------------------------------------------------------------------


def _count_opens(monkeypatch) -> list[object]:
    opened: list[object] = []
    real_open = av.open

    def counting(target, *args, **kwargs):
        opened.append(target)
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting)
    return opened


def test_an_mp4_is_opened_once_for_plan_and_frames(clip: Path, monkeypatch) -> None:
    from ltx2_nodes.nodes.convert import decode_frames_tensor

    opened = _count_opens(monkeypatch)
    frames, fps = decode_frames_tensor(clip, max_side=48)
    assert len(opened) == 1 and tuple(frames.shape) == (30, 32, 48, 3) and fps == 25.0


def test_a_file_without_a_frame_count_is_read_again_after_counting(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "clip.mkv"
    path.write_bytes(_h264_clip("matroska", 64, 48, 8, seed=8))
    opened = _count_opens(monkeypatch)
    frames = decode_frames(path)
    assert len(opened) == 2 and frames.shape == (8, 48, 64, 3)
    assert float(frames[-1].mean()) > 0.01  # the frames themselves were decoded, not just counted

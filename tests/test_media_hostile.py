"""Hostile and odd media never crash the process: any channel count, decompression bombs, empty,
truncated and undecodable files, zero-frame and odd-sized videos. Broken inputs are refused locally,
naming the input, before any request reaches a provider. All media is made here, in code.

Paths that crashed the interpreter (a segfault inside PyAV) run in a subprocess, so a crash is a
failed test and not the end of the test run."""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import subprocess
import sys
import threading
import wave
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.cli.main import main as cli_main
from ltx2_nodes.api.emulator.render import ClipSpec, render_clip
from ltx2_nodes.api.errors import Interrupted, InvalidInputError, LTX2Error, MediaError
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.decode import DecodePlan, check_fits_in_memory, decode_frames, plan_decode
from ltx2_nodes.api.media.inputs import media_from_bytes, media_from_file
from ltx2_nodes.api.media.probe import MAX_IMAGE_PIXELS, probe
from ltx2_nodes.api.providers import providers_for_mode
from ltx2_nodes.api.types import MediaKind, Mode
from ltx2_nodes.nodes.comfy import interrupt_current_processing, processing_interrupted
from ltx2_nodes.nodes.convert import decode_frames_tensor
from ltx2_nodes.nodes.decode import LTX2DecodeVideo
from ltx2_nodes.nodes.errors import LTX2InputError, LTX2NodeError
from ltx2_nodes.nodes.video import LTX2Video

# --- media made in code ------------------------------------------------------------------------------


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels: a few KB that decode to gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def zero_sample_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
    return buf.getvalue()


def zero_frame_mp4(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # header and an empty track, no frame
    assert path.stat().st_size > 0
    return path


@pytest.fixture(scope="module")
def good() -> dict[str, bytes]:
    return {
        "png": synth.test_png(96, 64, seed=1),
        "wav": synth.test_wav(2.5, seed=2),
        "mp4": synth.test_mp4(3.2, 96, 64, fps=25, seed=3),
    }


@pytest.fixture(scope="module")
def broken(good: dict[str, bytes]) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, suffix) of inputs that must never be sent."""
    rng = np.random.default_rng(5)
    return {
        "truncated.png": (good["png"][: len(good["png"]) // 2], ".png"),
        "empty.wav": (zero_sample_wav(), ".wav"),
        "truncated.wav": (good["wav"][: len(good["wav"]) // 2], ".wav"),
        "truncated.mp4": (good["mp4"][: len(good["mp4"]) * 2 // 3], ".mp4"),
        "noise.bin": (rng.integers(0, 256, 6000, dtype=np.uint8).tobytes(), ".bin"),
        "zero.png": (b"", ".png"),
    }


# --- any channel count (in a subprocess: these used to segfault) ----------------------------------------

_CHANNELS_SCRIPT = r"""
import asyncio, json, os, sys, tempfile
from fractions import Fraction
from pathlib import Path
import av, numpy as np, torch
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.decode import decode_audio
from ltx2_nodes.api.media.encode import encode_audio
from ltx2_nodes.api.media.inputs import media_from_file
from ltx2_nodes.api.emulator.render import ClipSpec, render_clip, render_control
from ltx2_nodes.api.types import MediaKind
from ltx2_nodes.nodes.convert import audio_to_media, decode_audio_dict, frames_to_media
from ltx2_nodes.nodes.decode import LTX2DecodeVideo
from ltx2_nodes.nodes.outputs import DecodeOptions, decode_outputs
from ltx2_nodes.nodes.video import LTX2Video

tmp = Path(sys.argv[1])
out = {}
for channels in (1, 2, 6, 8, 9, 16, 64):
    wave = synth.speech_like_audio(0.4, 48000, channels, seed=channels)
    decoded = decode_audio(encode_audio(wave, 48000, "wav"))
    out[f"wav{channels}"] = [list(decoded.waveform.shape), float(np.abs(decoded.waveform - wave).max())]

# An MP4 whose AAC track has 8 channels (7.1): the shape of a hostile provider result.
clip = tmp / "wide.mp4"
frames = synth.test_frames(25, 64, 48, seed=1)
wide = synth.speech_like_audio(1.0, 48000, 8, seed=1)
with av.open(str(clip), "w", format="mp4") as container:
    video = container.add_stream("libx264", rate=25)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    sound = container.add_stream("aac", rate=48000)
    sound.layout = "7.1"
    for i, picture in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = i
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    for start in range(0, wide.shape[1], 1024):
        chunk = np.ascontiguousarray(wide[:, start:start + 1024].T).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="7.1")
        frame.sample_rate, frame.pts = 48000, start
        for packet in sound.encode(frame):
            container.mux(packet)
    for packet in sound.encode(None):
        container.mux(packet)

out["generation_node_audio"] = list(decode_outputs(clip, DecodeOptions(), frames_wanted=True).audio["waveform"].shape)
out["decode_audio_dict"] = list(decode_audio_dict(clip)["waveform"].shape)
frames_out, audio_out, fps, count = asyncio.run(LTX2DecodeVideo().decode(LTX2Video(clip)))
out["decode_node"] = [list(frames_out.shape), list(audio_out["waveform"].shape), fps, count]


class InMemoryVideo:  # ComfyUI's VideoFromFile(BytesIO): its own get_components would crash
    def __init__(self, data):
        import io
        self.data = data
    def get_stream_source(self):
        import io
        return io.BytesIO(self.data)
    def get_components(self):
        raise AssertionError("the pack decodes in-memory videos itself")


frames_mem, audio_mem, _, _ = asyncio.run(LTX2DecodeVideo().decode(InMemoryVideo(clip.read_bytes())))
out["decode_node_in_memory"] = [list(frames_mem.shape), list(audio_mem["waveform"].shape)]
tensor_audio = {"waveform": torch.from_numpy(wide).unsqueeze(0), "sample_rate": 48000}
out["audio_input"] = audio_to_media(tensor_audio).info.channels
out["frames_input"] = frames_to_media(torch.from_numpy(frames.astype(np.float32) / 255), 25.0, audio=tensor_audio).info.channels

# The emulator renders with it: audio-to-video carries the track, control preserves it.
wav8 = encode_audio(wide, 48000, "wav")
out["emulator_clip"] = len(render_clip(ClipSpec(64, 48, 25.0, None, "x", 1, audio=wav8)))
out["emulator_control"] = len(render_control(clip.read_bytes(), "canny", "preserve", 64, 48, 25.0))
out["input_probe"] = media_from_file(clip, MediaKind.AUDIO).info.channels
print(json.dumps(out))
"""


def test_any_channel_count_decodes_on_every_path(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHANNELS_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LTX2_OUTPUT_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, (
        f"exit {done.returncode} (negative = killed by a signal):\n{done.stderr[-2000:]}"
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for channels in (1, 2, 6, 8, 9, 16, 64):
        shape, error = out[f"wav{channels}"]
        assert shape == [channels, 19200] and error < 1e-4  # 16-bit WAV: exact to 1/32768
    assert out["generation_node_audio"][:2] == [1, 8] and out["decode_audio_dict"][:2] == [1, 8]
    assert out["decode_node"][0] == [25, 48, 64, 3] and out["decode_node"][1][:2] == [1, 8]
    assert out["decode_node_in_memory"] == [out["decode_node"][0], out["decode_node"][1]]
    assert out["audio_input"] == 8  # WAV keeps every channel
    assert out["frames_input"] == 2  # AAC in MP4 is folded to stereo
    assert out["emulator_clip"] > 0 and out["emulator_control"] > 0 and out["input_probe"] == 8


# --- decompression bombs --------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [10_000, 20_000])  # over our bound; over Pillow's own (2x) bound
def test_decompression_bomb_is_a_media_error_naming_the_input(tmp_path: Path, side: int) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(side, side))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(MediaError, match="pixels") as caught:
        media_from_file(bomb, MediaKind.IMAGE)
    assert "bomb.png" in str(caught.value) and f"{MAX_IMAGE_PIXELS:,}" in str(caught.value)
    with pytest.raises(MediaError, match="pixels"):
        probe(bomb.read_bytes())  # what the emulator's own probing calls


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_emulator_render_refuses_a_bomb_without_decoding_it() -> None:
    with pytest.raises(ValueError, match="10000x10000 pixels"):
        render_clip(ClipSpec(64, 48, 25.0, 0.4, "x", 1, image=png_bomb(10_000, 10_000)))
    with pytest.raises(ValueError, match="decompression bomb"):  # Pillow's own bound, at open
        render_clip(ClipSpec(64, 48, 25.0, 0.4, "x", 1, image=png_bomb(20_000, 20_000)))


# --- broken inputs are refused locally, on every provider --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("truncated.png", MediaKind.IMAGE),
        ("empty.wav", MediaKind.AUDIO),
        ("truncated.wav", MediaKind.AUDIO),
        ("truncated.mp4", MediaKind.VIDEO),
        ("truncated.mp4", MediaKind.AUDIO),
        ("noise.bin", MediaKind.VIDEO),
        ("noise.bin", MediaKind.IMAGE),
    ],
)
def test_broken_media_is_refused_naming_the_input(broken, name: str, kind: MediaKind) -> None:
    data, _ = broken[name]
    with pytest.raises(MediaError) as caught:
        media_from_bytes(data, kind, filename=name)
    assert name in str(caught.value)


def test_whole_media_still_passes(good: dict[str, bytes]) -> None:
    assert media_from_bytes(good["png"], MediaKind.IMAGE).info.width == 96
    assert media_from_bytes(good["wav"], MediaKind.AUDIO).info.duration == pytest.approx(2.5)
    info = media_from_bytes(good["mp4"], MediaKind.VIDEO).info
    assert (info.frame_count, info.has_audio) == (80, True)


# Each mode that takes media, with the CLI flag of each media input it needs.
_MEDIA_FLAGS = {
    Mode.IMAGE_TO_VIDEO: {"image": "--image"},
    Mode.AUDIO_TO_VIDEO: {"audio": "--audio"},
    Mode.LIPSYNC: {"image": "--image", "audio": "--audio"},
    Mode.RETAKE: {"video": "--video"},
    Mode.EXTEND: {"video": "--video"},
    Mode.CONTROL: {"video": "--video"},
    Mode.REFRAME: {"video": "--video"},
}
_BROKEN_FOR = {
    "image": ["truncated.png", "noise.bin", "zero.png"],
    "audio": ["empty.wav", "truncated.wav", "noise.bin"],
    "video": ["truncated.mp4", "noise.bin"],
}


def test_no_provider_is_sent_a_broken_input(emu_env, tmp_path: Path, good, broken, capsys) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    whole = {"image": "good.png", "audio": "good.wav", "video": "good.mp4"}
    for name in whole.values():
        (folder / name).write_bytes(good[name.rsplit(".", 1)[1]])
    for name, (data, _) in broken.items():
        (folder / name).write_bytes(data)
    runs = 0
    for mode, flags in _MEDIA_FLAGS.items():
        for provider in providers_for_mode(mode):
            for bad_kind in flags:
                for bad in _BROKEN_FOR[bad_kind]:
                    args = ["generate", "--provider", provider.name, "--mode", mode.value, "--prompt", "x"]
                    for kind, flag in flags.items():
                        args += [flag, str(folder / (bad if kind == bad_kind else whole[kind]))]
                    args += ["-o", str(tmp_path / "out.mp4")]
                    assert cli_main(args) == 1, args
                    err = capsys.readouterr().err
                    assert bad in err and "Traceback" not in err, (args, err)
                    runs += 1
    assert runs >= 20
    assert emu_env.emulator.log == []  # nothing uploaded, nothing submitted, nothing polled
    assert not (tmp_path / "out.mp4").exists()


# --- odd videos ------------------------------------------------------------------------------------------


def test_zero_frame_video_is_refused_cleanly(tmp_path: Path) -> None:
    clip = zero_frame_mp4(tmp_path / "empty.mp4")
    with pytest.raises(MediaError) as caught:
        media_from_file(clip, MediaKind.VIDEO)
    assert "empty.mp4" in str(caught.value)
    with pytest.raises((LTX2InputError, LTX2NodeError), match=r"no video stream|no decodable frames"):
        asyncio.run(LTX2DecodeVideo().decode(LTX2Video(clip)))


def test_odd_sized_video_decodes_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "odd.mkv"
    frames = synth.test_frames(6, 37, 23, seed=4)
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=Fraction(25, 1))  # lossless, any size
        stream.width, stream.height, stream.pix_fmt = 37, 23, "yuv444p"
        for i, picture in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    decoded = decode_frames(path)
    assert decoded.shape == (6, 23, 37, 3)
    assert float(np.abs(decoded * 255 - frames).mean()) < 3.0
    assert decode_frames(path, max_side=20).shape == plan_decode(path, max_side=20).shape


def test_a_decode_larger_than_memory_is_refused_before_allocating() -> None:
    huge = DecodePlan(
        frame_count=10**6,
        height=4320,
        width=7680,
        fps=25,
        source_frame_count=10**6,
        source_fps=25,
        duration=40_000,
    )
    with pytest.raises(MediaError, match="max_frames or max_side"):
        check_fits_in_memory(huge)
    check_fits_in_memory(DecodePlan(1, 8, 8, 25, 1, 25, 0.04))


# --- values, interrupts, threads -------------------------------------------------------------------------


def test_frames_equal_plain_rgb24_over_255(tmp_path: Path) -> None:
    path = tmp_path / "c.mp4"
    path.write_bytes(synth.test_mp4(1.0, 160, 96, fps=25, audio=False, seed=9))
    ours = decode_frames(path)
    with av.open(str(path)) as container:
        plain = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert ours.dtype == np.float32 and ours.shape == plain.shape
    assert float(np.abs(ours - plain / 255.0).max()) <= 1e-6
    small = decode_frames(path, max_side=80)
    with av.open(str(path)) as container:
        plain_small = np.stack(
            [
                f.to_ndarray(format="rgb24", width=80, height=48, interpolation="AREA")
                for f in container.decode(video=0)
            ]
        )
    assert float(np.abs(small - plain_small / 255.0).max()) <= 1e-6


def test_decode_stops_between_frames_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "c.mp4"
    path.write_bytes(synth.test_mp4(1.0, 96, 64, fps=25, audio=False, seed=9))
    before = threading.active_count()
    seen: list[int] = []
    with pytest.raises(Interrupted):
        decode_frames(path, on_frame=lambda i, n: seen.append(i), should_stop=lambda: len(seen) >= 3)
    assert seen == [1, 2, 3]
    assert threading.active_count() == before  # the conversion thread ended with the decode
    interrupt_current_processing(True)  # the local flag stands in for ComfyUI's Cancel
    try:
        with pytest.raises(Interrupted):
            decode_frames_tensor(path)
        assert not processing_interrupted()  # handled, so the next run starts clean
    finally:
        interrupt_current_processing(False)
    assert decode_frames_tensor(path)[0].shape[0] == 25


def test_invalid_input_error_still_names_empty_bytes() -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        media_from_bytes(b"", MediaKind.AUDIO, filename="nothing.wav")


# --- any bytes: accepted whole or refused with a typed error, nothing else ----------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.sampled_from(["png", "wav", "mp4"]),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.integers(0, 10**6), max_size=4),
)
def test_damaged_media_is_accepted_whole_or_refused_typed(
    good, source: str, cut: float, flips: list[int]
) -> None:
    data = bytearray(good[source][: max(1, int(len(good[source]) * cut))])
    for position in flips:
        data[position % len(data)] ^= 0x5A
    kind = {"png": MediaKind.IMAGE, "wav": MediaKind.AUDIO, "mp4": MediaKind.VIDEO}[source]
    try:
        media = media_from_bytes(bytes(data), kind, filename=f"input.{source}")
    except LTX2Error as exc:
        assert "input." in str(exc) or "empty" in str(exc)
        return
    assert media.info is not None


# --- the emulator survives what a careless client would send it ----------------------------------------------


def test_emulator_survives_broken_images_sent_past_the_local_checks(emu_env, tmp_path: Path, good) -> None:
    from ltx2_nodes.api import runner
    from ltx2_nodes.api.journal import Journal
    from ltx2_nodes.api.types import GenerationRequest, MediaInput

    emu = emu_env.emulator
    emu.config.queue_seconds = emu.config.processing_seconds = 0.0
    settings_ = runner.RunSettings(
        output_dir=tmp_path / "out",
        journal=Journal(tmp_path / "journal.sqlite3"),
        poll_interval=0.02,
        poll_timeout=60,
        use_cache=False,
    )
    whole = media_from_bytes(good["png"], MediaKind.IMAGE)

    def i2v(data: bytes, seed: int) -> object:
        image = MediaInput(MediaKind.IMAGE, "image/png", data=data, filename="x.png", info=whole.info)
        req = GenerationRequest(
            provider="ltx", mode=Mode.IMAGE_TO_VIDEO, prompt="a kite", image=image, seed=seed
        )
        return asyncio.run(runner.generate(req, settings_))

    for seed, data in enumerate([good["png"][: len(good["png"]) // 2], png_bomb(20_000, 20_000)]):
        with pytest.raises(LTX2Error):  # refused at submit or failed as a job: never a dead emulator
            i2v(data, seed)
    result = i2v(good["png"], 99)  # and it still renders the next request
    info = probe(Path(result.path))  # type: ignore[attr-defined]
    assert info.video_codec == "h264" and (info.frame_count or 0) > 0

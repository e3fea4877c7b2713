"""Media: encode -> probe -> decode round trips, in-place decoding, content detection, input builders."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from ltx2_nodes.api.errors import InvalidInputError, MediaError
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.decode import (
    decode_audio,
    decode_frames,
    decode_video_bytes,
    output_frame_count,
    plan_decode,
    scaled_size,
)
from ltx2_nodes.api.media.encode import (
    encode_audio,
    encode_image,
    encode_video,
    encode_video_file,
    exact_fps,
    faststart,
)
from ltx2_nodes.api.media.inputs import media_from_bytes, media_from_file, media_from_source, media_from_url
from ltx2_nodes.api.media.probe import detect_content_type, detect_kind, probe
from ltx2_nodes.api.types import MediaKind
from PIL import Image

AAC_FRAME = 1024  # samples: the padding an AAC round trip may add or drop


# ------------------------------------------------------------------------------------------
# shared clips (module scope: encoded once)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return synth.test_frames(25, 96, 64, seed=1)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return synth.speech_like_audio(1.0, 44100, channels=2, seed=2)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, frames: np.ndarray, speech: np.ndarray) -> Path:
    """25 frames at 25 fps, 96x64, stereo 44.1 kHz AAC."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    return encode_video_file(frames, 25, path, audio=speech, sample_rate=44100)


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory: pytest.TempPathFactory, frames: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("media") / "silent.mp4"
    path.write_bytes(encode_video(frames[:9], 25))
    return path


def _mkv(fmt: str, codec: str, n: int = 10) -> bytes:
    """A small Matroska/WebM file (their headers carry no frame count)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in synth.test_frames(n, 64, 48):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def _audio_file(fmt: str, codec: str) -> bytes:
    buf = io.BytesIO()
    wav = synth.speech_like_audio(0.5, 48000)
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=48000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(wav, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------
# video round trips


@pytest.mark.parametrize("as_float", [False, True])
def test_video_round_trip_keeps_size_fps_frames_and_pixels(
    tmp_path: Path, frames: np.ndarray, as_float: bool
) -> None:
    source = frames.astype(np.float32) / 255.0 if as_float else frames
    path = tmp_path / "rt.mp4"
    path.write_bytes(encode_video(source, 25))
    info = probe(path)
    assert (info.width, info.height, info.frame_count, info.fps) == (96, 64, 25, 25.0)
    assert info.format == "mp4" and info.video_codec == "h264" and info.has_audio is False
    assert info.duration == pytest.approx(1.0, abs=0.01)
    decoded = decode_frames(path)
    assert decoded.dtype == np.float32 and decoded.shape == (25, 64, 96, 3)
    assert decoded.min() >= 0.0 and decoded.max() <= 1.0
    assert np.abs(decoded - frames / 255.0).mean() < 0.02


def test_ntsc_frame_rate_is_exact(tmp_path: Path, frames: np.ndarray) -> None:
    data = encode_video(frames[:12], 23.976)
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].average_rate == Fraction(24000, 1001)
    assert probe(data).fps == pytest.approx(24000 / 1001, rel=1e-9)
    assert exact_fps(25) == Fraction(25, 1) and exact_fps(29.97) == Fraction(30000, 1001)
    assert exact_fps(12.5) == Fraction(25, 2) and exact_fps(50.0) == Fraction(50, 1)


def test_odd_sizes_are_padded_to_even(frames: np.ndarray) -> None:
    odd = frames[:9, :63, :95]
    info = probe(encode_video(odd, 25))
    assert (info.width, info.height, info.frame_count) == (96, 64, 9)
    decoded, _, _ = decode_video_bytes(encode_video(odd, 25))
    # The padding repeats the last column/row: the visible part matches the source.
    assert np.abs(decoded[:, :63, :95] - odd / 255.0).mean() < 0.03


def test_model_style_frame_count_survives(frames: np.ndarray) -> None:
    clip = np.concatenate([frames, frames[:8]])  # 33 = 8k+1 frames
    info = probe(encode_video(clip, 50))
    assert info.frame_count == 33 and info.fps == 50.0


def test_video_audio_round_trip(clip: Path, speech: np.ndarray) -> None:
    info = probe(clip)
    assert info.has_audio and info.sample_rate == 44100 and info.channels == 2
    audio = decode_audio(clip)
    assert audio is not None and audio.sample_rate == 44100
    assert audio.waveform.dtype == np.float32 and audio.waveform.shape[0] == 2
    assert abs(audio.waveform.shape[1] - speech.shape[1]) <= max(AAC_FRAME, speech.shape[1] // 100)
    mono = decode_audio(clip, mono=True)
    assert mono is not None and mono.waveform.shape == (1, audio.waveform.shape[1])
    # AAC keeps the signal: the decoded energy is close to the source's.
    assert np.sqrt(np.mean(audio.waveform**2)) == pytest.approx(np.sqrt(np.mean(speech**2)), rel=0.15)


def test_audio_resampled_for_aac_and_mono_kept(tmp_path: Path, frames: np.ndarray) -> None:
    wav = synth.speech_like_audio(0.5, 22000, channels=1)
    data = encode_video(frames[:12], 24, audio=wav, sample_rate=22000)
    info = probe(data)
    assert info.channels == 1 and info.sample_rate == 22050
    audio = decode_audio(data)  # bytes work as well as paths
    assert audio is not None and audio.waveform.shape[0] == 1
    assert audio.duration == pytest.approx(0.5, abs=AAC_FRAME / 22050 + 0.005)


def test_no_audio_track_decodes_to_none(silent_clip: Path) -> None:
    assert decode_audio(silent_clip) is None


def test_mp4_index_is_at_the_front(tmp_path: Path, frames: np.ndarray) -> None:
    data = encode_video(frames[:5], 25)
    assert data[4:8] == b"ftyp" and 0 < data.find(b"moov") < data.find(b"mdat")
    path = encode_video_file(frames[:5], 25, tmp_path / "sub" / "f.mp4")
    on_disk = path.read_bytes()
    assert 0 < on_disk.find(b"moov") < on_disk.find(b"mdat")
    assert faststart(data) == data  # already at the front: unchanged


def test_bad_video_inputs_raise_media_error(frames: np.ndarray) -> None:
    with pytest.raises(MediaError, match="shape"):
        encode_video(frames[0], 25)
    with pytest.raises(MediaError, match="Frame rate"):
        encode_video(frames[:2], 0)
    with pytest.raises(MediaError, match="sample_rate"):
        encode_video(frames[:2], 25, audio=np.zeros((1, 100), np.float32))


# ------------------------------------------------------------------------------------------
# decoding options and memory


def test_decode_into_given_array_shares_memory(clip: Path) -> None:
    plan = plan_decode(clip)
    out = np.full(plan.shape, -1.0, dtype=np.float32)
    result = decode_frames(clip, out=out)
    assert np.shares_memory(result, out) and result.shape == plan.shape
    assert out.min() >= 0.0  # every slot written


def test_larger_out_is_trimmed_view(clip: Path) -> None:
    out = np.full((40, 64, 96, 3), -1.0, dtype=np.float32)
    result = decode_frames(clip, out=out)
    assert result.shape[0] == 25 and np.shares_memory(result, out)
    assert (out[25:] == -1.0).all()


def test_truncated_file_returns_the_frames_that_decode(frames: np.ndarray) -> None:
    data = encode_video(frames, 25)
    cut = data[: len(data) * 2 // 3]  # the index still announces 25 frames
    assert plan_decode(cut).frame_count == 25
    out = np.zeros((25, 64, 96, 3), np.float32)
    result = decode_frames(cut, out=out)
    assert 0 < result.shape[0] < 25 and np.shares_memory(result, out)
    assert np.abs(result - frames[: result.shape[0]] / 255.0).mean() < 0.02


def test_wrong_out_shape_is_refused(clip: Path) -> None:
    with pytest.raises(MediaError, match="needs"):
        decode_frames(clip, out=np.empty((25, 32, 32, 3), np.float32))
    with pytest.raises(MediaError, match="float"):
        decode_frames(clip, out=np.empty((25, 64, 96, 3), np.uint8))


def test_allocate_receives_planned_shape_and_progress(clip: Path) -> None:
    seen: list[tuple[int, ...]] = []
    progress: list[tuple[int, int]] = []

    def allocate(shape: tuple[int, int, int, int]) -> np.ndarray:
        seen.append(shape)
        return np.empty(shape, dtype=np.float32)

    plan = plan_decode(clip, max_frames=5, stride=2, max_side=48)
    result = decode_frames(
        clip,
        max_frames=5,
        stride=2,
        max_side=48,
        allocate=allocate,
        on_frame=lambda i, n: progress.append((i, n)),
    )
    assert seen == [plan.shape] == [(5, 32, 48, 3)]
    assert result.shape == plan.shape
    assert progress == [(i, 5) for i in range(1, 6)]


@pytest.mark.parametrize(
    ("max_frames", "stride", "max_side"), [(0, 1, 0), (7, 1, 0), (0, 3, 0), (4, 4, 50), (0, 2, 33)]
)
def test_plan_matches_decoded_shape(clip: Path, max_frames: int, stride: int, max_side: int) -> None:
    plan = plan_decode(clip, max_frames=max_frames, stride=stride, max_side=max_side)
    assert plan.source_frame_count == 25 and plan.source_fps == 25.0
    assert plan.fps == pytest.approx(25.0 / stride) and plan.duration == pytest.approx(1.0, abs=0.01)
    assert plan.frame_count == output_frame_count(25, max_frames, stride)
    assert (plan.width, plan.height) == scaled_size(96, 64, max_side)
    decoded = decode_frames(clip, max_frames=max_frames, stride=stride, max_side=max_side)
    assert decoded.shape == plan.shape


def test_stride_picks_every_nth_frame(clip: Path) -> None:
    full = decode_frames(clip)
    strided = decode_frames(clip, stride=3)
    np.testing.assert_array_equal(strided, full[::3])


def test_mkv_frame_count_from_packets(tmp_path: Path) -> None:
    path = tmp_path / "v.mkv"
    path.write_bytes(_mkv("matroska", "libx264", n=11))
    info = probe(path)
    assert info.format == "mkv" and info.frame_count == 11
    plan = plan_decode(path)
    assert plan.source_frame_count == 11 and decode_frames(path).shape == (11, 48, 64, 3)


def test_garbage_raises_media_error(tmp_path: Path) -> None:
    junk = b"this is not media at all " * 40
    with pytest.raises(MediaError, match="Unrecognised media data"):
        probe(junk)
    with pytest.raises(MediaError, match="empty"):
        probe(b"")
    path = tmp_path / "junk.mp4"
    path.write_bytes(junk)
    with pytest.raises(MediaError):
        plan_decode(path)
    with pytest.raises(MediaError):
        decode_frames(path)
    with pytest.raises(MediaError, match="does not exist"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="no video stream"):
        plan_decode(encode_audio(synth.speech_like_audio(0.2, 16000), 16000, "m4a"))


# ------------------------------------------------------------------------------------------
# images and audio


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_image_formats_probe(fmt: str) -> None:
    image = synth.test_image(65, 33)
    data = encode_image(image, fmt)
    info = probe(data)
    assert (info.width, info.height, info.format) == (65, 33, fmt)
    assert detect_content_type(data) == f"image/{fmt}" and detect_kind(data) is MediaKind.IMAGE
    with Image.open(io.BytesIO(data)) as img:
        back = np.asarray(img.convert("RGB"), dtype=np.float32)
    assert np.abs(back - image).mean() < (0.5 if fmt == "png" else 8.0)


def test_image_modes_and_float_input() -> None:
    image = synth.test_image(20, 10)
    assert encode_image(image.astype(np.float32) / 255.0) == encode_image(image)
    rgba = np.dstack([image, np.full((10, 20), 128, np.uint8)])
    with Image.open(io.BytesIO(encode_image(rgba))) as img:
        assert img.mode == "RGBA"
    with Image.open(io.BytesIO(encode_image(rgba, "jpeg"))) as img:
        assert img.mode == "RGB"  # JPEG drops alpha
    with Image.open(io.BytesIO(encode_image(image[:, :, 0]))) as img:
        assert img.mode == "L"
    assert len(encode_image(image, png_compress_level=9)) <= len(encode_image(image, png_compress_level=1))
    with pytest.raises(MediaError, match="bmp"):
        encode_image(image, "bmp")
    with pytest.raises(MediaError, match="shape"):
        encode_image(np.zeros((4, 4, 2), np.uint8))


@pytest.mark.parametrize(
    ("fmt", "rate", "channels"),
    [("wav", 48000, 1), ("wav", 44100, 2), ("m4a", 48000, 2), ("m4a", 16000, 1), ("mp3", 44100, 2)],
)
def test_audio_formats_probe_duration(fmt: str, rate: int, channels: int) -> None:
    wav = synth.speech_like_audio(1.5, rate, channels)
    data = encode_audio(wav, rate, fmt)
    info = probe(data)
    assert info.format == fmt and info.has_audio and info.channels == channels and info.sample_rate == rate
    assert info.duration == pytest.approx(1.5, abs=0.03)
    assert detect_kind(data) is MediaKind.AUDIO
    decoded = decode_audio(data)
    assert decoded is not None and decoded.waveform.shape[0] == channels
    assert decoded.duration == pytest.approx(1.5, abs=0.06)  # MP3 adds up to one frame of delay


def test_wav_is_exact_16_bit() -> None:
    wav = synth.speech_like_audio(0.25, 8000)
    data = encode_audio(wav[0], 8000)  # [T] accepted
    decoded = decode_audio(data)
    assert decoded is not None and decoded.waveform.shape == wav.shape
    assert np.abs(decoded.waveform - wav).max() <= 0.5 / 32768 + 1e-7


def test_bad_audio_inputs() -> None:
    with pytest.raises(MediaError, match="ogg"):
        encode_audio(np.zeros(10, np.float32), 8000, "ogg")
    with pytest.raises(MediaError, match="samples, channels"):
        encode_audio(np.zeros((1000, 2), np.float32), 8000)
    with pytest.raises(MediaError, match="positive"):
        encode_audio(np.zeros((2, 2000), np.float32), 0, "mp3")


# ------------------------------------------------------------------------------------------
# content detection


def _container_samples() -> dict[str, tuple[bytes, str]]:
    img = synth.test_image(16, 16)
    gif = io.BytesIO()
    Image.fromarray(img).save(gif, format="GIF")
    mov = io.BytesIO()
    with av.open(mov, "w", format="mov") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in synth.test_frames(3, 64, 48):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    speech = synth.speech_like_audio(0.3, 48000)
    return {
        "png": (encode_image(img, "png"), "image/png"),
        "jpeg": (encode_image(img, "jpeg"), "image/jpeg"),
        "webp": (encode_image(img, "webp"), "image/webp"),
        "gif": (gif.getvalue(), "image/gif"),
        "wav": (encode_audio(speech, 48000), "audio/wav"),
        "mp3": (encode_audio(speech, 48000, "mp3"), "audio/mpeg"),
        "m4a": (encode_audio(speech, 48000, "m4a"), "audio/mp4"),
        "ogg": (_audio_file("ogg", "libopus"), "audio/ogg"),
        "flac": (_audio_file("flac", "flac"), "audio/flac"),
        "mp4": (encode_video(synth.test_frames(3, 64, 48), 25), "video/mp4"),
        "mov": (mov.getvalue(), "video/quicktime"),
        "mkv": (_mkv("matroska", "libx264", 3), "video/x-matroska"),
        "webm": (_mkv("webm", "libvpx-vp9", 3), "video/webm"),
    }


def test_detect_content_type_and_probe_format_for_each_container() -> None:
    for fmt, (data, ctype) in _container_samples().items():
        assert detect_content_type(data) == ctype, fmt
        assert probe(data).format == fmt, fmt
        expected = {"image": MediaKind.IMAGE, "audio": MediaKind.AUDIO, "video": MediaKind.VIDEO}[
            ctype.split("/")[0]
        ]
        assert detect_kind(data) is expected, fmt
    # A bare MP3 frame (no ID3 tag) and unknown bytes.
    assert detect_content_type(b"\xff\xfb\x90\x64" + bytes(100)) == "audio/mpeg"
    assert detect_content_type(b"\xff\xf1\x50\x80" + bytes(100)) == "audio/aac"
    assert detect_content_type(b"hello world") == "application/octet-stream"


# ------------------------------------------------------------------------------------------
# input builders


def test_media_from_bytes_probes_and_detects(frames: np.ndarray) -> None:
    data = encode_video(frames[:9], 25)
    media = media_from_bytes(data, MediaKind.VIDEO)
    assert media.content_type == "video/mp4" and media.filename == "video.mp4"
    assert media.info.frame_count == 9 and media.info.width == 96 and media.size == len(data)
    png = media_from_bytes(synth.test_png(10, 8), MediaKind.IMAGE, filename="x.png")
    assert png.content_type == "image/png" and (png.info.width, png.info.height) == (10, 8)
    given = media_from_bytes(synth.test_wav(0.3), MediaKind.AUDIO, content_type="audio/x-wav")
    assert given.content_type == "audio/x-wav" and given.info.duration == pytest.approx(0.3, abs=0.01)


def test_media_from_bytes_refuses_wrong_kind(silent_clip: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        media_from_bytes(synth.test_png(8, 8), MediaKind.VIDEO)
    assert err.value.field == "video" and "png" in str(err.value)
    with pytest.raises(InvalidInputError, match="no audio track"):
        media_from_bytes(silent_clip.read_bytes(), MediaKind.AUDIO)
    with pytest.raises(MediaError, match="image input"):
        media_from_bytes(b"not an image at all, clearly" * 10, MediaKind.IMAGE)
    # An MP4's audio track may serve as audio (GMI accepts MP4 audio).
    assert media_from_bytes(synth.test_mp4(0.4, 64, 48), MediaKind.AUDIO).info.has_audio


def test_media_from_file_and_source(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    path.write_bytes(synth.test_wav(0.5, 16000))
    guessed = media_from_file(path)
    assert guessed.kind is MediaKind.AUDIO and guessed.filename == "speech.wav"
    assert guessed.info.sample_rate == 16000 and guessed.content_type == "audio/wav"
    assert media_from_source(str(path), MediaKind.AUDIO).data == path.read_bytes()
    assert media_from_source(path.as_uri(), MediaKind.AUDIO).info.duration == pytest.approx(0.5, abs=0.01)
    missing = tmp_path / "nope.png"
    with pytest.raises(InvalidInputError) as err:
        media_from_file(missing, MediaKind.IMAGE)
    assert str(missing) in str(err.value) and err.value.field == "image"
    with pytest.raises(InvalidInputError, match=r"nope\.png"):
        media_from_source(str(missing), MediaKind.IMAGE)


def test_media_from_url() -> None:
    media = media_from_url("https://cdn.example.com/a/clip.MP4?sig=1", MediaKind.VIDEO)
    assert media.url is not None and media.data is None and media.content_type == "video/mp4"
    assert media.filename == "clip.MP4" and media.info.duration is None
    assert media_from_url("http://127.0.0.1:9/x", MediaKind.IMAGE).content_type == "image/png"
    assert media_from_source("https://h.example/s.jpg", MediaKind.IMAGE).content_type == "image/jpeg"
    for bad in ("ftp://h.example/a.png", "s3://bucket/a.png", "https://", "javascript:alert(1)"):
        with pytest.raises(InvalidInputError) as err:
            media_from_url(bad, MediaKind.IMAGE)
        assert err.value.field == "image" and "http" in err.value.allowed
    with pytest.raises(InvalidInputError, match="'audio'"):
        media_from_source("ftp://h.example/a.wav", MediaKind.AUDIO)


# ------------------------------------------------------------------------------------------
# synthetic media


def test_synthetic_media_is_deterministic_and_varied() -> None:
    assert np.array_equal(synth.test_image(40, 30, seed=4), synth.test_image(40, 30, seed=4))
    assert not np.array_equal(synth.test_image(40, 30, seed=4), synth.test_image(40, 30, seed=5))
    image = synth.test_image(40, 30)
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8 and image.std() > 30
    clip = synth.test_frames(4, 32, 24)
    assert clip.shape == (4, 24, 32, 3)
    assert all(np.abs(clip[i].astype(int) - clip[i + 1]).mean() > 1 for i in range(3))
    audio = synth.speech_like_audio(2.0, 16000, channels=2, seed=1)
    assert audio.shape == (2, 32000) and audio.dtype == np.float32
    assert 0.7 < np.abs(audio).max() <= 0.8
    assert np.array_equal(audio, synth.speech_like_audio(2.0, 16000, channels=2, seed=1))


def test_speech_like_audio_has_syllables_and_voice_pitch() -> None:
    rate = 16000
    x = synth.speech_like_audio(4.0, rate, seed=3)[0]
    hop = rate // 100
    energy = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    voiced = energy > 0.1 * energy.max()
    onsets = int(np.sum(voiced[1:] & ~voiced[:-1]))
    assert 2.5 <= onsets / 4.0 <= 5.5  # about four syllables a second
    assert 0.3 < voiced.mean() < 0.9  # pauses between them
    pitches = []
    for start in range(0, len(x) - 1024, 1600):
        seg = x[start : start + 1024]
        if np.sqrt(np.mean(seg**2)) < 0.05:
            continue
        corr = np.correlate(seg, seg, "full")[1023:]
        lo, hi = rate // 260, rate // 80
        pitches.append(rate / (lo + int(np.argmax(corr[lo:hi]))))
    assert len(pitches) > 5 and min(pitches) >= 95 and max(pitches) <= 230


def test_synthetic_files_probe() -> None:
    info = probe(synth.test_mp4(1.0, 64, 48, fps=25))
    assert (info.width, info.height, info.frame_count, info.has_audio) == (64, 48, 25, True)
    assert probe(synth.test_mp4(0.4, 64, 48, audio=False)).has_audio is False
    assert probe(synth.test_wav(0.5, 24000)).duration == pytest.approx(0.5, abs=0.001)
    assert probe(synth.test_png(12, 7)).width == 12


@pytest.mark.parametrize("channels", [3, 6, 8])
def test_wide_audio_is_folded_to_stereo_for_compressed_formats(channels: int) -> None:
    from ltx2_nodes.api.media.encode import encode_audio, encode_video
    from ltx2_nodes.api.media.probe import probe

    rate = 48000
    wav = np.zeros((channels, rate), np.float32)
    wav[0::2] = 0.25  # left-side channels
    wav[1::2] = -0.5  # right-side channels
    for fmt in ("m4a", "mp3"):
        info = probe(encode_audio(wav, rate, fmt))
        assert info.channels == 2 and abs(info.duration - 1.0) < 0.1
    assert probe(encode_audio(wav, rate, "wav")).channels == channels  # WAV keeps every channel
    frames = np.zeros((25, 32, 32, 3), np.uint8)
    decoded = decode_audio(encode_video(frames, 25, audio=wav, sample_rate=rate))
    assert decoded.waveform.shape[0] == 2
    middle = decoded.waveform[:, rate // 4 : rate // 2]
    assert abs(float(middle[0].mean()) - 0.25) < 0.05 and abs(float(middle[1].mean()) + 0.5) < 0.05


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/a.png",
        "https://host:99999/a.png",
        "https://cdn.example.com/my file.png",
        "https://cdn.example.com/a\n.png",
        "ftp://cdn.example.com/a.png",
        "https:///a.png",
    ],
)
def test_malformed_urls_are_refused_naming_the_input(url: str) -> None:
    from ltx2_nodes.api.media.inputs import media_from_url
    from ltx2_nodes.api.types import MediaKind

    with pytest.raises(InvalidInputError) as info:
        media_from_url(url, MediaKind.IMAGE)
    assert info.value.field == "image" and "Allowed:" in str(info.value)

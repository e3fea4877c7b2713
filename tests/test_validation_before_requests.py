"""Every documented limit is checked before the first request: random invalid requests through
``runner.generate`` raise InvalidInputError naming the input, and the emulator sees nothing at all
(no upload, no submit)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import runner
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.errors import InvalidInputError
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.types import GenerationRequest, MediaInput, MediaKind, Mode
from test_providers_emulator_agree import PROMPT, audio, faked, image, video

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # media reprs are long

EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
T2V, I2V, A2V = Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO, Mode.AUDIO_TO_VIDEO
INPUT_NAMES = {f.name for f in dataclasses.fields(GenerationRequest)}


def req(provider: str, mode: Mode, **kw: Any) -> GenerationRequest:
    return GenerationRequest(provider=provider, mode=mode, **kw)


def gen(provider: str, mode: Mode, **kw: Any) -> GenerationRequest:
    """A valid text/image-to-video request of ``provider`` changed by ``kw``."""
    values: dict[str, Any] = {"prompt": PROMPT}
    if mode is I2V:
        values["image"] = image()
    values.update(kw)
    return req(provider, mode, **values)


def not_in(values: set[Any]) -> st.SearchStrategy[int]:
    return st.integers(-30, 60).filter(lambda v: v not in values)


GMI_DURATIONS = set(range(6, 21, 2))
GIF = MediaInput(MediaKind.IMAGE, "image/gif", data=b"GIF89a" + b"\0" * 64, filename="a.gif")
FLAC = MediaInput(MediaKind.AUDIO, "audio/flac", data=b"fLaC" + b"\0" * 64, filename="a.flac")
BIG_PNG = MediaInput(
    MediaKind.IMAGE, "image/png", data=b"\x89PNG\r\n\x1a\n" + bytes(15_000_001), filename="big.png"
)
BLANK = st.sampled_from(["", "   ", "\n"])
WORD = st.text("abcxyz_-", min_size=1, max_size=8)
GMI_GEN = st.sampled_from([T2V, I2V])
GMI_WEIRD_RESOLUTIONS = st.sampled_from(["1280x720", "1080x1920", "720p", "4k", "1920X1080"])


def gmi_invalid() -> st.SearchStrategy[GenerationRequest]:
    p = "gmi"
    return st.one_of(
        st.builds(lambda m, v: gen(p, m, prompt=v), GMI_GEN, BLANK),
        st.builds(lambda m, d: gen(p, m, model="ltx-2-fast", duration=d), GMI_GEN, not_in(GMI_DURATIONS)),
        st.builds(
            lambda m, d: gen(p, m, model="ltx-2-pro", duration=d), GMI_GEN, st.sampled_from([12, 14, 20, 5])
        ),
        st.builds(lambda m, r: gen(p, m, resolution=r), GMI_GEN, GMI_WEIRD_RESOLUTIONS),
        st.builds(lambda m, f: gen(p, m, fps=f), GMI_GEN, not_in({25, 50})),
        st.builds(
            lambda m, d, r, f: gen(p, m, model="ltx-2-fast", duration=d, resolution=r, fps=f),
            GMI_GEN,
            st.sampled_from([12, 16, 20]),
            st.sampled_from(["2560x1440", "3840x2160", "1920x1080"]),
            st.just(50),
        ),
        st.builds(lambda m, w: gen(p, m, camera_motion=w), GMI_GEN, WORD),
        st.just(req(p, I2V, prompt=PROMPT)),
        st.just(gen(p, I2V, image=GIF)),
        st.builds(lambda m, a: gen(p, m, aspect_ratio=a), GMI_GEN, st.sampled_from(["16:9", "9:16"])),
        st.builds(lambda m: gen(p, m, control_mode="pose"), GMI_GEN),
        # audio-to-video
        st.builds(
            lambda s: req(p, A2V, prompt=PROMPT, audio=audio(s)), st.sampled_from([0.5, 1.9, 20.1, 21.0])
        ),
        st.just(req(p, A2V, prompt=PROMPT)),
        st.builds(lambda v: req(p, A2V, prompt=v, audio=audio(3.0)), BLANK),
        st.builds(
            lambda r: req(p, A2V, prompt=PROMPT, audio=audio(3.0), resolution=r), GMI_WEIRD_RESOLUTIONS
        ),
        st.builds(lambda f: req(p, A2V, prompt=PROMPT, audio=audio(3.0), fps=f), st.sampled_from([24, 50])),
        st.builds(
            lambda g: req(p, A2V, prompt=PROMPT, audio=audio(3.0), guidance_scale=g),
            st.floats(max_value=-0.01, allow_nan=False) | st.just(float("nan")),
        ),
        st.just(req(p, A2V, prompt=PROMPT, audio=FLAC)),
        st.just(req(p, A2V, prompt=PROMPT, audio=audio(3.0), duration=6)),
        # retake
        st.just(req(p, Mode.RETAKE, duration=2)),
        st.just(req(p, Mode.RETAKE, video=video(4.0))),
        st.builds(lambda d: req(p, Mode.RETAKE, video=video(4.0), duration=d), st.floats(0, 1.99)),
        st.builds(
            lambda t: req(p, Mode.RETAKE, video=video(4.0), duration=2, start_time=t), st.floats(-10, -0.01)
        ),
        st.builds(
            lambda t, d: req(p, Mode.RETAKE, video=video(4.0), duration=d, start_time=t),
            st.floats(0, 3),
            st.floats(2, 4),
        ).filter(lambda r: r.start_time + r.duration > 4.1),
        st.builds(
            lambda s: req(p, Mode.RETAKE, video=faked(video(4.0), duration=s), duration=2),
            st.floats(21.1, 60),
        ),
        st.builds(
            lambda wh: req(p, Mode.RETAKE, video=faked(video(4.0), width=wh[0], height=wh[1]), duration=2),
            st.sampled_from([(4096, 2160), (3840, 2200), (2160, 3841), (3000, 3000)]),
        ),
        st.builds(lambda w: req(p, Mode.RETAKE, video=video(4.0), duration=2, retake_mode=w), WORD),
    )


AIO_GEN = st.sampled_from([T2V, I2V])


def apiinone_invalid() -> st.SearchStrategy[GenerationRequest]:
    p = "apiinone"
    lipsync = lambda **kw: req(p, Mode.LIPSYNC, **{"audio": audio(6.0), **kw})  # noqa: E731
    control = lambda **kw: req(p, Mode.CONTROL, **{"video": video(5.0), "control_mode": "pose", **kw})  # noqa: E731
    return st.one_of(
        st.builds(lambda m, v: gen(p, m, prompt=v), AIO_GEN, BLANK),
        st.builds(lambda m, d: gen(p, m, duration=d), AIO_GEN, st.integers(-5, 4) | st.integers(21, 60)),
        st.builds(
            lambda m, r: gen(p, m, resolution=r), AIO_GEN, st.sampled_from(["1920x1080", "360p", "4k", "720"])
        ),
        st.builds(lambda a: gen(p, T2V, aspect_ratio=a), st.sampled_from(["1:1", "4:3", "16x9", "21:9"])),
        st.builds(lambda a: gen(p, I2V, aspect_ratio=a), st.sampled_from(["16:9", "9:16"])),
        st.just(req(p, I2V, prompt=PROMPT)),
        st.builds(
            lambda m, s: gen(p, m, seed=s), AIO_GEN, st.integers(max_value=-2) | st.integers(min_value=2**31)
        ),
        st.builds(lambda m, f: gen(p, m, fps=f), AIO_GEN, st.sampled_from([24, 25])),
        st.builds(lambda m, c: gen(p, m, camera_motion=c), AIO_GEN, st.just("static")),
        # lipsync
        st.just(req(p, Mode.LIPSYNC, prompt=PROMPT)),
        st.builds(lambda s: lipsync(audio=audio(s)), st.sampled_from([2.0, 4.9, 20.1])),
        st.builds(lambda s: lipsync(audio=faked(audio(6.0), duration=s)), st.floats(20.06, 90)),
        st.builds(lambda d: lipsync(duration=d), st.sampled_from([5, 10])),
        st.builds(lambda r: lipsync(resolution=r), st.sampled_from(["1920x1080", "2k"])),
        # control
        st.just(req(p, Mode.CONTROL, control_mode="pose")),
        st.just(control(video=video(3.0))),
        st.builds(
            lambda s: control(video=faked(video(5.0), duration=s)),
            st.floats(20.06, 90) | st.floats(0.1, 4.94),
        ),
        st.just(control(control_mode=None)),
        st.builds(lambda w: control(control_mode=w), WORD),
        st.builds(lambda w: control(audio_mode=w), WORD),
        st.builds(lambda d: control(duration=d), st.sampled_from([5, 10])),
    )


LTX_GEN = st.sampled_from([T2V, I2V])
LTX_MODELS = st.sampled_from(["ltx-2-3-pro", "ltx-2-3-fast", "ltx-2-5-pro", "ltx-2-5-fast"])
PRO = st.sampled_from(["ltx-2-3-pro", "ltx-2-5-pro"])
FAST = st.sampled_from(["ltx-2-3-fast", "ltx-2-5-fast"])
REMOVED = st.sampled_from(["ltx-2-pro", "ltx-2-fast"])
LTX_DURATIONS = set(range(6, 21, 2)) | {2, 3, 4, 5}


def mp3(seconds: float) -> MediaInput:
    return audio(seconds, "mp3")


def ltx_invalid() -> st.SearchStrategy[GenerationRequest]:
    p = "ltx"
    retake = lambda **kw: req(p, Mode.RETAKE, **{"video": video(4.0), "duration": 2, **kw})  # noqa: E731
    extend = lambda **kw: req(p, Mode.EXTEND, **{"video": video(4.0), "duration": 2, **kw})  # noqa: E731
    reframe = lambda **kw: req(p, Mode.REFRAME, **{"video": video(3.0, 25, 96, 64), **kw})  # noqa: E731
    a2v = lambda **kw: req(p, A2V, **{"prompt": PROMPT, "audio": mp3(3.0), **kw})  # noqa: E731
    return st.one_of(
        st.builds(lambda m, n: gen(p, m, prompt="z" * n), LTX_GEN, st.integers(5001, 6000)),
        st.builds(lambda m, v: gen(p, m, prompt=v), LTX_GEN, BLANK),
        # removed models, whatever else the request says
        st.builds(lambda m, mo: gen(p, m, model=mo), LTX_GEN, REMOVED),
        st.builds(lambda mo: a2v(model=mo), REMOVED),
        st.builds(lambda mo: retake(model=mo), REMOVED),
        st.builds(
            lambda m, mo, d: gen(p, m, model=mo, duration=d), LTX_GEN, PRO, st.sampled_from([12, 16, 20])
        ),
        st.builds(
            lambda m, mo, d: gen(p, m, model=mo, duration=d), LTX_GEN, LTX_MODELS, not_in(LTX_DURATIONS)
        ),
        st.builds(
            lambda m, d: gen(p, m, model="ltx-2-3-pro", duration=d), LTX_GEN, st.sampled_from([2, 4, 5])
        ),
        st.builds(
            lambda m, d, r, f: gen(p, m, model="ltx-2-3-fast", duration=d, resolution=r, fps=f),
            LTX_GEN,
            st.sampled_from([12, 14, 20]),
            st.sampled_from(["2560x1440", "3840x2160", "1280x720", "1080x1920"]),
            st.sampled_from([25, 50]),
        ),
        st.builds(
            lambda m, mo, f: gen(p, m, model=mo, fps=f), LTX_GEN, LTX_MODELS, st.sampled_from([23, 30, 60])
        ),
        st.builds(
            lambda m, mo: gen(p, m, model=mo, duration="auto"),
            LTX_GEN,
            st.just("ltx-2-3-fast") | st.just("ltx-2-3-pro"),
        ),
        st.builds(
            lambda m, r: gen(p, m, resolution=r),
            LTX_GEN,
            st.sampled_from(["720p", "4k", "1920X1080", "1280x721"]),
        ),
        st.builds(lambda m, w: gen(p, m, camera_motion=w), LTX_GEN, WORD),
        st.just(req(p, I2V, prompt=PROMPT)),
        st.just(gen(p, I2V, image=GIF)),
        st.just(gen(p, I2V, image=BIG_PNG)),
        st.just(gen(p, I2V, last_frame=GIF)),
        st.just(gen(p, I2V, last_frame=BIG_PNG)),
        st.just(gen(p, T2V, last_frame=image())),
        st.builds(
            lambda u: gen(p, I2V, image=MediaInput(MediaKind.IMAGE, "image/png", url=u)),
            st.sampled_from(
                ["http://example.com/a.png", "https://203.0.113.9/a.png", "https://[2001:db8::1]/a.png"]
            ),
        ),
        st.just(
            gen(p, I2V, last_frame=MediaInput(MediaKind.IMAGE, "image/png", url="http://example.com/l.png"))
        ),
        st.builds(lambda m: gen(p, m, aspect_ratio="16:9"), LTX_GEN),
        # audio-to-video: LTX-2.3 Pro / LTX-2.5, audio 2-20 s and not WAV, an image or a prompt
        st.builds(lambda mo: a2v(model=mo), st.just("ltx-2-3-fast")),
        st.builds(lambda s: a2v(audio=mp3(s)), st.sampled_from([0.5, 1.9, 20.1, 21.0])),
        st.just(a2v(audio=audio(3.0))),  # WAV
        st.builds(lambda v: a2v(prompt=v), BLANK),
        st.builds(
            lambda g: a2v(guidance_scale=g), st.floats(max_value=0, allow_nan=False) | st.floats(50.01, 1e6)
        ),
        st.builds(lambda r: a2v(resolution=r), st.sampled_from(["2560x1440", "720p"])),
        st.builds(lambda f: a2v(fps=f), st.sampled_from([23, 30, 60])),
        st.builds(lambda w: a2v(camera_motion=w), WORD),
        st.just(a2v(last_frame=GIF)),
        st.just(a2v(duration=6)),
        # retake: LTX-2.3 Pro only, input >= 73 frames and <= 3840x2160, section >= 2 s inside the video
        st.builds(lambda mo: retake(model=mo), FAST | st.just("ltx-2-5-pro")),
        st.just(retake(video=video(2.0))),
        st.builds(lambda d: retake(duration=d), st.floats(0, 1.99)),
        st.builds(lambda t: retake(start_time=t), st.floats(-5, -0.01)),
        st.builds(lambda t: retake(start_time=t), st.floats(2.1, 10)),
        st.builds(
            lambda wh: retake(video=faked(video(4.0), width=wh[0], height=wh[1])),
            st.sampled_from([(4096, 2160), (2160, 4000)]),
        ),
        st.just(retake(video=faked(video(4.0), video_codec="vp9"))),
        st.builds(lambda w: retake(retake_mode=w), WORD),
        # extend: LTX-2.3 Pro only, 2-20 s, context + extension <= 505 frames
        st.builds(lambda mo: extend(model=mo), FAST | st.just("ltx-2-5-pro")),
        st.just(extend(video=video(2.0))),
        st.builds(lambda d: extend(duration=d), st.floats(0, 1.99) | st.floats(20.01, 60)),
        st.builds(lambda d: extend(video=video(4.0, 50), duration=d), st.floats(10.2, 20)),
        st.builds(lambda c: extend(video=video(4.0, 50), duration=10, context=c), st.floats(0.2, 4)),
        st.builds(lambda c: extend(context=c), st.floats(4.1, 20)),
        st.builds(lambda w: extend(extend_mode=w), WORD),
        st.just(extend(duration=None)),
        st.just(extend(start_time=1.0)),
        # reframe: <= 60 s, <= 1800 frames, <= 200 MB, sides 64-4096, one of ten sizes, a valid placement
        st.just(req(p, Mode.REFRAME)),
        st.builds(
            lambda s: reframe(video=faked(video(3.0, 25, 96, 64), duration=s, frame_count=None)),
            st.floats(60.1, 600),
        ),
        st.builds(
            lambda n: reframe(video=faked(video(3.0, 25, 96, 64), frame_count=n)), st.integers(1801, 10**6)
        ),
        st.builds(
            lambda wh: reframe(video=faked(video(3.0, 25, 96, 64), width=wh[0], height=wh[1])),
            st.sampled_from([(4100, 2160), (63, 64), (1920, 40)]),
        ),
        st.just(reframe(video=MediaInput(MediaKind.VIDEO, "video/mp4", data=bytes(200_000_001)))),
        st.builds(
            lambda r: reframe(resolution=r), st.sampled_from(["1920x1088", "3840x2160", "720p", "1280x721"])
        ),
        st.builds(lambda w: reframe(placement=w), WORD),
        st.builds(
            lambda x: reframe(placement="custom", placement_x=x, placement_width=0.5), st.floats(0.51, 0.99)
        ),
        st.builds(
            lambda x: reframe(placement="custom", placement_x=x, placement_width=0.1),
            st.floats(-5, -0.01) | st.floats(0.991, 5),
        ),
        st.just(reframe(placement="custom")),
        st.builds(
            lambda a, x: reframe(placement=a, placement_x=x),
            st.sampled_from([None, "center", "top"]),
            st.floats(0.01, 0.5),
        ),
        st.builds(
            lambda w: reframe(placement="custom", placement_width=w), st.floats(1.01, 3) | st.floats(-1, 0)
        ),
        st.builds(lambda v: reframe(prompt=v), st.just("wider, please")),
        st.builds(lambda d: reframe(duration=d), st.sampled_from([4, 6])),
        st.just(reframe(video=faked(video(3.0, 25, 96, 64), video_codec="vp9"))),
    )


@pytest.fixture
def settings_(isolated_env: Path, emu_env: RunningEmulator, tmp_path: Path) -> runner.RunSettings:
    return runner.RunSettings(output_dir=tmp_path / "out", journal=Journal(tmp_path / "journal.sqlite3"))


@pytest.mark.parametrize(
    "strategy", [gmi_invalid, apiinone_invalid, ltx_invalid], ids=["gmi", "apiinone", "ltx"]
)
def test_invalid_requests_never_reach_the_provider(
    emu_env: RunningEmulator, settings_: runner.RunSettings, strategy
) -> None:  # type: ignore[no-untyped-def]
    emu = emu_env.emulator

    @EXAMPLES
    @given(request=strategy())
    def check(request: GenerationRequest) -> None:
        emu.reset()
        with pytest.raises(InvalidInputError) as caught:
            asyncio.run(runner.generate(request, settings_))
        err = caught.value
        assert err.field in INPUT_NAMES
        assert f"'{err.field}'" in str(err) and "Allowed:" in str(err)
        assert emu.log == []

    check()

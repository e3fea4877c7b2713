"""Provider validation and emulator validation agree, through ``runner.generate`` over loopback.

* A request a provider module refuses never reaches the emulator: ``generate`` raises
  InvalidInputError and the emulator logs no request at all (no upload, no submit).
* A request a provider module accepts is also accepted by the emulator's own, independently
  written checks, for every provider x mode x model. Accepted jobs are made to fail at once
  (an injected job fault) so no video is rendered: acceptance is what is checked here.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import InvalidInputError, JobFailedError
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.media.encode import encode_audio, encode_image
from ltx2_nodes.api.media.inputs import media_from_bytes
from ltx2_nodes.api.media.synth import speech_like_audio, test_image, test_mp4
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import GenerationRequest, MediaInfo, MediaInput, MediaKind, Mode

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # media reprs are long

PROMPT = "a lighthouse at dusk, waves below"
EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- media, built once ---------------------------------------------------------------------------------


@functools.cache
def image(portrait: bool = False, fmt: str = "png") -> MediaInput:
    w, h = (36, 64) if portrait else (64, 36)
    return media_from_bytes(encode_image(test_image(w, h), fmt), MediaKind.IMAGE)


@functools.cache
def audio(seconds: float, fmt: str = "wav") -> MediaInput:
    wav = speech_like_audio(seconds, 16000, 1, 0)
    return media_from_bytes(encode_audio(wav, 16000, fmt), MediaKind.AUDIO)


@functools.cache
def video(seconds: float, fps: float = 25, w: int = 64, h: int = 36) -> MediaInput:
    return media_from_bytes(test_mp4(seconds, w, h, fps, audio=True, sample_rate=16000), MediaKind.VIDEO)


def faked(media: MediaInput, **info: Any) -> MediaInput:
    """``media`` whose probed facts say otherwise (a limit the small test files cannot reach)."""
    values = {**media.info.__dict__, **info}
    return MediaInput(
        media.kind, media.content_type, data=media.data, filename=media.filename, info=MediaInfo(**values)
    )


# --- running ------------------------------------------------------------------------------------------------


@pytest.fixture
def run(emu_env: RunningEmulator, tmp_path: Path):  # type: ignore[no-untyped-def]
    emu = emu_env.emulator

    def go(req: GenerationRequest) -> None:
        emu.reset()
        cfg = emu.config
        cfg.queue_seconds = cfg.processing_seconds = 0.0
        emu.add_fault(Fault(op="job", kind="fail", message="stopped before rendering", count=10**6))
        settings_ = runner.RunSettings(
            output_dir=tmp_path / "out",
            journal=Journal(tmp_path / "journal.sqlite3"),
            poll_interval=0.01,
            poll_timeout=30,
            use_cache=False,
            retry=RetryPolicy(base_delay=0.05, max_delay=0.2),
        )
        asyncio.run(runner.generate(req, settings_))

    return go


def accepted_by_provider(req: GenerationRequest) -> bool:
    try:
        get_provider(req.provider).validate(req)
    except InvalidInputError:
        return False
    return True


def assert_emulator_accepts(run, emu_env: RunningEmulator, req: GenerationRequest) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JobFailedError, match="stopped before rendering"):
        run(req)
    assert emu_env.emulator.jobs_created[req.provider] == 1


# --- valid requests: the emulator accepts what the provider accepts ----------------------------------------

MAYBE = st.none()


def gmi_requests() -> dict[Mode, st.SearchStrategy[GenerationRequest]]:
    gen = lambda mode: st.builds(  # noqa: E731
        GenerationRequest,
        provider=st.just("gmi"),
        mode=st.just(mode),
        model=st.sampled_from(["ltx-2-pro", "ltx-2-fast", None]),
        prompt=st.just(PROMPT),
        duration=st.sampled_from([None, 6, 8, 10, 12, 16, 20]),
        resolution=st.sampled_from([None, "1920x1080", "2560x1440", "3840x2160"]),
        fps=st.sampled_from([None, 25, 50]),
        camera_motion=st.sampled_from([None, "dolly_in", "static", "focus_shift"]),
        generate_audio=st.sampled_from([None, True, False]),
        seed=st.sampled_from([None, 7]),
    ).map(lambda r: r if r.mode is Mode.TEXT_TO_VIDEO else _with(r, image=image()))
    a2v = st.builds(
        GenerationRequest,
        provider=st.just("gmi"),
        mode=st.just(Mode.AUDIO_TO_VIDEO),
        prompt=st.sampled_from([PROMPT, ""]),
        audio=st.sampled_from([2.0, 1.97, 7.5, 20.0, 20.03]).map(audio),
        image=st.sampled_from([None, image(), image(True)]),
        resolution=st.sampled_from([None, "1920x1080"]),
        fps=st.sampled_from([None, 25]),
        guidance_scale=st.sampled_from([None, 0.0, 1.5, 5.0, 9.0, 30.0, 100.0]),
    )
    retake = st.builds(
        GenerationRequest,
        provider=st.just("gmi"),
        mode=st.just(Mode.RETAKE),
        prompt=st.sampled_from([PROMPT, ""]),
        video=st.sampled_from([video(4.0), video(6.0, 50)]),
        start_time=st.sampled_from([None, 0.0, 0.5, 1.96, 2.0]),
        duration=st.sampled_from([2.0, 2.5, 3.0, 4.0]),
        retake_mode=st.sampled_from([None, "replace_audio", "replace_video", "replace_audio_and_video"]),
    )
    return {
        Mode.TEXT_TO_VIDEO: gen(Mode.TEXT_TO_VIDEO),
        Mode.IMAGE_TO_VIDEO: gen(Mode.IMAGE_TO_VIDEO),
        Mode.AUDIO_TO_VIDEO: a2v,
        Mode.RETAKE: retake,
    }


def apiinone_requests() -> dict[Mode, st.SearchStrategy[GenerationRequest]]:
    gen = lambda mode: st.builds(  # noqa: E731
        GenerationRequest,
        provider=st.just("apiinone"),
        mode=st.just(mode),
        prompt=st.just(PROMPT),
        duration=st.sampled_from([None, 5, 7, 20]),
        resolution=st.sampled_from([None, "480p", "720p", "1080p"]),
        aspect_ratio=st.sampled_from([None, "16:9", "9:16"]),
        seed=st.sampled_from([None, -1, 0, 2**31 - 1]),
    ).map(lambda r: r if r.mode is Mode.TEXT_TO_VIDEO else _with(r, image=image(), aspect_ratio=None))
    lipsync = st.builds(
        GenerationRequest,
        provider=st.just("apiinone"),
        mode=st.just(Mode.LIPSYNC),
        prompt=st.sampled_from([PROMPT, ""]),
        audio=st.sampled_from([4.97, 5.0, 9.0, 20.0, 20.03]).map(audio),
        image=st.sampled_from([None, image(), image(True)]),
        resolution=st.sampled_from([None, "480p", "1080p"]),
        seed=st.sampled_from([None, 3]),
    )
    control = st.builds(
        GenerationRequest,
        provider=st.just("apiinone"),
        mode=st.just(Mode.CONTROL),
        prompt=st.sampled_from([PROMPT, ""]),
        video=st.sampled_from([video(5.0), video(6.0, 24)]),
        control_mode=st.sampled_from(["pose", "depth", "canny"]),
        audio_mode=st.sampled_from([None, "preserve", "generate", "none"]),
        resolution=st.sampled_from([None, "720p"]),
    )
    return {
        Mode.TEXT_TO_VIDEO: gen(Mode.TEXT_TO_VIDEO),
        Mode.IMAGE_TO_VIDEO: gen(Mode.IMAGE_TO_VIDEO),
        Mode.LIPSYNC: lipsync,
        Mode.CONTROL: control,
    }


def ltx_requests() -> dict[Mode, st.SearchStrategy[GenerationRequest]]:
    gen = lambda mode: st.builds(  # noqa: E731
        GenerationRequest,
        provider=st.just("ltx"),
        mode=st.just(mode),
        model=st.sampled_from([None, *LTX_MODELS]),
        prompt=st.sampled_from([PROMPT, "x" * 5000, " " + "y" * 5000 + " "]),
        duration=st.sampled_from([None, 2, 5, 6, 8, 10, 12, 20, "auto"]),
        resolution=st.sampled_from([None, "1920x1080", "1280x720", "2560x1440", "3840x2160", "720x1280"]),
        fps=st.sampled_from([None, 24, 25, 48, 50]),
        camera_motion=st.sampled_from([None, "jib_up"]),
        generate_audio=st.sampled_from([None, False]),
        last_frame=st.sampled_from([None, image(True)]),
    ).map(lambda r: _with(r, last_frame=None) if r.mode is Mode.TEXT_TO_VIDEO else _with(r, image=image()))
    a2v = st.builds(
        GenerationRequest,
        provider=st.just("ltx"),
        mode=st.just(Mode.AUDIO_TO_VIDEO),
        model=st.sampled_from([None, "ltx-2-3-pro", "ltx-2-5-fast", "ltx-2-5-pro"]),
        prompt=st.sampled_from([PROMPT, ""]),
        audio=st.sampled_from([2.0, 1.97, 6.0, 20.0, 20.03]).map(lambda s: audio(s, "mp3")),
        image=st.sampled_from([None, image(), image(True)]),
        last_frame=st.sampled_from([None, image()]),
        resolution=st.sampled_from([None, "1920x1080", "1080x1920"]),
        fps=st.sampled_from([None, 24, 50]),
        camera_motion=st.sampled_from([None, "static"]),
        guidance_scale=st.sampled_from([None, 0.0, 1.0, 5.0, 9.0, 50.0, 60.0]),
    )
    retake = st.builds(
        GenerationRequest,
        provider=st.just("ltx"),
        mode=st.just(Mode.RETAKE),
        model=st.sampled_from([None, "ltx-2-3-pro"]),
        prompt=st.sampled_from([PROMPT, ""]),
        video=st.sampled_from([video(3.0, 25), video(4.0, 24), video(4.0, 50)]),
        start_time=st.sampled_from([None, 0.0, 1.0, 1.98, 2.0]),
        duration=st.sampled_from([2.0, 2.5, 3.0]),
        retake_mode=st.sampled_from([None, "replace_audio"]),
    )
    extend = st.builds(
        GenerationRequest,
        provider=st.just("ltx"),
        mode=st.just(Mode.EXTEND),
        model=st.sampled_from([None, "ltx-2-3-pro"]),
        prompt=st.sampled_from([PROMPT, ""]),
        video=st.sampled_from([video(3.0, 25), video(4.0, 50)]),
        duration=st.sampled_from([2.0, 6.0, 9.1, 10.0, 19.2, 20.0]),
        extend_mode=st.sampled_from([None, "end", "start"]),
        context=st.sampled_from([None, 1.0, 1.02, 2.5, 3.0]),
    )
    reframe_video = st.sampled_from([video(3.0, 25, 96, 64), video(2.0, 24, 64, 96)])
    reframe_size = st.sampled_from([None, "1920x1080", "720x900", "1080x1080"])
    reframe = st.one_of(
        st.builds(
            GenerationRequest,
            provider=st.just("ltx"),
            mode=st.just(Mode.REFRAME),
            video=reframe_video,
            resolution=reframe_size,
            placement=st.sampled_from([None, "center", "bottom_right", "top"]),
        ),
        st.builds(
            GenerationRequest,
            provider=st.just("ltx"),
            mode=st.just(Mode.REFRAME),
            video=reframe_video,
            resolution=reframe_size,
            placement=st.just("custom"),
            placement_x=st.sampled_from([None, 0.0, 0.3, 0.99]),
            placement_y=st.sampled_from([None, 0.25]),
            placement_width=st.sampled_from([None, 0.5, 0.7, 0.01]),
            placement_height=st.sampled_from([None, 0.5]),
        ),
    )
    return {
        Mode.TEXT_TO_VIDEO: gen(Mode.TEXT_TO_VIDEO),
        Mode.IMAGE_TO_VIDEO: gen(Mode.IMAGE_TO_VIDEO),
        Mode.AUDIO_TO_VIDEO: a2v,
        Mode.RETAKE: retake,
        Mode.EXTEND: extend,
        Mode.REFRAME: reframe,
    }


LTX_MODELS = ("ltx-2-3-pro", "ltx-2-3-fast", "ltx-2-5-pro", "ltx-2-5-fast")


def _with(req: GenerationRequest, **changes: Any) -> GenerationRequest:
    import dataclasses

    return dataclasses.replace(req, **changes)


CASES = [
    ("gmi", Mode.TEXT_TO_VIDEO),
    ("gmi", Mode.IMAGE_TO_VIDEO),
    ("gmi", Mode.AUDIO_TO_VIDEO),
    ("gmi", Mode.RETAKE),
    ("apiinone", Mode.TEXT_TO_VIDEO),
    ("apiinone", Mode.IMAGE_TO_VIDEO),
    ("apiinone", Mode.LIPSYNC),
    ("apiinone", Mode.CONTROL),
    ("ltx", Mode.TEXT_TO_VIDEO),
    ("ltx", Mode.IMAGE_TO_VIDEO),
    ("ltx", Mode.AUDIO_TO_VIDEO),
    ("ltx", Mode.RETAKE),
    ("ltx", Mode.EXTEND),
    ("ltx", Mode.REFRAME),
]
STRATEGIES = {"gmi": gmi_requests, "apiinone": apiinone_requests, "ltx": ltx_requests}


def test_every_provider_mode_and_model_is_covered() -> None:
    for name in STRATEGIES:
        provider = get_provider(name)
        assert {(name, m) for m in provider.modes()} <= set(CASES)
        assert set(STRATEGIES[name]()) == set(provider.modes())


@pytest.mark.parametrize(("provider", "mode"), CASES, ids=[f"{p}-{m.value}" for p, m in CASES])
def test_emulator_accepts_what_the_provider_accepts(
    run, emu_env: RunningEmulator, provider: str, mode: Mode
) -> None:  # type: ignore[no-untyped-def]
    @EXAMPLES
    @given(req=STRATEGIES[provider]()[mode])
    def check(req: GenerationRequest) -> None:
        assume(accepted_by_provider(req))
        assert_emulator_accepts(run, emu_env, req)

    check()


def test_extend_at_the_frame_limit_is_accepted_by_both(run, emu_env: RunningEmulator) -> None:  # type: ignore[no-untyped-def]
    # 1.02 s of context + 19.2 s at 25 fps is 505.5 frames: within "context + extension <= 505 frames"
    # once rounded as the provider rounds it.
    req = GenerationRequest(
        provider="ltx", mode=Mode.EXTEND, video=video(3.0, 25), duration=19.2, context=1.02
    )
    assert accepted_by_provider(req)
    assert_emulator_accepts(run, emu_env, req)


@pytest.mark.parametrize(
    ("provider", "seconds"), [("gmi", 1.97), ("gmi", 20.03), ("ltx", 1.97), ("ltx", 20.03)]
)
def test_audio_length_rounding_is_accepted_by_both(
    run, emu_env: RunningEmulator, provider: str, seconds: float
) -> None:  # type: ignore[no-untyped-def]
    req = GenerationRequest(
        provider=provider,
        mode=Mode.AUDIO_TO_VIDEO,
        prompt=PROMPT,
        audio=audio(seconds, "mp3" if provider == "ltx" else "wav"),
    )
    assert accepted_by_provider(req)
    assert_emulator_accepts(run, emu_env, req)


def test_ltx_guidance_scale_outside_the_accepted_range_is_refused_before_any_request(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    for value in (0.0, 50.5):
        req = GenerationRequest(
            provider="ltx",
            mode=Mode.AUDIO_TO_VIDEO,
            prompt=PROMPT,
            audio=audio(3.0, "mp3"),
            guidance_scale=value,
        )
        emu_env.emulator.reset()
        with pytest.raises(InvalidInputError) as caught:
            asyncio.run(runner.generate(req, runner.RunSettings(output_dir=tmp_path)))
        assert caught.value.field == "guidance_scale"
        assert emu_env.emulator.log == []


@pytest.mark.parametrize("model", ["ltx-2-pro", "ltx-2-fast"])
def test_removed_ltx_models_are_refused_before_any_request(
    emu_env: RunningEmulator, tmp_path: Path, model: str
) -> None:
    req = GenerationRequest(provider="ltx", mode=Mode.TEXT_TO_VIDEO, model=model, prompt=PROMPT)
    with pytest.raises(InvalidInputError) as caught:
        asyncio.run(runner.generate(req, runner.RunSettings(output_dir=tmp_path)))
    assert caught.value.field == "model" and "ltx-2-3-" in str(caught.value)
    assert emu_env.emulator.log == []

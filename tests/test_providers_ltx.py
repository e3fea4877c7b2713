"""LTX API provider: v1/v2 submit bodies for every endpoint, validation, status, errors, upload, cost."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.errors import (
    AuthError,
    ContentFilteredError,
    InvalidInputError,
    JobExpiredError,
    PaymentError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
)
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.providers.ltx import LtxProvider, parse_expiry
from ltx2_nodes.api.types import (
    GenerationRequest,
    JobState,
    MediaInfo,
    MediaInput,
    MediaKind,
    Mode,
    SubmittedJob,
)

KEY = "ltx_0123456789abcdefSECRETKEY"
LTX = LtxProvider()
MODELS = ["ltx-2-3-pro", "ltx-2-3-fast", "ltx-2-5-pro", "ltx-2-5-fast"]
RESOLUTIONS = [
    "1920x1080",
    "1280x720",
    "2560x1440",
    "3840x2160",
    "1080x1920",
    "720x1280",
    "1440x2560",
    "2160x3840",
]


def image(ctype: str = "image/png", size: int = 10) -> MediaInput:
    return MediaInput(MediaKind.IMAGE, ctype, data=b"\0" * size, info=MediaInfo(width=64, height=64))


def audio(seconds: float | None = 5.0) -> MediaInput:
    return MediaInput(MediaKind.AUDIO, "audio/mpeg", data=b"aud", info=MediaInfo(duration=seconds))


def video(
    seconds: float | None = 8.0,
    w: int = 1920,
    h: int = 1080,
    fps: float | None = 25.0,
    frames: int | None = -1,
    codec: str | None = "h264",
    ctype: str = "video/mp4",
    size: int = 10,
) -> MediaInput:
    if frames == -1:
        frames = None if seconds is None or fps is None else round(seconds * fps)
    return MediaInput(
        MediaKind.VIDEO,
        ctype,
        data=b"\0" * size,
        info=MediaInfo(duration=seconds, width=w, height=h, fps=fps, frame_count=frames, video_codec=codec),
    )


def req(mode: Mode, **kw: object) -> GenerationRequest:
    return GenerationRequest(provider="ltx", mode=mode, **kw)  # type: ignore[arg-type]


def t2v(**kw: object) -> GenerationRequest:
    kw.setdefault("prompt", "a lighthouse at dusk")
    return req(Mode.TEXT_TO_VIDEO, **kw)


def refused(r: GenerationRequest, field: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        LTX.validate(r)
    assert info.value.field == field, str(info.value)
    assert info.value.provider == "ltx"
    return info.value


def test_attributes_and_models() -> None:
    p = get_provider("LTX (Lightricks)")
    assert isinstance(p, LtxProvider)
    assert (p.name, p.key_env, p.base_url_env, p.default_base_url) == (
        "ltx",
        "LTX_API_KEY",
        "LTX2_LTX_BASE_URL",
        "https://api.ltx.video",
    )
    assert p.hosting_methods == ("upload", "data-uri", "url") and p.default_hosting == "upload"
    assert p.poll_interval == 5.0 and not p.can_cancel
    names = {m: [s.name for s in LTX.models(m)] for m in LTX.modes()}
    assert names == {
        Mode.TEXT_TO_VIDEO: MODELS,
        Mode.IMAGE_TO_VIDEO: MODELS,
        Mode.AUDIO_TO_VIDEO: ["ltx-2-3-pro", "ltx-2-5-fast", "ltx-2-5-pro"],
        Mode.RETAKE: ["ltx-2-3-pro"],
        Mode.EXTEND: ["ltx-2-3-pro"],
        Mode.REFRAME: ["ltx-reframe"],
    }
    for mode in (Mode.RETAKE, Mode.EXTEND):
        refused(req(mode, model="ltx-2-3-fast"), "model")
        refused(req(mode, model="ltx-2-5-pro"), "model")


@pytest.mark.parametrize("mode", [Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO, Mode.AUDIO_TO_VIDEO, Mode.RETAKE])
@pytest.mark.parametrize(
    ("removed", "replacement"), [("ltx-2-pro", "ltx-2-3-pro"), ("ltx-2-fast", "ltx-2-3-fast")]
)
def test_removed_models_are_refused_naming_the_replacement(
    mode: Mode, removed: str, replacement: str
) -> None:
    err = refused(req(mode, model=removed, prompt="p", image=image(), audio=audio(), video=video()), "model")
    assert f"use {replacement} instead" in str(err) and removed in str(err)


def test_media_limits() -> None:
    img = LTX.media_limits(MediaKind.IMAGE)
    assert (img.max_bytes_url, img.max_bytes_data_uri) == (15_000_000, 7_000_000)
    vid = LTX.media_limits(MediaKind.VIDEO)
    assert (vid.max_bytes_url, vid.max_bytes_data_uri) == (32_000_000, 15_000_000)
    assert set(vid.content_types) == {"video/mp4", "video/quicktime", "video/x-matroska"}


# --- submit bodies ---------------------------------------------------------------------------------------


def test_submit_text_to_video_defaults() -> None:
    r = t2v(seed=3)
    call = LTX.build_submit(r, {})
    assert (call.method, call.path) == ("POST", "/v2/text-to-video")
    assert call.json == {
        "model": "ltx-2-3-pro",
        "prompt": "a lighthouse at dusk",
        "duration": 6,
        "resolution": "1920x1080",
        "fps": 24,
    }
    assert not hasattr(LTX, "supports_sync")


def test_auto_duration_is_sent_as_null_on_ltx_2_5_only() -> None:
    for model in ("ltx-2-5-pro", "ltx-2-5-fast"):
        body = LTX.build_submit(t2v(model=model, duration="auto"), {}).json
        assert "duration" in body and body["duration"] is None
    err = refused(t2v(model="ltx-2-3-fast", duration="auto"), "duration")
    assert "ltx-2-5" in str(err)


def test_long_fast_clip_picks_the_size_and_rate_it_needs() -> None:
    body = LTX.build_submit(t2v(model="ltx-2-3-fast", duration=16), {}).json
    assert (body["resolution"], body["fps"]) == ("1920x1080", 25)
    refused(t2v(model="ltx-2-3-fast", duration=16, fps=24), "duration")


def test_last_frame_for_image_to_video() -> None:
    r = req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image(), last_frame=image())
    body = LTX.build_submit(r, {"image": "I", "last_frame": "L"}).json
    assert (body["image_uri"], body["last_frame_uri"]) == ("I", "L")
    refused(req(Mode.TEXT_TO_VIDEO, prompt="p", last_frame=image()), "last_frame")


def test_submit_text_to_video_every_option() -> None:
    r = t2v(model="ltx-2-3-fast", duration=16, fps=25, camera_motion="dolly_left", generate_audio=True)
    assert LTX.build_submit(r, {}).json == {
        "model": "ltx-2-3-fast",
        "prompt": "a lighthouse at dusk",
        "duration": 16,
        "resolution": "1920x1080",
        "fps": 25,
        "camera_motion": "dolly_left",
        "generate_audio": True,
    }


def test_submit_image_to_video() -> None:
    r = req(
        Mode.IMAGE_TO_VIDEO, prompt="p", image=image(), model="ltx-2-3-pro", fps=48, resolution="3840x2160"
    )
    call = LTX.build_submit(r, {"image": "storage://uploads/abc"})
    assert call.path == "/v2/image-to-video"
    assert call.json == {
        "model": "ltx-2-3-pro",
        "prompt": "p",
        "image_uri": "storage://uploads/abc",
        "duration": 6,
        "resolution": "3840x2160",
        "fps": 48,
    }


def test_submit_audio_to_video() -> None:
    r = req(Mode.AUDIO_TO_VIDEO, audio=audio(7), image=image(), guidance_scale=9)
    call = LTX.build_submit(r, {"audio": "A", "image": "I"})
    assert call.path == "/v2/audio-to-video"
    assert call.json == {"model": "ltx-2-3-pro", "audio_uri": "A", "image_uri": "I", "guidance_scale": 9.0}
    r = req(
        Mode.AUDIO_TO_VIDEO,
        audio=audio(7),
        prompt="drums",
        model="ltx-2-5-fast",
        fps=50,
        camera_motion="jib_up",
        last_frame=image(),
    )
    assert LTX.build_submit(r, {"audio": "A", "last_frame": "L"}).json == {
        "model": "ltx-2-5-fast",
        "prompt": "drums",
        "audio_uri": "A",
        "last_frame_uri": "L",
        "fps": 50,
        "camera_motion": "jib_up",
    }
    wav = MediaInput(MediaKind.AUDIO, "audio/wav", data=b"RIFF", info=MediaInfo(duration=5.0))
    refused(req(Mode.AUDIO_TO_VIDEO, audio=wav, prompt="p"), "audio")


def test_submit_retake() -> None:
    r = req(
        Mode.RETAKE, video=video(8), start_time=1, duration=2.5, retake_mode="replace_video", prompt="snow"
    )
    call = LTX.build_submit(r, {"video": "V"})
    assert call.path == "/v2/retake"
    assert call.json == {
        "model": "ltx-2-3-pro",
        "prompt": "snow",
        "video_uri": "V",
        "start_time": 1,
        "duration": 2.5,
        "mode": "replace_video",
    }


def test_submit_extend() -> None:
    r = req(Mode.EXTEND, video=video(8), duration=4, extend_mode="start", context=3, prompt="more")
    call = LTX.build_submit(r, {"video": "V"})
    assert call.path == "/v2/extend"
    assert call.json == {
        "model": "ltx-2-3-pro",
        "prompt": "more",
        "video_uri": "V",
        "duration": 4,
        "mode": "start",
        "context": 3,
    }
    minimal = LTX.build_submit(req(Mode.EXTEND, video=video(8), duration=2), {"video": "V"})
    assert minimal.json == {"model": "ltx-2-3-pro", "video_uri": "V", "duration": 2}


def test_submit_reframe() -> None:
    r = req(Mode.REFRAME, video=video(8), resolution="1080x1350", placement="top_left")
    call = LTX.build_submit(r, {"video": "V"})
    assert call.path == "/v2/video-to-video-reframe"
    assert call.json == {"video_uri": "V", "resolution": "1080x1350", "placement": {"anchor": "top_left"}}
    box = req(
        Mode.REFRAME,
        video=video(8),
        placement="custom",
        placement_x=0.1,
        placement_y=0.2,
        placement_width=0.5,
    )
    assert LTX.build_submit(box, {"video": "V"}).json == {
        "video_uri": "V",
        "resolution": "1080x1920",
        "placement": {"x": 0.1, "y": 0.2, "width": 0.5},
    }
    assert LTX.build_status(LTX.parse_submit(r, {"id": "j"})).path == "/v2/video-to-video-reframe/j"


def test_reframe_limits() -> None:
    rf = lambda **kw: req(Mode.REFRAME, **{"video": video(8), **kw})  # noqa: E731
    refused(req(Mode.REFRAME), "video")
    refused(rf(resolution="1920x1088"), "resolution")
    refused(rf(video=video(61, fps=25)), "video")  # over 60 s (and 1800 frames)
    refused(rf(video=video(frames=1801, seconds=None, fps=None)), "video")
    refused(rf(video=video(w=4100, h=2160)), "video")
    refused(rf(video=video(w=48, h=48)), "video")
    LTX.validate(rf(video=video(size=150_000_000)))  # reframe takes up to 200 MB by URL
    refused(rf(video=video(size=200_000_001)), "video")
    refused(rf(placement="middle"), "placement")
    refused(rf(placement="custom"), "placement_width")
    refused(rf(placement="custom", placement_x=0.6, placement_width=0.5), "placement_width")
    refused(rf(placement="center", placement_x=0.2), "placement_x")
    refused(rf(prompt="wider"), "prompt")
    LTX.validate(rf(placement="custom", placement_x=0.25, placement_y=0.25, placement_height=0.5))


# --- validation --------------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(
    st.sampled_from([Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO]),
    st.sampled_from(MODELS),
    st.sampled_from([4, 6, 7, 8, 10, 12, 14, 16, 18, 20, 22]),
    st.sampled_from([*RESOLUTIONS, "1280x721", "720p"]),
    st.sampled_from([24, 25, 30, 48, 50, 60]),
)
def test_duration_resolution_fps_model_combos(
    mode: Mode, model: str, duration: int, res: str, fps: int
) -> None:
    r = req(
        mode,
        model=model,
        prompt="p",
        duration=duration,
        resolution=res,
        fps=fps,
        image=image() if mode == Mode.IMAGE_TO_VIDEO else None,
    )
    fast = model.endswith("fast")
    fps_ok = (24, 25, 48, 50)
    short = (2, 3, 4, 5, 6, 8, 10) if model.startswith("ltx-2-5") else (6, 8, 10)
    if duration not in ((*short, 12, 14, 16, 18, 20) if fast else short):
        expected = "duration"
    elif res not in RESOLUTIONS:
        expected = "resolution"
    elif fps not in fps_ok:
        expected = "fps"
    elif duration > 10 and model == "ltx-2-3-fast" and (res != "1920x1080" or fps != 25):
        expected = "duration"
    else:
        expected = None
    if expected is None:
        assert LTX.validate(r).name == model
        body = LTX.build_submit(r, {"image": "I"}).json
        assert (body["model"], body["duration"], body["resolution"], body["fps"]) == (
            model,
            duration,
            res,
            fps,
        )
    else:
        refused(r, expected)


def test_prompt_rules() -> None:
    LTX.validate(t2v(prompt="x" * 5000))
    err = refused(t2v(prompt="x" * 5001), "prompt")
    assert "5000" in err.allowed
    refused(t2v(prompt=""), "prompt")
    refused(req(Mode.RETAKE, video=video(), duration=2, prompt="y" * 5001), "prompt")
    refused(t2v(aspect_ratio="9:16"), "aspect_ratio")
    refused(t2v(camera_motion="orbit"), "camera_motion")
    refused(t2v(context=2), "context")


def test_image_rules() -> None:
    refused(req(Mode.IMAGE_TO_VIDEO, prompt="p"), "image")
    refused(req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image("image/gif")), "image")
    err = refused(req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image(size=15_000_001)), "image")
    assert "15 MB" in err.allowed
    LTX.validate(req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image("image/webp", size=15_000_000)))


@settings(max_examples=60)
@given(st.floats(0.5, 30))
def test_audio_to_video_length(seconds: float) -> None:
    r = req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(seconds))
    if 1.95 <= seconds <= 20.05:
        LTX.validate(r)
    elif seconds < 1.9 or seconds > 20.1:
        refused(r, "audio")


def test_audio_to_video_rules() -> None:
    refused(req(Mode.AUDIO_TO_VIDEO, prompt="p"), "audio")
    refused(req(Mode.AUDIO_TO_VIDEO, audio=audio()), "prompt")
    LTX.validate(req(Mode.AUDIO_TO_VIDEO, audio=audio(), image=image()))
    LTX.validate(req(Mode.AUDIO_TO_VIDEO, audio=audio(), prompt="p", fps=25))
    refused(req(Mode.AUDIO_TO_VIDEO, audio=audio(), prompt="p", fps=30), "fps")
    refused(req(Mode.AUDIO_TO_VIDEO, audio=audio(), prompt="p", duration=6), "duration")
    LTX.validate(req(Mode.AUDIO_TO_VIDEO, audio=audio(), prompt="p", camera_motion="static"))
    refused(req(Mode.AUDIO_TO_VIDEO, audio=audio(), prompt="p", camera_motion="spin"), "camera_motion")


@settings(max_examples=120)
@given(st.floats(-1, 12), st.floats(0, 22), st.floats(2, 12), st.sampled_from([24.0, 25.0, 50.0]))
def test_retake_section(start: float, duration: float, length: float, fps: float) -> None:
    r = req(Mode.RETAKE, video=video(length, fps=fps), start_time=start, duration=duration)
    if round(length * fps) < 73:
        refused(r, "video")
    elif start < 0:
        refused(r, "start_time")
    elif duration < 2 or duration > 20 or start + duration > length + 1 / fps:
        refused(r, "duration")
    else:
        LTX.validate(r)


def test_input_video_rules() -> None:
    for mode in (Mode.RETAKE, Mode.EXTEND):
        refused(req(mode, duration=2), "video")
        refused(req(mode, video=video(frames=72), duration=2), "video")
        LTX.validate(req(mode, video=video(frames=73, seconds=None, fps=None), duration=2))
        refused(req(mode, video=video(w=3840, h=2176), duration=2), "video")
        refused(req(mode, video=video(codec="vp9"), duration=2), "video")
        LTX.validate(req(mode, video=video(codec="hevc", ctype="video/quicktime"), duration=2))
        refused(req(mode, video=video(ctype="video/webm"), duration=2), "video")
        limit = 100_000_000 if mode is Mode.EXTEND else 32_000_000  # extend takes larger videos
        LTX.validate(req(mode, video=video(size=limit), duration=2))
        err = refused(req(mode, video=video(size=limit + 1), duration=2), "video")
        assert f"{limit // 1_000_000} MB" in err.allowed
    refused(req(Mode.RETAKE, video=video(), duration=2, retake_mode="both"), "retake_mode")
    refused(req(Mode.RETAKE, video=video(), duration=2, extend_mode="end"), "extend_mode")
    url_video = MediaInput(MediaKind.VIDEO, "video/mp4", url="https://u/v.mp4")  # unprobed: server decides
    LTX.validate(req(Mode.RETAKE, video=url_video, duration=3))


@settings(max_examples=150)
@given(
    st.floats(0, 25),
    st.one_of(st.none(), st.floats(-1, 25)),
    st.sampled_from([24.0, 25.0, 50.0]),
    st.floats(3.5, 30),
)
def test_extend_limits(duration: float, context: float | None, fps: float, length: float) -> None:
    r = req(Mode.EXTEND, video=video(length, fps=fps), duration=duration, context=context)
    if duration < 2 or duration > 20:
        refused(r, "duration")
    elif context is not None and (context < 1 or context > min(20, length)):
        refused(r, "context")
    elif (duration + (context or 0)) * fps > 505.5:
        assert refused(r, "context" if context else "duration")
    else:
        LTX.validate(r)


def test_extend_rules() -> None:
    refused(req(Mode.EXTEND, video=video()), "duration")
    refused(req(Mode.EXTEND, video=video(), duration=3, extend_mode="middle"), "extend_mode")
    refused(req(Mode.EXTEND, video=video(), duration=3, start_time=1), "start_time")
    for mode in ("end", "start"):
        LTX.validate(req(Mode.EXTEND, video=video(), duration=3, extend_mode=mode))


# --- submit / status parsing ----------------------------------------------------------------------------


def test_parse_submit_and_status_call() -> None:
    job = LTX.parse_submit(req(Mode.EXTEND, video=video(), duration=2), {"id": "job-9", "created_at": "x"})
    assert job == SubmittedJob(provider="ltx", mode=Mode.EXTEND, job_id="job-9", model="ltx-2-3-pro")
    call = LTX.build_status(job)
    assert (call.method, call.path) == ("GET", "/v2/extend/job-9")
    with pytest.raises(ProviderError) as info:
        LTX.parse_submit(t2v(), {"created_at": "x", "authorization": f"Bearer {KEY}"})
    assert KEY not in repr(info.value.raw) and KEY not in str(info.value)


STATES = {
    "pending": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "running": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


@given(st.data(), st.sampled_from(sorted(STATES)))
def test_status_words_any_case(data: st.DataObject, word: str) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    shown = "".join(ch.upper() if f else ch for ch, f in zip(word, flips, strict=True))
    body = {"id": "j", "status": shown, "created_at": "t", "result": {"video_url": "https://cdn/o.mp4"}}
    status = LTX.parse_status(body)
    assert status.state == STATES[word]
    if status.state == JobState.SUCCEEDED:
        assert status.video_url == "https://cdn/o.mp4"


@given(
    st.sampled_from(
        [lambda u: {"result": {"video_url": u}}, lambda u: {"result": {"url": u}}, lambda u: {"video_url": u}]
    ),
    st.dictionaries(st.sampled_from(["completed_at", "created_at", "meta"]), st.integers(), max_size=3),
)
def test_video_url_locations(shape, junk: dict) -> None:  # type: ignore[no-untyped-def]
    status = LTX.parse_status({**junk, **shape("https://cdn/o.mp4"), "id": "j", "status": "completed"})
    assert status.video_url == "https://cdn/o.mp4"


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"type": "generation_error", "message": "bad frames"}},
        {"error": "bad frames"},
        {"result": {"error": "bad frames"}},
    ],
)
def test_failure_reason(body: dict) -> None:
    status = LTX.parse_status({"id": "j", "status": "failed", **body})
    assert status.state == JobState.FAILED and status.error == "bad frames"


def test_unknown_status_and_missing_url() -> None:
    with pytest.raises(ProviderError, match="mystery"):
        LTX.parse_status({"status": "mystery", "token": KEY})
    with pytest.raises(ProviderError) as info:
        LTX.parse_status({"status": "completed", "result": {}, "note": KEY})
    assert KEY not in repr(info.value.raw)


# --- errors --------------------------------------------------------------------------------------------------


def ltx_error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


@pytest.mark.parametrize(
    ("status", "kind", "cls"),
    [
        (400, "invalid_request_error", ProviderError),
        (401, "authentication_error", AuthError),
        (402, "insufficient_funds_error", PaymentError),
        (413, "request_too_large", RequestTooLargeError),
        (422, "content_filtered_error", ContentFilteredError),
        (429, "rate_limit_error", RateLimitError),
        (429, "concurrency_limit_error", RateLimitError),
        (404, "not_found_error", JobExpiredError),
        (500, "api_error", ProviderError),
        (503, "service_unavailable_error", ProviderError),
        (504, "timeout_error", ProviderError),
        (500, "something_new", ProviderError),
    ],
)
def test_parse_error_types(status: int, kind: str, cls: type) -> None:
    message = f"server message for {kind} (sent key {KEY})"
    err = LTX.parse_error(status, ltx_error(kind, message), {"Retry-After": "30"})
    assert type(err) is cls
    assert f"server message for {kind}" in str(err)
    assert KEY not in str(err) and KEY not in repr(err.raw)
    assert err.status_code == status and err.provider == "ltx"
    if cls is RateLimitError:
        assert err.retry_after == 30.0  # type: ignore[attr-defined]
        assert err.kind == ("concurrency" if kind.startswith("concurrency") else "rate")  # type: ignore[attr-defined]
    if cls is PaymentError:
        assert "Add funds" in str(err)
    if cls is JobExpiredError:
        assert "24 h" in str(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthError),
        (402, PaymentError),
        (413, RequestTooLargeError),
        (422, ContentFilteredError),
        (429, RateLimitError),
        (404, ProviderError),
        (502, ProviderError),
    ],
)
def test_parse_error_without_type(status: int, cls: type) -> None:
    err = LTX.parse_error(status, "plain text failure", {})
    assert type(err) is cls and "plain text failure" in str(err)


def test_retry_after_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=90)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    err = LTX.parse_error(429, ltx_error("rate_limit_error", "slow down"), {"retry-after": header})
    assert 80 <= err.retry_after <= 91  # type: ignore[attr-defined]


# --- upload ------------------------------------------------------------------------------------------------------


def test_upload_flow() -> None:
    media = video()
    call = LTX.build_upload(media)
    assert (call.method, call.path) == ("POST", "/v1/upload")
    assert call.json == {"content_type": "video/mp4", "filename": "input.mp4"}
    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    body = {
        "upload_url": "https://s3/put?X-Amz-Signature=zz",
        "storage_uri": "storage://uploads/t1",
        "expires_at": expires,
        "required_headers": {"Content-Type": "video/mp4", "x-ltx-upload-signature": "s"},
    }
    ticket = LTX.parse_upload(body)
    assert ticket.upload_url == body["upload_url"] and ticket.uri == "storage://uploads/t1"
    assert dict(ticket.headers) == body["required_headers"]
    assert time.time() + 3000 < ticket.expires_at < time.time() + 3600  # type: ignore[operator]
    with pytest.raises(ProviderError):
        LTX.parse_upload({"upload_url": "https://s3/put"})


def test_parse_expiry_forms() -> None:
    assert parse_expiry("2030-01-01T00:00:00Z") == datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
    assert parse_expiry("2030-01-01T00:00:00") == datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
    assert parse_expiry(1_900_000_000) == 1_900_000_000
    assert parse_expiry("1900000000") == 1_900_000_000
    assert parse_expiry(1_900_000_000_000) == 1_900_000_000
    assert parse_expiry("tomorrow") is None and parse_expiry(None) is None


# --- cost ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "amount"),
    [
        (t2v(), 0.48),  # ltx-2-3-pro at 1080p: 0.08 x 6
        (t2v(model="ltx-2-3-fast", duration=20), 1.2),
        (t2v(model="ltx-2-3-fast", duration=10, resolution="2560x1440"), 1.2),
        (t2v(model="ltx-2-3-pro", duration=8, resolution="3840x2160"), 2.56),
        (t2v(model="ltx-2-5-fast", duration=10, resolution="1280x720"), 0.9),
        (t2v(model="ltx-2-5-pro", duration=4, resolution="720x1280"), 0.48),
        (t2v(model="ltx-2-5-pro", duration="auto"), 1.7),  # up to 10 s at 1080p
        (req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image(), duration=10), 0.8),
        (req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(9.5)), 0.95),  # 0.10 x the audio
        (req(Mode.RETAKE, video=video(8), duration=3), 0.8),  # the whole input video
        (req(Mode.EXTEND, video=video(w=3840, h=2160), duration=5, context=2), 0.7),  # added + context
    ],
)
def test_cost(r: GenerationRequest, amount: float) -> None:
    cost = LTX.estimate_cost(r)
    assert cost is not None and cost.unit == "USD"
    assert cost.amount == pytest.approx(amount)
    assert "USD/s" in cost.detail


# --- media URLs the LTX API fetches itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://cdn.example.com/a.png", True),
        ("http://cdn.example.com/a.png", False),  # https only
        ("https://93.184.216.34/a.png", False),  # no IP literals
        ("https://[2001:db8::1]/a.png", False),
        ("http://127.0.0.1:8765/_files/abc", True),  # loopback: a local emulator or proxy
        ("http://localhost/a.png", True),
    ],
)
def test_media_urls_must_be_https_with_a_host_name(url: str, ok: bool) -> None:
    from ltx2_nodes.api.errors import InvalidInputError
    from ltx2_nodes.api.media.inputs import media_from_url
    from ltx2_nodes.api.types import GenerationRequest, MediaKind, Mode

    req = GenerationRequest(
        provider="ltx",
        mode=Mode.IMAGE_TO_VIDEO,
        model="ltx-2-3-fast",
        prompt="p",
        duration=6,
        resolution="1920x1080",
        fps=25,
        image=media_from_url(url, MediaKind.IMAGE),
    )
    provider = get_provider("ltx")
    if ok:
        provider.validate(req)
    else:
        with pytest.raises(InvalidInputError) as info:
            provider.validate(req)
        assert info.value.field == "image"

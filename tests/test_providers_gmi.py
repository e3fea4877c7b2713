"""GMI Cloud provider: payloads for every mode, validation, status parsing, errors, upload, cost."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.errors import (
    AuthError,
    ContentFilteredError,
    InvalidInputError,
    PaymentError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
)
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.providers.gmi import GmiProvider
from ltx2_nodes.api.types import (
    GenerationRequest,
    JobState,
    MediaInfo,
    MediaInput,
    MediaKind,
    Mode,
    SubmittedJob,
)

KEY = "gmi_abcdef0123456789SECRETKEY"
GMI = GmiProvider()
RESOLUTIONS = ["1920x1080", "2560x1440", "3840x2160"]
MOTIONS = [
    "dolly_in",
    "dolly_out",
    "dolly_left",
    "dolly_right",
    "jib_up",
    "jib_down",
    "static",
    "focus_shift",
]


def image(ctype: str = "image/png", **info: object) -> MediaInput:
    return MediaInput(
        MediaKind.IMAGE, ctype, data=b"img", filename="in.png", info=MediaInfo(width=64, height=64, **info)
    )  # type: ignore[arg-type]


def audio(seconds: float | None = 5.0, ctype: str = "audio/wav") -> MediaInput:
    return MediaInput(MediaKind.AUDIO, ctype, data=b"aud", info=MediaInfo(duration=seconds))


def video(seconds: float | None = 10.0, w: int = 1920, h: int = 1080, fps: float = 25.0) -> MediaInput:
    frames = None if seconds is None else int(seconds * fps) + 1
    return MediaInput(
        MediaKind.VIDEO,
        "video/mp4",
        data=b"vid",
        info=MediaInfo(duration=seconds, width=w, height=h, fps=fps, frame_count=frames),
    )


def req(mode: Mode, **kw: object) -> GenerationRequest:
    return GenerationRequest(provider="gmi", mode=mode, **kw)  # type: ignore[arg-type]


def t2v(**kw: object) -> GenerationRequest:
    kw.setdefault("prompt", "a red fox in snow")
    return req(Mode.TEXT_TO_VIDEO, **kw)


def refused(r: GenerationRequest, field: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        GMI.validate(r)
    assert info.value.field == field, str(info.value)
    assert info.value.provider == "gmi"
    return info.value


# --- attributes and models ---------------------------------------------------------------------------


def test_attributes() -> None:
    p = get_provider("GMI Cloud")
    assert isinstance(p, GmiProvider)
    assert (p.name, p.display_name, p.key_env, p.base_url_env) == (
        "gmi",
        "GMI Cloud",
        "GMI_API_KEY",
        "LTX2_GMI_BASE_URL",
    )
    assert p.default_base_url == "https://console.gmicloud.ai/api/v1/ie/requestqueue/apikey"
    assert p.hosting_methods == ("upload", "data-uri", "url") and p.default_hosting == "upload"
    assert p.poll_interval == 3.0 and p.can_cancel is False
    assert p.build_cancel(SubmittedJob("gmi", Mode.TEXT_TO_VIDEO, "r1")) is None
    assert p.auth_headers(KEY) == {"Authorization": f"Bearer {KEY}"}


def test_models_and_defaults() -> None:
    wire = {m: [s.wire_id for s in GMI.models(m)] for m in GMI.modes()}
    assert wire == {
        Mode.TEXT_TO_VIDEO: ["ltx-2-pro-text-to-video", "ltx-2-fast-text-to-video"],
        Mode.IMAGE_TO_VIDEO: ["ltx-2-fast-image-to-video", "ltx-2-pro-image-to-video"],
        Mode.AUDIO_TO_VIDEO: ["ltx-2-pro-audio-to-video"],
        Mode.RETAKE: ["ltx-2-pro-retake"],
    }
    assert GMI.resolve_model(t2v()).wire_id == "ltx-2-pro-text-to-video"
    assert GMI.resolve_model(t2v(model="ltx-2-fast")).wire_id == "ltx-2-fast-text-to-video"
    assert GMI.resolve_model(t2v(model="ltx-2-fast-text-to-video")).name == "ltx-2-fast"
    refused(t2v(model="ltx-2-3-pro"), "model")
    assert GMI.models(Mode.IMAGE_TO_VIDEO)[1].durations == (6, 8, 10)
    assert GMI.models(Mode.IMAGE_TO_VIDEO)[0].durations == (6, 8, 10, 12, 14, 16, 18, 20)


def test_media_limits() -> None:
    assert set(GMI.media_limits(MediaKind.IMAGE).content_types) == {"image/jpeg", "image/png", "image/webp"}
    assert {"audio/wav", "audio/mpeg", "audio/ogg"} <= set(GMI.media_limits(MediaKind.AUDIO).content_types)


# --- submit bodies -------------------------------------------------------------------------------------


def test_submit_text_to_video_defaults() -> None:
    call = GMI.build_submit(t2v(seed=42), {})
    assert (call.method, call.path, call.response) == ("POST", "/requests", "json")
    assert call.json == {
        "model": "ltx-2-pro-text-to-video",
        "payload": {"prompt": "a red fox in snow", "duration": 6, "resolution": "1920x1080", "fps": 25},
    }


def test_submit_text_to_video_every_option() -> None:
    r = t2v(
        model="ltx-2-fast",
        duration=20.0,
        resolution="1920x1080",
        fps=25,
        camera_motion="jib_up",
        generate_audio=False,
    )
    assert GMI.build_submit(r, {}).json == {
        "model": "ltx-2-fast-text-to-video",
        "payload": {
            "prompt": "a red fox in snow",
            "duration": 20,
            "resolution": "1920x1080",
            "fps": 25,
            "generate_audio": False,
            "camera_motion": "jib_up",
        },
    }


def test_submit_image_to_video() -> None:
    r = req(Mode.IMAGE_TO_VIDEO, prompt="waves", image=image(), duration=8, resolution="2560x1440", fps=50)
    assert GMI.build_submit(r, {"image": "https://cdn/x.png"}).json == {
        "model": "ltx-2-fast-image-to-video",
        "payload": {
            "prompt": "waves",
            "image_uri": "https://cdn/x.png",
            "duration": 8,
            "resolution": "2560x1440",
            "fps": 50,
        },
    }
    url_image = MediaInput(MediaKind.IMAGE, "image/jpeg", url="https://user/a.jpg")
    r2 = req(Mode.IMAGE_TO_VIDEO, model="ltx-2-pro", prompt="waves", image=url_image)
    body = GMI.build_submit(r2, {}).json
    assert body["model"] == "ltx-2-pro-image-to-video"
    assert body["payload"]["image_uri"] == "https://user/a.jpg"


def test_submit_audio_to_video() -> None:
    r = req(Mode.AUDIO_TO_VIDEO, prompt="a singer", audio=audio(6.5))
    assert GMI.build_submit(r, {"audio": "https://cdn/a.wav"}).json == {
        "model": "ltx-2-pro-audio-to-video",
        "payload": {"audio_uri": "https://cdn/a.wav", "prompt": "a singer"},
    }
    r = req(
        Mode.AUDIO_TO_VIDEO,
        audio=audio(),
        image=image("image/webp"),
        guidance_scale=7.5,
        resolution="1920x1080",
    )
    assert GMI.build_submit(r, {"audio": "A", "image": "I"}).json == {
        "model": "ltx-2-pro-audio-to-video",
        "payload": {"audio_uri": "A", "image_uri": "I", "resolution": "1920x1080", "guidance_scale": 7.5},
    }


def test_submit_retake() -> None:
    r = req(
        Mode.RETAKE, video=video(10), start_time=2.5, duration=4, retake_mode="replace_audio", prompt="rain"
    )
    assert GMI.build_submit(r, {"video": "https://cdn/v.mp4"}).json == {
        "model": "ltx-2-pro-retake",
        "payload": {
            "video_uri": "https://cdn/v.mp4",
            "start_time": 2.5,
            "duration": 4,
            "prompt": "rain",
            "mode": "replace_audio",
        },
    }
    r = req(Mode.RETAKE, video=video(10), duration=3)
    assert GMI.build_submit(r, {"video": "V"}).json["payload"] == {
        "video_uri": "V",
        "start_time": 0,
        "duration": 3,
    }


def test_submit_refuses_invalid_request() -> None:
    with pytest.raises(InvalidInputError):
        GMI.build_submit(t2v(duration=7), {})


# --- validation ------------------------------------------------------------------------------------------


@settings(max_examples=150)
@given(
    st.sampled_from([Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO]),
    st.sampled_from(["ltx-2-pro", "ltx-2-fast"]),
    st.sampled_from([4, 5, 6, 7, 8, 10, 12, 14, 16, 18, 20, 22, 6.5]),
    st.sampled_from([*RESOLUTIONS, "1280x720", "1080x1920"]),
    st.sampled_from([24, 25, 30, 48, 50]),
)
def test_duration_resolution_fps_combos(mode: Mode, model: str, duration: float, res: str, fps: int) -> None:
    r = req(
        mode,
        model=model,
        prompt="p",
        duration=duration,
        resolution=res,
        fps=fps,
        image=image() if mode == Mode.IMAGE_TO_VIDEO else None,
    )
    allowed = (6, 8, 10) if model == "ltx-2-pro" else (6, 8, 10, 12, 14, 16, 18, 20)
    if duration not in allowed:
        expected = "duration"
    elif res not in RESOLUTIONS:
        expected = "resolution"
    elif fps not in (25, 50):
        expected = "fps"
    elif duration >= 12 and (res != "1920x1080" or fps != 25):
        expected = "duration"
    else:
        expected = None
    if expected is None:
        assert GMI.validate(r).name == model
        payload = GMI.build_submit(r, {"image": "I"}).json["payload"]
        assert (payload["duration"], payload["resolution"], payload["fps"]) == (duration, res, fps)
    else:
        refused(r, expected)


@given(st.one_of(st.sampled_from(MOTIONS), st.text(max_size=12)))
def test_camera_motion(motion: str) -> None:
    r = t2v(camera_motion=motion)
    if motion in MOTIONS:
        GMI.validate(r)
    else:
        err = refused(r, "camera_motion")
        assert "dolly_in" in err.allowed


def test_generation_rules() -> None:
    refused(t2v(prompt="  "), "prompt")
    refused(req(Mode.IMAGE_TO_VIDEO, prompt="p"), "image")
    refused(req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image("image/gif")), "image")
    refused(t2v(image=image()), "image")
    refused(t2v(aspect_ratio="16:9"), "aspect_ratio")
    refused(t2v(guidance_scale=3.0), "guidance_scale")
    refused(t2v(generate_audio="yes"), "generate_audio")  # type: ignore[arg-type]
    refused(t2v(seed="1"), "seed")  # type: ignore[arg-type]
    GMI.validate(t2v(seed=-1, generate_audio=True))
    GMI.validate(req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image("image/jpg")))


@settings(max_examples=60)
@given(st.floats(0.5, 30))
def test_audio_to_video_audio_length(seconds: float) -> None:
    r = req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(seconds))
    if 1.95 <= seconds <= 20.05:
        GMI.validate(r)
    elif seconds < 1.9 or seconds > 20.1:
        err = refused(r, "audio")
        assert "2 to 20 s" in err.allowed


def test_audio_to_video_rules() -> None:
    refused(req(Mode.AUDIO_TO_VIDEO, prompt="p"), "audio")
    refused(req(Mode.AUDIO_TO_VIDEO, audio=audio()), "prompt")
    GMI.validate(req(Mode.AUDIO_TO_VIDEO, audio=audio(), image=image()))
    refused(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(), resolution="2560x1440"), "resolution")
    refused(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(), fps=50), "fps")
    refused(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(), duration=6), "duration")
    refused(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(ctype="audio/flac")), "audio")
    refused(
        req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(), guidance_scale=float("nan")), "guidance_scale"
    )
    for ctype in ("audio/wav", "audio/mpeg", "audio/mp3", "audio/mp4", "audio/ogg", "video/mp4"):
        GMI.validate(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(ctype=ctype)))
    url_audio = MediaInput(
        MediaKind.AUDIO, "audio/wav", url="https://u/a.wav"
    )  # length unknown: runner probes
    GMI.validate(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=url_audio))


@settings(max_examples=120)
@given(st.floats(-2, 25), st.floats(0, 25), st.floats(3, 25))
def test_retake_section(start: float, duration: float, length: float) -> None:
    r = req(Mode.RETAKE, video=video(length), start_time=start, duration=duration)
    if length > 21.05:
        refused(r, "video")
    elif start < 0:
        refused(r, "start_time")
    elif duration < 2 or duration > 21:
        refused(r, "duration")
    elif start + duration > length + 1 / 25:
        err = refused(r, "duration")
        assert "inside" in str(err)
    else:
        GMI.validate(r)


def test_retake_rules() -> None:
    refused(req(Mode.RETAKE, duration=3), "video")
    refused(req(Mode.RETAKE, video=video()), "duration")
    refused(req(Mode.RETAKE, video=video(w=4096, h=2160), duration=3), "video")
    GMI.validate(req(Mode.RETAKE, video=video(w=2160, h=3840), duration=3))
    refused(req(Mode.RETAKE, video=video(), duration=3, retake_mode="replace_all"), "retake_mode")
    refused(req(Mode.RETAKE, video=video(), duration=3, fps=25), "fps")
    for mode in ("replace_audio_and_video", "replace_audio", "replace_video"):
        GMI.validate(req(Mode.RETAKE, video=video(), duration=3, retake_mode=mode))
    refused(req(Mode.RETAKE, video=audio(), duration=3), "video")  # type: ignore[arg-type]


# --- submit / status parsing ---------------------------------------------------------------------------------


def test_parse_submit() -> None:
    body = {"request_id": "req-1", "model": "ltx-2-pro-text-to-video", "status": "created"}
    job = GMI.parse_submit(t2v(), body)
    assert job == SubmittedJob(provider="gmi", mode=Mode.TEXT_TO_VIDEO, job_id="req-1", model="ltx-2-pro")
    assert GMI.parse_submit(t2v(), {"id": 77}).job_id == "77"
    with pytest.raises(ProviderError) as info:
        GMI.parse_submit(t2v(), {"status": "created", "token": KEY, "note": f"Bearer {KEY}"})
    assert KEY not in str(info.value) and KEY not in repr(info.value.raw)
    assert GMI.build_status(job).method == "GET"
    assert GMI.build_status(job).path == "/requests/req-1"


STATES = {
    "created": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "dispatched": JobState.RUNNING,
    "processing": JobState.RUNNING,
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


@given(st.data(), st.sampled_from(sorted(STATES)))
def test_status_words_any_case(data: st.DataObject, word: str) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    shown = "".join(ch.upper() if f else ch for ch, f in zip(word, flips, strict=True))
    body = {
        "request_id": "r",
        "status": shown,
        "outcome": {"media_urls": [{"id": "m", "url": "https://gcs/v.mp4"}]},
    }
    status = GMI.parse_status(body)
    assert status.state == STATES[word]
    assert status.raw_status == shown
    if status.state == JobState.SUCCEEDED:
        assert status.video_url == "https://gcs/v.mp4"


URL_SHAPES = [
    lambda u: {"outcome": {"media_urls": [{"id": "m1", "url": u}]}},
    lambda u: {"outcome": {"media_urls": [u]}},
    lambda u: {"outcome": {"video_url": u}},
    lambda u: {"outcome": {"url": u}},
]


@given(
    st.sampled_from(URL_SHAPES),
    st.dictionaries(
        st.sampled_from(["queued_at", "payload", "model", "x"]),
        st.one_of(st.integers(), st.text(max_size=5)),
        max_size=3,
    ),
)
def test_video_url_locations(shape, junk: dict) -> None:  # type: ignore[no-untyped-def]
    body = {
        **junk,
        **shape("https://storage.googleapis.com/b/out.mp4"),
        "status": "success",
        "request_id": "r",
    }
    status = GMI.parse_status(body)
    assert status.state == JobState.SUCCEEDED
    assert status.video_url == "https://storage.googleapis.com/b/out.mp4"
    assert status.raw["request_id"] == "r"


def test_success_without_url_is_an_error() -> None:
    with pytest.raises(ProviderError) as info:
        GMI.parse_status({"status": "success", "outcome": {"media_urls": []}, "api_key": KEY})
    assert "video URL" in str(info.value)
    assert KEY not in repr(info.value.raw)


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": {"reason": "GPU exploded"}},
        {"outcome": {"error": "GPU exploded"}},
        {"outcome": {"message": "GPU exploded"}},
        {"reason": "GPU exploded"},
        {"error": "GPU exploded"},
        {"error": {"message": "GPU exploded"}},
        {"message": "GPU exploded"},
        {"detail": "GPU exploded"},
    ],
)
def test_failure_reason_locations(body: dict) -> None:
    status = GMI.parse_status({"status": "failed", **body})
    assert status.state == JobState.FAILED
    assert status.error == "GPU exploded"


def test_failure_without_reason_keeps_body() -> None:
    status = GMI.parse_status({"status": "FAILED", "request_id": "abc"})
    assert status.state == JobState.FAILED
    assert "abc" in (status.error or "")


def test_unknown_status_word() -> None:
    with pytest.raises(ProviderError) as info:
        GMI.parse_status({"status": "mystery_state", "note": f"key {KEY}"})
    assert "mystery_state" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value.raw)
    with pytest.raises(ProviderError):
        GMI.parse_status("not json")


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ProviderError),
        (401, AuthError),
        (403, AuthError),
        (402, PaymentError),
        (413, RequestTooLargeError),
        (422, ContentFilteredError),
        (429, RateLimitError),
        (500, ProviderError),
        (503, ProviderError),
    ],
)
def test_parse_error(status: int, cls: type) -> None:
    body = {"error": f"duration must be one of 6, 8 (key {KEY})", "code": status}
    err = GMI.parse_error(status, body, {"retry-after": "12"})
    assert type(err) is cls
    assert "duration must be one of 6, 8" in str(err)
    assert KEY not in str(err) and KEY not in repr(err.raw)
    assert err.provider == "gmi" and err.status_code == status
    if cls is RateLimitError:
        assert err.retry_after == 12.0  # type: ignore[attr-defined]


def test_parse_error_text_body() -> None:
    err = GMI.parse_error(502, "<html>Bad gateway</html>", {})
    assert isinstance(err, ProviderError) and "Bad gateway" in str(err)


# --- upload --------------------------------------------------------------------------------------------------------


def test_upload_flow() -> None:
    media = image("image/jpeg")
    call = GMI.build_upload(media)
    assert (call.method, call.path, call.json) == ("POST", "/upload-url", {"file_type": "jpg"})
    before = time.time()
    body = {"upload_url": "https://gcs/put?X-Goog-Signature=abc", "public_url": "https://gcs/pub/a.jpg"}
    ticket = GMI.parse_upload(body, media=media)
    assert ticket.upload_url == body["upload_url"] and ticket.uri == body["public_url"]
    assert ticket.headers == {"Content-Type": "image/jpeg"}
    assert before + 10 * 60 < ticket.expires_at < time.time() + 15 * 60  # type: ignore[operator]
    assert GMI.parse_upload(body).uri == body["public_url"]
    with pytest.raises(ProviderError):
        GMI.parse_upload({"upload_url": "https://gcs/put"})


# --- cost ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "amount"),
    [
        (t2v(), 0.36),
        (t2v(model="ltx-2-fast", duration=20), 0.8),
        (t2v(duration=10, resolution="2560x1440"), 1.2),
        (t2v(model="ltx-2-fast", duration=8, resolution="3840x2160"), 1.28),
        (req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=audio(12.5)), 0.75),
        (req(Mode.RETAKE, video=video(10), duration=4), 0.24),
    ],
)
def test_cost(r: GenerationRequest, amount: float) -> None:
    cost = GMI.estimate_cost(r)
    assert cost is not None and cost.unit == "USD"
    assert cost.amount == pytest.approx(amount)
    assert "estimate" in cost.detail


def test_cost_unknown_audio_length() -> None:
    url_audio = MediaInput(MediaKind.AUDIO, "audio/wav", url="https://u/a.wav")
    assert GMI.estimate_cost(req(Mode.AUDIO_TO_VIDEO, prompt="p", audio=url_audio)) is None

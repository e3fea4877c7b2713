"""API in One provider: request bodies, validation, tolerant status/URL parsing, both error forms, credits."""

from __future__ import annotations

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
from ltx2_nodes.api.providers.apiinone import (
    CREDIT_RANGES,
    VIDEO_URL_PATHS,
    ApiInOneProvider,
    expected_credits_range,
)
from ltx2_nodes.api.types import (
    GenerationRequest,
    JobState,
    MediaInfo,
    MediaInput,
    MediaKind,
    Mode,
    SubmittedJob,
)

KEY = "aio_live0123456789abcdefSECRET"
AIO = ApiInOneProvider()
URL = "https://cdn.apiin.one/out/v.mp4"


def image() -> MediaInput:
    return MediaInput(MediaKind.IMAGE, "image/png", data=b"img", info=MediaInfo(width=64, height=64))


def audio(seconds: float | None = 6.0) -> MediaInput:
    return MediaInput(MediaKind.AUDIO, "audio/mpeg", data=b"aud", info=MediaInfo(duration=seconds))


def video(seconds: float | None = 8.0) -> MediaInput:
    return MediaInput(
        MediaKind.VIDEO,
        "video/mp4",
        data=b"vid",
        info=MediaInfo(duration=seconds, width=128, height=72, fps=25.0),
    )


def req(mode: Mode, **kw: object) -> GenerationRequest:
    return GenerationRequest(provider="apiinone", mode=mode, **kw)  # type: ignore[arg-type]


def t2v(**kw: object) -> GenerationRequest:
    kw.setdefault("prompt", "a paper boat")
    return req(Mode.TEXT_TO_VIDEO, **kw)


def refused(r: GenerationRequest, field: str) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        AIO.validate(r)
    assert info.value.field == field, str(info.value)
    assert info.value.provider == "apiinone"
    return info.value


def test_attributes_and_models() -> None:
    p = get_provider("API in One")
    assert isinstance(p, ApiInOneProvider)
    assert (p.name, p.key_env, p.base_url_env, p.default_base_url) == (
        "apiinone",
        "APIINONE_API_KEY",
        "LTX2_APIINONE_BASE_URL",
        "https://apiin.one/api/v1",
    )
    assert p.hosting_methods == ("data-uri", "url") and p.default_hosting == "data-uri"
    assert p.poll_interval == 5.0 and not p.can_cancel
    assert p.build_upload(image()) is None
    assert p.modes() == [Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO, Mode.LIPSYNC, Mode.CONTROL]
    assert all(s.name == s.wire_id == "ltx-2" for s in p.models())
    assert AIO.resolve_model(t2v(model="ltx-2")).default_resolution == "720p"
    refused(t2v(model="ltx-2-pro"), "model")


# --- submit bodies ---------------------------------------------------------------------------------------


def test_submit_text_to_video() -> None:
    call = AIO.build_submit(t2v(), {})
    assert (call.method, call.path, call.response) == ("POST", "/videos/generations", "json")
    assert call.json == {
        "model": "ltx-2",
        "type": "text-to-video",
        "prompt": "a paper boat",
        "resolution": "720p",
        "duration": 5,
    }
    r = t2v(resolution="1080p", aspect_ratio="9:16", duration=12.0, seed=-1)
    assert AIO.build_submit(r, {}).json == {
        "model": "ltx-2",
        "type": "text-to-video",
        "prompt": "a paper boat",
        "resolution": "1080p",
        "duration": 12,
        "aspect_ratio": "9:16",
        "seed": -1,
    }


def test_submit_image_to_video() -> None:
    r = req(Mode.IMAGE_TO_VIDEO, prompt="p", image=image(), seed=7, resolution="480p")
    assert AIO.build_submit(r, {"image": "data:image/png;base64,AAAA"}).json == {
        "model": "ltx-2",
        "type": "image-to-video",
        "prompt": "p",
        "resolution": "480p",
        "duration": 5,
        "image": "data:image/png;base64,AAAA",
        "seed": 7,
    }


def test_submit_lipsync() -> None:
    r = req(Mode.LIPSYNC, audio=audio(7.456), image=image())
    assert AIO.build_submit(r, {"audio": "A", "image": "I"}).json == {
        "model": "ltx-2",
        "type": "lipsync",
        "resolution": "720p",
        "audio": "A",
        "audio_duration": 7.46,
        "image": "I",
    }
    r = req(Mode.LIPSYNC, audio=audio(20.02), prompt="she sings")
    body = AIO.build_submit(r, {"audio": "A"}).json
    assert body["audio_duration"] == 20 and body["prompt"] == "she sings" and "duration" not in body


def test_submit_control() -> None:
    r = req(
        Mode.CONTROL,
        video=video(10.0),
        control_mode="canny",
        audio_mode="preserve",
        prompt="robot",
        resolution="1080p",
    )
    assert AIO.build_submit(r, {"video": "V"}).json == {
        "model": "ltx-2",
        "type": "control",
        "prompt": "robot",
        "resolution": "1080p",
        "video": "V",
        "video_duration": 10,
        "mode": "canny",
        "audio_mode": "preserve",
    }


# --- validation -----------------------------------------------------------------------------------------------


@settings(max_examples=150)
@given(
    st.sampled_from([Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO]),
    st.one_of(st.none(), st.integers(0, 25), st.floats(4, 21)),
    st.sampled_from([None, "480p", "720p", "1080p", "4k", "1920x1080"]),
    st.sampled_from([None, "16:9", "9:16", "1:1"]),
)
def test_generation_combos(mode: Mode, duration: float | None, res: str | None, aspect: str | None) -> None:
    r = req(
        mode,
        prompt="p",
        duration=duration,
        resolution=res,
        aspect_ratio=aspect,
        image=image() if mode == Mode.IMAGE_TO_VIDEO else None,
    )
    if aspect is not None and mode == Mode.IMAGE_TO_VIDEO:
        expected = "aspect_ratio"
    elif res is not None and res not in ("480p", "720p", "1080p"):
        expected = "resolution"
    elif duration is not None and not (5 <= duration <= 20 and float(duration).is_integer()):
        expected = "duration"
    elif aspect is not None and aspect not in ("16:9", "9:16"):
        expected = "aspect_ratio"
    else:
        expected = None
    if expected is None:
        AIO.validate(r)
        body = AIO.build_submit(r, {"image": "I"}).json
        assert body["duration"] == (duration if duration is not None else 5)
        assert body["resolution"] == (res or "720p")
    else:
        refused(r, expected)


@given(st.integers(-(2**40), 2**40))
def test_seed_range(seed: int) -> None:
    if -1 <= seed <= 2**31 - 1:
        assert AIO.build_submit(t2v(seed=seed), {}).json["seed"] == seed
    else:
        refused(t2v(seed=seed), "seed")


@settings(max_examples=80)
@given(st.sampled_from([Mode.LIPSYNC, Mode.CONTROL]), st.floats(1, 30))
def test_media_length(mode: Mode, seconds: float) -> None:
    field = "audio" if mode == Mode.LIPSYNC else "video"
    media = audio(seconds) if mode == Mode.LIPSYNC else video(seconds)
    r = req(mode, control_mode="pose" if mode == Mode.CONTROL else None, **{field: media})
    if 4.95 <= seconds <= 20.05:
        body = AIO.build_submit(r, {field: "U"}).json
        sent = body[f"{field}_duration"]
        assert 5 <= sent <= 20 and abs(sent - seconds) <= 0.06
    elif seconds < 4.9 or seconds > 20.1:
        err = refused(r, field)
        assert "5 to 20 s" in err.allowed


def test_mode_rules() -> None:
    refused(t2v(prompt=""), "prompt")
    refused(req(Mode.IMAGE_TO_VIDEO, prompt="p"), "image")
    refused(req(Mode.IMAGE_TO_VIDEO, prompt=" ", image=image()), "prompt")
    refused(t2v(image=image()), "image")
    refused(t2v(fps=25), "fps")
    refused(t2v(camera_motion="static"), "camera_motion")
    refused(t2v(generate_audio=True), "generate_audio")
    refused(t2v(control_mode="pose"), "control_mode")
    refused(req(Mode.LIPSYNC), "audio")
    refused(req(Mode.LIPSYNC, audio=audio(), duration=6), "duration")
    refused(req(Mode.LIPSYNC, audio=audio(), aspect_ratio="16:9"), "aspect_ratio")
    refused(req(Mode.LIPSYNC, audio=audio(), video=video()), "video")
    url_audio = MediaInput(MediaKind.AUDIO, "audio/wav", url="https://u/a.wav")
    err = refused(req(Mode.LIPSYNC, audio=url_audio), "audio")
    assert "length" in str(err)
    refused(req(Mode.CONTROL, control_mode="pose"), "video")
    refused(req(Mode.CONTROL, video=video()), "control_mode")
    refused(req(Mode.CONTROL, video=video(), control_mode="edges"), "control_mode")
    refused(req(Mode.CONTROL, video=video(), control_mode="depth", audio_mode="mute"), "audio_mode")
    refused(req(Mode.CONTROL, video=video(), control_mode="depth", image=image()), "image")
    for cm in ("pose", "depth", "canny"):
        for am in ("preserve", "generate", "none"):
            AIO.validate(req(Mode.CONTROL, video=video(), control_mode=cm, audio_mode=am))
    refused(req(Mode.RETAKE, video=video(), duration=3), "mode")


# --- submit / status parsing -------------------------------------------------------------------------------------


def test_parse_submit() -> None:
    body = {
        "code": 200,
        "message": "success",
        "data": {"task_id": "t-1", "status": "IN_PROGRESS", "credits": 20},
    }
    job = AIO.parse_submit(t2v(), body)
    assert job == SubmittedJob(provider="apiinone", mode=Mode.TEXT_TO_VIDEO, job_id="t-1", model="ltx-2")
    assert (AIO.build_status(job).method, AIO.build_status(job).path) == ("GET", "/tasks/t-1")
    assert AIO.parse_submit(t2v(), {"task_id": "t-2"}).job_id == "t-2"
    with pytest.raises(ProviderError) as info:
        AIO.parse_submit(t2v(), {"code": 200, "data": {"status": "x"}, "echo": KEY})
    assert KEY not in repr(info.value.raw)


@pytest.mark.parametrize(
    ("body", "cls"),
    [
        ({"code": 402, "message": "insufficient credits", "data": None}, PaymentError),
        ({"code": 401, "message": "invalid api key", "data": None}, AuthError),
        ({"code": 429, "message": "too many requests", "data": None}, RateLimitError),
        ({"code": 500, "message": "internal failure", "data": None}, ProviderError),
        ({"code": "400", "message": "prompt is required", "data": None}, ProviderError),
        (
            {"error": {"code": 402, "message": "insufficient credits", "type": "insufficient_credits"}},
            PaymentError,
        ),
        ({"error": {"code": 401, "message": "invalid api key", "type": "authentication_error"}}, AuthError),
    ],
)
def test_error_inside_http_200(body: dict, cls: type) -> None:
    body = {**body, "request_key": KEY}
    for parse in (lambda b: AIO.parse_submit(t2v(), b), AIO.parse_status):
        with pytest.raises(cls) as info:
            parse(body)
        message = body.get("message") or body["error"]["message"]
        assert message in str(info.value)
        assert KEY not in str(info.value) and KEY not in repr(info.value.raw)


STATES = {
    "in_progress": JobState.RUNNING,
    "pending": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "running": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "succeeded": JobState.SUCCEEDED,
    "success": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "error": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
    "canceled": JobState.CANCELLED,
}


@given(st.data(), st.sampled_from(sorted(STATES)), st.booleans())
def test_status_words_any_case(data: st.DataObject, word: str, top_level: bool) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    shown = "".join(ch.upper() if f else ch for ch, f in zip(word, flips, strict=True))
    if top_level:
        body = {"status": shown, "data": {"video_url": URL}}
    else:
        body = {
            "code": 200,
            "message": "success",
            "data": {"task_id": "t", "status": shown, "video_url": URL},
        }
    status = AIO.parse_status(body)
    assert status.state == STATES[word]
    assert status.raw_status == shown
    if status.state == JobState.SUCCEEDED:
        assert status.video_url == URL


def _put(path: str, value: str) -> dict:
    """A body with ``value`` at a candidate path like ``data.videos[0]`` or ``data.output.video_url``."""
    parts = path.split(".")
    last = parts[-1]
    if last.endswith("[0]"):
        inner: object = [value]
        parts[-1] = last[:-3]
    elif last == "url" and parts[-2] == "videos[0]":
        inner = {"url": value}
        parts = parts[:-1]
        parts[-1] = "videos"
        inner = [inner]
    else:
        inner = value
    for part in reversed(parts):
        if part.endswith("[0]"):
            inner = [inner]
            part = part[:-3]
        inner = {part: inner}
    return inner  # type: ignore[return-value]


@given(
    st.sampled_from(VIDEO_URL_PATHS),
    st.dictionaries(
        st.sampled_from(["credits", "task_id", "created_at", "meta"]),
        st.one_of(st.integers(), st.text(max_size=6)),
        max_size=4,
    ),
    st.sampled_from(["completed", "SUCCEEDED", "success"]),
)
def test_video_url_locations(path: str, junk: dict, word: str) -> None:
    body = _put(path, URL)
    body["data"].update({k: v for k, v in junk.items() if k not in body["data"]})
    body["data"]["status"] = word
    body.update({"code": 200, "message": "success"})
    status = AIO.parse_status(body)
    assert status.state == JobState.SUCCEEDED
    assert status.video_url == URL


def test_missing_url_raises_with_redacted_body() -> None:
    body = {"code": 200, "data": {"status": "completed", "weird": {"place": URL}, "key": KEY}}
    with pytest.raises(ProviderError) as info:
        AIO.parse_status(body)
    assert "weird" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value.raw)


@pytest.mark.parametrize(
    "data",
    [
        {"error": "face not found"},
        {"error": {"message": "face not found"}},
        {"fail_reason": "face not found"},
        {"message": "face not found"},
    ],
)
def test_failure_reason(data: dict) -> None:
    status = AIO.parse_status({"code": 200, "message": "success", "data": {"status": "FAILED", **data}})
    assert status.state == JobState.FAILED and status.error == "face not found"


def test_unknown_status() -> None:
    with pytest.raises(ProviderError, match="mystery_state"):
        AIO.parse_status({"code": 200, "data": {"status": "mystery_state"}})
    with pytest.raises(ProviderError):
        AIO.parse_status({"code": 200, "data": {}})


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ProviderError),
        (401, AuthError),
        (402, PaymentError),
        (413, RequestTooLargeError),
        (422, ContentFilteredError),
        (429, RateLimitError),
        (500, ProviderError),
        (503, ProviderError),
    ],
)
@pytest.mark.parametrize("form", ["error", "envelope"])
def test_parse_error(status: int, cls: type, form: str) -> None:
    message = f"refused for reason {status}; Bearer {KEY}"
    if form == "error":
        body = {"error": {"code": status, "message": message, "type": "invalid_request"}}
    else:
        body = {"code": status, "message": message, "data": None}
    err = AIO.parse_error(status, body, {"Retry-After": "4"})
    assert type(err) is cls
    assert f"refused for reason {status}" in str(err)
    assert KEY not in str(err) and KEY not in repr(err.raw)
    if cls is RateLimitError:
        assert err.retry_after == 4.0  # type: ignore[attr-defined]


def test_parse_error_uses_type_for_plain_400() -> None:
    body = {"error": {"code": 400, "message": "not enough credits", "type": "insufficient_credits"}}
    assert isinstance(AIO.parse_error(400, body, {}), PaymentError)


# --- credits ----------------------------------------------------------------------------------------------------------


def test_expected_credits_range() -> None:
    assert expected_credits_range(Mode.TEXT_TO_VIDEO) == (20, 76)
    assert expected_credits_range("image-to-video") == (20, 76)
    assert expected_credits_range(Mode.LIPSYNC) == (32, 128)
    assert expected_credits_range(Mode.CONTROL) == (64, 256)
    with pytest.raises(InvalidInputError):
        expected_credits_range(Mode.EXTEND)


@given(
    st.sampled_from([Mode.TEXT_TO_VIDEO, Mode.IMAGE_TO_VIDEO, Mode.LIPSYNC, Mode.CONTROL]),
    st.sampled_from(["480p", "720p", "1080p"]),
    st.integers(5, 20),
)
def test_credits_in_documented_range_and_monotonic(mode: Mode, res: str, seconds: int) -> None:
    def make(sec: float, resolution: str) -> GenerationRequest:
        if mode == Mode.LIPSYNC:
            return req(mode, audio=audio(sec), resolution=resolution)
        if mode == Mode.CONTROL:
            return req(mode, video=video(sec), control_mode="pose", resolution=resolution)
        return req(
            mode,
            prompt="p",
            duration=sec,
            resolution=resolution,
            image=image() if mode == Mode.IMAGE_TO_VIDEO else None,
        )

    cost = AIO.estimate_cost(make(seconds, res))
    assert cost is not None and cost.unit == "credits"
    lo, hi = CREDIT_RANGES[mode]
    assert lo <= cost.amount <= hi
    assert "estimate" in cost.detail
    longer = AIO.estimate_cost(make(min(seconds + 1, 20), res))
    assert longer is not None and longer.amount >= cost.amount
    bigger = AIO.estimate_cost(make(seconds, "1080p"))
    assert bigger is not None and bigger.amount >= cost.amount


def test_credit_numbers() -> None:
    assert AIO.estimate_cost(t2v()).amount == 24  # type: ignore[union-attr]
    assert AIO.estimate_cost(t2v(resolution="480p")).amount == 20  # type: ignore[union-attr]
    assert AIO.estimate_cost(t2v(resolution="1080p", duration=20)).amount == 76  # type: ignore[union-attr]
    assert AIO.estimate_cost(req(Mode.LIPSYNC, audio=audio(20), resolution="480p")).amount == 128  # type: ignore[union-attr]
    assert (
        AIO.estimate_cost(req(Mode.CONTROL, video=video(5), control_mode="pose", resolution="480p")).amount
        == 64
    )  # type: ignore[union-attr]
    assert str(AIO.estimate_cost(t2v())) == "24 credits"

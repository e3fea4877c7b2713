"""Shared provider functions: validation, tolerant lookups, status words, HTTP error mapping, registry."""

from __future__ import annotations

import email.utils
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.errors import (
    AuthError,
    ContentFilteredError,
    HostingError,
    InvalidInputError,
    PaymentError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
)
from ltx2_nodes.api.providers import common as c
from ltx2_nodes.api.providers import (
    get_provider,
    normalize_provider_name,
    provider_names,
    providers_for_mode,
)
from ltx2_nodes.api.providers.base import MediaLimits, Provider
from ltx2_nodes.api.types import GenerationRequest, JobState, MediaInfo, MediaInput, MediaKind, Mode

KEY = "sk-live0123456789abcdefSECRET"


def random_case(word: str, data: st.DataObject) -> str:
    flips = data.draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(ch.upper() if f else ch.lower() for ch, f in zip(word, flips, strict=True))


# --- validation functions ---------------------------------------------------------------------------


@given(st.integers(-50, 50))
def test_one_of_accepts_members_and_names_the_field(value: int) -> None:
    allowed = (6, 8, 10)
    if value in allowed:
        assert c.one_of("duration", value, allowed) == value
        assert c.one_of("duration", float(value), allowed) == float(value)
    else:
        with pytest.raises(InvalidInputError) as info:
            c.one_of("duration", value, allowed, provider="ltx")
        assert info.value.field == "duration"
        assert info.value.value == value
        assert "6, 8, 10" in str(info.value)
        assert info.value.provider == "ltx"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_in_range_bounds(value: float) -> None:
    ok = value == value and abs(value) != float("inf") and 2.0 <= value <= 20.0
    if ok:
        assert c.in_range("duration", value, 2.0, 20.0) == value
    else:
        with pytest.raises(InvalidInputError) as info:
            c.in_range("duration", value, 2.0, 20.0, unit="s")
        assert info.value.field == "duration"
        assert "2 to 20 s" in info.value.allowed


@given(st.floats(5, 20))
def test_in_range_integer_flag(value: float) -> None:
    if value.is_integer():
        c.in_range("duration", value, 5, 20, integer=True)
    else:
        with pytest.raises(InvalidInputError, match="whole number"):
            c.in_range("duration", value, 5, 20, integer=True)


def test_in_range_refuses_non_numbers() -> None:
    for bad in ("6", None, True, [6]):
        with pytest.raises(InvalidInputError) as info:
            c.in_range("fps", bad, 1, 60)  # type: ignore[arg-type]
        assert info.value.field == "fps"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_required_refuses_missing(value: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        c.required("image", value, allowed="an image")
    assert info.value.field == "image"
    assert "an image" in str(info.value)


def test_check_prompt_presence_and_length() -> None:
    assert c.check_prompt("  a cat  ", required_=True, max_chars=10) == "a cat"
    with pytest.raises(InvalidInputError) as info:
        c.check_prompt("   ", required_=True)
    assert info.value.field == "prompt"
    with pytest.raises(InvalidInputError, match="at most 5 characters"):
        c.check_prompt("abcdef", max_chars=5)
    assert c.check_prompt("", required_=False) == ""


def test_refuse_if_set_names_the_field() -> None:
    req = GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt="x", aspect_ratio="16:9")
    c.refuse_if_set(req, ["camera_motion", "image"])  # unset: fine
    with pytest.raises(InvalidInputError) as info:
        c.refuse_if_set(req, ["aspect_ratio"], provider="gmi")
    assert info.value.field == "aspect_ratio"
    assert info.value.value == "16:9"


def _img(ctype: str, n: int = 10, **info: object) -> MediaInput:
    return MediaInput(kind=MediaKind.IMAGE, content_type=ctype, data=b"\0" * n, info=MediaInfo(**info))  # type: ignore[arg-type]


LIMITS = MediaLimits(("image/png", "image/jpeg", "image/webp"), max_bytes_url=1000, max_bytes_data_uri=500)


@pytest.mark.parametrize("ctype", ["image/png", "image/jpeg", "image/jpg", "IMAGE/JPEG; q=1", "image/webp"])
def test_media_type_accepts_aliases(ctype: str) -> None:
    c.check_media_type("image", _img(ctype), LIMITS)


@pytest.mark.parametrize("ctype", ["image/gif", "image/bmp", "image/tiff"])
def test_media_type_refuses_other_formats(ctype: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        c.check_media_type("image", _img(ctype), LIMITS, provider="ltx")
    assert info.value.field == "image"
    assert "PNG" in info.value.allowed and "JPEG" in info.value.allowed


def test_media_type_falls_back_to_probed_format() -> None:
    c.check_media_type("image", _img("application/octet-stream", format="png"), LIMITS)
    c.check_media_type("image", _img("application/octet-stream"), LIMITS)  # nothing known: pass
    with pytest.raises(InvalidInputError):
        c.check_media_type("image", _img("application/octet-stream", format="gif"), LIMITS)


@given(st.integers(1, 2000))
def test_media_size_limits(size: int) -> None:
    media = _img("image/png", size)
    if size <= 1000:
        c.check_media_size("image", media, LIMITS)
    else:
        with pytest.raises(InvalidInputError) as info:
            c.check_media_size("image", media, LIMITS)
        assert info.value.field == "image"
    if size <= 500:
        c.check_media_size("image", media, LIMITS, hosting="data-uri")
    else:
        with pytest.raises(InvalidInputError, match="data URI"):
            c.check_media_size("image", media, LIMITS, hosting="data-uri")


def test_media_size_skips_urls() -> None:
    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", url="https://example.com/a.png")
    c.check_media_size("image", media, MediaLimits(("image/png",), max_bytes_url=1))


@given(st.floats(0.1, 40))
def test_media_duration(duration: float) -> None:
    media = MediaInput(
        kind=MediaKind.AUDIO, content_type="audio/wav", data=b"x", info=MediaInfo(duration=duration)
    )
    if 2 - 0.05 <= duration <= 20 + 0.05:
        assert c.check_media_duration("audio", media, 2, 20) == duration
    else:
        with pytest.raises(InvalidInputError) as info:
            c.check_media_duration("audio", media, 2, 20)
        assert info.value.field == "audio"
        assert "2 to 20 s" in info.value.allowed


def test_media_duration_unknown_is_skipped() -> None:
    media = MediaInput(kind=MediaKind.AUDIO, content_type="audio/wav", url="https://example.com/a.wav")
    assert c.check_media_duration("audio", media, 2, 20) is None


@pytest.mark.parametrize(
    ("w", "h", "ok"),
    [(3840, 2160, True), (2160, 3840, True), (3841, 2160, False), (3000, 3000, False), (64, 64, True)],
)
def test_media_dimensions(w: int, h: int, ok: bool) -> None:
    media = MediaInput(
        kind=MediaKind.VIDEO, content_type="video/mp4", data=b"x", info=MediaInfo(width=w, height=h)
    )
    if ok:
        c.check_media_dimensions("video", media, 3840, 2160)
    else:
        with pytest.raises(InvalidInputError) as info:
            c.check_media_dimensions("video", media, 3840, 2160)
        assert info.value.field == "video"


def test_media_uri_prefers_hosted_then_url() -> None:
    url_media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", url="https://h/a.png")
    assert c.media_uri("image", url_media, {}) == "https://h/a.png"
    assert c.media_uri("image", url_media, {"image": "storage://x"}) == "storage://x"
    with pytest.raises(HostingError):
        c.media_uri("image", _img("image/png"), {})


def test_wire_number() -> None:
    assert c.wire_number(6.0) == 6 and isinstance(c.wire_number(6.0), int)
    assert c.wire_number(2.5) == 2.5


# --- tolerant lookups -------------------------------------------------------------------------------


def test_lookup_paths() -> None:
    body = {"outcome": {"media_urls": [{"id": 1, "url": "https://a"}], "n": None}, "list": ["x", "y"]}
    assert c.lookup(body, "outcome.media_urls[0].url") == "https://a"
    assert c.lookup(body, "outcome.media_urls.0.url") == "https://a"
    assert c.lookup(body, "list[1]") == "y"
    assert c.lookup(body, "list[2]") is None
    assert c.lookup(body, "outcome.missing.deeper", "d") == "d"
    assert c.lookup("text", "a.b") is None
    assert c.lookup(body, "outcome.n", "d") is None


@given(st.lists(st.text("abcdefgh_", min_size=1, max_size=6), min_size=1, max_size=5), st.integers())
def test_lookup_finds_any_nested_value(keys: list[str], value: int) -> None:
    body: object = value
    for key in reversed(keys):
        body = {key: body, "junk": [1, 2]}
    assert c.lookup(body, ".".join(keys)) == value


def test_find_url_skips_non_urls() -> None:
    body = {"data": {"output": {"video_url": "https://v"}, "url": "not a url"}}
    assert c.find_url(body, ["data.url", "data.output", "data.output.video_url"]) == "https://v"
    assert c.find_url(body, ["data.nothing"]) is None


@given(
    st.data(), st.sampled_from(["IN_PROGRESS", "completed", "failed", "queued", "in progress", "in-progress"])
)
def test_status_word_any_case(data: st.DataObject, word: str) -> None:
    table = {
        "in_progress": JobState.RUNNING,
        "completed": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
        "queued": JobState.QUEUED,
    }
    assert c.map_status(random_case(word, data), table) is not None
    assert c.map_status("  " + word + " ", table) is not None
    assert c.map_status("mystery", table) is None
    assert c.map_status({"x": 1}, table) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 0.5), (50, 0.5), ("42%", 0.42), (100, 1.0), (-3, 0.0), ("x", None), (None, None), (True, None)],
)
def test_parse_progress(value: object, expected: float | None) -> None:
    assert c.parse_progress(value) == expected


def test_message_text_shapes() -> None:
    assert c.message_text({"message": "boom"}) == "boom"
    assert c.message_text({"error": {"detail": "deep"}}) == "deep"
    assert c.message_text(["a", {"msg": "b"}]) == "a; b"
    assert c.message_text(3) is None


# --- HTTP errors --------------------------------------------------------------------------------------


@given(st.floats(0, 10_000))
def test_retry_after_seconds(seconds: float) -> None:
    assert c.parse_retry_after(f"{seconds}") == pytest.approx(seconds)


def test_retry_after_http_date_and_garbage() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 120, usegmt=True)
    assert c.parse_retry_after(date, now=now) == pytest.approx(120, abs=1.5)
    past = email.utils.formatdate(now - 120, usegmt=True)
    assert c.parse_retry_after(past, now=now) == 0.0
    assert c.parse_retry_after("soon") is None
    assert c.parse_retry_after(None) is None
    assert c.parse_retry_after("nan") is None


def test_header_lookup_is_case_insensitive() -> None:
    assert c.header({"retry-after": "3"}, "Retry-After") == "3"
    assert c.header({}, "Retry-After") is None


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
        (502, ProviderError),
        (503, ProviderError),
        (504, ProviderError),
        (418, ProviderError),
    ],
)
@pytest.mark.parametrize(
    "shape",
    [
        lambda m: {"error": {"message": m, "key": KEY}},
        lambda m: {"error": m, "token": KEY},
        lambda m: {"message": m, "detail": f"Bearer {KEY}"},
        lambda m: {"detail": m},
        lambda m: m,
    ],
)
def test_error_from_http_maps_status(status: int, cls: type, shape) -> None:  # type: ignore[no-untyped-def]
    message = f"server says no {status} (key {KEY})"
    err = c.error_from_http("gmi", status, shape(message), {"Retry-After": "7"}, display_name="GMI Cloud")
    assert type(err) is cls
    assert err.status_code == status and err.provider == "gmi"
    assert f"server says no {status}" in str(err)
    assert "GMI Cloud" in str(err)
    assert KEY not in str(err) and KEY not in repr(err.raw)
    if cls is RateLimitError:
        assert err.retry_after == 7.0  # type: ignore[attr-defined]
        assert err.kind == "rate"  # type: ignore[attr-defined]


def test_error_from_http_type_refines_plain_status() -> None:
    err = c.error_from_http("x", 400, {"error": {"message": "no"}}, {}, error_type="insufficient_credits")
    assert isinstance(err, PaymentError)
    err = c.error_from_http("x", 429, {}, {}, error_type="concurrency_limit_error")
    assert isinstance(err, RateLimitError) and err.kind == "concurrency"  # type: ignore[attr-defined]
    err = c.error_from_http("x", 500, {}, {}, error_type="insufficient_credits")
    assert type(err) is ProviderError
    assert "server error" in str(err)


def test_resolution_tier() -> None:
    assert c.resolution_tier("1920x1080") == "1080p"
    assert c.resolution_tier("2560x1440") == "1440p"
    assert c.resolution_tier("3840x2160") == "2160p"
    assert c.resolution_tier(width=1280, height=720) == "720p"
    assert c.resolution_tier("1080x1920") == "1080p"
    assert c.resolution_tier(width=1440, height=2560) == "1440p"
    assert c.resolution_tier() == "1080p"


# --- registry -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("GMI Cloud", "gmi"),
        ("gmi", "gmi"),
        ("API in One", "apiinone"),
        ("aio", "apiinone"),
        ("LTX (Lightricks)", "ltx"),
        ("lightricks", "ltx"),
    ],
)
def test_registry_by_name(name: str, key: str) -> None:
    provider = get_provider(name)
    assert isinstance(provider, Provider)
    assert provider.name == key
    assert normalize_provider_name(name) == key


def test_registry_attributes() -> None:
    assert provider_names() == ["ltx", "gmi", "apiinone"]
    for name in provider_names():
        p = get_provider(name)
        assert p.default_hosting in p.hosting_methods
        assert p.key_env.endswith("_API_KEY") and p.base_url_env.startswith("LTX2_")
        assert p.default_base_url.startswith("https://")
        for mode in p.modes():
            assert p.models(mode), mode


def test_registry_unknown_provider() -> None:
    with pytest.raises(InvalidInputError) as info:
        get_provider("nope")
    assert info.value.field == "provider"


def test_providers_for_mode() -> None:
    names = lambda mode: [p.name for p in providers_for_mode(mode)]  # noqa: E731
    assert names(Mode.TEXT_TO_VIDEO) == ["ltx", "gmi", "apiinone"]
    assert names(Mode.IMAGE_TO_VIDEO) == ["ltx", "gmi", "apiinone"]
    assert names(Mode.AUDIO_TO_VIDEO) == ["ltx", "gmi"]
    assert names(Mode.RETAKE) == ["ltx", "gmi"]
    assert names(Mode.EXTEND) == ["ltx"]
    assert names(Mode.LIPSYNC) == ["apiinone"]
    assert names(Mode.CONTROL) == ["apiinone"]


@settings(max_examples=30)
@given(st.sampled_from(["gmi", "ltx", "apiinone"]), st.sampled_from(list(Mode)))
def test_mode_not_offered_is_refused(name: str, mode: Mode) -> None:
    provider = get_provider(name)
    req = GenerationRequest(provider=name, mode=mode, prompt="x")
    if mode not in provider.modes():
        with pytest.raises(InvalidInputError) as info:
            provider.validate(req)
        assert info.value.field == "mode"


def test_published_choices_match_validation() -> None:
    gmi, ltx, aio = get_provider("gmi"), get_provider("ltx"), get_provider("apiinone")
    t2v = Mode.TEXT_TO_VIDEO
    assert "focus_shift" in gmi.choices("camera_motion", t2v)
    assert gmi.choices("camera_motion", t2v) == ltx.choices("camera_motion", t2v)
    assert ltx.choices("extend_mode", Mode.EXTEND) == ("end", "start")
    assert aio.choices("control_mode", Mode.CONTROL) == ("pose", "depth", "canny")
    assert aio.choices("audio_mode", Mode.CONTROL) == ("preserve", "generate", "none")
    assert aio.choices("aspect_ratio", t2v) == ("16:9", "9:16")
    assert aio.choices("aspect_ratio", Mode.IMAGE_TO_VIDEO) == ()  # the mode does not take it
    for p in (gmi, ltx):
        for motion in p.choices("camera_motion", t2v):
            p.validate(GenerationRequest(provider=p.name, mode=t2v, prompt="x", camera_motion=motion))

"""The LTX API protocol of the emulator, spoken over real loopback HTTP."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.emulator import ltx as proto
from ltx2_nodes.api.emulator.render import render_size
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.decode import decode_frames
from ltx2_nodes.api.media.encode import encode_image
from ltx2_nodes.api.media.probe import probe
from PIL import Image

KEY = "emulator-ltx-key"
RATE = 16000  # sample rate of the synthetic inputs (quick to make)
T2V = {"prompt": "a lighthouse at dusk", "model": "ltx-2-3-fast", "duration": 6, "resolution": "1920x1080"}


# --- utilities ---


@pytest.fixture
def client(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 96)  # small renders: quick tests
    with httpx.Client(
        base_url=f"{emulator.origin}/ltx", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as c:
        yield c


@pytest.fixture(scope="module")
def media() -> dict[str, bytes]:
    """Tiny inputs: a PNG, 3 s and 1.5 s of speech-like WAV, a 4 s and a 2 s MP4 (25 fps, 128x72)."""
    return {
        "png": synth.test_png(96, 64),
        "wav": synth.test_wav(3.0, sample_rate=RATE),
        "mp3": synth_audio("mp3"),
        "short_mp3": synth_audio("mp3", 1.5),
        "mp4": synth.test_mp4(4.0, 128, 72, fps=25, sample_rate=RATE),
        "short_mp4": synth.test_mp4(2.0, 128, 72, fps=25, audio=False),
    }


def hosted(emulator: RunningEmulator, data: bytes, content_type: str) -> str:
    """A loopback URL of the emulator's own file store holding ``data``."""
    return f"{emulator.origin}/_files/{emulator.emulator.put_file(data, content_type, ttl=None)}"


def data_uri(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def assert_error(resp: httpx.Response, status: int, error_type: str, mentions: str = "") -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert mentions in body["error"]["message"]
    return body["error"]["message"]


def wait_finished(client: httpx.Client, endpoint: str, job_id: str) -> tuple[dict, list[str]]:
    seen: list[str] = []
    for _ in range(600):
        resp = client.get(f"/v2/{endpoint}/{job_id}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in ("completed", "failed"):
            return body, seen
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} never finished: {seen}")


def run(client: httpx.Client, endpoint: str, json: dict) -> httpx.Response:
    """Submit a job and, once it completed, download its video; a refused submit is returned as it is."""
    resp = client.post(f"/v2/{endpoint}", json=json)
    if resp.status_code != 202:
        return resp
    body, _ = wait_finished(client, endpoint, resp.json()["id"])
    assert body["status"] == "completed", body
    return httpx.get(body["result"]["video_url"])


def decoded(tmp_path: Path, name: str, data: bytes) -> np.ndarray:
    path = tmp_path / name
    path.write_bytes(data)
    return decode_frames(path)


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- upload -------------------------------------------------------------------------------------------------------


def test_upload_answer_and_put_with_required_headers(client: httpx.Client, media: dict[str, bytes]) -> None:
    before = time.time()
    resp = client.post("/v1/upload", json={"content_type": "image/png", "filename": "face.png"})
    assert resp.status_code == 200
    ticket = resp.json()
    assert set(ticket) == {"upload_url", "storage_uri", "expires_at", "required_headers"}
    assert ticket["storage_uri"].startswith("storage://uploads/")
    assert 0 < parse_iso(ticket["expires_at"]) - before <= 3600 + 5
    headers = ticket["required_headers"]
    assert headers["Content-Type"] == "image/png"
    assert headers[proto.SIGNATURE_HEADER]

    put = httpx.put(ticket["upload_url"], content=media["png"], headers=headers)
    assert put.status_code == 200

    # The stored file is usable as a media field.
    video = run(client, "image-to-video", {**T2V, "image_uri": ticket["storage_uri"]})
    assert video.status_code == 200, video.text
    assert video.headers["content-type"] == "video/mp4"
    assert probe(video.content).video_codec == "h264"


@pytest.mark.parametrize("drop", ["Content-Type", proto.SIGNATURE_HEADER])
def test_upload_put_without_a_required_header_is_refused(
    client: httpx.Client, media: dict[str, bytes], drop: str
) -> None:
    ticket = client.post("/v1/upload", json={"content_type": "image/png"}).json()
    headers = {k: v for k, v in ticket["required_headers"].items() if k != drop}
    if drop == "Content-Type":
        headers["Content-Type"] = "application/octet-stream"
    put = httpx.put(ticket["upload_url"], content=media["png"], headers=headers)
    assert put.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in put.text
    # Nothing was stored: the storage URI cannot be used.
    resp = run(client, "image-to-video", {**T2V, "image_uri": ticket["storage_uri"]})
    assert_error(resp, 400, "invalid_request_error", "image_uri")


def test_upload_put_with_a_forged_signature_is_refused(client: httpx.Client, media: dict[str, bytes]) -> None:
    ticket = client.post("/v1/upload", json={"content_type": "image/png"}).json()
    headers = {**ticket["required_headers"], proto.SIGNATURE_HEADER: "0" * 64}
    put = httpx.put(ticket["upload_url"], content=media["png"], headers=headers)
    assert put.status_code == 403
    assert "SignatureDoesNotMatch" in put.text


def test_upload_tolerates_an_empty_body(client: httpx.Client) -> None:
    resp = client.post("/v1/upload")
    assert resp.status_code == 200
    assert resp.json()["required_headers"]["Content-Type"] == "application/octet-stream"
    by_name = client.post("/v1/upload", json={"filename": "clip.mp4"}).json()
    assert by_name["required_headers"]["Content-Type"] == "video/mp4"


def test_upload_url_lifetime_follows_a_shorter_config(
    client: httpx.Client, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator.emulator.config, "upload_url_ttl", 60.0)
    before = time.time()
    ticket = client.post("/v1/upload", json={"content_type": "image/png"}).json()
    assert 0 < parse_iso(ticket["expires_at"]) - before <= 61


# --- v1 synchronous ---------------------------------------------------------------------------------------------


def test_text_to_video_renders_the_asked_clip(client: httpx.Client, emulator: RunningEmulator) -> None:
    resp = run(client, "text-to-video", {**T2V, "fps": 25})
    assert resp.status_code == 200
    info = probe(resp.content)
    cfg = emulator.emulator.config
    assert (info.width, info.height) == render_size(1920, 1080, cfg.render_scale, cfg.max_render_side)
    assert info.fps == 25
    assert info.video_codec == "h264" and info.has_audio
    assert abs(info.duration - 6) < 0.5
    assert emulator.emulator.jobs_created["ltx"] == 1


def test_without_generated_audio_is_silent(client: httpx.Client) -> None:
    resp = run(client, "text-to-video", {**T2V, "generate_audio": False, "fps": 50})
    assert resp.status_code == 200
    info = probe(resp.content)
    assert not info.has_audio
    assert info.fps == 50


def test_v1_generation_is_gone_but_upload_stays(client: httpx.Client, emulator: RunningEmulator) -> None:
    for endpoint in ("text-to-video", "image-to-video", "retake"):
        assert client.post(f"/v1/{endpoint}", json=T2V).status_code in (404, 405)
    assert client.post("/v1/upload", json={"content_type": "image/png"}).status_code == 200
    assert emulator.emulator.jobs_created["ltx"] == 0


@pytest.mark.parametrize(
    ("removed", "replacement"), [("ltx-2-pro", "ltx-2-3-pro"), ("ltx-2-fast", "ltx-2-3-fast")]
)
@pytest.mark.parametrize("endpoint", ["text-to-video", "retake", "audio-to-video"])
def test_removed_models_are_refused_naming_the_replacement(
    client: httpx.Client, emulator: RunningEmulator, removed: str, replacement: str, endpoint: str
) -> None:
    message = assert_error(
        client.post(f"/v2/{endpoint}", json={**T2V, "model": removed}), 400, "invalid_request_error"
    )
    assert removed in message and replacement in message
    assert emulator.emulator.jobs_created["ltx"] == 0


def test_automatic_duration_on_ltx_2_5_only(client: httpx.Client) -> None:
    resp = run(
        client, "text-to-video", {**T2V, "model": "ltx-2-5-fast", "duration": None, "resolution": "1280x720"}
    )
    assert resp.status_code == 200
    assert abs(probe(resp.content).duration - proto.AUTO_SECONDS) < 0.5
    refused = client.post("/v2/text-to-video", json={**T2V, "duration": None})
    assert "null" in assert_error(refused, 400, "invalid_request_error", "duration")


def test_errors_carry_a_request_id(client: httpx.Client) -> None:
    resp = client.post("/v2/text-to-video", json={**T2V, "fps": 30})
    assert resp.status_code == 400 and resp.headers["x-request-id"]


def test_reframe_renders_the_target_size(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]
) -> None:
    body = {
        "video_uri": hosted(emulator, media["mp4"], "video/mp4"),
        "resolution": "1080x1920",
        "placement": {"anchor": "top"},
    }
    resp = run(client, proto.REFRAME, body)
    assert resp.status_code == 200, resp.text
    info = probe(resp.content)
    cfg = emulator.emulator.config
    assert (info.width, info.height) == render_size(1080, 1920, cfg.render_scale, cfg.max_render_side)
    assert abs(info.duration - 4.0) < 0.2
    box = {**body, "placement": {"x": 0.1, "y": 0.2, "width": 0.5}}
    assert run(client, proto.REFRAME, box).status_code == 200
    for bad in (
        {**body, "resolution": "1920x1088"},
        {**body, "placement": {"anchor": "middle"}},
        {**body, "placement": {"x": 0.6, "width": 0.5}},
        {**body, "placement": {"x": 0.1}},
        {**body, "prompt": "wider"},
    ):
        assert_error(client.post(f"/v2/{proto.REFRAME}", json=bad), 400, "invalid_request_error")


def test_audio_to_video_new_fields_and_no_wav(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]
) -> None:
    body = {
        "audio_uri": hosted(emulator, media["mp3"], "audio/mpeg"),
        "prompt": "a singer",
        "model": "ltx-2-5-pro",
        "fps": 50,
        "camera_motion": "jib_up",
        "last_frame_uri": data_uri(media["png"], "image/png"),
    }
    resp = run(client, "audio-to-video", body)
    assert resp.status_code == 200, resp.text
    assert probe(resp.content).fps == 50
    wav = {**body, "audio_uri": hosted(emulator, media["wav"], "audio/wav")}
    assert_error(client.post("/v2/audio-to-video", json=wav), 400, "invalid_request_error", "WAV")
    assert_error(
        client.post("/v2/retake", json={**body, "model": "ltx-2-5-pro"}), 400, "invalid_request_error"
    )


def synth_audio(fmt: str, seconds: float = 3.0) -> bytes:
    from ltx2_nodes.api.media.encode import encode_audio

    return encode_audio(synth.speech_like_audio(seconds, RATE, 1, 0), RATE, fmt)


def test_audio_to_video_lasts_as_long_as_the_audio(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]
) -> None:
    body = {"audio_uri": hosted(emulator, media["mp3"], "audio/mpeg"), "prompt": "a singer"}
    resp = run(client, "audio-to-video", body)
    assert resp.status_code == 200, resp.text
    info = probe(resp.content)
    assert info.fps == 25
    assert info.has_audio
    assert abs(info.duration - 3.0) <= 0.1


def test_retake_keeps_the_frames_outside_the_section(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes], tmp_path: Path
) -> None:
    body = {
        "video_uri": data_uri(media["mp4"], "video/mp4"),
        "start_time": 1.0,
        "duration": 2.0,
        "mode": "replace_video",
        "prompt": "a red door",
    }
    resp = run(client, "retake", body)
    assert resp.status_code == 200, resp.text
    src = decoded(tmp_path, "in.mp4", media["mp4"])
    out = decoded(tmp_path, "out.mp4", resp.content)
    assert out.shape == src.shape  # same length and size
    diff = np.abs(out - src).mean(axis=(1, 2, 3))
    assert diff[:25].max() < 0.03 and diff[75:].max() < 0.03  # outside [1 s, 3 s): kept
    assert diff[25:75].mean() > 0.05  # inside: replaced


@pytest.mark.parametrize("where", ["end", "start"])
def test_extend_keeps_the_original_and_adds_the_new_seconds(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes], tmp_path: Path, where: str
) -> None:
    body = {"video_uri": hosted(emulator, media["mp4"], "video/mp4"), "duration": 2, "mode": where}
    resp = run(client, "extend", body)
    assert resp.status_code == 200, resp.text
    src = decoded(tmp_path, "in.mp4", media["mp4"])
    out = decoded(tmp_path, "out.mp4", resp.content)
    n = src.shape[0]
    assert out.shape[0] == n + 50  # 2 s at 25 fps
    kept = out[:n] if where == "end" else out[-n:]
    assert np.abs(kept - src).mean() < 0.03
    assert abs(probe(resp.content).duration - 6.0) < 0.1


# --- v2 asynchronous ---------------------------------------------------------------------------------------------


def test_v2_lifecycle(client: httpx.Client, emulator: RunningEmulator) -> None:
    resp = client.post("/v2/text-to-video", json=T2V)
    assert resp.status_code == 202
    created = resp.json()
    assert set(created) == {"id", "created_at"}
    parse_iso(created["created_at"])

    body, seen = wait_finished(client, "text-to-video", created["id"])
    assert seen[-1] == "completed"
    order = ["pending", "processing", "completed"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    assert body["id"] == created["id"]
    assert parse_iso(body["completed_at"]) >= parse_iso(body["created_at"])
    video = httpx.get(body["result"]["video_url"])
    assert video.status_code == 200
    assert probe(video.content).format == "mp4"
    # The id belongs to its endpoint; a bad key sees nothing.
    assert_error(client.get(f"/v2/image-to-video/{created['id']}"), 404, "not_found_error")
    other = httpx.get(
        f"{emulator.origin}/ltx/v2/text-to-video/{created['id']}", headers={"Authorization": "Bearer x"}
    )
    assert_error(other, 401, "authentication_error")


def test_v2_failed_job_carries_an_error(client: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(Fault(provider="ltx", op="job", kind="fail", message="model crashed"))
    job_id = client.post("/v2/text-to-video", json=T2V).json()["id"]
    body, seen = wait_finished(client, "text-to-video", job_id)
    assert seen[-1] == "failed"
    assert body["error"] == {"type": "api_error", "message": "model crashed"}
    assert "result" not in body


def test_v2_job_is_gone_after_its_ttl(
    client: httpx.Client, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator.emulator.config, "ltx_job_ttl", 0.3)
    emulator.emulator.add_fault(Fault(provider="ltx", op="job", kind="fail"))  # ends without rendering
    job_id = client.post("/v2/text-to-video", json=T2V).json()["id"]
    wait_finished(client, "text-to-video", job_id)
    time.sleep(0.5)
    assert_error(client.get(f"/v2/text-to-video/{job_id}"), 404, "not_found_error", job_id)
    assert_error(client.get("/v2/text-to-video/no-such-job"), 404, "not_found_error")


def test_concurrency_limit_refuses_without_creating_a_job(
    client: httpx.Client, emulator: RunningEmulator
) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="ltx", op="job", kind="stuck", count=emu.config.ltx_concurrency))
    for _ in range(emu.config.ltx_concurrency):
        assert client.post("/v2/text-to-video", json=T2V).status_code == 202
    resp = client.post("/v2/text-to-video", json=T2V)
    assert_error(resp, 429, "concurrency_limit_error")
    assert int(resp.headers["Retry-After"]) >= 1
    assert emu.jobs_created["ltx"] == emu.config.ltx_concurrency
    assert emu.submit_requests["ltx"] == emu.config.ltx_concurrency + 1


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic abc"])
def test_bad_or_missing_key_is_401(emulator: RunningEmulator, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    base = f"{emulator.origin}/ltx"
    for resp in (
        httpx.post(f"{base}/v2/text-to-video", json=T2V, headers=headers),
        httpx.post(f"{base}/v2/text-to-video", json=T2V, headers=headers),
        httpx.get(f"{base}/v2/text-to-video/abc", headers=headers),
        httpx.post(f"{base}/v1/upload", json={}, headers=headers),
    ):
        assert_error(resp, 401, "authentication_error")
    assert emulator.emulator.jobs_created["ltx"] == 0


@pytest.mark.parametrize(
    ("status", "error_type", "retry_after"),
    [
        (402, "insufficient_funds_error", None),
        (429, "rate_limit_error", 7.0),
        (500, "api_error", None),
        (503, "service_unavailable", 3.0),
        (504, "timeout_error", None),
    ],
)
def test_injected_submit_errors_use_the_documented_body(
    client: httpx.Client, emulator: RunningEmulator, status: int, error_type: str, retry_after: float | None
) -> None:
    emulator.emulator.add_fault(
        Fault(provider="ltx", op="submit", kind="http", status=status, retry_after=retry_after)
    )
    resp = client.post("/v2/text-to-video", json=T2V)
    assert_error(resp, status, error_type)
    if retry_after is not None:
        assert float(resp.headers["Retry-After"]) == retry_after
    assert emulator.emulator.jobs_created["ltx"] == 0
    assert client.post("/v2/text-to-video", json=T2V).status_code == 202  # the fault was used up


def test_content_filter_is_422(client: httpx.Client, emulator: RunningEmulator) -> None:
    resp = client.post("/v2/text-to-video", json={**T2V, "prompt": "a scene with Forbidden-Content in it"})
    assert_error(resp, 422, "content_filtered_error")
    assert emulator.emulator.jobs_created["ltx"] == 0


def test_oversized_media_is_413(client: httpx.Client, emulator: RunningEmulator) -> None:
    big = bytes(7 * (1 << 20) + 1024)  # over 7 MB: too large as a data URI, fine by URL
    resp = run(client, "image-to-video", {**T2V, "image_uri": data_uri(big, "image/png")})
    assert_error(resp, 413, "request_too_large", "image_uri")
    by_url = run(client, "image-to-video", {**T2V, "image_uri": hosted(emulator, big, "image/png")})
    assert_error(by_url, 400, "invalid_request_error", "image_uri")  # size accepted, content unreadable
    huge = hosted(emulator, bytes(15 * (1 << 20) + 1024), "image/png")
    assert_error(run(client, "image-to-video", {**T2V, "image_uri": huge}), 413, "request_too_large")
    assert emulator.emulator.jobs_created["ltx"] == 0


def test_unknown_endpoint_and_bad_json(client: httpx.Client) -> None:
    assert_error(client.post("/v2/upscale", json=T2V), 404, "not_found_error", "upscale")
    bad = client.post("/v2/text-to-video", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(bad, 400, "invalid_request_error", "JSON")


# --- validation -----------------------------------------------------------------------------------------------------


def expected_valid(model: str, duration: int, resolution: str, fps: int) -> bool:
    """The documented rules, written independently of the emulator."""
    sizes = ("1920x1080", "2560x1440", "3840x2160", "1280x720", "1080x1920", "720x1280")
    if fps not in (24, 25, 48, 50) or resolution not in sizes:
        return False
    short = (2, 3, 4, 5, 6, 8, 10) if model.startswith("ltx-2-5-") else (6, 8, 10)
    if duration in short:
        return True
    if model == "ltx-2-5-fast":
        return duration in (12, 14, 16, 18, 20)
    long_ok = model == "ltx-2-3-fast" and resolution == "1920x1080" and fps == 25
    return long_ok and duration in (12, 14, 16, 18, 20)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(proto.MODELS),
    duration=st.sampled_from([4, 6, 7, 8, 10, 12, 14, 16, 18, 20, 22]),
    resolution=st.sampled_from(["1920x1080", "2560x1440", "3840x2160", "1280x720", "720x1280", "1280x721"]),
    fps=st.sampled_from([24, 25, 30, 48, 50]),
)
def test_duration_model_resolution_fps_rules(
    client: httpx.Client, emulator: RunningEmulator, model: str, duration: int, resolution: str, fps: int
) -> None:
    # A filtered prompt is refused (422) only after every field passed validation: no job, no render.
    body = {
        "prompt": "forbidden-content",
        "model": model,
        "duration": duration,
        "resolution": resolution,
        "fps": fps,
    }
    resp = client.post("/v2/text-to-video", json=body)
    if expected_valid(model, duration, resolution, fps):
        assert_error(resp, 422, "content_filtered_error")
    else:
        message = assert_error(resp, 400, "invalid_request_error")
        assert message.split(":")[0] in ("duration", "resolution", "fps")
    assert emulator.emulator.jobs_created["ltx"] == 0


@pytest.mark.parametrize(
    ("endpoint", "change", "field"),
    [
        ("text-to-video", {"prompt": "x" * 5001}, "prompt"),
        ("text-to-video", {"prompt": "  "}, "prompt"),
        ("text-to-video", {"model": "ltx-3"}, "model"),
        ("text-to-video", {"model": None}, "model"),
        ("text-to-video", {"camera_motion": "orbit"}, "camera_motion"),
        ("text-to-video", {"generate_audio": "yes"}, "generate_audio"),
        ("text-to-video", {"duration": 6.5}, "duration"),
        ("text-to-video", {"seed": 3}, "seed"),
        ("image-to-video", {}, "image_uri"),
        ("image-to-video", {"image_uri": "http://example.com/a.png"}, "image_uri"),
        ("image-to-video", {"image_uri": "ftp://127.0.0.1/a.png"}, "image_uri"),
    ],
)
def test_generation_field_rules(client: httpx.Client, endpoint: str, change: dict, field: str) -> None:
    body = {**T2V, **change}
    assert_error(client.post(f"/v2/{endpoint}", json=body), 400, "invalid_request_error", field)


def test_prompt_of_5000_chars_is_accepted(client: httpx.Client) -> None:
    resp = client.post("/v2/text-to-video", json={**T2V, "prompt": "x" * 4980 + " forbidden-content"})
    assert_error(resp, 422, "content_filtered_error")


def test_media_format_rules(client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]) -> None:
    bmp = io.BytesIO()
    Image.new("RGB", (32, 32)).save(bmp, "BMP")
    resp = client.post("/v2/image-to-video", json={**T2V, "image_uri": data_uri(bmp.getvalue(), "image/bmp")})
    assert_error(resp, 400, "invalid_request_error", "image_uri")
    # A picture given where a video is expected.
    resp = client.post("/v2/extend", json={"video_uri": data_uri(media["png"], "image/png"), "duration": 2})
    assert_error(resp, 400, "invalid_request_error", "video_uri")
    # JPEG and WebP images are fine (the filtered prompt stops them before any job).
    for fmt in ("jpeg", "webp"):
        image = encode_image(synth.test_image(64, 48), fmt)
        body = {**T2V, "prompt": "forbidden-content", "image_uri": data_uri(image, f"image/{fmt}")}
        assert_error(client.post("/v2/image-to-video", json=body), 422, "content_filtered_error")


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("audio-to-video", {"audio_uri": "{wav}", "prompt": "x", "model": "ltx-2-3-fast"}, "model"),
        ("audio-to-video", {"audio_uri": "{wav}"}, "prompt"),
        ("audio-to-video", {"audio_uri": "{short_mp3}", "prompt": "x"}, "audio_uri"),
        ("audio-to-video", {"audio_uri": "{wav}", "prompt": "x", "fps": 30}, "fps"),
        ("audio-to-video", {"audio_uri": "{wav}", "prompt": "x", "resolution": "3840x2160"}, "resolution"),
        ("audio-to-video", {"prompt": "x"}, "audio_uri"),
        ("retake", {"video_uri": "{mp4}", "start_time": 0, "duration": 2, "model": "ltx-2-3-fast"}, "model"),
        ("retake", {"video_uri": "{mp4}", "start_time": -1, "duration": 2}, "start_time"),
        ("retake", {"video_uri": "{mp4}", "start_time": 0, "duration": 1.5}, "duration"),
        ("retake", {"video_uri": "{mp4}", "start_time": 3, "duration": 2}, "start_time + duration"),
        ("retake", {"video_uri": "{mp4}", "start_time": 0, "duration": 2, "mode": "replace_all"}, "mode"),
        ("retake", {"video_uri": "{short_mp4}", "start_time": 0, "duration": 2}, "video_uri"),
        ("retake", {"video_uri": "{mp4}", "duration": 2}, "start_time"),
        ("extend", {"video_uri": "{mp4}", "duration": 1}, "duration"),
        ("extend", {"video_uri": "{mp4}", "duration": 21}, "duration"),
        ("extend", {"video_uri": "{mp4}", "duration": 2, "mode": "middle"}, "mode"),
        ("extend", {"video_uri": "{mp4}", "duration": 2, "model": "ltx-2-5-fast"}, "model"),
        ("extend", {"video_uri": "{mp4}", "duration": 2, "context": 5}, "context"),  # longer than the video
        ("extend", {"video_uri": "{mp4}", "duration": 19, "context": 3}, "context + duration"),  # 550 frames
        ("extend", {"video_uri": "{short_mp4}", "duration": 2}, "video_uri"),
        ("extend", {"video_uri": "{mp4}", "duration": 2, "start_time": 1}, "start_time"),
    ],
)
def test_edit_and_audio_field_rules(
    client: httpx.Client,
    emulator: RunningEmulator,
    media: dict[str, bytes],
    endpoint: str,
    body: dict,
    field: str,
) -> None:
    uris = {
        "{wav}": hosted(emulator, media["mp3"], "audio/mpeg"),
        "{short_mp3}": data_uri(media["short_mp3"], "audio/mpeg"),
        "{mp4}": hosted(emulator, media["mp4"], "video/mp4"),
        "{short_mp4}": hosted(emulator, media["short_mp4"], "video/mp4"),  # 50 frames < 73
    }
    body = {k: uris.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    message = assert_error(client.post(f"/v2/{endpoint}", json=body), 400, "invalid_request_error")
    assert message.startswith(field), message
    assert emulator.emulator.jobs_created["ltx"] == 0


def test_edit_requests_within_the_rules_are_accepted(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]
) -> None:
    video = hosted(emulator, media["mp4"], "video/mp4")
    audio = hosted(emulator, media["mp3"], "audio/mpeg")
    image = data_uri(media["png"], "image/png")
    for endpoint, body in [
        ("audio-to-video", {"audio_uri": audio, "image_uri": image, "prompt": "forbidden-content"}),
        ("retake", {"video_uri": video, "start_time": 2, "duration": 2, "prompt": "forbidden-content"}),
        (
            "extend",
            {
                "video_uri": video,
                "duration": 4,
                "context": 4,
                "prompt": "forbidden-content",
                "model": "ltx-2-3-pro",
            },
        ),
    ]:
        assert_error(client.post(f"/v2/{endpoint}", json=body), 422, "content_filtered_error")


# --- faults and counters ---------------------------------------------------------------------------------------------


def test_after_accept_fault_creates_the_job_but_loses_the_answer(
    client: httpx.Client, emulator: RunningEmulator
) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="ltx", op="job", kind="stuck"))
    emu.add_fault(Fault(provider="ltx", op="submit", kind="http", status=503, after_accept=True))
    assert_error(client.post("/v2/text-to-video", json=T2V), 503, "service_unavailable")
    assert emu.jobs_created["ltx"] == 1
    assert emu.submit_requests["ltx"] == 1


def test_reset_before_accept_creates_no_job(client: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(Fault(provider="ltx", op="submit", kind="reset"))
    with pytest.raises(httpx.TransportError):
        client.post("/v2/text-to-video", json=T2V)
    assert emulator.emulator.jobs_created["ltx"] == 0
    assert emulator.emulator.submit_requests["ltx"] == 1


def test_status_faults(client: httpx.Client, emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="ltx", op="job", kind="stuck"))
    job_id = client.post("/v2/text-to-video", json=T2V).json()["id"]
    emu.add_fault(Fault(provider="ltx", op="status", kind="unknown-status"))
    odd = client.get(f"/v2/text-to-video/{job_id}").json()
    assert odd["status"] not in ("pending", "processing", "completed", "failed")
    emu.add_fault(Fault(provider="ltx", op="status", kind="http", status=500))
    assert_error(client.get(f"/v2/text-to-video/{job_id}"), 500, "api_error")
    emu.add_fault(Fault(provider="ltx", op="status", kind="malformed"))
    with pytest.raises(ValueError):
        client.get(f"/v2/text-to-video/{job_id}").json()
    assert client.get(f"/v2/text-to-video/{job_id}").json()["status"] in ("pending", "processing")


def test_upload_and_put_faults(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]
) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="ltx", op="upload", kind="http", status=503))
    assert_error(client.post("/v1/upload", json={"content_type": "image/png"}), 503, "service_unavailable")
    ticket = client.post("/v1/upload", json={"content_type": "image/png"}).json()
    emu.add_fault(Fault(provider="ltx", op="put", kind="http", status=500))
    assert (
        httpx.put(ticket["upload_url"], content=media["png"], headers=ticket["required_headers"]).status_code
        == 500
    )
    assert (
        httpx.put(ticket["upload_url"], content=media["png"], headers=ticket["required_headers"]).status_code
        == 200
    )
    ops = [entry.op for entry in emu.log if entry.provider == "ltx"]
    assert ops.count("upload") == 2 and ops.count("put") == 2


def test_submit_counter_counts_every_submit(client: httpx.Client, emulator: RunningEmulator) -> None:
    client.post("/v2/text-to-video", json={**T2V, "duration": 7})  # invalid
    run(client, "text-to-video", {**T2V, "prompt": "forbidden-content"})  # filtered
    client.get("/v2/text-to-video/nothing")  # not a submit
    assert emulator.emulator.submit_requests["ltx"] == 2
    assert emulator.emulator.jobs_created["ltx"] == 0

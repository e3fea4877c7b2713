"""GMI Cloud request queue in the emulator, over real loopback HTTP."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.emulator.render import render_size
from ltx2_nodes.api.media.decode import decode_video_bytes
from ltx2_nodes.api.media.encode import encode_audio, encode_image, encode_video
from ltx2_nodes.api.media.probe import probe
from PIL import Image

RUNNING = ("created", "queued", "dispatched", "processing")
FINISHED = ("success", "failed", "cancelled")
SR = 48_000


# --- helpers ------------------------------------------------------------------------------------------------


def _client(emulator: RunningEmulator, key: str | None = None) -> httpx.Client:
    key = emulator.emulator.config.keys["gmi"] if key is None else key
    return httpx.Client(
        base_url=emulator.base_urls()["gmi"], headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def _data_uri(data: bytes, ctype: str) -> str:
    return f"data:{ctype};base64,{base64.b64encode(data).decode()}"


def _png(w: int = 192, h: int = 108) -> bytes:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:, : w // 2] = (210, 60, 40)
    img[h // 4 : 3 * h // 4, w // 2 + 10 : w - 10] = (40, 190, 220)
    return encode_image(img, "png")


def _wav(seconds: float, freq: float = 440.0, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return encode_audio((0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :], rate)


def _video(seconds: float, w: int = 128, h: int = 72, fps: int = 25, audio: bool = True) -> bytes:
    n = int(seconds * fps)
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    frames = np.stack([np.roll(base, i, axis=1) for i in range(n)])
    wave = None
    if audio:
        t = np.arange(int(seconds * SR)) / SR
        wave = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    return encode_video(frames, fps, audio=wave, sample_rate=SR if audio else None, crf=10)


def _t2v(**payload: Any) -> dict[str, Any]:
    base = {"prompt": "a paper boat on a pond", "duration": 6, "resolution": "1920x1080", "fps": 25}
    return {"model": "ltx-2-fast-text-to-video", "payload": {**base, **payload}}


def _wait(client: httpx.Client, request_id: str, limit: float = 60.0) -> tuple[dict[str, Any], list[str]]:
    """Poll until finished; returns the last body and every status word seen."""
    seen: list[str] = []
    end = time.monotonic() + limit
    while time.monotonic() < end:
        body = client.get(f"/requests/{request_id}").json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in FINISHED:
            return body, seen
        time.sleep(0.03)
    raise AssertionError(f"request {request_id} did not finish; statuses seen: {seen}")


def _download(body: dict[str, Any]) -> bytes:
    urls = body["outcome"]["media_urls"]
    assert isinstance(urls, list) and len(urls) == 1 and set(urls[0]) >= {"id", "url"}
    resp = httpx.get(urls[0]["url"], timeout=30)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("video/mp4")
    return resp.content


def _run(client: httpx.Client, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    resp = client.post("/requests", json=body)
    assert resp.status_code == 200, resp.text
    final, _ = _wait(client, resp.json()["request_id"])
    assert final["status"] == "success", final
    return final, _download(final)


def _assert_400(client: httpx.Client, body: Any, field: str) -> None:
    resp = client.post("/requests", json=body)
    assert resp.status_code == 400, (body, resp.text)
    error = resp.json()
    assert error["code"] == 400 and field in error["error"], (field, error)


# --- shapes and the state machine ------------------------------------------------------------------------


def test_text_to_video_shapes_states_and_output(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.config.queue_seconds = 1.0  # "created" for 0.5 s: the first poll sees it even on a loaded machine
    with _client(emulator) as client:
        resp = client.post(
            "/requests", json=_t2v(camera_motion="dolly_in"), headers={"X-Organization-ID": "org-123"}
        )
        assert resp.status_code == 200
        sub = resp.json()
        assert set(sub) == {"request_id", "model", "status", "created_at", "updated_at"}
        assert sub["model"] == "ltx-2-fast-text-to-video" and sub["status"] == "created"
        final, seen = _wait(client, sub["request_id"])
    assert set(seen) <= set(RUNNING) | {"success"} and seen[0] == "created" and seen[-1] == "success"
    assert "processing" in seen or "dispatched" in seen
    assert {
        "request_id",
        "model",
        "status",
        "created_at",
        "updated_at",
        "payload",
        "outcome",
        "queued_at",
    } <= set(final)
    assert final["payload"]["camera_motion"] == "dolly_in" and final["updated_at"] >= final["created_at"]
    info = probe(_download(final))
    assert (info.width, info.height) == render_size(1920, 1080, 1.0, emu.config.max_render_side) == (192, 108)
    assert info.fps == 25.0 and abs(info.duration - 6.0) <= 8 / 25
    assert info.has_audio and info.video_codec == "h264"
    assert emu.submit_requests["gmi"] == 1 and emu.jobs_created["gmi"] == 1
    assert emu.log[0].headers.get("X-Organization-ID") == "org-123"


def test_generate_audio_false_has_no_track_and_fps_50(emulator: RunningEmulator) -> None:
    emulator.emulator.config.max_render_side = 64
    with _client(emulator) as client:
        _, video = _run(client, _t2v(generate_audio=False, fps=50, resolution="2560x1440", duration=6))
    info = probe(video)
    assert info.has_audio is False and info.fps == 50.0 and (info.width, info.height) == (64, 36)
    assert abs(info.duration - 6.0) <= 8 / 50


def test_upload_then_image_to_video_starts_on_the_image(emulator: RunningEmulator) -> None:
    png = _png()
    with _client(emulator) as client:
        ticket = client.post("/upload-url", json={"file_type": "png"})
        assert ticket.status_code == 200 and set(ticket.json()) == {"upload_url", "public_url"}
        urls = ticket.json()
        assert "/_files/" in urls["upload_url"] and "/_files/" in urls["public_url"]
        wrong = httpx.put(urls["upload_url"], content=png, headers={"Content-Type": "image/jpeg"})
        assert wrong.status_code == 403  # signed for image/png only
        put = httpx.put(urls["upload_url"], content=png, headers={"Content-Type": "image/png"})
        assert put.status_code == 200
        body = {
            "model": "ltx-2-fast-image-to-video",
            "payload": {"image_uri": urls["public_url"], "prompt": "the tide rolls in", "duration": 6},
        }
        _, video = _run(client, body)
    frames, _, _ = decode_video_bytes(video)
    expected = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert frames.shape[1:3] == (108, 192)
    assert float(np.abs(frames[0] - expected / 255).mean()) < 0.03
    assert float(np.abs(frames[-1] - expected / 255).mean()) > 0.03


def test_upload_url_refuses_unknown_file_type(emulator: RunningEmulator) -> None:
    with _client(emulator) as client:
        resp = client.post("/upload-url", json={"file_type": "exe"})
    assert resp.status_code == 400 and "file_type" in resp.json()["error"]


def test_audio_to_video_lasts_as_long_as_the_audio(emulator: RunningEmulator) -> None:
    emulator.emulator.config.max_render_side = 96
    wav = _wav(3.0, 440.0)
    with _client(emulator) as client:
        body = {
            "model": "ltx-2-pro-audio-to-video",
            "payload": {"audio_uri": _data_uri(wav, "audio/wav"), "prompt": "a singer", "guidance_scale": 5},
        }
        _, video = _run(client, body)
    info = probe(video)
    assert info.fps == 25.0 and abs(info.duration - 3.0) <= 1 / 25 and (info.width, info.height) == (96, 54)
    _, audio, _ = decode_video_bytes(video)
    assert audio is not None and abs(audio.waveform.shape[1] / audio.sample_rate - 3.0) < 0.05
    mono = audio.waveform.mean(axis=0)
    peak = np.fft.rfftfreq(mono.size, 1 / audio.sample_rate)[int(np.abs(np.fft.rfft(mono)).argmax())]
    assert abs(peak - 440.0) < 5


def test_retake_keeps_outside_and_changes_inside(emulator: RunningEmulator) -> None:
    source = _video(4.0)
    src_frames, _, _ = decode_video_bytes(source)
    with _client(emulator) as client:
        body = {
            "model": "ltx-2-pro-retake",
            "payload": {
                "video_uri": _data_uri(source, "video/mp4"),
                "start_time": 1.0,
                "duration": 2.0,
                "mode": "replace_video",
                "prompt": "rain",
            },
        }
        _, video = _run(client, body)
    frames, audio, _ = decode_video_bytes(video)
    assert frames.shape == src_frames.shape
    diff = np.abs(frames - src_frames).mean(axis=(1, 2, 3))
    assert diff[:25].max() < 0.02 and diff[75:].max() < 0.02
    assert diff[25:75].min() > 0.08
    assert audio is not None


def test_list_and_model_info(emulator: RunningEmulator) -> None:
    emulator.emulator.config.max_render_side = 32
    with _client(emulator) as client:
        ids = [client.post("/requests", json=_t2v()).json()["request_id"] for _ in range(2)]
        listed = client.get("/requests", params={"model_id": "ltx-2-fast-text-to-video"}).json()
        assert listed["total"] == 2 and {r["request_id"] for r in listed["requests"]} == set(ids)
        assert all(r["model"] == "ltx-2-fast-text-to-video" for r in listed["requests"])
        assert client.get("/requests", params={"model_id": "ltx-2-pro-retake"}).json() == {
            "requests": [],
            "total": 0,
        }
        model = client.get("/models/ltx-2-fast-image-to-video").json()
        assert model["description"] and isinstance(model["parameters"], list)
        assert (
            set(model["price_info"]) == {"price", "pricing_type", "unit"} and model["price_info"]["price"] > 0
        )
        names = {p["name"] for p in model["parameters"]}
        assert {
            "image_uri",
            "prompt",
            "duration",
            "resolution",
            "fps",
            "camera_motion",
            "generate_audio",
        } <= names
        missing = client.get("/models/ltx-9")
        assert missing.status_code == 404 and missing.json()["code"] == 404
        assert client.get("/requests/nope").status_code == 404
        for request_id in ids:
            _wait(client, request_id)


# --- auth -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_every_call_needs_the_key(emulator: RunningEmulator, key: str) -> None:
    with httpx.Client(base_url=emulator.base_urls()["gmi"], timeout=10) as client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        calls = [
            client.post("/requests", json=_t2v(), headers=headers),
            client.get("/requests/abc", headers=headers),
            client.get("/requests", params={"model_id": "x"}, headers=headers),
            client.get("/models/ltx-2-pro-retake", headers=headers),
            client.post("/upload-url", json={"file_type": "png"}, headers=headers),
        ]
    for resp in calls:
        assert resp.status_code == 401 and resp.json()["code"] == 401 and resp.json()["error"]
        assert "wrong-key" not in resp.text
    assert emulator.emulator.jobs_created["gmi"] == 0
    assert emulator.emulator.submit_requests["gmi"] == 1  # refused submits still reached the server


# --- validation ---------------------------------------------------------------------------------------------

_UNREACHABLE = "http://127.0.0.1:9/missing.png"  # discard port: nothing listens


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 20, 30)).save(buf, "GIF")
    return buf.getvalue()


def _i2v(**payload: Any) -> dict[str, Any]:
    return {
        "model": "ltx-2-fast-image-to-video",
        "payload": {"image_uri": _data_uri(_png(32, 18), "image/png"), "prompt": "p", **payload},
    }


def _a2v(**payload: Any) -> dict[str, Any]:
    return {
        "model": "ltx-2-pro-audio-to-video",
        "payload": {"audio_uri": _data_uri(_wav(3.0), "audio/wav"), "prompt": "p", **payload},
    }


def _retake(video: bytes, **payload: Any) -> dict[str, Any]:
    return {
        "model": "ltx-2-pro-retake",
        "payload": {"video_uri": _data_uri(video, "video/mp4"), "start_time": 0.5, "duration": 2, **payload},
    }


def _without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {**body, "payload": {k: v for k, v in body["payload"].items() if k != field}}


def test_validation_rules_name_the_field(emulator: RunningEmulator) -> None:
    short = _video(3.0, 32, 18, fps=10, audio=False)
    cases: list[tuple[Any, str]] = [
        ({"model": "ltx-9-video", "payload": {"prompt": "p"}}, "model"),
        ({"payload": {"prompt": "p"}}, "model"),
        ({"model": "ltx-2-fast-text-to-video"}, "payload"),
        (["not", "an", "object"], "body"),
        (_without(_t2v(), "prompt"), "prompt"),
        (_t2v(prompt=""), "prompt"),
        (_t2v(prompt=12), "prompt"),
        (_t2v(image_uri=_data_uri(_png(), "image/png")), "image_uri"),
        (_t2v(duration="6"), "duration"),
        (_t2v(duration=7), "duration"),
        (_t2v(fps=30), "fps"),
        (_t2v(fps=25.5), "fps"),
        (_t2v(resolution="1280x720"), "resolution"),
        (_t2v(duration=14, resolution="2560x1440"), "duration"),
        (_t2v(duration=12, fps=50), "duration"),
        (_t2v(camera_motion="zoom_in"), "camera_motion"),
        (_t2v(generate_audio="yes"), "generate_audio"),
        ({"model": "ltx-2-pro-image-to-video", "payload": _i2v(duration=12)["payload"]}, "duration"),
        (_without(_i2v(), "image_uri"), "image_uri"),
        (_without(_i2v(), "prompt"), "prompt"),
        (_i2v(image_uri=_data_uri(_gif(), "image/gif")), "image_uri"),
        (_i2v(image_uri=_UNREACHABLE), "image_uri"),
        (_i2v(image_uri="data:image/png;base64,@@@"), "image_uri"),
        (_i2v(image_uri=_data_uri(b"not an image at all", "image/png")), "image_uri"),
        (_without(_a2v(), "audio_uri"), "audio_uri"),
        (_without(_a2v(), "prompt"), "prompt"),
        (_a2v(resolution="2560x1440"), "resolution"),
        (_a2v(guidance_scale="high"), "guidance_scale"),
        (_a2v(audio_uri=_data_uri(_wav(1.0), "audio/wav")), "audio_uri"),
        (_a2v(audio_uri=_data_uri(_wav(21.0, rate=8000), "audio/wav")), "audio_uri"),
        (_a2v(audio_uri=_data_uri(_png(), "image/png")), "audio_uri"),
        (_without(_retake(short), "video_uri"), "video_uri"),
        (_retake(short, start_time=-0.5), "start_time"),
        (_retake(short, duration=1.5), "duration"),
        (_without(_retake(short), "start_time"), "start_time"),
        (_retake(short, start_time=2.0, duration=2.0), "duration"),  # ends at 4 s, past the 3 s video
        (_retake(short, mode="replace_everything"), "mode"),
        (_retake(_video(22.0, 16, 16, fps=5, audio=False), start_time=0), "video_uri"),
        (_retake(_video(0.4, 3856, 16, fps=5, audio=False), start_time=0, duration=2), "video_uri"),
    ]
    with _client(emulator) as client:
        for body, field in cases:
            _assert_400(client, body, field)
        resp = client.post("/requests", content=b"{not json", headers={"Content-Type": "application/json"})
        assert resp.status_code == 400 and resp.json()["code"] == 400
    # every refused submit reached the server and counts; none became a job
    assert emulator.emulator.submit_requests["gmi"] == len(cases) + 1
    assert emulator.emulator.jobs_created["gmi"] == 0


def _duration_rule(model: str, duration: float, resolution: str, fps: int) -> str | None:
    """The field a documented limit names, or None when the combination is allowed."""
    allowed = (6, 8, 10) if model == "ltx-2-pro-image-to-video" else tuple(range(6, 21, 2))
    if duration not in allowed:
        return "duration"
    if resolution not in ("1920x1080", "2560x1440", "3840x2160"):
        return "resolution"
    if fps not in (25, 50):
        return "fps"
    if duration >= 12 and (resolution != "1920x1080" or fps != 25):
        return "duration"
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(["ltx-2-fast-image-to-video", "ltx-2-pro-image-to-video"]),
    duration=st.sampled_from([4, 5, 6, 7, 8, 10, 11, 12, 14, 16, 20, 22]),
    resolution=st.sampled_from(["1920x1080", "2560x1440", "3840x2160", "1280x720", "1080x1920"]),
    fps=st.sampled_from([24, 25, 30, 50]),
)
def test_duration_resolution_fps_combinations(
    emulator: RunningEmulator, model: str, duration: int, resolution: str, fps: int
) -> None:
    # An unreachable image makes an allowed combination fail on image_uri instead (no job, no render).
    body = {
        "model": model,
        "payload": {
            "image_uri": _UNREACHABLE,
            "prompt": "p",
            "duration": duration,
            "resolution": resolution,
            "fps": fps,
        },
    }
    expected = _duration_rule(model, duration, resolution, fps)
    with _client(emulator) as client:
        resp = client.post("/requests", json=body)
    assert resp.status_code == 400
    message = resp.json()["error"]
    assert message.startswith(f"payload.{expected or 'image_uri'}"), (expected, message)
    assert emulator.emulator.jobs_created["gmi"] == 0


# --- faults --------------------------------------------------------------------------------------------------


def test_submit_429_with_retry_after_then_accepted(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.config.max_render_side = 32
    emu.add_fault(
        Fault(op="submit", kind="http", provider="gmi", status=429, retry_after=7, message="slow down")
    )
    with _client(emulator) as client:
        first = client.post("/requests", json=_t2v())
        assert first.status_code == 429 and first.headers["Retry-After"] == "7"
        assert first.json() == {"error": "slow down", "code": 429}
        assert (emu.submit_requests["gmi"], emu.jobs_created["gmi"]) == (1, 0)
        second = client.post("/requests", json=_t2v())
        assert second.status_code == 200
        _wait(client, second.json()["request_id"])
    assert (emu.submit_requests["gmi"], emu.jobs_created["gmi"]) == (2, 1)


@pytest.mark.parametrize("status", [500, 503])
def test_status_server_errors_then_normal(emulator: RunningEmulator, status: int) -> None:
    emu = emulator.emulator
    emu.config.max_render_side = 32
    with _client(emulator) as client:
        request_id = client.post("/requests", json=_t2v()).json()["request_id"]
        emu.add_fault(Fault(op="status", kind="http", provider="gmi", status=status, count=2))
        for _ in range(2):
            resp = client.get(f"/requests/{request_id}")
            assert resp.status_code == status and resp.json()["code"] == status
        final, _ = _wait(client, request_id)
    assert final["status"] == "success"


def test_reset_delay_and_malformed(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.config.max_render_side = 32
    with _client(emulator) as client:
        emu.add_fault(Fault(op="submit", kind="reset", provider="gmi"))
        with pytest.raises(httpx.TransportError):
            client.post("/requests", json=_t2v())
        assert (emu.submit_requests["gmi"], emu.jobs_created["gmi"]) == (1, 0)
        emu.add_fault(Fault(op="submit", kind="delay", provider="gmi", delay=0.1))
        accepted = client.post("/requests", json=_t2v())
        assert accepted.status_code == 200 and accepted.json()["status"] == "created"
        request_id = accepted.json()["request_id"]
        emu.add_fault(Fault(op="status", kind="malformed", provider="gmi"))
        bad = client.get(f"/requests/{request_id}")
        assert bad.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(bad.text)
        emu.add_fault(Fault(op="status", kind="unknown-status", provider="gmi"))
        odd = client.get(f"/requests/{request_id}").json()
        assert odd["status"] == "mystery_state" and odd["request_id"] == request_id
        _wait(client, request_id)
    assert (emu.submit_requests["gmi"], emu.jobs_created["gmi"]) == (2, 1)


@pytest.mark.parametrize("kind", ["http", "reset"])
def test_after_accept_creates_the_job_but_loses_the_answer(emulator: RunningEmulator, kind: str) -> None:
    emu = emulator.emulator
    emu.config.max_render_side = 32
    emu.add_fault(Fault(op="submit", kind=kind, provider="gmi", status=502, after_accept=True))
    with _client(emulator) as client:
        if kind == "reset":
            with pytest.raises(httpx.TransportError):
                client.post("/requests", json=_t2v())
        else:
            assert client.post("/requests", json=_t2v()).status_code == 502
        listed = client.get("/requests", params={"model_id": "ltx-2-fast-text-to-video"}).json()
        assert listed["total"] == 1  # accepted (and billed) although the client saw no id
        _wait(client, listed["requests"][0]["request_id"])
    assert (emu.submit_requests["gmi"], emu.jobs_created["gmi"]) == (1, 1)


@pytest.mark.parametrize(("kind", "word"), [("fail", "failed"), ("cancel", "cancelled")])
def test_job_fails_or_is_cancelled_with_a_reason(emulator: RunningEmulator, kind: str, word: str) -> None:
    emulator.emulator.add_fault(Fault(op="job", kind=kind, provider="gmi", message=f"injected {kind}"))
    with _client(emulator) as client:
        final, _ = _wait(client, client.post("/requests", json=_t2v()).json()["request_id"])
    assert final["status"] == word
    assert final["outcome"]["error"] == f"injected {kind}"  # a string at outcome.error
    assert "media_urls" not in final["outcome"]


def test_stuck_job_stays_processing(emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(Fault(op="job", kind="stuck", provider="gmi"))
    with _client(emulator) as client:
        request_id = client.post("/requests", json=_t2v()).json()["request_id"]
        words: list[str] = []
        while "processing" not in words:
            words.append(client.get(f"/requests/{request_id}").json()["status"])
            assert len(words) < 2000
            time.sleep(0.02)
        later = [client.get(f"/requests/{request_id}").json()["status"] for _ in range(15)]
    assert set(later) == {"processing"}


def test_upload_list_and_models_faults(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    with _client(emulator) as client:
        emu.add_fault(Fault(op="upload", kind="http", provider="gmi", status=503, retry_after=2))
        resp = client.post("/upload-url", json={"file_type": "png"})
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "2"
        assert client.post("/upload-url", json={"file_type": "png"}).status_code == 200
        emu.add_fault(Fault(op="list", kind="http", provider="gmi", status=500))
        assert client.get("/requests", params={"model_id": "x"}).status_code == 500
        emu.add_fault(Fault(op="models", kind="malformed", provider="gmi"))
        with pytest.raises(json.JSONDecodeError):
            json.loads(client.get("/models/ltx-2-pro-retake").text)
        assert client.get("/models/ltx-2-pro-retake").status_code == 200


@pytest.mark.parametrize("kind", ["truncate", "expire"])
def test_download_faults(emulator: RunningEmulator, kind: str) -> None:
    emu = emulator.emulator
    emu.config.max_render_side = 32
    with _client(emulator) as client:
        final, _ = _wait(client, client.post("/requests", json=_t2v()).json()["request_id"])
    url = final["outcome"]["media_urls"][0]["url"]
    # faults go in through the control API, as the command line and the demo do
    httpx.post(
        f"{emulator.origin}/_emulator/faults", json={"op": "download", "kind": kind}
    ).raise_for_status()
    if kind == "truncate":
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=10)
    else:
        resp = httpx.get(url, timeout=10)
        assert resp.status_code == 403 and "Expired" in resp.text
    whole = httpx.get(url, timeout=10)  # the fault was used up: the file is whole again
    assert whole.status_code == 200 and probe(whole.content).frame_count == 153

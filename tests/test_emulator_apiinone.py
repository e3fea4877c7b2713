"""The API in One protocol of the emulator, spoken over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.emulator import apiinone as proto
from ltx2_nodes.api.emulator.render import render_size
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.decode import decode_audio
from ltx2_nodes.api.media.probe import probe

KEY = "aio_emulatorkey0000"
RATE = 16000  # sample rate of the synthetic inputs (quick to make)
T2V = {"model": "ltx-2", "type": "text-to-video", "prompt": "a paper boat on a river"}
KNOWN_STATUSES = ("PENDING", "IN_PROGRESS", "completed", "failed")


# --- utilities ---


@pytest.fixture
def client(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 96)  # small renders: quick tests
    with httpx.Client(
        base_url=f"{emulator.origin}/apiinone", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as c:
        yield c


@pytest.fixture(scope="module")
def media() -> dict[str, bytes]:
    """Tiny inputs: a landscape and a portrait PNG, 5 s of speech-like WAV, a 5 s MP4 with audio."""
    return {
        "png": synth.test_png(96, 64),
        "portrait_png": synth.test_png(54, 96),
        "wav": synth.test_wav(5.0, sample_rate=RATE),
        "mp4": synth.test_mp4(5.0, 128, 72, fps=25, sample_rate=RATE),
        "portrait_mp4": synth.test_mp4(5.0, 72, 128, fps=25, audio=False),
    }


def hosted(emulator: RunningEmulator, data: bytes, content_type: str) -> str:
    return f"{emulator.origin}/_files/{emulator.emulator.put_file(data, content_type, ttl=None)}"


def scaled(emulator: RunningEmulator, width: int, height: int) -> tuple[int, int]:
    cfg = emulator.emulator.config
    return render_size(width, height, cfg.render_scale, cfg.max_render_side)


def assert_error(resp: httpx.Response, status: int, mentions: str = "") -> str:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == status
    assert error["type"] == proto.ERROR_TYPES[status]
    assert mentions in error["message"]
    return error["message"]


def submit(client: httpx.Client, body: dict) -> dict:
    resp = client.post("/videos/generations", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["code"] == 200 and answer["message"] == "success"
    assert answer["data"]["status"] == "IN_PROGRESS"
    assert answer["data"]["task_id"]
    return answer["data"]


def wait_finished(client: httpx.Client, task_id: str) -> tuple[dict, list[str]]:
    seen: list[str] = []
    for _ in range(600):
        resp = client.get(f"/tasks/{task_id}")
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert answer["code"] == 200 and answer["message"] == "success"
        data = answer["data"]
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        if data["status"] in ("completed", "failed"):
            return data, seen
        time.sleep(0.03)
    raise AssertionError(f"task {task_id} never finished: {seen}")


def finished_video(client: httpx.Client, body: dict) -> tuple[dict, bytes]:
    data, seen = wait_finished(client, submit(client, body)["task_id"])
    assert seen[-1] == "completed", data
    video = httpx.get(data["video_url"])
    assert video.status_code == 200
    return data, video.content


# --- answers and lifecycle -------------------------------------------------------------------------------------------


def test_text_to_video_lifecycle_and_envelope(client: httpx.Client, emulator: RunningEmulator) -> None:
    created = submit(client, {**T2V, "resolution": "480p", "duration": 6, "seed": 7})
    assert created["credits"] == proto.credits_for("text-to-video", "480p", 6)
    data, seen = wait_finished(client, created["task_id"])
    assert seen[-1] == "completed"
    order = ["PENDING", "IN_PROGRESS", "completed"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)
    assert data["task_id"] == created["task_id"]
    assert data["credits"] == created["credits"]
    info = probe(httpx.get(data["video_url"]).content)
    assert (info.width, info.height) == scaled(emulator, 854, 480)
    assert info.fps == 25
    assert abs(info.duration - 6) < 0.5


def test_nine_by_sixteen_swaps_the_size(client: httpx.Client, emulator: RunningEmulator) -> None:
    _, video = finished_video(client, {**T2V, "aspect_ratio": "9:16", "resolution": "1080p"})
    info = probe(video)
    assert (info.width, info.height) == scaled(emulator, 1080, 1920)
    assert info.height > info.width
    assert abs(info.duration - 5) < 0.5  # the default duration


def test_every_result_shape(
    client: httpx.Client, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = emulator.emulator
    data, _ = wait_finished(client, submit(client, T2V)["task_id"])
    url = data["video_url"]  # the default shape
    task = data["task_id"]
    where = {
        "video_url": lambda d: d["video_url"],
        "url": lambda d: d["url"],
        "output": lambda d: d["output"],
        "output.video_url": lambda d: d["output"]["video_url"],
        "result.video_url": lambda d: d["result"]["video_url"],
        "list": lambda d: d["videos"][0],
    }
    assert set(where) == set(proto.RESULT_SHAPES)
    for shape, pick in where.items():
        monkeypatch.setattr(emu.config, "apiinone_result_shape", shape, raising=False)
        by_config = client.get(f"/tasks/{task}").json()["data"]
        assert pick(by_config) == url, shape
        if shape != "video_url":
            assert "video_url" not in by_config
    monkeypatch.setattr(emu.config, "apiinone_result_shape", "video_url", raising=False)
    for shape, pick in where.items():
        emu.add_fault(Fault(provider="apiinone", op="status", kind=f"shape:{shape}"))
        assert pick(client.get(f"/tasks/{task}").json()["data"]) == url, shape
    assert client.get(f"/tasks/{task}").json()["data"]["video_url"] == url  # the fault was for one answer


def test_image_to_video_follows_a_portrait_image(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes]
) -> None:
    body = {
        "model": "ltx-2",
        "type": "image-to-video",
        "prompt": "she smiles",
        "image": hosted(emulator, media["portrait_png"], "image/png"),
    }
    _, video = finished_video(client, body)
    info = probe(video)
    assert (info.width, info.height) == scaled(emulator, 720, 1280)


def test_failed_task_has_an_error_string(client: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(Fault(provider="apiinone", op="job", kind="fail", message="NSFW detected"))
    data, seen = wait_finished(client, submit(client, T2V)["task_id"])
    assert seen[-1] == "failed"
    assert data["error"] == "NSFW detected"
    assert "video_url" not in data


def test_lipsync_carries_the_audio(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes], tmp_path: Path
) -> None:
    body = {
        "model": "ltx-2",
        "type": "lipsync",
        "audio": hosted(emulator, media["wav"], "audio/wav"),
        "audio_duration": 5,
        "image": hosted(emulator, media["png"], "image/png"),
    }
    created = submit(client, body)
    low, high = proto.CREDIT_RANGES["lipsync"]
    assert low <= created["credits"] <= high
    data, seen = wait_finished(client, created["task_id"])
    assert seen[-1] == "completed", data
    video = httpx.get(data["video_url"]).content
    info = probe(video)
    assert info.has_audio
    assert abs(info.duration - 5.0) <= 0.1
    # The loudness over time follows the input speech.
    (tmp_path / "in.wav").write_bytes(media["wav"])
    (tmp_path / "out.mp4").write_bytes(video)
    src, out = decode_audio(tmp_path / "in.wav", mono=True), decode_audio(tmp_path / "out.mp4", mono=True)
    assert src is not None and out is not None

    def loudness(audio) -> np.ndarray:
        hop = audio.sample_rate // 20
        wav = audio.waveform[0]
        return np.array([np.sqrt(np.mean(wav[i : i + hop] ** 2)) for i in range(0, hop * 95, hop)])

    assert np.corrcoef(loudness(src), loudness(out))[0, 1] > 0.8


@pytest.mark.parametrize(
    ("audio_mode", "resolution", "video", "size", "has_audio"),
    [
        ("preserve", "480p", "mp4", (854, 480), True),
        ("none", "720p", "mp4", (1280, 720), False),
        ("generate", "1080p", "portrait_mp4", (1080, 1920), True),  # silent input, generated track
    ],
)
def test_control_follows_audio_mode_and_size(
    client: httpx.Client,
    emulator: RunningEmulator,
    media: dict[str, bytes],
    audio_mode: str,
    resolution: str,
    video: str,
    size: tuple[int, int],
    has_audio: bool,
) -> None:
    body = {
        "model": "ltx-2",
        "type": "control",
        "video": hosted(emulator, media[video], "video/mp4"),
        "video_duration": 5,
        "mode": "canny",
        "audio_mode": audio_mode,
        "resolution": resolution,
    }
    data, content = finished_video(client, body)
    assert data["credits"] == proto.credits_for("control", resolution, 5)
    info = probe(content)
    assert (info.width, info.height) == scaled(emulator, *size)
    assert bool(info.has_audio) is has_audio
    assert abs(info.duration - 5.0) < 0.5


# --- credits ---------------------------------------------------------------------------------------------------------


@given(
    task_type=st.sampled_from(proto.TYPES),
    resolution=st.sampled_from(list(proto.RESOLUTIONS)),
    duration=st.integers(5, 19),
)
def test_credits_stay_in_range_and_grow(task_type: str, resolution: str, duration: int) -> None:
    low, high = proto.CREDIT_RANGES[task_type]
    credits = proto.credits_for(task_type, resolution, duration)
    assert low <= credits <= high
    assert proto.credits_for(task_type, resolution, duration + 1) >= credits
    order = list(proto.RESOLUTIONS)
    if resolution != order[-1]:
        assert proto.credits_for(task_type, order[order.index(resolution) + 1], duration) >= credits
    assert proto.credits_for(task_type, "480p", 5) == low
    assert proto.credits_for(task_type, "1080p", 20) == high


# --- validation ---------------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    duration=st.one_of(st.integers(2, 23), st.sampled_from([5.5, "10"])),
    resolution=st.sampled_from(["480p", "720p", "1080p", "4k", "1920x1080"]),
    aspect=st.sampled_from(["16:9", "9:16", "1:1"]),
)
def test_text_to_video_field_rules(
    client: httpx.Client, emulator: RunningEmulator, duration: object, resolution: str, aspect: str
) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="apiinone", op="job", kind="fail"))  # accepted tasks end without rendering
    try:
        body = {**T2V, "duration": duration, "resolution": resolution, "aspect_ratio": aspect}
        resp = client.post("/videos/generations", json=body)
        valid = (
            isinstance(duration, int)
            and 5 <= duration <= 20
            and resolution in ("480p", "720p", "1080p")
            and aspect in ("16:9", "9:16")
        )
        if valid:
            assert resp.status_code == 200, resp.text
            assert resp.json()["data"]["credits"] == proto.credits_for("text-to-video", resolution, duration)
        else:
            message = assert_error(resp, 400)
            assert message.split(":")[0] in ("duration", "resolution", "aspect_ratio")
    finally:
        emu.clear_faults()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "ltx-2-pro"}, "model"),
        ({"model": None}, "model"),
        ({"type": "retake"}, "type"),
        ({"prompt": ""}, "prompt"),
        ({"seed": -2}, "seed"),
        ({"negative_prompt": "blur"}, "negative_prompt"),
        ({"type": "image-to-video"}, "image"),
        ({"type": "image-to-video", "image": "{png}", "aspect_ratio": "9:16"}, "aspect_ratio"),
        ({"type": "image-to-video", "image": "{wav}"}, "image"),
        ({"type": "image-to-video", "image": "ftp://127.0.0.1/x.png"}, "image"),
        ({"type": "text-to-video", "audio": "{wav}"}, "audio"),
        ({"type": "lipsync", "audio": "{wav}"}, "audio_duration"),
        ({"type": "lipsync", "audio": "{wav}", "audio_duration": 4}, "audio_duration"),
        ({"type": "lipsync", "audio": "{wav}", "audio_duration": 6}, "audio_duration"),  # the file lasts 5 s
        ({"type": "lipsync", "audio_duration": 5}, "audio"),
        ({"type": "control", "video": "{mp4}", "video_duration": 21}, "video_duration"),
        ({"type": "control", "video": "{mp4}", "video_duration": 8}, "video_duration"),
        ({"type": "control", "video": "{mp4}", "video_duration": 5, "mode": "segment"}, "mode"),
        ({"type": "control", "video": "{mp4}", "video_duration": 5, "audio_mode": "mute"}, "audio_mode"),
        ({"type": "control", "video": "{png}", "video_duration": 5}, "video"),
    ],
)
def test_request_field_rules(
    client: httpx.Client, emulator: RunningEmulator, media: dict[str, bytes], body: dict, field: str
) -> None:
    urls = {
        "{png}": hosted(emulator, media["png"], "image/png"),
        "{wav}": hosted(emulator, media["wav"], "audio/wav"),
        "{mp4}": hosted(emulator, media["mp4"], "video/mp4"),
    }
    body = {**T2V, **{k: urls.get(v, v) if isinstance(v, str) else v for k, v in body.items()}}
    if body["type"] in ("lipsync", "control"):
        body.pop("prompt")
    message = assert_error(client.post("/videos/generations", json=body), 400)
    assert message.startswith(field), message
    assert emulator.emulator.jobs_created["apiinone"] == 0


# --- errors, faults and counters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer aio_wrong", "Token aio_emulatorkey0000"])
def test_bad_key_is_401(emulator: RunningEmulator, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    base = f"{emulator.origin}/apiinone"
    assert_error(httpx.post(f"{base}/videos/generations", json=T2V, headers=headers), 401)
    assert_error(httpx.get(f"{base}/tasks/abc", headers=headers), 401)
    assert emulator.emulator.jobs_created["apiinone"] == 0


def test_insufficient_credits_uses_the_envelope(client: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(
        Fault(provider="apiinone", op="submit", kind="http", status=402, message="insufficient credits")
    )
    resp = client.post("/videos/generations", json=T2V)
    assert resp.status_code == 402
    assert resp.json() == {"code": 402, "message": "insufficient credits", "data": None}
    assert emulator.emulator.jobs_created["apiinone"] == 0


def test_injected_server_error_and_unknown_task(client: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.emulator.add_fault(
        Fault(provider="apiinone", op="submit", kind="http", status=503, retry_after=2)
    )
    resp = client.post("/videos/generations", json=T2V)
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == 503
    assert resp.headers["Retry-After"] == "2"
    assert_error(client.get("/tasks/no-such-task"), 404, "no-such-task")


def test_after_accept_fault_creates_the_task(client: httpx.Client, emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="apiinone", op="job", kind="stuck"))
    emu.add_fault(Fault(provider="apiinone", op="submit", kind="reset", after_accept=True))
    with pytest.raises(httpx.TransportError):
        client.post("/videos/generations", json=T2V)
    assert emu.jobs_created["apiinone"] == 1
    assert emu.submit_requests["apiinone"] == 1
    task = next(iter(emu.jobs))
    assert client.get(f"/tasks/{task}").json()["data"]["status"] in ("PENDING", "IN_PROGRESS")


def test_status_faults(client: httpx.Client, emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="apiinone", op="job", kind="stuck"))
    task = submit(client, T2V)["task_id"]
    emu.add_fault(Fault(provider="apiinone", op="status", kind="unknown-status"))
    assert client.get(f"/tasks/{task}").json()["data"]["status"] not in KNOWN_STATUSES
    emu.add_fault(Fault(provider="apiinone", op="status", kind="http", status=500))
    assert client.get(f"/tasks/{task}").status_code == 500
    emu.add_fault(Fault(provider="apiinone", op="status", kind="malformed"))
    with pytest.raises(ValueError):
        client.get(f"/tasks/{task}").json()
    assert client.get(f"/tasks/{task}").json()["data"]["status"] in ("PENDING", "IN_PROGRESS")


def test_submit_counter_counts_every_submit(client: httpx.Client, emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    emu.add_fault(Fault(provider="apiinone", op="job", kind="fail"))
    submit(client, T2V)
    client.post("/videos/generations", json={**T2V, "duration": 30})
    client.post("/videos/generations", content=b"not json")
    client.get("/tasks/whatever")
    assert emu.submit_requests["apiinone"] == 3
    assert emu.jobs_created["apiinone"] == 1
    logged = [entry for entry in emu.log if entry.provider == "apiinone" and entry.op == "submit"]
    assert logged[0].json == T2V

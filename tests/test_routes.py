"""The front-end routes over real HTTP (an aiohttp app with the same handlers ComfyUI gets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from ltx2_nodes.nodes.routes import _is_loopback, add_routes


@pytest.fixture
async def client(isolated_env: Path):
    routes = web.RouteTableDef()
    add_routes(routes)
    app = web.Application()
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_capabilities_lists_every_provider_and_mode(client: TestClient) -> None:
    resp = await client.get("/ltx2/capabilities")
    assert resp.status == 200
    caps = (await resp.json())["providers"]
    assert set(caps) == {"gmi", "apiinone", "ltx"}
    assert set(caps["ltx"]["modes"]) == {
        "text-to-video",
        "image-to-video",
        "audio-to-video",
        "retake",
        "extend",
        "reframe",
    }
    assert caps["ltx"]["choices"]["reframe"]["placement"][0] == "center"
    assert "camera_motion" in caps["ltx"]["choices"]["audio-to-video"]
    assert "camera_motion" not in caps["apiinone"]["choices"]["text-to-video"]
    assert set(caps["apiinone"]["modes"]) == {"text-to-video", "image-to-video", "lipsync", "control"}
    first_t2v = caps["ltx"]["modes"]["text-to-video"][0]
    assert first_t2v["resolutions"] and first_t2v["name"].startswith("ltx-2")


async def test_estimate_matches_the_provider(client: TestClient) -> None:
    from ltx2_nodes.api.providers import get_provider
    from ltx2_nodes.api.types import GenerationRequest, Mode

    resp = await client.post(
        "/ltx2/estimate",
        json={
            "mode": "text-to-video",
            "widgets": {
                "provider": "LTX (Lightricks)",
                "model": "ltx-2-3-pro",
                "duration": 8,
                "resolution": "1920x1080",
                "fps": "25",
                "seed": 3,
                "camera_motion": "none",
            },
        },
    )
    body = await resp.json()
    expected = get_provider("ltx").estimate_cost(
        GenerationRequest(
            provider="ltx",
            mode=Mode.TEXT_TO_VIDEO,
            model="ltx-2-3-pro",
            duration=8,
            resolution="1920x1080",
            fps=25,
        )
    )
    assert body["amount"] == pytest.approx(expected.amount)
    assert body["unit"] == "USD" and body["text"].startswith("$")


async def test_estimate_of_incomplete_widgets_is_empty_not_an_error(client: TestClient) -> None:
    resp = await client.post(
        "/ltx2/estimate", json={"mode": "text-to-video", "widgets": {"provider": "nobody"}}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["text"] == "" and "provider" in body["error"]
    assert (await client.post("/ltx2/estimate", data="nope")).status == 400


async def test_keys_are_stored_but_never_returned(client: TestClient, isolated_env: Path) -> None:
    secret = "ltxkey-route-test-0123456789"
    resp = await client.post("/ltx2/keys", json={"provider": "ltx", "key": secret})
    assert resp.status == 200, await resp.text()
    assert secret not in await resp.text()
    stored = json.loads((isolated_env / "config.json").read_text())
    assert stored["keys"]["ltx"] == secret
    status = await client.get("/ltx2/keys")
    text = await status.text()
    assert secret not in text
    providers = json.loads(text)["providers"]
    assert providers["ltx"]["source"] == "config" and providers["gmi"]["source"] == "missing"
    assert providers["gmi"]["env_var"] == "GMI_API_KEY"


async def test_key_post_rejects_bad_bodies(client: TestClient) -> None:
    assert (await client.post("/ltx2/keys", json={"provider": "ltx"})).status == 400
    resp = await client.post("/ltx2/keys", json={"provider": "nobody", "key": "abc"})
    assert resp.status == 400 and "abc" not in await resp.text()


def test_only_loopback_clients_count_as_local() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("192.168.1.20") and not _is_loopback(None) and not _is_loopback("garbage")


async def test_audio_driven_modes_show_a_price_per_second(client: TestClient) -> None:
    # The length follows the audio, unknown until it is connected.
    resp = await client.post(
        "/ltx2/estimate",
        json={
            "mode": "audio-to-video",
            "widgets": {
                "provider": "LTX (Lightricks)",
                "model": "auto",
                "resolution": "1920x1080",
                "guidance_scale": 0,
                "seed": 0,
            },
        },
    )
    body = await resp.json()
    assert body["per_second"] is True and body["text"] == "$0.10/s"  # LTX-2.3 Pro audio-to-video


def test_estimates_of_out_of_range_values_are_empty_not_errors() -> None:
    from ltx2_nodes.api.capabilities import estimate_from_widgets

    for widgets in (
        {"provider": "ltx", "duration": float("inf")},
        {"provider": "gmi", "seed": 10**400},
        {"provider": "ltx", "duration": -6},
        {"provider": "apiinone", "fps": "nan"},
    ):
        answer = estimate_from_widgets("text-to-video", widgets)
        assert answer["text"] == "" or (answer["amount"] >= 0 and answer["amount"] != float("inf")), widgets

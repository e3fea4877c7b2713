"""The front-end routes over real loopback HTTP: the cost estimate answers every body with valid
JSON, and keys are stored only for a browser on the machine running ComfyUI."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.nodes.routes import _is_loopback, add_routes


def _app() -> web.Application:
    routes = web.RouteTableDef()
    add_routes(routes)
    app = web.Application()
    app.add_routes(routes)
    return app


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The routes on a loopback port, served from a thread (hypothesis drives them synchronously)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(_app())
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.fixture
async def client(isolated_env: Path):
    async with TestClient(TestServer(_app())) as test_client:
        yield test_client


def _strict_json(text: str) -> object:
    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


MODES = ["text-to-video", "image-to-video", "audio-to-video", "lipsync", "retake", "extend", "control"]
WIDGET_NAMES = [
    "provider",
    "model",
    "duration",
    "resolution",
    "fps",
    "aspect_ratio",
    "camera_motion",
    "generate_audio",
    "guidance_scale",
    "start_time",
    "retake_mode",
    "extend_mode",
    "context",
    "control_mode",
    "audio_mode",
    "seed",
]
PROVIDERS = ["GMI Cloud", "API in One", "LTX (Lightricks)", "gmi", "ltx", "apiinone"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # JSON integers have no size limit
    st.floats(),  # Python's JSON reader also takes NaN and Infinity
    st.text(max_size=12),
    st.sampled_from(["auto", "none", "1920x1080", "720p", "25", "50", "6", "8.5"]),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 10**400, -(10**30)]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)


@settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mode=st.one_of(st.sampled_from(MODES), VALUES),
    provider=st.one_of(st.sampled_from(PROVIDERS), VALUES),
    widgets=st.dictionaries(st.sampled_from(WIDGET_NAMES), VALUES, max_size=8),
)
def test_the_estimate_answers_any_body_with_valid_json(
    server_url: str, mode, provider, widgets: dict
) -> None:
    body = json.dumps({"mode": mode, "widgets": {"provider": provider, **widgets}})  # NaN/Infinity allowed
    resp = httpx.post(
        f"{server_url}/ltx2/estimate", content=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 200, resp.text
    answer = _strict_json(resp.text)  # what the browser's JSON.parse accepts
    assert isinstance(answer, dict) and isinstance(answer["text"], str)
    if answer["text"]:
        assert answer["amount"] >= 0


@pytest.mark.parametrize(
    "widgets",
    [
        {"provider": "LTX (Lightricks)", "fps": float("inf")},
        {"provider": "LTX (Lightricks)", "seed": 10**400},
        {"provider": "LTX (Lightricks)", "duration": float("inf")},
        {"provider": "GMI Cloud", "duration": -4},
    ],
)
def test_out_of_range_widget_values_give_no_estimate(server_url: str, widgets: dict) -> None:
    resp = httpx.post(
        f"{server_url}/ltx2/estimate",
        content=json.dumps({"mode": "text-to-video", "widgets": widgets}),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 200
    assert _strict_json(resp.text)["text"] == ""


async def test_a_profile_that_is_not_a_name_is_refused(client: TestClient, isolated_env: Path) -> None:
    for profile in (["work"], {"a": 1}, 5, "aio_0123456789abcdef"):
        resp = await client.post(
            "/ltx2/keys", json={"provider": "ltx", "key": "ltx-route-key-12345", "profile": profile}
        )
        assert resp.status == 400, (profile, await resp.text())
        assert "profile" in (await resp.json())["error"]
    assert not (isolated_env / "config.json").exists()
    ok = await client.post(
        "/ltx2/keys", json={"provider": "ltx", "key": "ltx-route-key-12345", "profile": "work"}
    )
    assert ok.status == 200
    stored = json.loads((isolated_env / "config.json").read_text())
    assert stored["profiles"]["work"]["keys"]["ltx"] == "ltx-route-key-12345"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "203.0.113.9"},
        {"X-Forwarded-For": "127.0.0.1, 198.51.100.4"},
        {"X-Real-IP": "192.168.1.30"},
        {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'},
        {"Forwarded": "for=unknown"},
    ],
)
async def test_a_browser_behind_a_local_proxy_cannot_set_keys(
    client: TestClient, isolated_env: Path, headers
) -> None:
    # A tunnel or reverse proxy on the ComfyUI machine connects from 127.0.0.1 for every remote visitor.
    resp = await client.post(
        "/ltx2/keys", json={"provider": "ltx", "key": "ltx-remote-key-98765"}, headers=headers
    )
    assert resp.status == 403
    assert "ltx-remote-key-98765" not in await resp.text()
    assert not (isolated_env / "config.json").exists()


async def test_a_local_browser_through_a_local_proxy_can_set_keys(
    client: TestClient, isolated_env: Path
) -> None:
    for headers in ({"X-Forwarded-For": "127.0.0.1"}, {"Forwarded": 'for="[::1]:5000"'}):
        resp = await client.post(
            "/ltx2/keys", json={"provider": "gmi", "key": "gmi-local-key-1234"}, headers=headers
        )
        assert resp.status == 200, await resp.text()


def test_ipv4_mapped_loopback_counts_as_local() -> None:
    # ComfyUI listening on "::" sees a local IPv4 browser as ::ffff:127.0.0.1.
    assert _is_loopback("::ffff:127.0.0.1")
    assert not _is_loopback("::ffff:192.168.1.20")

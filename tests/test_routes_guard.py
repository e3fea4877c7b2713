"""Every route that changes state, on a real aiohttp server on loopback: requests from another site, a
foreign Host and non-JSON bodies are refused; no route returns a key; a key is removed only by an
explicit delete; Collect fetches a paid job from the emulator without a new submit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.config import is_loopback_host
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.errors import Interrupted
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.types import GenerationRequest, Mode
from ltx2_nodes.nodes import sidebar
from ltx2_nodes.nodes.routes import _split_host, add_routes, refusal

KEY = "ltx-guard-test-key-0123456789"


@pytest.fixture
async def base(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(isolated_env / "output"))
    routes = web.RouteTableDef()
    add_routes(routes)
    app = web.Application()
    app.add_routes(routes)
    app_runner = web.AppRunner(app)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0)
    await site.start()
    port = app_runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await sidebar.wait_for_collections()
        await app_runner.cleanup()


def _config(isolated_env: Path) -> dict:
    path = isolated_env / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


STATE_CHANGES = [
    ("POST", "/ltx2/keys", {"provider": "ltx", "key": KEY}),
    ("DELETE", "/ltx2/keys", {"provider": "ltx"}),
    ("POST", "/ltx2/budget", {"daily_usd": 1}),
    ("POST", "/ltx2/jobs/collect", {"id": "0123456789abcdef"}),
]


@pytest.mark.parametrize(("method", "path", "body"), STATE_CHANGES)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://localhost:1"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Host": "evil.example"}, 403),
        ({"Host": "attacker.test:8188"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
async def test_state_changes_from_another_site_are_refused(
    base: str, isolated_env: Path, method: str, path: str, body: dict, headers: dict, status: int
) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        if method == "DELETE":  # something to delete
            ok = await http.post("/ltx2/keys", json={"provider": "ltx", "key": KEY})
            assert ok.status_code == 200
        before = _config(isolated_env)
        sent = {"Content-Type": "application/json", **headers}
        resp = await http.request(method, path, content=json.dumps(body), headers=sent)
    assert resp.status_code == status, resp.text
    assert "error" in resp.json() and KEY not in resp.text
    assert _config(isolated_env) == before  # nothing changed


async def test_the_page_itself_may_change_state(base: str, isolated_env: Path) -> None:
    port = base.rsplit(":", 1)[1]
    same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    async with httpx.AsyncClient(base_url=base) as http:
        resp = await http.post("/ltx2/keys", json={"provider": "ltx", "key": KEY}, headers=same)
        assert resp.status_code == 200, resp.text
        resp = await http.post(
            "/ltx2/budget", json={"daily_usd": "2.5"}, headers={**same, "Host": f"localhost:{port}"}
        )
        assert resp.status_code == 403  # Origin 127.0.0.1 is not the page at localhost
        resp = await http.post(
            "/ltx2/budget",
            json={"daily_usd": "2.5", "allow_unknown_cost": True},
            headers={"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["budget"]["caps"]["daily_usd"] == 2.5
    assert _config(isolated_env)["budget"] == {"allow_unknown_cost": True, "daily_usd": 2.5}


async def test_reads_check_the_host_too(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for path in ("/ltx2/keys", "/ltx2/jobs", "/ltx2/spend", "/ltx2/capabilities"):
            assert (await http.get(path)).status_code == 200, path
            rebound = await http.get(path, headers={"Host": "rebind.attacker.test"})
            assert rebound.status_code == 403, path


async def test_no_route_returns_a_key_and_only_delete_removes_one(base: str, isolated_env: Path) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.post("/ltx2/keys", json={"provider": "gmi", "key": KEY})).status_code == 200
        empty = await http.post("/ltx2/keys", json={"provider": "gmi", "key": "  "})
        assert empty.status_code == 400 and "delete" in empty.json()["error"]
        assert _config(isolated_env)["keys"]["gmi"] == KEY
        texts = [(await http.get(p)).text for p in ("/ltx2/keys", "/ltx2/jobs", "/ltx2/spend")]
        assert all(KEY not in text for text in texts)
        assert json.loads(texts[0])["providers"]["gmi"]["source"] == "config"
        gone = await http.request("DELETE", "/ltx2/keys", json={"provider": "gmi"})
        assert gone.status_code == 200 and KEY not in gone.text
    assert "gmi" not in _config(isolated_env).get("keys", {})


async def test_collect_fetches_a_paid_job_without_a_new_submit(
    base: str, emu_env: RunningEmulator, isolated_env: Path
) -> None:
    emu_env.emulator.config.max_render_side = 64
    req = GenerationRequest(
        provider="ltx",
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-3-fast",
        prompt="a lantern",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=1,
    )
    stop = {"now": False}

    def on_progress(event) -> None:
        if event.phase == "queued" and "accepted" in event.message:
            stop["now"] = True  # the window was closed right after the provider accepted the job

    settings = runner.RunSettings(
        output_dir=isolated_env / "elsewhere",
        poll_interval=0.05,
        retry=RetryPolicy(base_delay=0.05, max_delay=0.5),
        cancel_check=lambda: stop["now"],
        on_progress=on_progress,
    )
    with pytest.raises(Interrupted):
        await runner.generate(req, settings)
    (record,) = Journal().list(limit=0)
    assert record.state is RecordState.INTERRUPTED

    async with httpx.AsyncClient(base_url=base) as http:
        listed = (await http.get("/ltx2/jobs", params={"state": "uncollected"})).json()
        assert [j["id"] for j in listed["jobs"]] == [record.id]
        assert listed["jobs"][0]["can_collect"] and listed["jobs"][0]["billed"]
        spent_before = (await http.get("/ltx2/spend")).json()["today"]["ltx"]["spent"]
        assert spent_before == pytest.approx(record.cost_amount)

        resp = await http.post("/ltx2/jobs/collect", json={"id": record.id})
        assert resp.status_code == 202, resp.text
        await sidebar.wait_for_collections()
        done = (await http.get("/ltx2/jobs", params={"state": "done"})).json()["jobs"]
        assert [j["id"] for j in done] == [record.id]
        assert done[0]["preview"]["type"] == "output" and done[0]["preview"]["subfolder"] == "ltx2"
        assert done[0]["file"].endswith(".mp4") and done[0]["collect_error"] is None
        again = await http.post("/ltx2/jobs/collect", json={"id": record.id})
        assert again.status_code == 400 and "nothing to collect" in again.json()["error"]
        bad = await http.get("/ltx2/jobs", params={"state": "everything"})
        assert bad.status_code == 400
        # Collecting buys nothing: the job was counted when the provider accepted it.
        assert (await http.get("/ltx2/spend")).json()["today"]["ltx"]["spent"] == spent_before
    assert emu_env.emulator.stats()["submit_requests"]["ltx"] == 1
    assert Journal().get(record.id).state is RecordState.DOWNLOADED


@settings(max_examples=150)
@given(host=st.text(max_size=40), origin=st.one_of(st.none(), st.text(max_size=60)))
def test_any_host_or_origin_header_gives_an_answer_and_only_this_page_passes(
    host: str, origin: str | None
) -> None:
    """Header parsing never fails, and a state change passes only for a loopback Host and an Origin
    that is absent or names that very host and port."""
    headers = {"Host": host, "Content-Type": "application/json"}
    if origin is not None:
        headers["Origin"] = origin
    try:
        request = make_mocked_request("POST", "/ltx2/keys", headers=headers)
    except ValueError:  # not even a header aiohttp would take from a client
        return
    refused = refusal(request, changes_state=True)
    parsed = _split_host(host, "http")
    if refused is None:
        assert parsed is not None and is_loopback_host(parsed[0])
        if origin is not None:
            parts = urlsplit(origin.strip())
            assert _split_host(parts.netloc, parts.scheme) == parsed
    else:
        assert refused.status in (403, 415)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8188", ("127.0.0.1", 8188)),
        ("LOCALHOST", ("localhost", 80)),
        ("[::1]:8188", ("::1", 8188)),
        ("localhost.:8188", ("localhost", 8188)),
        ("::1", None),
        ("a@127.0.0.1", None),
        ("127.0.0.1:99999", None),
        ("", None),
    ],
)
def test_host_headers_are_read_strictly(value: str, expected) -> None:
    assert _split_host(value, "http") == expected

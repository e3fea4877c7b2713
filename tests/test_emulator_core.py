"""Emulator core: fault specs, ranged file serving, reset."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api.emulator import Fault, RunningEmulator, core


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gmi:status:http:503x2", ("gmi", "status", "http", 503, 2)),
        ("*:download:expire", ("*", "download", "expire", 500, 1)),  # the x of "expire" is not a count
        ("ltx:submit:reset", ("ltx", "submit", "reset", 500, 1)),
        ("*:job:fail x3".replace(" ", ""), ("*", "job", "fail", 500, 3)),
        ("apiinone:status:unknown-status", ("apiinone", "status", "unknown-status", 500, 1)),
    ],
)
def test_fault_spec_parsing(text: str, expected: tuple) -> None:
    fault = Fault.parse(text)
    assert (fault.provider, fault.op, fault.kind, fault.status, fault.count) == expected


@given(
    op_kind=st.sampled_from(
        [
            ("status", "http"),
            ("status", "reset"),
            ("download", "expire"),
            ("download", "truncate"),
            ("status", "malformed"),
            ("download", "empty"),
            ("job", "stuck"),
            ("put", "http"),
        ]
    ),
    count=st.integers(1, 99),
)
def test_fault_spec_round_trip(op_kind: tuple[str, str], count: int) -> None:
    op, kind = op_kind
    fault = Fault.parse(f"gmi:{op}:{kind}x{count}")
    assert (fault.op, fault.kind, fault.count) == (op, kind, count)


def test_delay_and_shape_specs_carry_their_argument() -> None:
    assert Fault.parse("ltx:submit:delay:2.5s").delay == 2.5
    assert Fault.parse("apiinone:status:shape:list").kind == "shape:list"


def test_bad_fault_spec_is_refused() -> None:
    with pytest.raises(ValueError):
        Fault.parse("gmi:status")


def test_files_serve_byte_ranges(emulator: RunningEmulator) -> None:
    token = emulator.emulator.put_file(b"0123456789", "video/mp4", ttl=60)
    url = f"{emulator.origin}/_files/{token}"
    whole = httpx.get(url)
    assert whole.content == b"0123456789" and whole.headers["accept-ranges"] == "bytes"
    tail = httpx.get(url, headers={"Range": "bytes=4-"})
    assert tail.status_code == 206 and tail.content == b"456789"
    assert tail.headers["content-range"] == "bytes 4-9/10"
    assert httpx.get(url, headers={"Range": "bytes=2-3"}).content == b"23"
    assert httpx.get(url, headers={"Range": "bytes=-3"}).content == b"789"
    assert httpx.get(url, headers={"Range": "bytes=20-"}).status_code == 416


def test_expired_files_answer_like_signed_urls(emulator: RunningEmulator) -> None:
    token = emulator.emulator.put_file(b"abc", "video/mp4", ttl=-1)
    resp = httpx.get(f"{emulator.origin}/_files/{token}")
    assert resp.status_code == 403 and b"expired" in resp.content


def test_faults_the_emulator_cannot_apply_are_refused(emulator: RunningEmulator) -> None:
    for bad in (
        {"op": "sumbit", "kind": "http"},
        {"op": "status", "kind": "explode"},
        {"op": "status", "kind": "http", "provider": "acme"},
        {"op": "status", "kind": "http", "count": 0},
        {"op": "status", "kind": "http", "status": 42},
        {"op": "status", "kind": "http", "colour": "red"},
    ):
        resp = httpx.post(f"{emulator.origin}/_emulator/faults", json=bad)
        assert resp.status_code == 400 and "invalid fault" in resp.json()["error"], bad
    assert emulator.emulator.faults == []
    ok = httpx.post(f"{emulator.origin}/_emulator/faults", json={"op": "status", "kind": "shape:list"})
    assert ok.status_code == 200 and emulator.emulator.faults[0].kind == "shape:list"


# --- download faults fire for the provider whose file it is ---------------------------------------------------


@pytest.mark.parametrize("provider", ["gmi", "*"])
def test_download_faults_expire_empty_and_redirect_fire(emulator: RunningEmulator, provider: str) -> None:
    emu = emulator.emulator
    token = emu.put_file(b"video-bytes", "video/mp4", ttl=60, provider="gmi")
    url = f"{emulator.origin}/_files/{token}"
    for kind in ("expire", "empty", "redirect"):
        emu.add_fault(Fault(op="download", kind=kind, provider=provider))
    expired, empty, moved = (httpx.get(url) for _ in range(3))
    assert expired.status_code == 403 and b"expired" in expired.content
    assert empty.status_code == 200 and empty.content == b""
    assert moved.status_code == 302 and moved.headers["location"].startswith("http://169.254.169.254/")
    assert httpx.get(url).content == b"video-bytes" and emu.faults == []  # each fired once


def test_another_providers_download_fault_leaves_the_file_alone(emulator: RunningEmulator) -> None:
    emu = emulator.emulator
    token = emu.put_file(b"video-bytes", "video/mp4", ttl=60, provider="gmi")
    emu.add_fault(Fault(op="download", kind="expire", provider="ltx"))
    assert httpx.get(f"{emulator.origin}/_files/{token}").content == b"video-bytes"
    assert len(emu.faults) == 1


@pytest.mark.parametrize(
    "spec",
    [
        {"op": "status", "kind": "expire"},  # a download kind on another op
        {"op": "submit", "kind": "truncate"},
        {"op": "job", "kind": "http"},
        {"op": "download", "kind": "stuck"},
        {"op": "cancel", "kind": "http"},  # no protocol applies cancel faults
        {"op": "list", "kind": "http", "provider": "ltx"},  # only GMI's protocol has a job list
        {"op": "status", "kind": "shape:list", "provider": "ltx"},
        {"op": "submit", "kind": "shape:finished", "provider": "apiinone"},
        {"op": "status", "kind": "http", "after_accept": True},
    ],
)
def test_faults_that_would_never_fire_are_refused(emulator: RunningEmulator, spec: dict) -> None:
    with pytest.raises(ValueError, match=r"never|only"):
        Fault(**spec)
    resp = httpx.post(f"{emulator.origin}/_emulator/faults", json=spec)
    assert resp.status_code == 400 and emulator.emulator.faults == []


# --- the control API cannot be driven by a web page ------------------------------------------------------------


def test_control_api_refuses_cross_origin_and_foreign_hosts(emulator: RunningEmulator) -> None:
    faults = f"{emulator.origin}/_emulator/faults"
    spec = {"op": "status", "kind": "http"}
    refused = [
        httpx.post(faults, json=spec, headers={"Origin": "https://evil.example"}),
        httpx.post(faults, json=spec, headers={"Origin": "null"}),
        httpx.post(faults, json=spec, headers={"Host": "evil.example"}),  # a rebound DNS name
        httpx.post(faults, json=spec, headers={"Sec-Fetch-Site": "cross-site"}),
        httpx.post(
            faults, content=b'{"op": "status", "kind": "http"}', headers={"Content-Type": "text/plain"}
        ),
        httpx.post(faults, data={"op": "status", "kind": "http"}),  # a form
        httpx.post(f"{emulator.origin}/_emulator/reset", headers={"Origin": "http://localhost:1"}),
        httpx.get(f"{emulator.origin}/_emulator/stats", headers={"Origin": "https://evil.example"}),
        httpx.delete(faults, headers={"Host": "attacker.test:80"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403, 415, 415, 403, 403, 403]
    assert emulator.emulator.faults == []
    own = httpx.post(faults, json=spec, headers={"Origin": emulator.origin})
    plain = httpx.post(faults, json=spec)  # no Origin: a script or the CLI
    assert own.status_code == 200 and plain.status_code == 200 and len(emulator.emulator.faults) == 2
    assert httpx.post(f"{emulator.origin}/_emulator/reset").status_code == 200
    assert emulator.emulator.faults == []


# --- hostile inputs do not kill it ---------------------------------------------------------------------------


def _raw(emulator: RunningEmulator, data: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", emulator.port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_emulator_survives_hostile_requests(emulator: RunningEmulator) -> None:
    key = emulator.emulator.config.keys["gmi"]
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000
    for url in (f"{emulator.origin}/gmi/requests", f"{emulator.origin}/ltx/v2/text-to-video"):
        resp = httpx.post(url, content=deep, headers=auth)
        assert 400 <= resp.status_code < 500, (url, resp.status_code)
    faults = httpx.post(f"{emulator.origin}/_emulator/faults", content=deep, headers=auth)
    assert faults.status_code == 400
    bad_utf8 = httpx.post(f"{emulator.origin}/gmi/requests", content=b'{"model": "\xff\xfe"}', headers=auth)
    assert 400 <= bad_utf8.status_code < 500
    huge = httpx.post(
        f"{emulator.origin}/gmi/requests",
        content=b'{"pad": "' + b"x" * (emulator.emulator.config.max_upload_bytes + (2 << 20)) + b'"}',
        headers=auth,
    )
    assert huge.status_code == 413
    for junk in (
        b"GET /_emulator/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET /_emulator/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nBad\x00Header: 1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64,  # a TLS hello on the plain port
        b"POST /gmi/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999999999999\r\n\r\n{",
    ):
        _raw(emulator, junk)
    assert httpx.get(f"{emulator.origin}/_emulator/stats").status_code == 200  # still serving


# --- every place a fault can be injected is one where it fires ---------------------------------------------

SITES = [(p, op) for p, ops in sorted(core.FAULT_SITES.items()) for op in sorted(ops)]


@pytest.mark.parametrize(("provider", "op"), SITES)
def test_every_fault_site_fires(emulator: RunningEmulator, provider: str, op: str) -> None:
    from ltx2_nodes.api.providers import get_provider
    from ltx2_nodes.api.types import GenerationRequest, MediaInput, MediaKind, Mode, SubmittedJob

    emu = emulator.emulator
    prov = get_provider(provider)
    headers = dict(prov.auth_headers(emu.config.keys[provider]))
    base = emulator.base_urls()[provider]
    req = GenerationRequest(provider=provider, mode=Mode.TEXT_TO_VIDEO, prompt="a fox", duration=6)
    media = MediaInput(kind=MediaKind.IMAGE, content_type="image/png", data=b"\x89PNG")

    def send(call) -> httpx.Response:
        url = call.path if "://" in call.path else base + call.path
        return httpx.request(call.method, url, json=call.json, headers={**headers, **dict(call.headers)})

    if op == "job":
        emu.add_fault(Fault(op="job", kind="fail", provider=provider, message="injected"))
        assert send(prov.build_submit(req, {})).is_success
        assert [j.outcome for j in emu.jobs.values()] == ["fail"]
        return
    if op == "download":
        token = emu.put_file(b"video", "video/mp4", ttl=60, provider=provider)
        emu.add_fault(Fault(op="download", kind="http", provider=provider, status=418))
        assert httpx.get(f"{emulator.origin}/_files/{token}").status_code == 418
        return
    if op == "put":
        ticket = prov.parse_upload(send(prov.build_upload(media)).json(), media=media)
        emu.add_fault(Fault(op="put", kind="http", provider=provider, status=418))
        put = httpx.put(ticket.upload_url, content=media.data, headers=dict(ticket.headers))
        assert put.status_code == 418
        return
    calls = {
        "submit": lambda: prov.build_submit(req, {}),
        "status": lambda: prov.build_status(
            SubmittedJob(provider=provider, mode=Mode.TEXT_TO_VIDEO, job_id="x")
        ),
        "upload": lambda: prov.build_upload(media),
    }
    emu.add_fault(Fault(op=op, kind="http", provider=provider, status=418))
    if op in calls:
        resp = send(calls[op]())
    else:  # GMI's job list and model pages
        resp = httpx.get(f"{base}/requests" if op == "list" else f"{base}/models/x", headers=headers)
    assert resp.status_code == 418, resp.text
    assert emu.faults == []

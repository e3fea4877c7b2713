"""Emulator core: fault specs, ranged file serving, reset."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api.emulator import Fault, RunningEmulator


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

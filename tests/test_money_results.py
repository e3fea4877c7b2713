"""Only a video is a result: an output URL that answers 200 with a web page, JSON, a cut-off MP4 or an
audio-only MP4 (a hostile result server of the test's own on 127.0.0.1) is never saved, cached or
returned; the job stays resumable. The cache checks its file by size and hash; ``-o`` never replaces
a file unless asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api import runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.errors import ResultNotVideoError, StorageError
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.encode import encode_audio
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.result_check import first_bytes
from ltx2_nodes.api.types import GenerationRequest, Mode


class HostileResults:
    """Serves whatever body the test sets, with 200 and an exact Content-Length."""

    def __init__(self) -> None:
        self.body = b""
        self.content_type = "video/mp4"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/result.mp4"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[HostileResults]:
    server = HostileResults()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


def _req(seed: int = 5, prompt: str = "a lantern") -> GenerationRequest:
    return GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt=prompt,
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=seed,
    )


def _settings(tmp_path: Path, journal: Journal, **over: Any) -> runner.RunSettings:
    values: dict[str, Any] = dict(
        output_dir=tmp_path / "out", journal=journal, poll_interval=0.05, retry=RetryPolicy(base_delay=0.05)
    )
    values.update(over)
    return runner.RunSettings(**values)


def _bodies() -> dict[str, tuple[bytes, str, str]]:
    video = synth.test_mp4(6, 64, 48, audio=False)
    tone = np.sin(np.linspace(0, 2000, 48000 * 6, dtype=np.float32))[None, :] * 0.3
    return {
        "html": (b"<!DOCTYPE html><html><body>Please sign in</body></html>", "text/html", "text/html"),
        "json": (
            b'{"error": {"code": 403, "message": "quota exceeded"}}',
            "application/json",
            "application/json",
        ),
        "truncated": (video[: len(video) // 2], "video/mp4", "cut off"),
        "audio-only": (encode_audio(tone, 48000, "m4a"), "video/mp4", "no video stream (audio only)"),
    }


BODIES = _bodies()


@pytest.mark.parametrize("name", sorted(BODIES))
async def test_a_body_that_is_not_the_video_is_never_the_result(
    emu_env: RunningEmulator,
    tmp_path: Path,
    hostile: HostileResults,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    body, content_type, said = BODIES[name]
    hostile.body, hostile.content_type = body, content_type
    with monkeypatch.context() as patch:
        patch.setattr(
            emu_env.emulator, "output_url", lambda request, job: hostile.url if job.output_token else None
        )
        journal = Journal(tmp_path / "j.sqlite3")
        with pytest.raises(ResultNotVideoError) as info:
            await runner.generate(_req(), _settings(tmp_path, journal))
    text = str(info.value)
    assert said in text and f"{len(body)} bytes" in text and first_bytes(body)[:20] in text
    [record] = journal.list(limit=0)
    assert record.state is RecordState.SUCCEEDED and record.resumable, "the paid job must stay resumable"
    assert (
        f"ltx2 jobs resume {record.id}" in text and info.value.billed and info.value.journal_id == record.id
    )
    assert not any((tmp_path / "out").iterdir()), "nothing that is not a video is left as a result"
    assert journal.find_cached(record.request_hash) is None
    # The real video is collected later without a new submit.
    result = await runner.resume(record.id, _settings(tmp_path, journal))
    assert probe(result.path).width and emu_env.emulator.submit_requests["gmi"] == 1


@given(st.binary(max_size=200))
def test_first_bytes_are_printable_and_short(data: bytes) -> None:
    shown = first_bytes(data)
    assert len(shown) <= 48 and all(ch.isprintable() for ch in shown)


async def test_the_cache_serves_only_the_file_it_recorded(emu_env: RunningEmulator, tmp_path: Path) -> None:
    # Two different requests written to the same file: neither is served the other's video.
    journal = Journal(tmp_path / "j.sqlite3")
    shared = tmp_path / "fox.mp4"
    first = await runner.generate(_req(prompt="a fox"), _settings(tmp_path, journal, output_file=shared))
    assert first.path == shared and not first.from_cache
    await runner.generate(
        _req(prompt="a wolf"), _settings(tmp_path, journal, output_file=shared, overwrite=True)
    )
    again = await runner.generate(_req(prompt="a fox"), _settings(tmp_path, journal))
    assert not again.from_cache and emu_env.emulator.submit_requests["gmi"] == 3
    wolf = await runner.generate(_req(prompt="a wolf"), _settings(tmp_path, journal))
    assert wolf.from_cache and wolf.path == shared  # still the file it recorded
    assert emu_env.emulator.submit_requests["gmi"] == 3


async def test_an_existing_output_file_is_never_replaced_unless_asked(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    keep = tmp_path / "keep.mp4"
    keep.write_bytes(b"an earlier paid result")
    with pytest.raises(StorageError, match="exists already; nothing was sent"):
        await runner.generate(_req(), _settings(tmp_path, journal, output_file=keep))
    assert keep.read_bytes() == b"an earlier paid result" and emu_env.emulator.submit_requests["gmi"] == 0
    result = await runner.generate(_req(), _settings(tmp_path, journal, output_file=keep, overwrite=True))
    assert result.path == keep and probe(keep).width


async def test_a_rerun_in_the_same_process_collects_the_job_whose_body_was_refused(
    emu_env: RunningEmulator, tmp_path: Path, hostile: HostileResults, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run that got a web page has ended: its claim is released, so the rerun collects the paid job
    # instead of waiting for it or buying another.
    hostile.body, hostile.content_type = BODIES["html"][:2]
    journal = Journal(tmp_path / "j.sqlite3")
    with monkeypatch.context() as patch:
        patch.setattr(
            emu_env.emulator, "output_url", lambda request, job: hostile.url if job.output_token else None
        )
        with pytest.raises(ResultNotVideoError):
            await runner.generate(_req(seed=8), _settings(tmp_path, journal))
    result = await runner.generate(_req(seed=8), _settings(tmp_path, journal))
    assert probe(result.path).width and not result.from_cache
    assert emu_env.emulator.submit_requests["gmi"] == 1

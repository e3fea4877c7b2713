"""Inside ComfyUI: the nodes use its folders, progress bar, status text, interrupt flag and
VideoFromFile. ComfyUI is not installed here, so minimal stand-ins with its module names and
signatures are placed in sys.modules; the provider side is the real emulator."""

from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import pytest
from ltx2_nodes.nodes import comfy as comfy_access
from ltx2_nodes.nodes import pending
from ltx2_nodes.nodes.errors import LTX2NodeError
from ltx2_nodes.nodes.generation import LTX2TextToVideo


class Recorder:
    def __init__(self) -> None:
        self.bars: list[tuple[int, int, str | None]] = []
        self.texts: list[tuple[str, str]] = []
        self.interrupted = False
        self.polls_after_interrupt = 0


@pytest.fixture
def comfyui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Recorder, Path]:
    rec = Recorder()
    out_dir = tmp_path / "ComfyUI" / "output"
    out_dir.mkdir(parents=True)

    folder_paths = types.ModuleType("folder_paths")
    folder_paths.get_output_directory = lambda: str(out_dir)
    folder_paths.get_temp_directory = lambda: str(tmp_path / "ComfyUI" / "temp")

    class ProgressBar:
        def __init__(self, total, node_id=None):
            self.total, self.node_id = total, node_id

        def update_absolute(self, value, total=None, preview=None):
            rec.bars.append((value, total or self.total, self.node_id))

    class PromptServer:
        instance = None

        def send_progress_text(self, text, node_id, sid=None):
            rec.texts.append((text, node_id))

    PromptServer.instance = PromptServer()

    def processing_interrupted():
        if rec.interrupted:
            rec.polls_after_interrupt += 1
        return rec.interrupted

    def interrupt_current_processing(value=True):
        rec.interrupted = value

    class VideoFromFile:
        def __init__(self, file):
            self.file = file

        def get_stream_source(self):
            return self.file

    comfy_pkg = types.ModuleType("comfy")
    comfy_pkg.__path__ = []
    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = ProgressBar
    mm = types.ModuleType("comfy.model_management")
    mm.processing_interrupted = processing_interrupted
    mm.interrupt_current_processing = interrupt_current_processing
    server = types.ModuleType("server")
    server.PromptServer = PromptServer
    api_pkg = types.ModuleType("comfy_api")
    api_pkg.__path__ = []
    impl = types.ModuleType("comfy_api.input_impl")
    impl.VideoFromFile = VideoFromFile
    for name, module in {
        "folder_paths": folder_paths,
        "comfy": comfy_pkg,
        "comfy.utils": utils,
        "comfy.model_management": mm,
        "server": server,
        "comfy_api": api_pkg,
        "comfy_api.input_impl": impl,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(comfy_access, "_modules", {})
    return rec, out_dir


@pytest.fixture
def env(emu_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LTX2_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("LTX2_OUTPUT_DIR", "/nonexistent-because-comfyui-decides")
    return emu_env


T2V = dict(
    provider="GMI Cloud",
    model="auto",
    prompt="a harbour",
    duration=6,
    resolution="auto",
    fps="auto",
    aspect_ratio="auto",
    camera_motion="none",
    generate_audio=True,
    max_frames=2,
)


async def test_inside_comfyui_progress_folders_and_video_type(env, comfyui) -> None:
    rec, out_dir = comfyui
    assert comfy_access.available()
    out = await LTX2TextToVideo().generate(**T2V, seed=1, unique_id="12")
    video = out["result"][0]
    assert type(video).__name__ == "VideoFromFile"  # ComfyUI's own VIDEO type
    path = Path(video.get_stream_source())
    assert path.parent == out_dir / "ltx2" and path.is_file()
    assert out["ui"]["images"] == [{"filename": path.name, "subfolder": "ltx2", "type": "output"}]
    values = [value for value, total, node in rec.bars]
    assert values == sorted(values) and values[-1] == 100
    assert all(total == 100 and node == "12" for _, total, node in rec.bars)
    texts = [text for text, node in rec.texts if node == "12"]
    assert texts and all(text.startswith("LTX-2 · GMI Cloud · ") and text.endswith(" s") for text in texts)
    assert any(" · processing · " in text or " · queued · " in text for text in texts)
    assert json.loads(out["result"][5])["provider"] == "gmi"


async def test_comfyui_interrupt_stops_the_wait_within_a_few_polls(env, comfyui) -> None:
    rec, _ = comfyui
    env.emulator.config.processing_seconds = 3.0
    import asyncio

    task = asyncio.ensure_future(LTX2TextToVideo().generate(**T2V, seed=2, unique_id="4"))
    for _ in range(500):
        if env.emulator.jobs or task.done():
            break
        await asyncio.sleep(0.01)
    comfy_access.interrupt_current_processing(True)
    with pytest.raises(LTX2NodeError, match="continues on the provider"):
        await task
    assert 1 <= rec.polls_after_interrupt <= 5
    assert rec.interrupted is True  # ComfyUI resets its own flag when the next prompt starts
    (job,) = env.emulator.jobs.values()
    assert job.ended_at is None


async def test_unfinished_jobs_are_reported_once(env, caplog: pytest.LogCaptureFixture) -> None:
    from ltx2_nodes.api.journal import Journal, RecordState
    from ltx2_nodes.api.types import GenerationRequest, Mode

    journal = Journal()
    record = journal.create(
        GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt="x"),
        model="m",
        base_url="http://127.0.0.1:1",
        cost=None,
    )
    journal.set_state(record.id, RecordState.SUBMITTED, provider_job_id="abc")
    journal.set_state(record.id, RecordState.INTERRUPTED)
    pending.reset()
    with caplog.at_level(logging.WARNING, logger="ltx2_nodes"):
        assert pending.report_unfinished_once() == 1
        assert pending.report_unfinished_once() is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "LTX-2: 1 paid job was never collected; run `ltx2 jobs list` or use the LTX-2 Load Job Result node"
    ]

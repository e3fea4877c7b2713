"""Example API-format workflows run by a small executor; concurrency; interrupt and resume."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.media import synth
from ltx2_nodes.nodes import NODE_CLASS_MAPPINGS, comfy
from ltx2_nodes.nodes.errors import LTX2NodeError
from ltx2_nodes.nodes.generation import LTX2TextToVideo
from ltx2_nodes.nodes.jobs import LTX2LoadJobResult
from ltx2_nodes.nodes.video import LTX2Video
from PIL import Image

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / "example_workflows" / "api").glob("*.json"))
MODES = (
    "text_to_video",
    "image_to_video",
    "first_last_frame",
    "audio_to_video",
    "lipsync",
    "retake",
    "extend",
    "control",
    "reframe",
)


@pytest.fixture
def env(emu_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("LTX2_POLL_INTERVAL", "0.05")
    comfy.interrupt_current_processing(False)
    yield emu_env
    comfy.interrupt_current_processing(False)


# --- core nodes, as small real loaders ---------------------------------------------------------------


class CoreNodes:
    """LoadImage / LoadAudio / LoadVideo / SaveVideo / PreviewImage with ComfyUI's input names."""

    def __init__(self, input_dir: Path, output_dir: Path) -> None:
        self.input_dir = input_dir
        self.output_dir = output_dir
        self.saved: list[Path] = []
        self.previews: list[tuple[int, ...]] = []

    def LoadImage(self, image: str) -> tuple:
        pixels = np.asarray(Image.open(self.input_dir / image).convert("RGB"), dtype=np.float32) / 255.0
        tensor = torch.from_numpy(pixels).unsqueeze(0)
        return tensor, torch.zeros(tensor.shape[:3])

    def LoadAudio(self, audio: str) -> tuple:
        with wave.open(str(self.input_dir / audio)) as wav:
            rate, channels = wav.getframerate(), wav.getnchannels()
            data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, channels)
        waveform = torch.from_numpy(data.T.astype(np.float32) / 32768.0).unsqueeze(0)
        return ({"waveform": waveform, "sample_rate": rate},)

    def LoadVideo(self, file: str) -> tuple:
        return (LTX2Video(self.input_dir / file),)

    def SaveVideo(self, video: Any, filename_prefix: str, format: str, codec: str) -> tuple:
        dest = self.output_dir / f"{filename_prefix}_{len(self.saved):05}_.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        video.save_to(str(dest), format=format, codec=codec)
        self.saved.append(dest)
        return ()

    def PreviewImage(self, images: torch.Tensor) -> tuple:
        self.previews.append(tuple(images.shape))
        return ()


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def topological(graph: dict[str, Any]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in graph[node_id]["inputs"].values():
            if is_link(value):
                visit(value[0])
        order.append(node_id)

    for node_id in graph:
        visit(node_id)
    return order


async def execute(graph: dict[str, Any], core: CoreNodes) -> dict[str, Any]:
    """Run an API-format graph: this pack's nodes for real, core nodes through ``core``."""
    outputs: dict[str, Any] = {}
    for node_id in topological(graph):
        node = graph[node_id]
        inputs = {k: outputs[v[0]][v[1]] if is_link(v) else v for k, v in node["inputs"].items()}
        cls = NODE_CLASS_MAPPINGS.get(node["class_type"])
        if cls is None:
            outputs[node_id] = getattr(core, node["class_type"])(**inputs)
            continue
        hidden = cls.INPUT_TYPES().get("hidden", {})
        for name, kind in hidden.items():
            inputs[name] = {"UNIQUE_ID": node_id, "PROMPT": graph}[kind]
        answer = getattr(cls(), cls.FUNCTION)(**inputs)
        if inspect.isawaitable(answer):
            answer = await answer
        outputs[node_id] = answer["result"] if isinstance(answer, dict) else answer
    return outputs


def check_against_definitions(graph: dict[str, Any]) -> None:
    """Every input of this pack's nodes exists, every required one is set, combo values are offered."""
    for node in graph.values():
        cls = NODE_CLASS_MAPPINGS.get(node["class_type"])
        if cls is None:
            continue
        spec = cls.INPUT_TYPES()
        known = {**spec.get("required", {}), **spec.get("optional", {})}
        assert set(node["inputs"]) <= set(known), set(node["inputs"]) - set(known)
        assert set(spec.get("required", {})) <= set(node["inputs"])
        for name, value in node["inputs"].items():
            kind = known[name][0]
            if isinstance(kind, list) and not is_link(value):
                assert value in kind, (node["class_type"], name, value, kind)


@pytest.fixture
def core(tmp_path: Path) -> CoreNodes:
    inputs = tmp_path / "input"
    inputs.mkdir()
    (inputs / "example.png").write_bytes(synth.test_png(160, 96, seed=3))
    (inputs / "example_last.png").write_bytes(synth.test_png(160, 96, seed=4))
    (inputs / "example.wav").write_bytes(synth.test_wav(5.2, 24000, seed=1))
    (inputs / "example.mp4").write_bytes(synth.test_mp4(5.2, 128, 96, fps=25, seed=2))
    return CoreNodes(inputs, tmp_path / "saved")


def test_one_example_workflow_per_mode() -> None:
    names = {p.stem for p in WORKFLOWS}
    for mode in MODES:
        assert f"ltx2_{mode}" in names
    for path in WORKFLOWS:
        check_against_definitions(json.loads(path.read_text()))


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
async def test_example_workflow_runs(env, core: CoreNodes, path: Path) -> None:
    graph = json.loads(path.read_text())
    outputs = await execute(graph, core)
    assert core.saved and all(p.stat().st_size > 1000 for p in core.saved)
    for node_id, node in graph.items():
        if node["class_type"].startswith("LTX2") and node["class_type"] not in (
            "LTX2ProviderSettings",
            "LTX2DecodeVideo",
        ):
            video, frames, _audio, _fps, count, info = outputs[node_id]
            source = Path(video.get_stream_source())
            assert core.saved[0].read_bytes() == source.read_bytes()  # SaveVideo copied, no re-encode
            linked = any(v == [node_id, 1] for n in graph.values() for v in n["inputs"].values())
            assert (frames.shape[0] == count) if linked else tuple(frames.shape) == (1, 8, 8, 3)
            assert json.loads(info)["provider"] in ("gmi", "ltx", "apiinone")
    assert all(len(shape) == 4 and shape[-1] == 3 for shape in core.previews)


async def test_independent_nodes_run_concurrently(env) -> None:
    env.emulator.config.processing_seconds = 1.0
    node = LTX2TextToVideo()
    runs = [
        node.generate(
            provider="GMI Cloud",
            model="auto",
            prompt=f"take {i}",
            duration=6,
            resolution="auto",
            fps="auto",
            aspect_ratio="auto",
            camera_motion="none",
            generate_audio=False,
            seed=i,
            max_frames=3,
        )
        for i in range(3)
    ]
    results = await asyncio.gather(*runs)
    jobs = list(env.emulator.jobs.values())
    assert len(jobs) == 3 and all(job.ended_at is not None for job in jobs)
    first_end = min(job.ended_at for job in jobs)
    assert all(job.created_at < first_end for job in jobs)
    assert len({r["result"][0].get_stream_source() for r in results}) == 3


async def test_interrupt_keeps_the_job_and_load_job_result_collects_it(env) -> None:
    env.emulator.config.processing_seconds = 2.0
    task = asyncio.ensure_future(
        LTX2TextToVideo().generate(
            provider="GMI Cloud",
            model="auto",
            prompt="interrupted",
            duration=6,
            resolution="auto",
            fps="auto",
            aspect_ratio="auto",
            camera_motion="none",
            generate_audio=True,
            seed=5,
            max_frames=4,
        )
    )
    for _ in range(500):
        if env.emulator.jobs or task.done():
            break
        await asyncio.sleep(0.01)
    assert len(env.emulator.jobs) == 1
    comfy.interrupt_current_processing(True)
    with pytest.raises(LTX2NodeError) as caught:
        await task
    message = str(caught.value)
    assert "continues" in message and "Load Job Result" in message and "ltx2 jobs resume" in message
    (job,) = env.emulator.jobs.values()
    assert job.ended_at is None  # stopped waiting within a few polls, long before the job ended
    assert comfy.processing_interrupted() is False  # the interrupt was consumed
    journal_id = re.search(r"job_id (\S+)\)", message).group(1)
    record = Journal().get(journal_id)
    assert record is not None and record.state is RecordState.INTERRUPTED and record.provider_job_id == job.id

    out = await LTX2LoadJobResult().load(job_id=journal_id, max_frames=4)
    video, frames, _audio, _fps, count, info = out["result"]
    assert env.emulator.submit_requests["gmi"] == 1 and len(env.emulator.jobs) == 1  # never resubmitted
    assert tuple(frames.shape[:1]) == (4,) and count == 4 and frames.dtype == torch.float32
    assert json.loads(info)["request_id"] == job.id
    assert Path(video.get_stream_source()).is_file()
    assert Journal().get(journal_id).state is RecordState.DOWNLOADED


async def test_load_job_result_refuses_an_unknown_id(env) -> None:
    from ltx2_nodes.nodes.errors import LTX2InputError

    with pytest.raises(LTX2InputError, match="no such job"):
        await LTX2LoadJobResult().load(job_id="does-not-exist")
    with pytest.raises(LTX2InputError, match="job_id"):
        await LTX2LoadJobResult().load(job_id="  ")
    assert env.emulator.log == []


async def test_cancel_before_the_submit_buys_nothing_and_says_so(env) -> None:
    # Cancel pressed while the node still prepares (inputs, upload): no job, and no resume hint.
    comfy.interrupt_current_processing(True)
    with pytest.raises(LTX2NodeError) as caught:
        await LTX2TextToVideo().generate(
            provider="GMI Cloud",
            model="auto",
            prompt="never sent",
            duration=6,
            resolution="auto",
            fps="auto",
            aspect_ratio="auto",
            camera_motion="none",
            generate_audio=True,
            seed=6,
        )
    message = str(caught.value)
    assert "nothing was billed" in message and "Load Job Result" not in message
    assert env.emulator.submit_requests["gmi"] == 0 and comfy.processing_interrupted() is False

"""Answer shapes learnt from the providers since the first release, end to end: the emulator
produces each shape, the real client and runner turn it into a result or one clear error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ltx2_nodes.api import runner
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import AuthError, JobExpiredError, JobFailedError, PaymentError, ProviderError
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import GenerationRequest, Mode

PROMPT = "a lighthouse at dusk, waves below"


def settings(tmp_path: Path) -> runner.RunSettings:
    return runner.RunSettings(
        output_dir=tmp_path / "out",
        journal=Journal(tmp_path / "journal.sqlite3"),
        poll_interval=0.01,
        poll_timeout=60,
        use_cache=False,
    )


def t2v(provider: str, **kw: object) -> GenerationRequest:
    return GenerationRequest(provider=provider, mode=Mode.TEXT_TO_VIDEO, prompt=PROMPT, **kw)  # type: ignore[arg-type]


def ops(emu: RunningEmulator, provider: str, op: str) -> int:
    return sum(1 for r in emu.emulator.log if r.provider == provider and r.op == op)


def test_gmi_result_at_outcome_video_url(emu_env: RunningEmulator, tmp_path: Path) -> None:
    emu_env.emulator.add_fault(Fault(provider="gmi", op="status", kind="shape:video_url", count=100))
    result = asyncio.run(runner.generate(t2v("gmi"), settings(tmp_path)))
    assert probe(result.path).video_codec == "h264"


def test_gmi_failure_reason_at_outcome_error(emu_env: RunningEmulator, tmp_path: Path) -> None:
    emu_env.emulator.add_fault(Fault(provider="gmi", op="job", kind="fail", message="NSFW prompt rejected"))
    with pytest.raises(JobFailedError) as caught:
        asyncio.run(runner.generate(t2v("gmi"), settings(tmp_path)))
    assert "NSFW prompt rejected" in str(caught.value)


def test_gmi_insufficient_credits_is_a_payment_error_sent_once(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    emu_env.emulator.add_fault(
        Fault(
            provider="gmi",
            op="submit",
            kind="http",
            status=402,
            message="Insufficient credits: balance $0.00",
        )
    )
    with pytest.raises(PaymentError) as caught:
        asyncio.run(runner.generate(t2v("gmi"), settings(tmp_path)))
    assert "Insufficient credits" in str(caught.value)
    assert emu_env.emulator.submit_requests["gmi"] == 1 and emu_env.emulator.jobs_created["gmi"] == 0


def test_gmi_submit_answered_finished_is_collected_at_once(emu_env: RunningEmulator, tmp_path: Path) -> None:
    emu_env.emulator.config.queue_seconds = emu_env.emulator.config.processing_seconds = (
        600.0  # never by itself
    )
    emu_env.emulator.add_fault(Fault(provider="gmi", op="submit", kind="shape:finished"))
    result = asyncio.run(runner.generate(t2v("gmi"), settings(tmp_path)))
    assert probe(result.path).duration
    assert ops(emu_env, "gmi", "submit") == 1 and ops(emu_env, "gmi", "status") == 1


def test_gmi_parses_a_finished_submit_answer() -> None:
    gmi = get_provider("gmi")
    body = {
        "request_id": "r1",
        "status": "success",
        "outcome": {"video_url": "https://cdn.example.com/v.mp4"},
    }
    job = gmi.parse_submit(t2v("gmi"), body)
    assert job.job_id == "r1"
    assert gmi.parse_status(body).video_url == "https://cdn.example.com/v.mp4"
    failed = gmi.parse_status({"request_id": "r1", "status": "failed", "outcome": {"error": "out of memory"}})
    assert failed.error == "out of memory"


@pytest.mark.parametrize("shape", ["output.video_url", "video_url"])
def test_apiinone_finished_task_url_places(emu_env: RunningEmulator, tmp_path: Path, shape: str) -> None:
    emu_env.emulator.add_fault(Fault(provider="apiinone", op="status", kind=f"shape:{shape}", count=100))
    result = asyncio.run(runner.generate(t2v("apiinone"), settings(tmp_path)))
    assert probe(result.path).video_codec == "h264"


@pytest.mark.parametrize(
    ("status", "kind", "cls"),
    [
        (403, "permission_error", AuthError),
        (404, "not_found_error", JobExpiredError),
        (529, "overloaded_error", ProviderError),
    ],
)
def test_ltx_new_error_types_keep_the_request_id(status: int, kind: str, cls: type) -> None:
    body = {"type": "error", "error": {"type": kind, "message": "nope"}}
    err = get_provider("ltx").parse_error(status, body, {"X-Request-Id": "req_abc123"})
    assert type(err) is cls and "req_abc123" in str(err) and "nope" in str(err)


def test_ltx_permission_error_through_the_client(emu_env: RunningEmulator, tmp_path: Path) -> None:
    emu_env.emulator.add_fault(
        Fault(provider="ltx", op="submit", kind="http", status=403, message="model not enabled")
    )
    with pytest.raises(AuthError, match="model not enabled"):
        asyncio.run(runner.generate(t2v("ltx"), settings(tmp_path)))
    assert emu_env.emulator.jobs_created["ltx"] == 0


def test_shape_faults_can_be_given_on_the_command_line() -> None:
    from ltx2_nodes.api.cli.emulator_cmd import parse_fault

    fault = parse_fault("gmi:status:shape:video_urlx3")
    assert (fault.provider, fault.op, fault.kind, fault.count) == ("gmi", "status", "shape:video_url", 3)
    assert parse_fault("gmi:submit:shape:finished").kind == "shape:finished"

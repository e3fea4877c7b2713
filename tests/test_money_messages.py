"""What the command line says about money is true: the "Saved" line names the real file, file names
are not masked, validation reasons are right, costs are shown only for billed jobs, every flag has
help, and a key a provider echoes back (as a job id or inside the result URL) is never stored or
printed."""

from __future__ import annotations

import argparse
import json
import os
import string
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api import runner
from ltx2_nodes.api.cli.main import build_parser, main
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import AuthError
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.redact import redact_text
from ltx2_nodes.api.types import GenerationRequest, Mode

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
GMI = [
    "--provider",
    "gmi",
    "--mode",
    "text-to-video",
    "--duration",
    "6",
    "--resolution",
    "1920x1080",
    "--fps",
    "25",
]


def cli_env(tmp: Path, emulator: RunningEmulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(LTX2_DATA_DIR=str(tmp / "data"), LTX2_CONFIG=str(tmp / "config.json"), **emulator.env())
    return env


def ltx2(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


def test_saved_line_names_the_real_file_and_file_names_are_not_masked(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    final = tmp_path / "gmi_fox.mp4"
    proc = ltx2(
        "generate",
        "--poll-interval",
        "0.1",
        *GMI,
        "--prompt",
        "a fox",
        "--seed",
        "1",
        "-o",
        str(final),
        env=cli_env(tmp_path, emulator),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Saved {final}" in proc.stderr and proc.stdout.splitlines()[0] == str(final)
    assert final.is_file() and "***" not in proc.stderr + proc.stdout
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".mp4"] == ["gmi_fox.mp4"]
    listed = ltx2("jobs", "list", env=cli_env(tmp_path, emulator)).stdout
    assert "gmi_fox.mp4" in listed


def test_a_pro_model_duration_is_refused_with_the_right_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for provider, model in (("ltx", "ltx-2-3-pro"), ("gmi", "ltx-2-pro")):
        args = [
            "generate",
            "--provider",
            provider,
            "--mode",
            "text-to-video",
            "--model",
            model,
            "--prompt",
            "x",
        ]
        assert main([*args, "--duration", "7"]) == 1
        err = capsys.readouterr().err
        assert "'duration' = 7" in err and "stops at 10 s" not in err and "6, 8, 10" in err, err


async def test_jobs_show_a_cost_only_for_billed_jobs(
    emu_env: RunningEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = Journal()
    settings = runner.RunSettings(output_dir=tmp_path / "out", journal=journal, poll_interval=0.05)
    req = GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt="billed",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=2,
    )
    emu_env.emulator.add_fault(Fault(provider="gmi", op="submit", kind="http", status=401))
    with pytest.raises(AuthError):
        await runner.generate(req, settings)
    paid = await runner.generate(req, settings)
    cached = await runner.generate(req, settings)
    assert cached.from_cache and len(journal.list(limit=0)) == 2, "a cached rerun is no new job"
    assert main(["jobs", "list", "--json"]) == 0
    docs = {d["state"]: d for d in json.loads(capsys.readouterr().out)}
    assert docs["rejected"]["billing"] == "none" and docs["downloaded"]["billing"] == "billed"
    assert main(["jobs", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    price = f"${paid.cost.amount:.2f}"
    assert price in rows[docs["downloaded"]["id"][:8]]
    assert "$" not in rows[docs["rejected"]["id"][:8]]


def _all_actions(parser: argparse.ArgumentParser, path: str = "ltx2"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_actions(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_flag_has_help_and_seed_says_what_the_cache_needs() -> None:
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, action in _all_actions(build_parser())
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []
    [seed] = [
        a for p, a in _all_actions(build_parser()) if p == "ltx2 generate" and "--seed" in a.option_strings
    ]
    assert "without --seed" in seed.help and "cache" in seed.help


def test_a_key_echoed_as_job_id_or_in_the_result_url_is_never_stored_or_printed(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = emulator.emulator
    key = emu.config.keys["gmi"]
    real_url = emu.output_url
    monkeypatch.setattr(emu, "new_id", lambda prefix="": f"{prefix}{key}-{uuid.uuid4().hex[:6]}")
    monkeypatch.setattr(
        emu, "output_url", lambda request, job: (u := real_url(request, job)) and f"{u}?echo={key}"
    )
    env = cli_env(tmp_path, emulator)
    out = tmp_path / "echo.mp4"
    text = ltx2(
        "generate", "--poll-interval", "0.1", *GMI, "--prompt", "echo", "--seed", "5", "-o", str(out), env=env
    )
    as_json = ltx2(
        "generate",
        "--poll-interval",
        "0.1",
        *GMI,
        "--prompt",
        "echo",
        "--seed",
        "6",
        "--json",
        "-o",
        str(tmp_path / "e2.mp4"),
        env=env,
    )
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    [record] = [
        r for r in Journal(tmp_path / "data" / "journal.sqlite3").list(limit=0) if r.params.get("seed") == 5
    ]
    shown = [
        text,
        as_json,
        ltx2("jobs", env=env),
        ltx2("jobs", "list", "--json", env=env),
        ltx2("jobs", "show", record.id, "--json", env=env),
        ltx2("jobs", "show", record.id, env=env),
    ]
    for proc in shown:
        assert key not in proc.stdout and key not in proc.stderr, proc.args
    data = tmp_path / "data"
    raw = b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith("journal"))
    assert key.encode() not in raw
    assert out.is_file()


@given(
    prefix=st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=24),
    provider=st.sampled_from(["gmi", "apiinone", "ltx"]),
    mode=st.sampled_from([m.value for m in Mode]),
    record_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)
def test_result_file_names_are_never_masked(prefix: str, provider: str, mode: str, record_id: str) -> None:
    name = runner.output_path(Path("/o"), prefix, provider, mode, record_id, when=1_700_000_000).name
    assert redact_text(f"Saved {name}") == f"Saved {name}"
    assert redact_text("gmi_fox.mp4") == "gmi_fox.mp4"


@given(
    head=st.sampled_from(["gmi_", "ltx_", "aio_", "sk-"]),
    body=st.text(alphabet=string.ascii_letters + string.digits, min_size=24, max_size=40),
    end=st.sampled_from(["", " ", ".", ". Next", ",", ")"]),
)
def test_key_shaped_tokens_are_still_masked(head: str, body: str, end: str) -> None:
    token = f"{head}{body}7"
    assert token not in redact_text(f"the key {token}{end}")


def test_output_never_replaces_a_file_unless_asked(emulator: RunningEmulator, tmp_path: Path) -> None:
    env = cli_env(tmp_path, emulator)
    out = tmp_path / "paid.mp4"
    out.write_bytes(b"an earlier paid result")
    args = ["generate", "--poll-interval", "0.1", *GMI, "--prompt", "a fox", "--seed", "4", "-o", str(out)]
    refused = ltx2(*args, env=env)
    errors = [line for line in refused.stderr.splitlines() if line.startswith("ltx2: error:")]
    assert refused.returncode == 1 and len(errors) == 1, refused.stderr
    assert "exists already; nothing was sent" in errors[0] and "--overwrite" in errors[0]
    assert out.read_bytes() == b"an earlier paid result" and emulator.emulator.submit_requests["gmi"] == 0
    replaced = ltx2(*args, "--overwrite", env=env)
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_bytes()[4:8] == b"ftyp" and emulator.emulator.submit_requests["gmi"] == 1


def test_stored_urls_lose_every_form_of_a_key_but_keep_their_signature() -> None:
    from urllib.parse import quote

    from ltx2_nodes.api.redact import redact_keys, register_secret

    key = "gmi_Stored+Key/0123456789abcdef"
    register_secret(key)
    url = f"https://cdn.example.com/v.mp4?X-Goog-Signature=abc123&echo={quote(key, safe='')}&raw={key}"
    kept = redact_keys(url)
    assert key not in kept and quote(key, safe="") not in kept
    assert "X-Goog-Signature=abc123" in kept

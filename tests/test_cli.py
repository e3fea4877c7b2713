"""The ``ltx2`` command line, run as a real subprocess against the real emulator over loopback."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api.cli.common import CommandError
from ltx2_nodes.api.cli.contact_sheet import frame_indices
from ltx2_nodes.api.cli.demo import _size_of
from ltx2_nodes.api.cli.emulator_cmd import is_loopback, parse_fault, parse_keys
from ltx2_nodes.api.cli.table import markdown_table, text_table
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.types import Mode

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
FAST_POLL = ("--poll-interval", "0.1")  # the emulator is local: no need for the providers' pace
SECRET_MARK = "gmi_VISIBLEsecret0123456789"


def clean_environ() -> dict[str, str]:
    """This process's environment without any real key or pack setting."""
    return {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}


def cli_env(tmp: Path, emulator: RunningEmulator | None = None, **extra: str) -> dict[str, str]:
    env = {**clean_environ(), "LTX2_DATA_DIR": str(tmp / "data"), "LTX2_CONFIG": str(tmp / "config.json")}
    if emulator is not None:
        env.update(emulator.env())
    env.update(extra)
    return env


def ltx2(
    *args: str, env: dict[str, str], cwd: Path | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def submits(emulator: RunningEmulator) -> list:
    return [entry for entry in emulator.emulator.log if entry.op == "submit"]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    files = {
        "image.png": synth.test_png(96, 64, seed=1),
        "speech.wav": synth.test_wav(2.5, seed=2),
        "clip.mp4": synth.test_mp4(3.2, 96, 64, fps=25, seed=3),  # 80 frames: enough for a retake
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name.split(".")[0]: folder / name for name in files}


# --- generate ----------------------------------------------------------------------------------------


def test_generate_gmi_image_to_video_writes_mp4_and_sends_documented_body(emulator, tmp_path, media):
    out = tmp_path / "out" / "gmi.mp4"
    proc = ltx2(
        "generate",
        *FAST_POLL,
        "--provider",
        "gmi",
        "--mode",
        "image-to-video",
        "--prompt",
        "a lighthouse",
        "--image",
        str(media["image"]),
        "--duration",
        "6",
        "--resolution",
        "1920x1080",
        "-o",
        str(out),
        env=cli_env(tmp_path, emulator),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == str(out)
    assert any(line.startswith("request id: ") and line != "request id: -" for line in lines)
    assert any(line.startswith("estimated cost: ") for line in lines)
    info = probe(out)
    assert info.video_codec == "h264" and info.duration == pytest.approx(6.0, abs=0.5)
    assert list(out.parent.glob("*.mp4")) == [out]  # renamed, no stray runner file left
    (call,) = submits(emulator)
    assert (call.method, call.path) == ("POST", "/gmi/requests")
    assert call.json["model"] == "ltx-2-fast-image-to-video"
    payload = call.json["payload"]
    assert payload["prompt"] == "a lighthouse"
    assert payload["image_uri"].startswith("http")
    assert payload["duration"] == 6 and payload["resolution"] == "1920x1080"


def test_generate_apiinone_text_to_video(emulator, tmp_path):
    out = tmp_path / "aio.mp4"
    proc = ltx2(
        "generate",
        *FAST_POLL,
        "--provider",
        "apiinone",
        "--mode",
        "text-to-video",
        "--prompt",
        "waves at night",
        "--resolution",
        "480p",
        "--duration",
        "5",
        "--aspect-ratio",
        "9:16",
        "-o",
        str(out),
        env=cli_env(tmp_path, emulator),
    )
    assert proc.returncode == 0, proc.stderr
    info = probe(out)
    assert info.duration == pytest.approx(5.0, abs=0.5)
    assert info.height > info.width  # 9:16 reached the renderer
    (call,) = submits(emulator)
    assert (call.method, call.path) == ("POST", "/apiinone/videos/generations")
    assert call.json["model"] == "ltx-2" and call.json["type"] == "text-to-video"
    assert call.json["prompt"] == "waves at night"
    assert call.json["resolution"] == "480p" and call.json["aspect_ratio"] == "9:16"
    assert call.json["duration"] == 5


def test_generate_ltx_retake_with_json_output(emulator, tmp_path, media):
    out = tmp_path / "retake.mp4"
    proc = ltx2(
        "generate",
        *FAST_POLL,
        "--provider",
        "ltx",
        "--mode",
        "retake",
        "--video",
        str(media["clip"]),
        "--start-time",
        "0.5",
        "--duration",
        "2",
        "--prompt",
        "make it snow",
        "--json",
        "-o",
        str(out),
        env=cli_env(tmp_path, emulator),
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["provider"] == "ltx" and doc["mode"] == "retake"
    assert doc["request_id"] and doc["journal_id"]
    assert doc["file"] == out.name and doc["path"] == str(out)
    assert probe(out).duration == pytest.approx(3.2, abs=0.5)  # a retake keeps the input's length
    (call,) = submits(emulator)
    assert (call.method, call.path) == ("POST", "/ltx/v2/retake")
    assert call.json["start_time"] == 0.5 and call.json["duration"] == 2
    assert call.json["video_uri"]
    assert call.json["prompt"] == "make it snow"


def test_invalid_duration_is_refused_before_any_request(emulator, tmp_path, media):
    proc = ltx2(
        "generate",
        "--provider",
        "gmi",
        "--mode",
        "image-to-video",
        "--prompt",
        "x",
        "--image",
        str(media["image"]),
        "--duration",
        "7",
        "-o",
        str(tmp_path / "x.mp4"),
        env=cli_env(tmp_path, emulator),
    )
    assert proc.returncode == 1
    assert "duration" in proc.stderr and "7" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert emulator.emulator.log == []
    assert not (tmp_path / "x.mp4").exists()


def test_mode_the_provider_does_not_offer_is_refused(emulator, tmp_path, media):
    proc = ltx2(
        "generate",
        "--provider",
        "apiinone",
        "--mode",
        "retake",
        "--video",
        str(media["clip"]),
        "--duration",
        "2",
        "-o",
        str(tmp_path / "x.mp4"),
        env=cli_env(tmp_path, emulator),
    )
    assert proc.returncode == 1
    assert "mode" in proc.stderr and "retake" in proc.stderr
    assert emulator.emulator.log == []


def test_missing_key_names_the_environment_variable(emulator, tmp_path):
    env = cli_env(tmp_path, emulator)
    del env["GMI_API_KEY"]
    proc = ltx2(
        "generate",
        "--provider",
        "gmi",
        "--mode",
        "text-to-video",
        "--prompt",
        "x",
        "-o",
        str(tmp_path / "x.mp4"),
        env=env,
    )
    assert proc.returncode == 1
    assert "GMI_API_KEY" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert submits(emulator) == []


def test_debug_shows_the_traceback(tmp_path):
    proc = ltx2(
        "--debug",
        "generate",
        "--provider",
        "gmi",
        "--mode",
        "text-to-video",
        "--prompt",
        "x",
        env=cli_env(tmp_path),
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "GMI_API_KEY" in proc.stderr


def test_usage_errors_exit_2(tmp_path):
    proc = ltx2("generate", "--provider", "nowhere", "--mode", "text-to-video", env=cli_env(tmp_path))
    assert proc.returncode == 2
    assert "--provider" in proc.stderr
    assert ltx2(env=cli_env(tmp_path)).returncode == 2


def test_ctrl_c_while_waiting_exits_130_and_names_the_journal_id(emulator, tmp_path):
    emulator.emulator.config.processing_seconds = 60.0  # the job is still running when Ctrl-C comes
    env = cli_env(tmp_path, emulator)
    proc = subprocess.Popen(
        [
            *CLI,
            "generate",
            *FAST_POLL,
            "--provider",
            "gmi",
            "--mode",
            "text-to-video",
            "--prompt",
            "x",
            "-o",
            str(tmp_path / "x.mp4"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while emulator.emulator.jobs_created["gmi"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert emulator.emulator.jobs_created["gmi"] == 1
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "ltx2 jobs resume " in err
    ident = err.split("ltx2 jobs resume ", 1)[1].split()[0]
    listed = json.loads(ltx2("jobs", "list", "--json", env=env).stdout)
    assert [(r["id"], r["state"], r["resumable"]) for r in listed] == [(ident, "interrupted", True)]
    overview = ltx2("jobs", env=env)
    assert "1 job was accepted but never collected: ltx2 jobs resume ID" in overview.stdout
    assert emulator.emulator.submit_requests["gmi"] == 1


# --- jobs ----------------------------------------------------------------------------------------------------


def test_jobs_list_show_and_resume_after_a_failed_download(emulator, tmp_path):
    env = cli_env(tmp_path, emulator)
    emulator.emulator.add_fault(parse_fault("*:download:expire"))
    first = ltx2(
        "generate",
        *FAST_POLL,
        "--provider",
        "apiinone",
        "--mode",
        "text-to-video",
        "--prompt",
        "rain",
        "--resolution",
        "480p",
        "--duration",
        "5",
        "-o",
        str(tmp_path / "a.mp4"),
        env=env,
    )
    assert first.returncode == 1
    assert not (tmp_path / "a.mp4").exists()
    (record,) = json.loads(ltx2("jobs", "list", "--json", env=env).stdout)
    assert record["resumable"] and record["provider"] == "apiinone" and record["provider_job_id"]

    table = ltx2("jobs", "list", env=env)
    assert table.returncode == 0
    assert record["id"][:8] in table.stdout and record["provider_job_id"] in table.stdout
    assert "never collected" in ltx2("jobs", env=env).stdout

    shown = ltx2("jobs", "show", record["id"][:8], env=env)
    assert shown.returncode == 0 and record["provider_job_id"] in shown.stdout
    assert (
        json.loads(ltx2("jobs", "show", record["provider_job_id"], "--json", env=env).stdout)["id"]
        == record["id"]
    )

    resumed = ltx2(
        "jobs", "resume", record["id"], *FAST_POLL, "-o", str(tmp_path / "b.mp4"), "--json", env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["journal_id"] == record["id"]
    assert probe(tmp_path / "b.mp4").duration == pytest.approx(5.0, abs=0.5)
    assert emulator.emulator.submit_requests["apiinone"] == 1  # resumed, never resubmitted
    (after,) = json.loads(ltx2("jobs", "list", "--all", "--json", env=env).stdout)
    assert after["state"] == "downloaded" and after["result_path"] == str(tmp_path / "b.mp4")
    assert "never collected" not in ltx2("jobs", env=env).stdout


def test_jobs_show_unknown_id(tmp_path):
    proc = ltx2("jobs", "show", "doesnotexist", env=cli_env(tmp_path))
    assert proc.returncode == 1 and "doesnotexist" in proc.stderr


# --- config, providers ------------------------------------------------------------------------------------


def test_config_show_never_prints_a_key(tmp_path):
    env = cli_env(tmp_path, GMI_API_KEY=SECRET_MARK)
    proc = ltx2("config", "show", env=env)
    assert proc.returncode == 0, proc.stderr
    assert SECRET_MARK not in proc.stdout + proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.split()}
    assert "env (GMI_API_KEY)" in rows["gmi"]
    assert "missing" in rows["ltx"] and "missing" in rows["apiinone"]
    assert str(tmp_path / "config.json") in proc.stdout and str(tmp_path / "data") in proc.stdout


def test_config_set_key_reads_stdin_and_stores_it(tmp_path):
    env = cli_env(tmp_path)
    secret = "ltx_STOREDsecret987654321"
    proc = ltx2("config", "set-key", "ltx", stdin=secret + "\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    assert json.loads((tmp_path / "config.json").read_text())["keys"]["ltx"] == secret
    shown = ltx2("config", "show", env=env)
    assert secret not in shown.stdout
    assert "config file" in next(line for line in shown.stdout.splitlines() if line.startswith("ltx "))
    empty = ltx2("config", "set-key", "gmi", stdin="\n", env=env)
    assert empty.returncode == 1 and "no key" in empty.stderr


def test_providers_markdown_lists_every_offered_mode(tmp_path):
    from ltx2_nodes.api.providers import all_providers

    proc = ltx2("providers", "--markdown", env=cli_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| Provider | Mode |")
    for provider in all_providers():
        for mode in provider.modes():
            assert any(line.startswith(f"| {provider.display_name} | {mode.value} |") for line in lines)
    assert any(line.startswith("| GMI Cloud | GMI_API_KEY |") for line in lines)
    plain = ltx2("providers", env=cli_env(tmp_path))
    assert plain.returncode == 0 and "API in One" in plain.stdout


# --- emulator ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_emulator_command_serves_until_ctrl_c(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [
            *CLI,
            "emulator",
            "--port",
            str(port),
            "--queue-seconds",
            "0.1",
            "--fault",
            "gmi:status:http:503x2",
            "--key",
            "ltx=my-test-key",
        ],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stats = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert stats is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert stats["faults"][0]["provider"] == "gmi" and stats["faults"][0]["count"] == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"export LTX2_GMI_BASE_URL=http://127.0.0.1:{port}/gmi" in out
    assert "export LTX_API_KEY=my-test-key" in out
    assert "Emulator stopped." in out


def test_emulator_refuses_a_non_loopback_host(tmp_path):
    proc = ltx2("emulator", "--host", "0.0.0.0", env=cli_env(tmp_path), timeout=30)
    assert proc.returncode == 1 and "--allow-remote" in proc.stderr


# --- demo ----------------------------------------------------------------------------------------------------


def test_demo_one_provider_one_mode(tmp_path):
    out = tmp_path / "demo"
    proc = ltx2(
        "demo",
        "--fast",
        "--provider",
        "gmi",
        "--mode",
        "text-to-video",
        "--out",
        str(out),
        env=cli_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "gmi_text-to-video.mp4").is_file() and (out / "gmi_text-to-video.png").is_file()
    assert probe(out / "gmi_text-to-video.mp4").frame_count > 0
    row = next(line for line in proc.stdout.splitlines() if line.startswith("gmi "))
    assert "text-to-video" in row and row.rstrip().endswith("OK")
    assert "1 of 1 runs OK" in proc.stdout
    assert (out / ".ltx2" / "journal.sqlite3").is_file()  # the demo keeps its journal to itself


# --- pure functions (property-based) ---------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=100_000), st.integers(min_value=1, max_value=12))
def test_frame_indices_are_evenly_spaced_and_in_range(frames, count):
    picks = frame_indices(frames, count)
    assert len(picks) == min(count, frames)
    assert picks[0] == 0 and picks[-1] <= frames - 1
    assert len({b - a for a, b in itertools.pairwise(picks)}) <= 1


@given(
    st.sampled_from(["gmi", "apiinone", "ltx"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
)
def test_parse_keys_keeps_everything_after_the_first_equals(provider, key):
    assert parse_keys([f"{provider}={key}"]) == {provider: key}


@given(st.text(max_size=20))
def test_parse_keys_refuses_anything_without_a_provider(text):
    if (
        "=" in text
        and text.partition("=")[0].strip().lower() in ("gmi", "apiinone", "ltx")
        and text.partition("=")[2]
    ):
        return
    with pytest.raises(CommandError):
        parse_keys([text])


@given(
    st.sampled_from(["gmi", "apiinone", "ltx", "*"]),
    st.sampled_from(["submit", "status", "download", "upload", "put", "job", "*"]),
    st.sampled_from(["http", "reset", "delay", "malformed", "truncate", "expire", "fail", "stuck"]),
    st.none() | st.integers(min_value=100, max_value=599),
    st.none() | st.integers(min_value=1, max_value=999),
)
def test_parse_fault_round_trips(provider, op, kind, status, count):
    try:
        Fault(provider=provider, op=op, kind=kind)
    except ValueError:  # a combination that never fires is refused by name
        with pytest.raises(CommandError, match="never"):
            parse_fault(f"{provider}:{op}:{kind}")
        return
    text = (
        f"{provider}:{op}:{kind}"
        + (f":{status}" if status is not None else "")
        + (f"x{count}" if count else "")
    )
    fault = parse_fault(text)
    assert (fault.provider, fault.op, fault.kind) == (provider, op, kind)
    assert fault.count == (count or 1)
    assert fault.status == (status if status is not None else 500)


@given(st.text(alphabet="abc:x19", max_size=12))
def test_parse_fault_refuses_malformed_text(text):
    try:
        fault = parse_fault(text)
    except CommandError as exc:
        assert "--fault" in str(exc)
    else:
        assert fault.provider and fault.op and fault.kind and fault.count >= 1


@given(st.integers(min_value=16, max_value=8000), st.integers(min_value=16, max_value=8000))
def test_size_of_reads_explicit_sizes(width, height):
    assert _size_of(f"{width}x{height}", None) == (width, height)


@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [
        ("720p", "16:9", (1280, 720)),
        ("480p", "9:16", (480, 854)),
        ("1080p", None, (1920, 1080)),
        (None, None, None),
    ],
)
def test_size_of_named_resolutions(resolution, aspect, size):
    assert _size_of(resolution, aspect) == size


@given(st.lists(st.lists(st.text(alphabet="abc|xyz 12", max_size=8), min_size=3, max_size=3), max_size=6))
def test_tables_have_one_line_per_row(rows):
    text = text_table(("a", "b", "c"), rows)
    assert len(text.split("\n")) == len(rows) + 2  # an all-empty row is still a line
    md = markdown_table(("a", "b", "c"), rows)
    assert all(line.count("|") - line.count("\\|") == 4 for line in md.splitlines())


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.1.2.3", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_modes_cover_the_generate_choices():
    from ltx2_nodes.api.cli.main import MODE_CHOICES

    assert set(MODE_CHOICES) == {m.value for m in Mode}


def test_readme_provider_table_matches_the_registry(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = ltx2("providers", "--markdown", env=cli_env(tmp_path)).stdout.strip()
    assert table in readme, (
        "README's provider table is stale: paste the output of 'ltx2 providers --markdown'"
    )


def test_readme_starts_with_the_two_commands():
    lines = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").splitlines()
    # The title, then the two commands before anything else.
    assert lines[0] == "# LTX-2 API Nodes" and lines[1] == ""
    assert lines[2] == "1. `pip install . && ltx2 demo`"
    assert lines[3] == '2. `pip install -e ".[test]" && python -m pytest`'
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[test]"\npython -m pytest\n' in ci and "set -euo pipefail" in ci


def test_main_returns_exit_codes_in_process(capsys):
    from ltx2_nodes.api.cli.main import main

    assert main(["providers", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in doc} == {"gmi", "apiinone", "ltx"}
    assert main(["generate", "--mode", "text-to-video"]) == 2  # --provider missing: a usage error
    assert "--provider" in capsys.readouterr().err

"""Flags the command line must refuse or honour exactly: emulator faults and timings, the demo's
OK/FAIL check, the key-precedence note of ``config set-key``, and the Registry metadata."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api.cli.common import CommandError
from ltx2_nodes.api.cli.demo import FAST_MAX_SIDE, Expected, Outcome, check, demo
from ltx2_nodes.api.cli.emulator_cmd import DEFAULT_FAULT_DELAY, parse_fault
from ltx2_nodes.api.emulator.render import render_size
from ltx2_nodes.api.types import MediaInfo, Mode

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(LTX2_DATA_DIR=str(tmp / "data"), LTX2_CONFIG=str(tmp / "config.json"), **extra)
    return env


def ltx2(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


# --- emulator flags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "gmi:bogus:http",  # unknown OP: would never fire
        "nowhere:submit:http",  # unknown PROVIDER
        "gmi:submit:nonsense",  # unknown KIND
        "gmi:submit:http:99",  # not an HTTP status
        "gmi:submit:http:503x0",  # a fault that applies to no request
        "gmi:status:delay:soon",
        "gmi:status:delay:-1s",
    ],
)
def test_fault_the_emulator_would_ignore_is_refused(text):
    with pytest.raises(CommandError, match="--fault"):
        parse_fault(text)


def test_delay_fault_waits_by_default_or_as_told():
    assert parse_fault("ltx:submit:delay").delay == DEFAULT_FAULT_DELAY > 0
    assert parse_fault("*:status:delay:2.5sx3").delay == 2.5
    assert parse_fault("*:status:delay:2.5sx3").count == 3


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 <= v < math.inf))
def test_delay_seconds_must_be_a_finite_non_negative_number(seconds):
    with pytest.raises(CommandError):
        parse_fault(f"gmi:status:delay:{seconds}s")


@pytest.mark.parametrize(
    "flags",
    [
        ("--fault", "gmi:bogus:http"),
        ("--queue-seconds", "nan"),
        ("--processing-seconds", "inf"),
        ("--render-scale", "-1"),
    ],
)
def test_emulator_refuses_invalid_flags_in_one_line_without_starting(tmp_path, flags):
    proc = ltx2("emulator", "--port", "0", *flags, env=cli_env(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("ltx2: error: ")
    assert flags[0] in proc.stderr and "listening" not in proc.stdout


# --- demo check -------------------------------------------------------------------------------------


def _outcome(expected: Expected, info: MediaInfo) -> Outcome:
    return Outcome(provider="ltx", mode=Mode.TEXT_TO_VIDEO, expected=expected, info=info)


@given(
    st.sampled_from([(1920, 1080), (2560, 1440), (854, 480), (1080, 1920)]),
    st.sampled_from([24.0, 25.0, 48.0, 50.0]),
    st.sampled_from([24.0, 25.0, 48.0, 50.0]),
    st.booleans(),
)
def test_demo_check_compares_fps_and_the_rendered_size_in_fast_mode_too(size, want_fps, got_fps, fast):
    expected = Expected(duration=6.0, size=size, fps=want_fps)
    rendered = render_size(*size, max_side=FAST_MAX_SIDE) if fast else size
    outcome = _outcome(expected, MediaInfo(duration=6.1, width=rendered[0], height=rendered[1], fps=got_fps))
    check(outcome, fast=fast)
    assert outcome.ok == (want_fps == got_fps), outcome.problems
    wrong = _outcome(
        expected, MediaInfo(duration=6.1, width=rendered[0] + 2, height=rendered[1], fps=want_fps)
    )
    check(wrong, fast=fast)
    assert not wrong.ok and "size" in wrong.problems[0]


def test_demo_check_fails_what_it_cannot_measure():
    unknown = _outcome(
        Expected(duration=6.0, size=(1920, 1080), fps=25.0), MediaInfo(width=1920, height=1080)
    )
    check(unknown, fast=False)
    assert not unknown.ok and any("duration" in p for p in unknown.problems)
    off = _outcome(
        Expected(duration=6.0, size=(1920, 1080), fps=25.0),
        MediaInfo(duration=6.6, width=1920, height=1080, fps=25.0),
    )
    check(off, fast=False)
    assert not off.ok  # 0.6 s off is outside the 0.5 s tolerance


def test_fast_demo_run_is_checked_against_its_real_file(tmp_path, isolated_env):
    (outcome,) = demo(tmp_path / "demo", providers=["ltx"], modes=["text-to-video"], fast=True)
    assert outcome.ok, outcome.error or outcome.problems
    assert outcome.info is not None and outcome.expected is not None
    # The same file judged against another frame rate or size is a FAIL, in fast mode too.
    for change in ({"fps": 50.0}, {"size": (1080, 1920)}, {"duration": 8.0}):
        other = dataclasses.replace(
            outcome, expected=dataclasses.replace(outcome.expected, **change), problems=[]
        )
        check(other, fast=True)
        assert not other.ok, change


# --- config set-key ------------------------------------------------------------------------------------


def test_set_key_notes_the_environment_only_when_it_wins(tmp_path):
    env = cli_env(tmp_path, GMI_API_KEY="from-the-environment")
    plain = ltx2("config", "set-key", "gmi", env=env, stdin="stored-key\n")
    assert plain.returncode == 0 and "takes precedence" in plain.stdout
    profiled = ltx2("config", "set-key", "gmi", "--profile", "work", env=env, stdin="work-key\n")
    assert profiled.returncode == 0, profiled.stderr
    assert "takes precedence" not in profiled.stdout  # a profile's own key comes before the environment
    shown = ltx2("config", "show", "--profile", "work", env=env).stdout
    assert "config file (profile work)" in shown
    assert "work-key" not in shown and "stored-key" not in shown


# --- Registry metadata -------------------------------------------------------------------------------------


def test_registry_metadata_is_complete():
    tomllib = pytest.importorskip("tomllib")
    from PIL import Image

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    comfy, project = meta["tool"]["comfy"], meta["project"]
    assert comfy["PublisherId"] and comfy["PublisherId"] == comfy["PublisherId"].lower()
    assert comfy["DisplayName"] == "LTX-2 API Nodes"
    assert all((ROOT / folder).is_dir() for folder in comfy["includes"])
    urls = project["urls"]
    assert {"Repository", "Homepage", "Issues", "Documentation"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    # The icon is a file of this repository, served raw from the Repository URL's default branch.
    raw = urls["Repository"].replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    assert comfy["Icon"].startswith(raw)
    icon = ROOT / comfy["Icon"][len(raw) :]
    assert icon.is_file()
    with Image.open(icon) as image:
        assert image.format in ("PNG", "JPEG", "GIF") and image.width <= 800 and image.height <= 400


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_demo_out_that_is_not_a_folder_is_one_clear_line(tmp_path, where):
    (tmp_path / "a-file").write_text("not a folder")
    proc = ltx2("demo", "--fast", "--out", str(tmp_path / where), env=cli_env(tmp_path))
    assert proc.returncode == 1
    assert proc.stderr.startswith("ltx2: error: --out ") and proc.stderr.count("\n") == 1
    assert "cannot create the folder" in proc.stderr and "Error:" not in proc.stderr

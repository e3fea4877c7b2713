"""``ltx2 generate`` on the LTX API as it is today: last frame, automatic duration, reframe, and
removed models refused before any request. Real subprocesses against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from ltx2_nodes.api.cli.main import build_parser
from ltx2_nodes.api.media import synth
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.providers import provider_names
from ltx2_nodes.api.providers.vocab import FIELD_WORDS
from test_cli import FAST_POLL, cli_env, ltx2, submits


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ltx-media")
    made = {
        "first.png": synth.test_png(96, 64, seed=1),
        "last.png": synth.test_png(96, 64, seed=2),
        "clip.mp4": synth.test_mp4(2.0, 96, 64, fps=25, seed=3),
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name.split(".")[0]: folder / name for name in made}


def test_first_and_last_frame_with_automatic_duration(emulator, tmp_path, files):
    out = tmp_path / "ab.mp4"
    proc = ltx2(
        "generate", *FAST_POLL, "--provider", "ltx", "--mode", "image-to-video", "--model", "ltx-2-5-fast",
        "--prompt", "from a to b", "--image", str(files["first"]), "--last-frame", str(files["last"]),
        "--duration", "auto", "--resolution", "1280x720", "-o", str(out),
        env=cli_env(tmp_path, emulator),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (call,) = submits(emulator)
    assert call.path == "/ltx/v2/image-to-video"
    assert call.json["duration"] is None and call.json["last_frame_uri"] and call.json["image_uri"]
    assert probe(out).duration


def test_reframe_with_a_placement_box(emulator, tmp_path, files):
    out = tmp_path / "tall.mp4"
    proc = ltx2(
        "generate", *FAST_POLL, "--provider", "ltx", "--mode", "reframe", "--video", str(files["clip"]),
        "--resolution", "1080x1920", "--placement", "0.1,0.2,0.8,", "-o", str(out),
        env=cli_env(tmp_path, emulator),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (call,) = submits(emulator)
    assert call.path == "/ltx/v2/video-to-video-reframe"
    assert call.json["placement"] == {"x": 0.1, "y": 0.2, "width": 0.8}
    assert call.json["resolution"] == "1080x1920" and "model" not in call.json
    info = probe(out)
    assert info.height > info.width


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--mode", "text-to-video", "--model", "ltx-2-pro"), "use ltx-2-3-pro instead"),
        (("--mode", "text-to-video", "--model", "ltx-2-fast"), "use ltx-2-3-fast instead"),
        (("--mode", "text-to-video", "--model", "ltx-2-3-pro", "--duration", "auto"), "duration"),
        (("--mode", "reframe", "--resolution", "1920x1088"), "resolution"),
        (("--mode", "reframe", "--placement", "0.6,0,0.5,"), "placement_width"),
    ],
)
def test_refused_before_any_request(emulator, tmp_path, files, args, says):
    given = ("--video", str(files["clip"])) if "reframe" in args else ("--prompt", "x")
    proc = ltx2(
        "generate", "--provider", "ltx", *given, *args, "-o", str(tmp_path / "x.mp4"),
        env=cli_env(tmp_path, emulator),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert emulator.emulator.log == []


def test_flag_choices_come_from_the_registry():
    parser = build_parser()
    generate = next(
        a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("generate")
    )
    by_dest = {a.dest: a for a in generate._actions}
    assert tuple(by_dest["provider"].choices) == tuple(provider_names())
    assert "reframe" in by_dest["mode"].choices
    assert tuple(by_dest["camera_motion"].choices) == FIELD_WORDS["camera_motion"]
    from ltx2_nodes.api.hosting import HOSTING_METHODS

    assert tuple(by_dest["hosting"].choices) == tuple(HOSTING_METHODS)
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--provider", "ltx", "--mode", "reframe", "--placement", "middle"])

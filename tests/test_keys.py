"""Keys: every configured key (environment, config file, every profile) is redacted from anything
printed or stored, in every form it takes (raw, in a URL, in JSON); a key with a control or
invisible character is refused where it is read or set, naming where it came from and never
showing it, before any request."""

from __future__ import annotations

import io
import json
import string
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import config, runner
from ltx2_nodes.api.cli.main import main
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.errors import ConfigError
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.redact import redact, redact_text, register_secret, strip_control
from ltx2_nodes.api.types import GenerationRequest, Mode

GOOD = "gmi-Zq81xKv03LmWbT5y"
INVISIBLE = {
    "zero-width space": "\u200b",
    "BOM": "\ufeff",
    "NBSP": "\u00a0",
    "bell": "\x07",
    "escape": "\x1b",
    "DEL": "\x7f",
    "C1 CSI": "\x9b",
    "right-to-left override": "\u202e",
    "inner space": " ",
    "inner tab": "\t",
}


def _req() -> GenerationRequest:
    return GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt="a lighthouse",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
    )


@pytest.mark.parametrize("name", sorted(INVISIBLE))
@pytest.mark.parametrize("where", ["end", "middle"])
async def test_an_env_key_with_an_invisible_character_is_refused_before_any_request(
    emu_env: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, where: str
) -> None:
    ch = INVISIBLE[name]
    if where == "end" and ch in " \t":
        return  # plain spaces around a key are dropped, not refused
    bad = GOOD + ch if where == "end" else GOOD[:8] + ch + GOOD[8:]
    monkeypatch.setenv("GMI_API_KEY", bad)
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = runner.RunSettings(output_dir=tmp_path / "out", journal=journal, poll_interval=0.05)
    with pytest.raises(ConfigError) as info:
        await runner.generate(_req(), settings)
    text = str(info.value)
    assert "GMI_API_KEY" in text and f"U+{ord(ch):04X}" in text
    for piece in (GOOD, GOOD[:8], GOOD[8:]):
        assert piece not in text
    assert emu_env.emulator.submit_requests["gmi"] == 0 and emu_env.emulator.log == []
    assert journal.list(limit=0) == []  # nothing recorded, nothing "may be billed"


def test_a_config_key_with_a_bom_names_its_profile(isolated_env: Path) -> None:
    cfg = {"keys": {"ltx": "ltx-top-level-key-1"}, "profiles": {"work": {"keys": {"gmi": "\ufeff" + GOOD}}}}
    config.config_path().write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.get_api_key("gmi", profile="work")
    text = str(info.value)
    assert '"work"' in text and '"gmi"' in text and "U+FEFF" in text and "at its start" in text
    assert GOOD not in text
    assert config.get_api_key("ltx") == "ltx-top-level-key-1"


@pytest.mark.parametrize("name", ["NBSP", "zero-width space", "bell", "inner space"])
def test_set_key_refuses_an_invisible_character(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, name: str
) -> None:
    bad = GOOD[:5] + INVISIBLE[name] + GOOD[5:] + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(bad))
    assert main(["config", "set-key", "gmi", "--profile", "work"]) == 1
    out = capsys.readouterr()
    assert "GMI Cloud" in out.err and "'work'" in out.err and f"U+{ord(INVISIBLE[name]):04X}" in out.err
    assert GOOD[5:] not in out.err + out.out and GOOD[:5] + INVISIBLE[name] not in out.err
    assert not config.config_path().exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO(GOOD + "\r\n"))
    assert main(["config", "set-key", "gmi", "--profile", "work"]) == 0
    assert config.get_api_key("gmi", profile="work") == GOOD


def test_every_configured_key_is_registered_when_config_is_read(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {
        "top": "top-level-gmi-key-0001",
        "work": "work-profile-key-0002",
        "home": "home-profile-ltx-key-0003",
        "env": "environment-aio-key-0004",
    }
    cfg = {
        "keys": {"gmi": keys["top"]},
        "profiles": {"work": {"keys": {"gmi": keys["work"]}}, "home": {"keys": {"ltx": keys["home"]}}},
    }
    config.config_path().write_text(json.dumps(cfg), encoding="utf-8")
    monkeypatch.setenv("APIINONE_API_KEY", keys["env"])
    config.get_api_key("gmi")  # reads the config once: every key in it, and every env key, is known
    for key in keys.values():
        for shown in (
            f"job {key} accepted",
            f"https://cdn.example/v.mp4?x={quote(key)}",
            json.dumps({"request_id": key, "video_url": f"https://h/{key}/v.mp4"}),
        ):
            assert key not in redact_text(shown)
            assert key not in json.dumps(redact(json.loads(json.dumps({"v": shown}))))


# --- redaction properties --------------------------------------------------------------------------------

KEY_ALPHABET = string.ascii_letters + string.digits + "-_.~+/="
# Filler that shares no character with a key, so any key character left in the output is a leak.
FILLER_ALPHABET = " ,;:!?()[]{}<>|#@^&\"'\n" + "àéîõüßçñ"
keys_st = st.text(KEY_ALPHABET, min_size=8, max_size=40)
filler_st = st.text(FILLER_ALPHABET, max_size=20)


@given(a=keys_st, b=keys_st, parts=st.lists(filler_st, min_size=5, max_size=5), overlap=st.integers(1, 7))
@settings(max_examples=200)
def test_no_fragment_of_any_key_survives(a: str, b: str, parts: list[str], overlap: int) -> None:
    register_secret(a)
    register_secret(b)
    # The keys raw, back to back or overlapping (one's tail is the other's head), percent-encoded
    # as in a URL, and inside JSON. The filler shares no character with a key.
    glued = a + b[overlap:] if overlap < len(b) and a.endswith(b[:overlap]) else a + b
    text = (
        f"{parts[0]}{a}{parts[1]}{glued}{parts[2]}{quote(b, safe='')}{parts[3]}"
        f"{json.dumps({'id': a})}{parts[4]}"
    )
    out = redact_text(text).replace('"id"', "")
    leaked = [ch for ch in out if ch in KEY_ALPHABET or ch == "%"]
    assert not leaked, (text, out)


@given(
    prefix=st.sampled_from(["gmi_", "ltx_", "aio_", "sk-", ""]),
    word=st.text(string.ascii_lowercase, min_size=1, max_size=7),
    ext=st.sampled_from([".mp4", ".png", ".wav"]),
)
@settings(max_examples=100)
def test_ordinary_file_names_are_not_masked(prefix: str, word: str, ext: str) -> None:
    name = f"{prefix}{word}{ext}"
    assert redact_text(f"Saved {name} in ./out") == f"Saved {name} in ./out"


def test_gmi_fox_stays_readable() -> None:
    register_secret("emulator-gmi-key")
    assert redact_text("Saved gmi_fox.mp4") == "Saved gmi_fox.mp4"


# --- terminal control sequences -------------------------------------------------------------------------

controls_st = st.sampled_from(
    [
        "\x1b[2J",
        "\x1b[31;1m",
        "\x1b]0;title\x07",
        "\x1b]8;;http://x\x1b\\",
        "\x9b1A",
        "\x1bP1$r\x1b\\",
        "\r",
        "\x00",
        "\x08",
        "\x1bc",
        "\x7f",
        "\u202e",
        "\x1b[?25l",
    ]
)


@given(
    words=st.lists(st.text(string.ascii_letters + " \n\t.", max_size=12), min_size=1, max_size=5),
    seqs=st.lists(controls_st, max_size=5),
)
def test_strip_control_removes_every_sequence_and_keeps_the_words(words: list[str], seqs: list[str]) -> None:
    text = "".join(w + (seqs[i] if i < len(seqs) else "") for i, w in enumerate(words))
    out = strip_control(text)
    assert out == "".join(words)


@given(text=st.text(max_size=60))
def test_strip_control_leaves_nothing_a_terminal_would_act_on(text: str) -> None:
    out = strip_control(text)
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in out)
    assert strip_control(out) == out


async def test_a_key_given_directly_is_checked_before_any_request(
    emu_env: RunningEmulator, tmp_path: Path
) -> None:
    from ltx2_nodes.api.client import ProviderClient
    from ltx2_nodes.api.providers import get_provider

    bad = GOOD + "\ufeff"
    with pytest.raises(ConfigError, match="U\\+FEFF") as info:
        ProviderClient(get_provider("gmi"), bad, emu_env.base_urls()["gmi"])
    assert GOOD not in str(info.value)
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = runner.RunSettings(output_dir=tmp_path / "out", journal=journal, api_key=bad)
    with pytest.raises(ConfigError):
        await runner.generate(_req(), settings)
    assert emu_env.emulator.log == [] and journal.list(limit=0) == []


def test_redacting_a_deeply_nested_value_never_exhausts_the_stack() -> None:
    value: object = "gmi-Zq81xKv03LmWbT5y"
    for _ in range(50_000):
        value = [value]
    register_secret(GOOD)
    out = redact(value)
    assert GOOD not in repr(out)[:10_000]

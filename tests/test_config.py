"""Config: key and base-URL precedence, profiles, MissingKeyError text, save_key, key_status, data_dir."""

from __future__ import annotations

import json
import logging
import os
import stat
import string
import sys
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import config
from ltx2_nodes.api.errors import ConfigError, MissingKeyError
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.redact import redact_text

KEY_ENVS = {"gmi": "GMI_API_KEY", "apiinone": "APIINONE_API_KEY", "ltx": "LTX_API_KEY"}
URL_ENVS = {"gmi": "LTX2_GMI_BASE_URL", "apiinone": "LTX2_APIINONE_BASE_URL", "ltx": "LTX2_LTX_BASE_URL"}


def write_config(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


# --- paths -----------------------------------------------------------------------------------------------


def test_config_path_from_env(isolated_env: Path) -> None:
    assert config.config_path() == isolated_env / "config.json"


def test_config_path_default_is_platform_dir(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LTX2_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_env / "xdg-config"))
    path = config.config_path()
    assert path.name == "config.json"
    assert path.parent.name == "ltx2-nodes"
    if sys.platform.startswith("linux"):
        assert path == isolated_env / "xdg-config" / "ltx2-nodes" / "config.json"


def test_data_dir_from_env_is_created(isolated_env: Path) -> None:
    path = config.data_dir()
    assert path == isolated_env / "data"
    assert path.is_dir()


def test_data_dir_inside_comfyui(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LTX2_DATA_DIR")
    user_dir = isolated_env / "comfy-user"
    fake = types.ModuleType("folder_paths")
    fake.get_user_directory = lambda: str(user_dir)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    path = config.data_dir()
    assert path == user_dir / "ltx2-nodes"
    assert path.is_dir()


def test_data_dir_platform_fallback(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LTX2_DATA_DIR")
    monkeypatch.setitem(sys.modules, "folder_paths", None)  # import fails: not inside ComfyUI
    monkeypatch.setenv("XDG_DATA_HOME", str(isolated_env / "xdg-data"))
    path = config.data_dir()
    assert path.name == "ltx2-nodes" and path.is_dir()
    if sys.platform.startswith("linux"):
        assert path == isolated_env / "xdg-data" / "ltx2-nodes"


# --- keys ------------------------------------------------------------------------------------------------


def test_env_key_wins_over_config(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(isolated_env / "config.json", {"keys": {"gmi": "from-config-1234"}})
    monkeypatch.setenv("GMI_API_KEY", "from-env-5678")
    assert config.get_api_key("gmi") == "from-env-5678"
    assert config.key_status()["gmi"] == "env"


def test_config_key_used_without_env(isolated_env: Path) -> None:
    write_config(isolated_env / "config.json", {"keys": {"gmi": "  from-config-1234  "}})
    assert config.get_api_key("GMI Cloud") == "from-config-1234"  # display names work; blanks trimmed
    assert config.key_status()["gmi"] == "config"


def test_profile_key_and_missing_profile(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(
        isolated_env / "config.json",
        {
            "keys": {"gmi": "top-level-key-1"},
            "profiles": {"work": {"keys": {"gmi": "work-key-2222"}}, "home": {"keys": {}}},
        },
    )
    monkeypatch.setenv("GMI_API_KEY", "env-key-3333")
    # A named profile is an explicit choice of account: its key comes first.
    assert config.get_api_key("gmi", profile="work") == "work-key-2222"
    # A profile without the provider falls back to the environment.
    assert config.get_api_key("gmi", profile="home") == "env-key-3333"
    monkeypatch.delenv("GMI_API_KEY")
    assert config.get_api_key("gmi", profile="home") == "top-level-key-1"
    with pytest.raises(ConfigError) as info:
        config.get_api_key("gmi", profile="play")
    text = str(info.value)
    assert "'play'" in text and "home, work" in text
    assert "work-key-2222" not in text and "top-level-key-1" not in text


def test_missing_profile_without_profiles_section(isolated_env: Path) -> None:
    with pytest.raises(ConfigError, match="Profiles there: none"):
        config.get_api_key("gmi", profile="work")


def test_missing_key_message_says_where(isolated_env: Path) -> None:
    with pytest.raises(MissingKeyError) as info:
        config.get_api_key("gmi")
    text = str(info.value)
    path = str(isolated_env / "config.json")
    assert "GMI_API_KEY" in text
    assert path in text
    assert '{"keys": {"gmi": "<your gmi key>"}}' in text
    assert "ltx2 config set-key gmi" in text
    assert info.value.provider == "gmi"


def test_missing_key_message_with_profile(isolated_env: Path) -> None:
    write_config(isolated_env / "config.json", {"profiles": {"work": {"keys": {}}}})
    with pytest.raises(MissingKeyError) as info:
        config.get_api_key("gmi", profile="work")
    text = str(info.value)
    assert "profile 'work'" in text
    assert '{"profiles": {"work": {"keys": {"gmi": "<your gmi key>"}}}}' in text
    assert "--profile work" in text


def test_invalid_json_config_does_not_echo_content(isolated_env: Path) -> None:
    (isolated_env / "config.json").write_text('{"keys": {"gmi": "leaky-secret-9999"', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config.get_api_key("gmi")
    assert "not valid JSON" in str(info.value)
    assert "leaky-secret-9999" not in str(info.value)


def test_config_must_be_an_object(isolated_env: Path) -> None:
    (isolated_env / "config.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match="JSON object"):
        config.get_api_key("gmi")


def test_returned_keys_are_registered_for_redaction(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMI_API_KEY", "Zq9registered0key")
    key = config.get_api_key("gmi")
    assert redact_text(f"header {key} end") == "header *** end"


_key_chars = string.ascii_letters + string.digits + "-_."


# A marker no message template contains, then random characters.
_keys = st.text(_key_chars, min_size=4, max_size=40).map(lambda s: "Kx7~" + s)


@given(present=_keys, configured=_keys)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_key_in_any_message(
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    present: str,
    configured: str,
) -> None:
    """Keys that exist for other providers / profiles never show up in errors or logs."""
    with monkeypatch.context() as m, caplog.at_level(logging.DEBUG, logger="ltx2_nodes"):
        caplog.clear()
        m.setenv("GMI_API_KEY", present)
        write_config(
            isolated_env / "config.json", {"keys": {"gmi": configured}, "profiles": {"a": {"keys": {}}}}
        )
        messages = []
        for call in (
            lambda: config.get_api_key("gmi", profile="missing-profile"),
            lambda: m.delenv("GMI_API_KEY") or config.get_api_key("gmi", profile="missing-profile"),
        ):
            with pytest.raises(ConfigError) as info:
                call()
            messages.append(str(info.value))
        write_config(isolated_env / "config.json", {"profiles": {"a": {"keys": {"ltx": configured}}}})
        with pytest.raises(MissingKeyError) as info:
            config.get_api_key("gmi", profile="a")
        messages.append(str(info.value))
        status = config.key_status(profile="a")
        messages.append(json.dumps(status))
        for text in [*messages, caplog.text]:
            assert present not in text
            assert configured not in text
        assert set(status.values()) <= {"env", "config", "missing"}


# --- save_key / key_status -------------------------------------------------------------------------------


def test_save_key_writes_private_file(isolated_env: Path) -> None:
    path = config.save_key("gmi", "saved-key-0001")
    assert path == isolated_env / "config.json"
    assert json.loads(path.read_text())["keys"]["gmi"] == "saved-key-0001"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.get_api_key("gmi") == "saved-key-0001"
    assert config.key_status()["gmi"] == "config"


def test_save_key_keeps_other_settings_and_profiles(isolated_env: Path) -> None:
    write_config(
        isolated_env / "config.json", {"base_urls": {"gmi": "https://gmi.example"}, "keys": {"ltx": "l-1111"}}
    )
    config.save_key("gmi", "work-key-7777", profile="work")
    data = json.loads((isolated_env / "config.json").read_text())
    assert data["base_urls"] == {"gmi": "https://gmi.example"}
    assert data["keys"] == {"ltx": "l-1111"}
    assert data["profiles"]["work"]["keys"] == {"gmi": "work-key-7777"}
    assert config.get_api_key("gmi", profile="work") == "work-key-7777"
    # An empty key removes it.
    config.save_key("gmi", "", profile="work")
    data = json.loads((isolated_env / "config.json").read_text())
    assert data["profiles"]["work"]["keys"] == {}


def test_save_key_refuses_spaces_without_echoing(isolated_env: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.save_key("gmi", "two words-secret")
    assert "words-secret" not in str(info.value)
    assert not (isolated_env / "config.json").exists()


def test_key_status_reports_sources_never_keys(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTX_API_KEY", "env-ltx-key-1")
    config.save_key("apiinone", "aio_configkey01")
    status = config.key_status()
    assert status == {"ltx": "env", "gmi": "missing", "apiinone": "config"}
    assert "env-ltx-key-1" not in repr(status) and "aio_configkey01" not in repr(status)


# --- base URLs -------------------------------------------------------------------------------------------


def test_base_url_precedence(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gmi = get_provider("gmi")
    assert config.get_base_url("gmi") == gmi.default_base_url.rstrip("/")
    write_config(
        isolated_env / "config.json",
        {
            "base_urls": {"gmi": "https://top.example/api/"},
            "profiles": {"p": {"base_urls": {"gmi": "https://p.example"}}},
        },
    )
    assert config.get_base_url("gmi") == "https://top.example/api"
    assert config.get_base_url("gmi", profile="p") == "https://p.example"
    monkeypatch.setenv("LTX2_GMI_BASE_URL", "http://127.0.0.1:9999/gmi")
    assert config.get_base_url("gmi", profile="p") == "http://127.0.0.1:9999/gmi"
    assert config.get_base_url("gmi", "https://override.example/x") == "https://override.example/x"


@pytest.mark.parametrize(
    "url", ["http://localhost:8188/gmi", "http://127.0.0.1/x", "http://127.3.4.5:1/", "http://[::1]:80/gmi"]
)
def test_plain_http_allowed_for_loopback(isolated_env: Path, url: str) -> None:
    assert config.get_base_url("gmi", url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["http://example.com/gmi", "http://10.0.0.1/x", "http://192.168.1.2:8000", "ftp://localhost/x", "gmi"],
)
def test_plain_http_refused_elsewhere(isolated_env: Path, url: str) -> None:
    with pytest.raises(ConfigError):
        config.get_base_url("gmi", url)


def test_bad_env_base_url_names_the_variable(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTX2_GMI_BASE_URL", "http://evil.example/gmi")
    with pytest.raises(ConfigError) as info:
        config.get_base_url("gmi")
    assert "LTX2_GMI_BASE_URL" in str(info.value) and "loopback" in str(info.value)


@given(host=st.from_regex(r"[a-z]{1,10}\.(com|net|io)", fullmatch=True), port=st.integers(1, 65535))
@settings(max_examples=50, deadline=None)
def test_http_refused_for_any_public_name(host: str, port: int) -> None:
    with pytest.raises(ConfigError):
        config.check_base_url(f"http://{host}:{port}/api")
    assert config.check_base_url(f"https://{host}:{port}/api/") == f"https://{host}:{port}/api"


@given(a=st.integers(0, 255), b=st.integers(0, 255), c=st.integers(0, 255))
@settings(max_examples=50, deadline=None)
def test_loopback_range(a: int, b: int, c: int) -> None:
    assert config.is_loopback_host(f"127.{a}.{b}.{c}")
    assert not config.is_loopback_host(f"128.{a}.{b}.{c}")


def test_resolve(emu_env) -> None:
    settings_ = config.resolve("gmi")
    assert settings_.provider == "gmi"
    assert settings_.base_url == emu_env.base_urls()["gmi"]
    assert settings_.api_key == emu_env.emulator.config.keys["gmi"]
    assert emu_env.emulator.config.keys["gmi"] not in repr(config.key_status())


def test_provider_instances_are_accepted(emu_env) -> None:
    provider = get_provider("gmi")
    assert config.resolve(provider).provider == "gmi"
    assert config.get_base_url(provider) == emu_env.base_urls()["gmi"]

"""The farm's journal setting: where it is read from, its password kept secret like a key, and a
clear line when psycopg is missing."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api import config
from ltx2_nodes.api.errors import ConfigError
from ltx2_nodes.api.journal import Journal
from ltx2_nodes.api.redact import redact_text
from ltx2_nodes.api.types import GenerationRequest, Mode

_PASSWORD = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="*"),
    min_size=6,
    max_size=30,
).filter(lambda p: any(c.isalnum() for c in p) and p.strip("*") == p)


@given(password=_PASSWORD)
def test_the_shown_url_never_holds_the_password(password: str) -> None:
    encoded = quote(password, safe="")
    shown = config.url_without_password(f"postgresql://farm:{encoded}@db.example:5432/ltx2")
    assert shown == "postgresql://farm:***@db.example:5432/ltx2"
    assert encoded not in shown


def test_the_setting_comes_from_the_environment_then_the_config_file(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config.journal_url() is None  # unset: the journal in the data folder
    (isolated_env / "config.json").write_text(
        json.dumps({"journal_url": "postgresql://farm:fileSecret42@db.example/ltx2"})
    )
    shared = config.journal_url()
    assert shared is not None and shared.shown == "postgresql://farm:***@db.example/ltx2"
    assert "config file" in shared.source
    monkeypatch.setenv("LTX2_JOURNAL_URL", "postgresql://farm:envSecret42@db2.example/ltx2")
    shared = config.journal_url()
    assert shared.shown == "postgresql://farm:***@db2.example/ltx2" and "LTX2_JOURNAL_URL" in shared.source
    # Both passwords are secrets now: any text that holds them loses them.
    logged = redact_text("connect postgresql://farm:envSecret42@db2.example failed; old fileSecret42")
    assert "envSecret42" not in logged and "fileSecret42" not in logged


def test_a_wrong_scheme_is_refused_without_echoing_the_password(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTX2_JOURNAL_URL", "mysql://farm:wrongScheme99@db.example/ltx2")
    with pytest.raises(ConfigError) as info:
        config.journal_url()
    assert "postgresql://" in str(info.value) and "wrongScheme99" not in str(info.value) + str(
        info.value.hint
    )


def test_without_psycopg_one_line_says_how_to_install_it(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    monkeypatch.setenv("LTX2_JOURNAL_URL", "postgresql://farm:pw123456@127.0.0.1:9/ltx2")
    with pytest.raises(ConfigError) as info:
        Journal()
    text = str(info.value)
    assert "pip install 'ltx2-nodes[postgres]'" in text and "\n" not in text and "pw123456" not in text


def test_the_password_is_not_logged_or_stored(
    isolated_env: Path, pg_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pgserver

    monkeypatch.setenv("LTX2_JOURNAL_URL", pg_url)
    caplog.set_level(logging.DEBUG)
    journal = Journal()
    assert journal.shared and pgserver.PASSWORD not in journal.shown
    logging.getLogger("ltx2_nodes").warning("journal at %s", redact_text(pg_url))
    assert pgserver.PASSWORD not in caplog.text and quote(pgserver.PASSWORD, safe="") not in caplog.text
    # Even a prompt that quotes the URL is stored without the password.
    req = GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt=f"see {pg_url}", duration=6)
    journal.create(req, model=None, base_url="http://127.0.0.1:1/gmi", cost=None)
    with journal._connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute("SELECT * FROM jobs").fetchall()], default=str)
    assert pgserver.PASSWORD not in stored and "see postgresql://ltx2farm:" in stored
    assert not any(
        pgserver.PASSWORD in p.read_text(errors="replace") for p in isolated_env.rglob("*") if p.is_file()
    )

"""Shared fixtures: one real emulator on a free loopback port for the whole run, and an
isolated config/data folder per test."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from ltx2_nodes.api import redact
from ltx2_nodes.api.emulator import EmulatorConfig, RunningEmulator

# No per-example deadline: a loaded 2-core machine must not turn slow examples into failures.
settings.register_profile("ltx2", deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ltx2")

# Small renders and short state-machine timings keep the suite fast; every protocol path is real.
FAST_CONFIG = dict(queue_seconds=0.05, processing_seconds=0.15, max_render_side=192)


@pytest.fixture(scope="session")
def running_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(EmulatorConfig(**FAST_CONFIG)) as running:
        yield running


@pytest.fixture
def emulator(running_emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    """The session emulator, reset (no jobs, faults, counters, default fast config) for this test."""
    emu = running_emulator.emulator
    emu.reset()
    cfg = emu.config
    baseline = _BASELINE.setdefault("config", copy.deepcopy(cfg))
    for f in dataclasses.fields(cfg):
        setattr(cfg, f.name, copy.deepcopy(getattr(baseline, f.name)))
    yield running_emulator
    emu.reset()


_BASELINE: dict[str, object] = {}


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real keys or user files: config, data and output folders under tmp_path."""
    for var in list(os.environ):
        if var.endswith("_API_KEY") or var.startswith("LTX2_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LTX2_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("LTX2_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def emu_env(
    emulator: RunningEmulator, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> RunningEmulator:
    """Environment pointing every provider at the emulator, with the emulator's keys."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    return emulator


@pytest.fixture(autouse=True)
def _forget_secrets_registered_by_the_test() -> Iterator[None]:
    """Keys a test registers for redaction (random ones, in property tests) are forgotten after it,
    so they cannot blur another test's text."""
    before = set(redact._known_secrets)
    yield
    redact._known_secrets.intersection_update(before)


# --- the journal's two backends -------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """One real PostgreSQL server for the run (skips, saying why, where none can be started)."""
    from pgserver import remove, start_server

    server = start_server()
    if isinstance(server, str):
        pytest.skip(server)
    yield server
    remove(server)


@pytest.fixture
def pg_url(pg_server: object) -> str:
    """The URL (with its password) of a new empty database on the session's server."""
    return pg_server.new_database()  # type: ignore[attr-defined]


@dataclasses.dataclass
class JournalTarget:
    """Where a contract test's journal lives: a SQLite file or a PostgreSQL database."""

    backend: str
    location: str
    local: Path  # this machine's folder: the SQLite file, or a shared journal's fallback file

    def open(self, **kw: object) -> object:
        from ltx2_nodes.api.journal import Journal

        if self.backend == "postgresql":
            return Journal(self.local / "journal.sqlite3", url=self.location, **kw)  # type: ignore[arg-type]
        return Journal(self.local / "journal.sqlite3", **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_target(request: pytest.FixtureRequest, tmp_path: Path) -> JournalTarget:
    if request.param == "postgresql":
        return JournalTarget("postgresql", request.getfixturevalue("pg_url"), tmp_path)
    return JournalTarget("sqlite", str(tmp_path / "journal.sqlite3"), tmp_path)

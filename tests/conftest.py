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

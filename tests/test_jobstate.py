"""The job state machine, the billing decision, claim owners and the claim itself."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import owner as owners
from ltx2_nodes.api.errors import AuthError, ProviderError, SubmitUncertainError
from ltx2_nodes.api.jobstate import ALLOWED, IllegalTransition, billing, submit_refused
from ltx2_nodes.api.journal import PREPARING, ClaimKind, Journal, RecordState
from ltx2_nodes.api.types import GenerationRequest, Mode

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://127.0.0.1:1/gmi"
S = RecordState


def _req(seed: int = 1) -> GenerationRequest:
    return GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt="a crane", duration=6, seed=seed)


def _claim(journal: Journal, **kw) -> object:
    return journal.claim(_req(), model="m", base_url=BASE, cost=None, **kw)


def _dead_owner() -> owners.Owner:
    """The identity of a process that has exited."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    me = owners.current()
    return owners.Owner(host=me.host, pid=int(proc.stdout), started=1.0, token="gone")


# --- the state machine -------------------------------------------------------------------------------


def test_every_state_change_goes_through_jobstate() -> None:
    offenders = []
    for path in [*(ROOT / "api").rglob("*.py"), *(ROOT / "nodes").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.name not in ("jobstate.py", "journal.py") and ".set_state(" in text:
            offenders.append(f"{path.name}: set_state")
        if re.search(r"\.update\([^)]*\bstate\s*=", text):
            offenders.append(f"{path.name}: update(state=...)")
    assert offenders == []


def test_the_table_keeps_the_money_invariants() -> None:
    for state, targets in ALLOWED.items():
        assert S.PENDING not in targets, f"{state.value} may go back to pending"
        if state is not S.PENDING:
            assert S.REJECTED not in targets, f"{state.value} may become refused"
    assert ALLOWED[S.REJECTED] == frozenset() and ALLOWED[S.UNCERTAIN] == {S.SUBMITTED}
    for state in (S.SUBMITTED, S.RUNNING, S.SUCCEEDED, S.DOWNLOADED, S.FAILED, S.CANCELLED, S.INTERRUPTED):
        assert S.UNCERTAIN not in ALLOWED[state], "an accepted job never becomes uncertain"


@pytest.fixture(scope="module")
def shared_journal(tmp_path_factory: pytest.TempPathFactory) -> Journal:
    return Journal(tmp_path_factory.mktemp("sm") / "j.sqlite3")


@settings(max_examples=50)
@given(st.lists(st.sampled_from(list(S)), max_size=10))
def test_set_state_follows_the_table(shared_journal: Journal, steps: list[RecordState]) -> None:
    journal = shared_journal
    record = journal.create(_req(), model=None, base_url=BASE, cost=None)
    state = S.PENDING
    for step in steps:
        if step in ALLOWED[state]:
            record = journal.set_state(record.id, step)
            state = step
        else:
            with pytest.raises(IllegalTransition):
                journal.set_state(record.id, step)
        assert journal.get(record.id).state is state


def test_update_never_changes_the_state(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    record = journal.create(_req(), model=None, base_url=BASE, cost=None)
    with pytest.raises(TypeError, match="jobstate"):
        journal.update(record.id, state=S.DOWNLOADED)


# --- the billing decision ----------------------------------------------------------------------------


@given(st.integers(min_value=400, max_value=599))
def test_only_answers_that_prove_no_job_count_as_refused(code: int) -> None:
    assert submit_refused(ProviderError("x", status_code=code)) is (code < 500 or code == 503)
    assert submit_refused(AuthError("x", status_code=code)) is True
    assert submit_refused(SubmitUncertainError("x", status_code=code)) is False


def test_billing_of_records(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    refused = journal.create(_req(1), model=None, base_url=BASE, cost=None)
    journal.set_state(refused.id, S.REJECTED)
    accepted = journal.create(_req(2), model=None, base_url=BASE, cost=None)
    journal.set_state(accepted.id, S.SUBMITTED, provider_job_id="j")
    journal.set_state(accepted.id, S.FAILED)
    unanswered = journal.create(_req(3), model=None, base_url=BASE, cost=None)
    journal.set_state(unanswered.id, S.UNCERTAIN)
    assert [billing(journal.get(r.id)) for r in (refused, accepted, unanswered)] == [
        "none",
        "billed",
        "maybe",
    ]


# --- owners ------------------------------------------------------------------------------------------


def test_owner_liveness_is_known_at_once() -> None:
    me = owners.current()
    now = 1e9
    assert owners.alive(me.host, me.pid, me.started, me.token, now, now=now)
    dead = _dead_owner()
    assert not owners.alive(dead.host, dead.pid, dead.started, dead.token, now, now=now)
    if me.started is not None:  # a reused pid: same number, younger process
        assert not owners.alive(me.host, me.pid, me.started - 1, "earlier", now, now=now)
    # On another host only the heartbeat tells.
    assert owners.alive("elsewhere", 1, None, "t", now - 10, now=now)
    assert not owners.alive("elsewhere", 1, None, "t", now - owners.LEASE_SECONDS - 1, now=now)


# --- the claim ---------------------------------------------------------------------------------------


def test_the_guard_runs_inside_the_claim_before_the_insert(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    seen: list[int] = []

    def guard(conn: sqlite3.Connection) -> None:
        assert conn.in_transaction
        seen.append(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

    claim = _claim(journal, guard=guard)
    assert claim.kind is ClaimKind.NEW and seen == [0]

    def refuse(conn: sqlite3.Connection) -> None:
        raise RuntimeError("over budget")

    with pytest.raises(RuntimeError):
        journal.claim(_req(9), model="m", base_url=BASE, cost=None, guard=refuse)
    assert len(journal.list(limit=0)) == 1, "a refused claim inserts nothing"


def test_a_live_claim_is_waited_for_and_a_dead_one_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    first = _claim(journal)
    assert _claim(journal).kind is ClaimKind.WAIT  # this process holds it: still alive
    journal.update(first.record.id, raw_status="sending")
    dead = _dead_owner()
    conn = sqlite3.connect(journal.path)
    with conn:
        conn.execute(
            "UPDATE jobs SET owner_pid = ?, owner_token = ?, owner_started = ? WHERE id = ?",
            (dead.pid, dead.token, dead.started, first.record.id),
        )
    conn.close()
    orphan = _claim(journal)
    assert orphan.kind is ClaimKind.ORPHANED and orphan.record.id == first.record.id
    assert _claim(journal, reuse=False).kind is ClaimKind.ORPHANED, "no cache setting resends it"
    assert [r.id for r in journal.unfinished()] == [first.record.id]
    fresh = _claim(journal, new_take=True)
    assert fresh.kind is ClaimKind.NEW and journal.get(first.record.id).state is S.UNCERTAIN


def test_a_dead_claim_that_never_sent_its_submit_is_closed_as_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    first = _claim(journal)
    assert first.record.raw_status == PREPARING
    dead = _dead_owner()
    conn = sqlite3.connect(journal.path)
    with conn:
        conn.execute(
            "UPDATE jobs SET owner_pid = ?, owner_token = ? WHERE id = ?",
            (dead.pid, dead.token, first.record.id),
        )
    conn.close()
    assert journal.unfinished() == []
    assert _claim(journal).kind is ClaimKind.NEW
    assert journal.get(first.record.id).state is S.REJECTED


def test_the_startup_report_names_a_maybe_billed_claim_at_once(
    isolated_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from ltx2_nodes.nodes import pending

    journal = Journal()
    claim = _claim(journal)
    journal.update(claim.record.id, raw_status="sending")
    dead = _dead_owner()
    conn = sqlite3.connect(journal.path)
    with conn:
        conn.execute(
            "UPDATE jobs SET owner_pid = ?, owner_token = ? WHERE id = ?",
            (dead.pid, dead.token, claim.record.id),
        )
    conn.close()
    pending.reset()
    try:
        with caplog.at_level("WARNING", logger="ltx2_nodes"):
            assert pending.report_unfinished_once() == 1
    finally:
        pending.reset()
    assert f"job {claim.record.id}" in caplog.text and "may have been billed" in caplog.text
    assert "force_rerun" in caplog.text


def test_force_rerun_is_the_node_s_way_to_buy_a_new_take(isolated_env: Path) -> None:
    from ltx2_nodes.nodes.base import run_settings
    from ltx2_nodes.nodes.settings import LTX2Settings

    again = run_settings(LTX2Settings(), filename_prefix="x", on_progress=None, fresh_take=True)
    same = run_settings(LTX2Settings(), filename_prefix="x", on_progress=None)
    assert again.new_take and not again.use_cache
    assert not same.new_take


async def test_a_live_owner_refreshes_its_heartbeat_and_releases_the_claim_at_the_end(
    emu_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ltx2_nodes.api import runner
    from ltx2_nodes.api.emulator import Fault
    from ltx2_nodes.api.errors import Interrupted
    from ltx2_nodes.api.journal import RELEASED

    monkeypatch.setattr(owners, "HEARTBEAT_SECONDS", 0.05)
    emu_env.emulator.add_fault(Fault(provider="gmi", op="job", kind="stuck"))
    journal = Journal(tmp_path / "j.sqlite3")

    def beaten() -> bool:  # stop waiting once another process could see this one is alive
        records = journal.list(limit=1)
        return bool(records) and (records[0].owner_seen or 0) > records[0].created_at

    req = GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt="a beat",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=3,
    )
    settings = runner.RunSettings(
        output_dir=tmp_path, journal=journal, poll_interval=0.05, cancel_check=beaten
    )
    with pytest.raises(Interrupted):
        await runner.generate(req, settings)
    [record] = journal.list(limit=0)
    assert record.resumable and record.owner_token == RELEASED and not record.owner_alive()

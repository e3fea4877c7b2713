"""The ledger and the budget guard over real loopback HTTP against the emulator: what counts as spent,
caps refusing a submit before anything is sent, and two real processes racing at a cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api import budget, ledger, runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import AuthError, BudgetExceededError, ConfigError, SubmitUncertainError
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import CostEstimate, GenerationRequest, Mode

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
FAST_RETRY = RetryPolicy(base_delay=0.05, max_delay=0.5)


def _req(provider: str, seed: int) -> GenerationRequest:
    if provider == "apiinone":
        return GenerationRequest(
            provider="apiinone", mode=Mode.TEXT_TO_VIDEO, prompt="a lantern", duration=5, seed=seed
        )
    return GenerationRequest(
        provider=provider,
        mode=Mode.TEXT_TO_VIDEO,
        model="ltx-2-3-fast" if provider == "ltx" else "ltx-2-fast",
        prompt="a lantern",
        duration=6,
        resolution="1920x1080",
        fps=25,
        generate_audio=False,
        seed=seed,
    )


def _estimate(req: GenerationRequest) -> CostEstimate:
    cost = get_provider(req.provider).estimate_cost(req)
    assert cost is not None
    return cost


def _settings(tmp_path: Path, journal: Journal) -> runner.RunSettings:
    return runner.RunSettings(
        output_dir=tmp_path / "out", journal=journal, poll_interval=0.05, retry=FAST_RETRY
    )


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


def _generate(seed: int, out: Path) -> list[str]:
    """``ltx2 generate`` of ``_req("ltx", seed)``."""
    return [
        *CLI,
        "generate",
        *("--provider", "ltx", "--mode", "text-to-video", "--model", "ltx-2-3-fast"),
        *("--prompt", "a lantern", "--duration", "6", "--seed", str(seed)),
        *("--poll-interval", "0.1", "-o", str(out)),
    ]


def _submits(emulator: RunningEmulator) -> dict[str, int]:
    return emulator.emulator.stats()["submit_requests"]


async def test_the_ledger_counts_accepted_and_uncertain_jobs_only(emu_env, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = _settings(tmp_path, journal)
    ltx, aio = _req("ltx", 1), _req("apiinone", 2)
    await runner.generate(ltx, settings)
    await runner.generate(aio, settings)
    again = await runner.generate(ltx, settings)  # the cached rerun costs nothing
    assert again.from_cache

    emu = emu_env.emulator
    emu.add_fault(Fault(provider="gmi", op="submit", kind="http", status=401))
    with pytest.raises(AuthError):  # refused: nothing billed
        await runner.generate(_req("gmi", 3), settings)
    emu.add_fault(Fault(provider="gmi", op="submit", kind="http", status=500))
    with pytest.raises(SubmitUncertainError):  # may have been billed
        await runner.generate(_req("gmi", 4), settings)
    states = sorted(r.state.value for r in journal.list(limit=0))
    assert states == ["downloaded", "downloaded", "rejected", "uncertain"]

    spend = ledger.spend(journal)
    gmi_cost = _estimate(_req("gmi", 4)).amount
    assert spend.day["ltx"].spent == pytest.approx(_estimate(ltx).amount)
    assert spend.day["ltx"].jobs == 1 and spend.day["ltx"].unit == "USD"
    assert spend.day["apiinone"].spent == pytest.approx(_estimate(aio).amount)
    assert spend.day["apiinone"].unit == "credits"
    assert spend.day["gmi"].uncertain == pytest.approx(gmi_cost) and spend.day["gmi"].accepted == 0
    assert spend.day["gmi"].jobs == 1  # the refused submit is not there
    assert spend.total("day", "USD") == pytest.approx(_estimate(ltx).amount + gmi_cost)
    assert spend.month["ltx"].spent == spend.day["ltx"].spent

    # Tomorrow nothing of this is "today"; the month still holds it unless tomorrow starts a new one.
    tomorrow = time.time() + 86400
    later = ledger.spend(journal, now=tomorrow)
    assert later.day == {}
    same_month = ledger.month_start(tomorrow) == ledger.month_start(time.time())
    assert bool(later.month) is same_month


def test_ltx2_spend_reports_the_journal(emu_env, tmp_path: Path) -> None:
    env = dict(os.environ)
    first = subprocess.run(
        _generate(5, tmp_path / "a.mp4"), env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    subprocess.run(
        [*CLI, "config", "set-budget", "--daily-usd", "3", "--monthly-credits", "500"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = subprocess.run([*CLI, "spend", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    cost = _estimate(_req("ltx", 5)).amount
    assert doc["today"]["ltx"]["spent"] == pytest.approx(cost)
    assert doc["limits"]["USD_day"]["cap"] == 3.0
    assert doc["limits"]["USD_day"]["left"] == pytest.approx(3.0 - cost)
    assert doc["limits"]["credits_month"]["cap"] == 500.0 and doc["timezone"] == "local"
    text = subprocess.run([*CLI, "spend", "--month"], env=env, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and "LTX" in text.stdout
    assert f"daily USD cap: ${cost:,.2f} of $3.00 spent today" in text.stdout


async def test_a_submit_that_would_cross_a_cap_is_refused_before_anything_is_sent(
    emu_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = _settings(tmp_path, journal)
    first = _req("ltx", 10)
    cost = _estimate(first).amount
    monkeypatch.setenv("LTX2_BUDGET_DAILY_USD", f"{cost * 1.5:.4f}")
    await runner.generate(first, settings)
    assert _submits(emu_env)["ltx"] == 1
    with pytest.raises(BudgetExceededError) as caught:
        await runner.generate(_req("gmi", 11), settings)  # dollars are one budget across providers
    message = str(caught.value)
    assert "daily budget of $" in message and "LTX2_BUDGET_DAILY_USD" in message
    assert f"${cost:,.2f} is spent or in flight today" in message
    assert f"estimated at ${_estimate(_req('gmi', 11)).amount:,.2f}" in message
    assert "Nothing was sent" in message and "\n" not in message
    assert not caught.value.billed and not caught.value.uncertain
    assert _submits(emu_env)["gmi"] == 0
    assert len(journal.list(limit=0)) == 1  # the refused claim left no record

    # Credits are a budget of their own: API in One still runs.
    await runner.generate(_req("apiinone", 12), settings)
    monkeypatch.setenv("LTX2_BUDGET_MONTHLY_CREDITS", "1")
    with pytest.raises(BudgetExceededError, match="monthly budget of 1 credits"):
        await runner.generate(_req("apiinone", 13), settings)


def test_a_job_without_an_estimate_needs_unknown_costs_allowed(isolated_env: Path) -> None:
    journal = Journal(isolated_env / "journal.sqlite3")
    req = _req("ltx", 20)
    budget.save({"monthly_usd": "10"})
    with pytest.raises(BudgetExceededError, match="no cost estimate"):
        journal.create(
            req, model="ltx-2-3-fast", base_url="http://x", cost=None, guard=budget.guard("ltx", None)
        )
    assert journal.list(limit=0) == []
    # Without a cap in its unit nothing is checked at all (but a caller's own guard still runs).
    assert budget.guard("apiinone", None) is None
    own = budget.guard("ltx", None)
    assert budget.guard("apiinone", None, also=own) is own
    budget.save({"allow_unknown_cost": "yes"})
    record = journal.create(
        req, model="ltx-2-3-fast", base_url="http://x", cost=None, guard=budget.guard("ltx", None)
    )
    assert record.state is RecordState.PENDING


def test_the_environment_wins_over_the_config_file(isolated_env: Path, monkeypatch) -> None:
    budget.save({"daily_usd": 2, "monthly_credits": "40"})
    stored = json.loads((isolated_env / "config.json").read_text())["budget"]
    assert stored == {"daily_usd": 2.0, "monthly_credits": 40.0}
    monkeypatch.setenv("LTX2_BUDGET_DAILY_USD", "7.5")
    loaded = budget.load()
    assert loaded.caps["daily_usd"] == 7.5 and loaded.sources["daily_usd"] == "env"
    assert loaded.caps["monthly_credits"] == 40.0 and loaded.sources["monthly_credits"] == "config"
    budget.save({"monthly_credits": "off"})
    assert budget.load().caps["monthly_credits"] is None
    monkeypatch.setenv("LTX2_BUDGET_MONTHLY_USD", "lots")
    with pytest.raises(ConfigError, match="LTX2_BUDGET_MONTHLY_USD"):
        budget.load()
    with pytest.raises(ConfigError, match="Unknown budget settings"):
        budget.save({"weekly_usd": 3})
    monkeypatch.setenv("LTX2_BUDGET", "off")  # e.g. the demo on the emulator
    assert budget.load().caps == dict.fromkeys(budget.CAPS) and budget.guard("ltx", None) is None


@given(st.one_of(st.text(max_size=12), st.floats(allow_nan=True), st.integers(), st.booleans(), st.none()))
def test_parse_cap_gives_a_finite_non_negative_amount_or_a_clear_error(value: Any) -> None:
    try:
        amount = budget.parse_cap(value, source="X")
    except ConfigError as exc:
        assert str(exc).startswith("Invalid budget X")
        return
    assert amount is None or (0 <= amount <= budget.MAX_CAP)


def test_two_processes_racing_at_the_cap_buy_one_job(emu_env, tmp_path: Path) -> None:
    """Each of two real processes asks for a different job; the cap fits one. The first submit is held
    by the emulator, so whichever process checks second sees the first's claim in flight."""
    cost = _estimate(_req("ltx", 30)).amount
    env = dict(os.environ, LTX2_BUDGET_DAILY_USD=f"{cost * 1.5:.4f}")
    emu_env.emulator.add_fault(Fault(provider="ltx", op="submit", kind="delay", delay=1.5, count=2))
    procs = [
        subprocess.Popen(
            _generate(seed, tmp_path / f"race{seed}.mp4"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (30, 31)
    ]
    results = []
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        results.append((proc.returncode, err))
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, err in results if code == 1)
    assert "daily budget" in refused and "Nothing was sent" in refused
    assert _submits(emu_env)["ltx"] == 1
    journal = Journal(tmp_path / "data" / "journal.sqlite3")
    assert [r.state for r in journal.list(limit=0)] == [RecordState.DOWNLOADED]


@settings(max_examples=25)
@given(
    costs=st.lists(st.floats(min_value=0.01, max_value=3.0), min_size=1, max_size=12),
    cap=st.floats(min_value=0.0, max_value=10.0),
    outcomes=st.lists(
        st.sampled_from(["accepted", "rejected", "uncertain", "pending"]), min_size=12, max_size=12
    ),
)
def test_claims_through_the_guard_never_commit_more_than_the_cap(
    tmp_path_factory: pytest.TempPathFactory, costs: list[float], cap: float, outcomes: list[str]
) -> None:
    """Whatever becomes of each claim, what counts (accepted, uncertain, in flight) stays within the
    cap, and a claim is refused only when it would not fit."""
    journal = Journal(tmp_path_factory.mktemp("guard") / "journal.sqlite3")
    caps = budget.Budget(caps={"daily_usd": cap}, sources={"daily_usd": "config"})

    def guard(cost: CostEstimate):
        return lambda conn: budget.check(conn, caps, "LTX", "USD", cost)

    for seed, (amount, outcome) in enumerate(zip(costs, outcomes, strict=False)):
        cost = CostEstimate(amount, "USD")
        with journal._connect() as conn:
            before = ledger.committed(conn, "USD", ledger.day_start(), time.time())
        try:
            record = journal.create(
                _req("ltx", seed), model="m", base_url="http://x", cost=cost, guard=guard(cost)
            )
        except BudgetExceededError:
            assert before + amount > cap
            continue
        if outcome == "accepted":
            journal.set_state(record.id, RecordState.SUBMITTED, provider_job_id=f"job-{seed}")
        elif outcome != "pending":
            journal.set_state(record.id, RecordState(outcome))
        with journal._connect() as conn:
            assert ledger.committed(conn, "USD", ledger.day_start(), time.time()) <= cap + 1e-9


def test_the_sidebar_groups_jobs_the_way_a_user_acts_on_them(isolated_env: Path) -> None:
    from ltx2_nodes.api.journal import STALE_PENDING_SECONDS
    from ltx2_nodes.nodes.sidebar import group_of

    journal = Journal(isolated_env / "journal.sqlite3")
    now = time.time()
    stale = now + STALE_PENDING_SECONDS + 60  # seen that much later: records without a live owner

    def record(*path: RecordState, **fields):
        """A new record taken through ``path`` (the last step gets ``fields``)."""
        made = journal.create(
            _req("ltx", len(journal.list(limit=0))), model="m", base_url="http://x", cost=None
        )
        for n, state in enumerate(path):
            made = journal.set_state(made.id, state, **(fields if n == len(path) - 1 else {}))
        return made

    accepted = (RecordState.SUBMITTED,)
    kept = isolated_env / "kept.mp4"
    kept.write_bytes(b"mp4")
    pending = record()
    running = record(RecordState.SUBMITTED, RecordState.RUNNING, provider_job_id="j1")
    interrupted = record(RecordState.SUBMITTED, RecordState.INTERRUPTED, provider_job_id="j2")
    finished = (*accepted, RecordState.SUCCEEDED, RecordState.DOWNLOADED)
    gone = record(*finished, provider_job_id="j3", result_path=str(isolated_env / "deleted.mp4"))
    done = record(*finished, provider_job_id="j4", result_path=str(kept))
    refused = record(RecordState.REJECTED)
    unanswered = record(RecordState.UNCERTAIN)
    assert [group_of(r, now) for r in (pending, running, interrupted, gone, done, refused, unanswered)] == [
        "running", "running", "uncollected", "uncollected", "done", "failed", "uncertain"
    ]  # fmt: skip
    # Nobody polls a job any more, or answers a claim, long after: collect it / check the dashboard.
    assert group_of(running, stale) == "uncollected" and group_of(pending, stale) == "uncertain"


def test_a_stored_key_is_removed_only_by_delete_key(isolated_env: Path) -> None:
    env = dict(os.environ)

    def run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "config", *args], env=env, capture_output=True, text=True, timeout=60, **kw
        )

    assert run("set-key", "gmi", input="gmi-cli-key-123456\n").returncode == 0
    empty = run("set-key", "gmi", input="\n")
    assert empty.returncode == 1 and "no key given" in empty.stderr
    assert json.loads((isolated_env / "config.json").read_text())["keys"]["gmi"] == "gmi-cli-key-123456"
    gone = run("delete-key", "gmi")
    assert gone.returncode == 0 and "Removed the stored GMI Cloud key" in gone.stdout
    assert "gmi" not in json.loads((isolated_env / "config.json").read_text())["keys"]

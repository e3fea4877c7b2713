"""A farm: "machines" are real ``ltx2`` processes with their own data folders, config files and home
directories that share nothing but ``LTX2_JOURNAL_URL`` (a real PostgreSQL server), against the real
emulator over loopback. Equal requests pay once; a worker killed mid-submit is reported to the others
as maybe billed and never resubmitted silently; a budget holds across workers; an unreachable or
refusing journal stops a request before any paid submit; a job id accepted while the journal's server
was gone is kept locally and reconciled on the next start; the password never shows."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pgserver
import pytest
from ltx2_nodes.api import jobstate, runner
from ltx2_nodes.api.client import RetryPolicy
from ltx2_nodes.api.emulator import Fault, RunningEmulator
from ltx2_nodes.api.errors import JournalError
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.owner import LEASE_SECONDS
from ltx2_nodes.api.types import GenerationRequest, Mode, SubmittedJob
from test_hosting_s3 import aws_clean, moto_endpoint, s3_env  # noqa: F401 (fixtures)
from test_money_claims import CLI, generate_args, wait_for_submit


def machine(tmp: Path, name: str, emulator: RunningEmulator, url: str, **extra: str) -> dict[str, str]:
    """The environment of one worker: its own folders, the shared journal, the emulator's keys."""
    home = tmp / name
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(
        HOME=str(home),
        LTX2_DATA_DIR=str(home / "data"),
        LTX2_CONFIG=str(home / "config.json"),
        LTX2_JOURNAL_URL=url,
        LTX2_WORKER_NAME=name,
        **emulator.env(),
        **extra,
    )
    return env


def ltx2(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def no_password(text: str) -> None:
    assert pgserver.PASSWORD not in text and quote(pgserver.PASSWORD, safe="") not in text


@pytest.fixture(autouse=True)
def _small_renders(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator.emulator.config, "max_render_side", 64)


def test_two_workers_racing_the_same_request_pay_once_and_both_get_the_video(
    emulator: RunningEmulator, tmp_path: Path, pg_url: str
) -> None:
    emulator.emulator.add_fault(Fault(provider="gmi", op="submit", kind="delay", delay=1.5))
    envs = [machine(tmp_path, name, emulator, pg_url) for name in ("worker-a", "worker-b")]
    outs = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    procs = [
        subprocess.Popen(
            generate_args("gmi", out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for out, env in zip(outs, envs, strict=True)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert emulator.emulator.submit_requests["gmi"] == 1 and emulator.emulator.jobs_created["gmi"] == 1
    for out in outs:
        assert probe(out).width
    assert outs[0].read_bytes() == outs[1].read_bytes()
    for env in envs:  # each worker sees the one job in the shared journal
        jobs = json.loads(ltx2("jobs", "list", "--all", "--json", env=env).stdout)
        assert [j["state"] for j in jobs] == ["downloaded"]
        assert jobs[0]["worker"].split(" pid ")[0] in ("worker-a", "worker-b")
    for stdout, stderr in results:
        no_password(stdout + stderr)


def test_a_worker_killed_mid_submit_is_reported_to_the_others_and_never_resubmitted(
    emulator: RunningEmulator, tmp_path: Path, pg_url: str
) -> None:
    emulator.emulator.add_fault(
        Fault(provider="gmi", op="submit", kind="delay", delay=8.0, after_accept=True)
    )
    env_a = machine(tmp_path, "worker-a", emulator, pg_url)
    env_b = machine(tmp_path, "worker-b", emulator, pg_url)
    first = subprocess.Popen(
        generate_args("gmi", tmp_path / "a.mp4"), env=env_a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_submit(emulator, "gmi", first)
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(30)
    journal = Journal(tmp_path / "reader.sqlite3", url=pg_url)
    [record] = journal.list(limit=0)
    assert record.state is RecordState.PENDING and record.owner_host == "worker-a"
    # On another host only the lease tells: while the heartbeat is fresh, worker B waits for the claim
    # rather than buying again; once the lease has run out it is a dead worker's claim.
    assert not record.orphaned  # worker-a's pid cannot be probed from "another host"
    with journal._connect(write=True) as conn:
        conn.execute(
            "UPDATE jobs SET owner_seen = owner_seen - ? WHERE id = ?", (LEASE_SECONDS + 5, record.id)
        )
    assert journal.get(record.id).orphaned

    overview = ltx2("jobs", env=env_b)
    assert overview.returncode == 0, overview.stderr
    assert f"Job {record.id} may have been billed" in overview.stdout
    assert f"worker-a pid {first.pid}" in overview.stdout
    again = subprocess.run(
        generate_args("gmi", tmp_path / "b.mp4"), env=env_b, capture_output=True, text=True, timeout=120
    )
    errors = [line for line in again.stderr.splitlines() if line.startswith("ltx2: error:")]
    assert again.returncode == 1 and len(errors) == 1 and record.id in errors[0], again.stderr
    assert emulator.emulator.submit_requests["gmi"] == 1 and not (tmp_path / "b.mp4").exists()
    no_password(overview.stdout + overview.stderr + again.stdout + again.stderr)


def test_a_budget_at_its_cap_holds_across_two_workers(
    emulator: RunningEmulator, tmp_path: Path, pg_url: str
) -> None:
    # Room for one job ($0.36) a day; the two workers ask for different takes at the same moment.
    cap = {"LTX2_BUDGET_DAILY_USD": "0.50"}
    emulator.emulator.add_fault(Fault(provider="gmi", op="submit", kind="delay", delay=1.0))
    envs = [machine(tmp_path, name, emulator, pg_url, **cap) for name in ("worker-a", "worker-b")]
    procs = [
        subprocess.Popen(
            [*generate_args("gmi", tmp_path / f"{n}.mp4"), "--seed", str(20 + n)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, env in enumerate(envs)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 1], results
    assert emulator.emulator.submit_requests["gmi"] == 1
    refused = next(err for p, (_, err) in zip(procs, results, strict=True) if p.returncode == 1)
    assert "budget" in refused and "Nothing was sent" in refused and "Traceback" not in refused


def test_an_unreachable_or_refusing_journal_stops_the_request_before_any_submit(
    emulator: RunningEmulator, tmp_path: Path, pg_server: pgserver.PgServer, pg_url: str
) -> None:
    wrong = pg_url.replace(quote(pgserver.PASSWORD, safe=""), "not-the-password")
    closed = pg_server.url(password=pgserver.PASSWORD).replace(
        f":{pg_server.port}/", f":{pgserver._free_port()}/"
    )
    for url, problem in ((wrong, "authentication failed"), (closed, "unreachable")):
        env = machine(tmp_path, "worker-a", emulator, url)
        run = subprocess.run(
            generate_args("gmi", tmp_path / "a.mp4"), env=env, capture_output=True, text=True, timeout=120
        )
        errors = [line for line in run.stderr.splitlines() if line.startswith("ltx2: error:")]
        assert run.returncode != 0 and len(errors) == 1, run.stderr
        assert "The job journal postgresql://ltx2farm:***@127.0.0.1:" in errors[0] and problem in errors[0]
        assert "Traceback" not in run.stderr
        no_password(run.stdout + run.stderr)
    assert emulator.emulator.submit_requests["gmi"] == 0


def test_config_show_names_the_journal_without_its_password(tmp_path: Path, pg_url: str, emulator) -> None:
    env = machine(tmp_path, "worker-a", emulator, pg_url)
    shown = ltx2("config", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "postgresql://ltx2farm:***@127.0.0.1:" in shown.stdout
    no_password(shown.stdout + shown.stderr)


def wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def own_server() -> Iterator[pgserver.PgServer]:
    """A server of this test's own, to stop and start again."""
    server = pgserver.start_server()
    if isinstance(server, str):
        pytest.skip(server)
    yield server
    pgserver.remove(server)


def _request(seed: int) -> GenerationRequest:
    return GenerationRequest(
        provider="gmi",
        mode=Mode.TEXT_TO_VIDEO,
        prompt="a farm",
        duration=6,
        resolution="1920x1080",
        fps=25,
        seed=seed,
    )


async def test_the_journal_server_stopped_before_a_submit_and_after_acceptance(
    emu_env: RunningEmulator, tmp_path: Path, own_server: pgserver.PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobstate, "ACCEPT_RETRY_DELAYS", (0.05, 0.05))
    url = own_server.new_database()
    local = tmp_path / "local" / "journal.sqlite3"
    journal = Journal(local, url=url)
    settings = runner.RunSettings(
        output_dir=tmp_path / "out", journal=journal, poll_interval=0.05, retry=RetryPolicy(base_delay=0.05)
    )

    # Stopped before the submit: refused in one line naming the journal, nothing sent.
    await asyncio.to_thread(own_server.stop)
    with pytest.raises(JournalError) as before:
        await runner.generate(_request(1), settings)
    assert "postgresql://ltx2farm:***@127.0.0.1" in str(before.value) and "unreachable" in str(before.value)
    assert "\n" not in str(before.value) and not before.value.billed
    assert emu_env.emulator.submit_requests["gmi"] == 0
    no_password(str(before.value) + str(before.value.hint or ""))
    await asyncio.to_thread(own_server.start)

    # Stopped after the provider accepted the job: the id is kept on this machine, never lost.
    emu_env.emulator.add_fault(Fault(provider="gmi", op="submit", kind="delay", delay=2.0, after_accept=True))
    run = asyncio.create_task(runner.generate(_request(2), settings))
    while emu_env.emulator.jobs_created["gmi"] == 0:  # accepted; its answer is still on the way
        assert not run.done(), run.exception()
        await asyncio.sleep(0.02)
    await asyncio.to_thread(own_server.stop)
    with pytest.raises(JournalError) as during:
        await run
    [job_id] = emu_env.emulator.jobs
    text = str(during.value)
    assert job_id in text and str(journal.fallback_path) in text and during.value.billed
    no_password(text)
    assert job_id in journal.fallback_path.read_text()

    # The next start reconciles the kept id into the shared journal; any worker can then collect it.
    await asyncio.to_thread(own_server.start)
    Journal(local, url=url)
    assert not journal.fallback_path.exists()
    other = Journal(tmp_path / "other" / "journal.sqlite3", url=url)
    [record] = [r for r in other.list(limit=0) if r.provider_job_id]
    assert record.provider_job_id == job_id and record.resumable
    again = runner.RunSettings(
        output_dir=tmp_path / "other-out", journal=other, poll_interval=0.05, poll_timeout=60
    )
    result = await runner.generate(_request(2), again)
    assert probe(result.path).width and emu_env.emulator.submit_requests["gmi"] == 1


def test_any_worker_collects_a_job_another_worker_accepted_or_downloaded(
    emulator: RunningEmulator, tmp_path: Path, pg_url: str
) -> None:
    env_a = machine(tmp_path, "worker-a", emulator, pg_url)
    env_b = machine(tmp_path, "worker-b", emulator, pg_url)
    # Worker A's job is accepted, then A dies while the provider renders it.
    emulator.emulator.config.processing_seconds = 3.0
    first = subprocess.Popen(
        generate_args("gmi", tmp_path / "a.mp4"), env=env_a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    journal = Journal(tmp_path / "reader.sqlite3", url=pg_url)
    try:
        wait_for(
            lambda: any(r.provider_job_id for r in journal.list(limit=0)), "worker A's job was never accepted"
        )
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(30)
    [record] = journal.list(limit=0)
    resumed = ltx2("jobs", "resume", record.id, "-o", str(tmp_path / "b.mp4"), env=env_b)
    assert resumed.returncode == 0, resumed.stderr
    assert probe(tmp_path / "b.mp4").width and emulator.emulator.submit_requests["gmi"] == 1
    assert journal.get(record.id).owner_host == "worker-b"

    # The video is on B's disk only: the same request on A downloads it again from the provider.
    (tmp_path / "b.mp4").rename(tmp_path / "elsewhere.mp4")
    again = subprocess.run(
        generate_args("gmi", tmp_path / "a2.mp4"), env=env_a, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert probe(tmp_path / "a2.mp4").width and emulator.emulator.submit_requests["gmi"] == 1
    assert "worker-b" in again.stdout + again.stderr


def test_the_sidebar_and_jobs_list_name_every_worker_s_jobs(
    isolated_env: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator
) -> None:
    from ltx2_nodes.api import owner as owners
    from ltx2_nodes.nodes import sidebar

    monkeypatch.setenv("LTX2_JOURNAL_URL", pg_url)
    journal = Journal()
    for n, name in enumerate(("worker-a", "worker-b")):
        who = owners.Owner(host=name, pid=100 + n, started=None, token=f"t{n}")
        claim = journal.claim(_request(n), model="m", base_url="http://127.0.0.1:1/gmi", cost=None, owner=who)
        tracker = jobstate.JobTracker(journal, claim.record)
        tracker.sending()
        job = SubmittedJob(provider="gmi", mode=Mode.TEXT_TO_VIDEO, job_id=f"job-{n}", model="m")
        asyncio.run(tracker.accepted(job, "gmi"))
    workers = {job["worker"] for job in sidebar.jobs_doc()["jobs"]}
    assert workers == {"worker-a pid 100", "worker-b pid 101"}
    listed = ltx2("jobs", "list", env=machine(isolated_env, "worker-c", emulator, pg_url))
    assert "worker-a pid 100" in listed.stdout and "worker-b pid 101" in listed.stdout


@pytest.mark.usefixtures("s3_env")
async def test_with_s3_a_collected_result_reaches_another_worker_through_the_bucket(
    emu_env: RunningEmulator, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ltx2_nodes.api import owner as owners

    def as_worker(name: str) -> runner.RunSettings:
        monkeypatch.setenv("LTX2_WORKER_NAME", name)
        monkeypatch.setattr(owners, "_current", None)  # this process now records itself as ``name``
        return runner.RunSettings(
            output_dir=tmp_path / name,
            journal=Journal(tmp_path / name / "journal.sqlite3", url=pg_url),
            poll_interval=0.05,
        )

    first = await runner.generate(_request(5), as_worker("worker-a"))
    downloads = sum(1 for e in emu_env.emulator.log if e.op == "download")
    first.path.rename(tmp_path / "gone.mp4")  # worker A's disk is not worker B's
    second = await runner.generate(_request(5), as_worker("worker-b"))
    assert second.from_cache and probe(second.path).width
    assert second.path.read_bytes() == (tmp_path / "gone.mp4").read_bytes()
    assert emu_env.emulator.submit_requests["gmi"] == 1
    assert sum(1 for e in emu_env.emulator.log if e.op == "download") == downloads, "the bucket served it"


async def test_the_load_job_result_node_and_the_sidebar_collect_another_worker_s_job(
    emu_env: RunningEmulator, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ltx2_nodes.api import owner as owners
    from ltx2_nodes.nodes.jobs import LTX2LoadJobResult

    # Worker A (another process) had its job accepted, then died while the provider rendered it.
    emu_env.emulator.config.processing_seconds = 3.0
    env_a = machine(tmp_path, "worker-a", emu_env, pg_url)
    first = subprocess.Popen(
        generate_args("gmi", tmp_path / "a.mp4"), env=env_a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    journal = Journal(tmp_path / "reader.sqlite3", url=pg_url)
    try:
        await asyncio.to_thread(
            wait_for, lambda: any(r.provider_job_id for r in journal.list(limit=0)), "never accepted"
        )
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(30)
    [record] = journal.list(limit=0)
    # This process is ComfyUI on worker B.
    monkeypatch.setenv("LTX2_JOURNAL_URL", pg_url)
    monkeypatch.setenv("LTX2_WORKER_NAME", "worker-b")
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(tmp_path / "comfy-out"))
    monkeypatch.setenv("LTX2_POLL_INTERVAL", "0.05")
    monkeypatch.setattr(owners, "_current", None)
    out = await LTX2LoadJobResult().load(job_id=record.id, max_frames=4)
    assert out["result"][4] == 4 and emu_env.emulator.submit_requests["gmi"] == 1
    collected = journal.get(record.id)
    assert collected.state is RecordState.DOWNLOADED and collected.owner_host == "worker-b"

    # The sidebar of worker C, where that video is not on disk, offers Collect and downloads it again.
    from ltx2_nodes.nodes import sidebar

    Path(collected.result_path).rename(tmp_path / "on-b-only.mp4")
    monkeypatch.setenv("LTX2_WORKER_NAME", "worker-c")
    monkeypatch.setenv("LTX2_OUTPUT_DIR", str(tmp_path / "worker-c-out"))
    monkeypatch.setattr(owners, "_current", None)
    [view] = sidebar.jobs_doc()["jobs"]
    assert view["can_collect"] and view["worker"].startswith("worker-b pid ")
    assert sidebar.start_collect(record.id) == record.id
    await sidebar.wait_for_collections()
    again = journal.get(record.id)
    assert again.owner_host == "worker-c" and Path(again.result_path).is_file()
    assert Path(again.result_path).is_relative_to(tmp_path / "worker-c-out")
    assert emu_env.emulator.submit_requests["gmi"] == 1


def test_a_worker_killed_while_downloading_leaves_a_job_any_worker_collects(
    emulator: RunningEmulator, tmp_path: Path, pg_url: str
) -> None:
    emulator.emulator.add_fault(Fault(provider="gmi", op="download", kind="delay", delay=8.0))
    env_a = machine(tmp_path, "worker-a", emulator, pg_url)
    env_b = machine(tmp_path, "worker-b", emulator, pg_url)
    first = subprocess.Popen(
        generate_args("gmi", tmp_path / "a.mp4"), env=env_a, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    journal = Journal(tmp_path / "reader.sqlite3", url=pg_url)
    try:
        wait_for(
            lambda: any(r.state is RecordState.SUCCEEDED for r in journal.list(limit=0)),
            "worker A never reached the download",
        )
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(30)
    [record] = journal.list(limit=0)
    overview = ltx2("jobs", env=env_b)
    assert "accepted but never collected" in overview.stdout and "worker-a pid" in overview.stdout
    resumed = ltx2("jobs", "resume", record.id, "-o", str(tmp_path / "b.mp4"), env=env_b)
    assert resumed.returncode == 0, resumed.stderr
    assert probe(tmp_path / "b.mp4").width and emulator.emulator.submit_requests["gmi"] == 1
    assert not (tmp_path / "a.mp4").exists()

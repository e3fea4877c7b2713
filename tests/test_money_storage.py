"""Storage faults. The journal and the hosting cache opened for the first time while another connection is
still writing the fresh file (before it is in WAL mode) wait for it instead of failing at once; a journal
that is locked, corrupt, not a database, read-only or on a full disk, and an output disk that fills
after the job succeeded, each end in one line naming the file, whether anything was sent and, when a job
was accepted, the journal id to resume it with."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ltx2_nodes.api.emulator import RunningEmulator
from ltx2_nodes.api.hosting import HostingCache
from ltx2_nodes.api.journal import Journal, RecordState
from ltx2_nodes.api.media.probe import probe
from ltx2_nodes.api.types import GenerationRequest, Mode


@pytest.fixture
def writer_holding(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A fresh database file in rollback mode whose writer holds its lock for half a second, as a
    second process initialising the same file would."""
    timers: list[threading.Timer] = []

    def hold(name: str) -> Path:
        path = tmp_path / name
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("CREATE TABLE other (a)")
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO other VALUES (1)")
        timer = threading.Timer(0.5, lambda: (other.execute("COMMIT"), other.close()))
        timer.start()
        timers.append(timer)
        return path

    yield hold
    for timer in timers:
        timer.join()


def test_hosting_cache_waits_for_a_writer_of_a_fresh_file(writer_holding: Callable[[str], Path]) -> None:
    cache = HostingCache(writer_holding("cache.sqlite3"))
    cache.put("ltx", "b", "upload", "abc", "ltx://x", None)
    assert cache.get("ltx", "b", "upload", "abc") == "ltx://x"
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_journal_waits_for_a_writer_of_a_fresh_file(writer_holding: Callable[[str], Path]) -> None:
    journal = Journal(writer_holding("journal.sqlite3"))
    assert journal.list(limit=0) == []
    with sqlite3.connect(journal.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- every storage failure ends in one line naming the file (real ``ltx2`` processes) ----------------

CLI = [sys.executable, "-m", "ltx2_nodes.api.cli.main"]
GENERATE = [
    "generate",
    "--poll-interval",
    "0.1",
    "--provider",
    "gmi",
    "--mode",
    "text-to-video",
    "--prompt",
    "a lighthouse",
    "--duration",
    "6",
    "--resolution",
    "1920x1080",
    "--fps",
    "25",
    "--seed",
    "3",
]


def cli_env(tmp: Path, emulator: RunningEmulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.endswith("_API_KEY") or k.startswith("LTX2_"))}
    env.update(
        LTX2_DATA_DIR=str(tmp / "data"), LTX2_CONFIG=str(tmp / "config.json"), **emulator.env(), **extra
    )
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # runs in the child only: every file it writes is capped at this size
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [*CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limit if file_size_limit is not None else None,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ltx2: error:")]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "sqlite3." not in proc.stderr, proc.stderr
    return lines[0]


def existing_journal(tmp: Path) -> Path:
    path = tmp / "data" / "journal.sqlite3"
    Journal(path)
    return path


@contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """Another process holding the journal's write lock."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.readline()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.stdin.close()
        proc.wait(30)


@contextmanager
def read_only_folder(folder: Path) -> Iterator[None]:
    """A folder nothing can be written into: permissions for a normal user; for root, which ignores
    them, the immutable attribute (skipped where the file system does not offer it)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode
    ):
        pytest.skip("no way to make a folder read-only for root here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:] = bytes((i * 37 + 11) % 256 for i in range(len(data) - 100))  # the schema page and on
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("fault", ["locked", "corrupt", "not a database", "read-only", "on a full disk"])
def test_a_journal_that_cannot_be_used_ends_in_one_line_and_sends_nothing(
    emulator: RunningEmulator, tmp_path: Path, fault: str
) -> None:
    env = cli_env(tmp_path, emulator, LTX2_JOURNAL_TIMEOUT="0.3")
    path = tmp_path / "data" / "journal.sqlite3"
    args = [*GENERATE, "-o", str(tmp_path / "out.mp4")]
    if fault == "locked":
        with held_lock(existing_journal(tmp_path)):
            proc = run_cli(args, env)
    elif fault == "corrupt":
        journal = Journal(existing_journal(tmp_path))
        for n in range(30):  # a few pages of rows
            journal.create(
                GenerationRequest(provider="gmi", mode=Mode.TEXT_TO_VIDEO, prompt=f"row {n} " * 20),
                model=None,
                base_url="http://127.0.0.1:1",
                cost=None,
            )
        garble(path)
        proc = run_cli(args, env)
    elif fault == "not a database":
        path.parent.mkdir(parents=True)
        path.write_bytes(b"these bytes are no SQLite database at all\n" * 200)
        proc = run_cli(args, env)
    elif fault == "read-only":
        existing_journal(tmp_path)
        with read_only_folder(path.parent):
            proc = run_cli(args, env)
    else:
        existing_journal(tmp_path)
        proc = run_cli(args, env, file_size_limit=1024)
    line = one_error_line(proc)
    assert str(path) in line and fault in line and "nothing was sent" in line, line
    assert emulator.emulator.submit_requests["gmi"] == 0


def test_a_full_output_disk_after_the_job_succeeded_names_the_job_to_resume(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    env = cli_env(tmp_path, emulator)
    out = tmp_path / "video" / "out.mp4"
    out.parent.mkdir()
    # Every file the process writes is capped at 100 kB: the journal fits, the video (~180 kB) does not.
    proc = run_cli([*GENERATE, "-o", str(out)], env, file_size_limit=100_000)
    line = one_error_line(proc)
    [record] = Journal(tmp_path / "data" / "journal.sqlite3").list(limit=0)
    assert str(out.parent) in line and "billed" in line and f"ltx2 jobs resume {record.id}" in line, line
    assert record.state is RecordState.SUCCEEDED and record.resumable
    assert not any(out.parent.iterdir()), "no partial file is left"
    done = run_cli(["jobs", "resume", record.id, "-o", str(out)], env)
    assert done.returncode == 0, done.stderr
    assert probe(out).width and emulator.emulator.submit_requests["gmi"] == 1

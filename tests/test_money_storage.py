"""The journal and the hosting cache opened for the first time while another connection is still
writing the fresh file (before it is in WAL mode): they wait for it instead of failing at once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ltx2_nodes.api.hosting import HostingCache
from ltx2_nodes.api.journal import Journal


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

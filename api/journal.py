"""The job journal (sqlite, WAL): every paid request, its state and its result file.

A new connection is opened for every operation, so threads (concurrent nodes) and processes (the
CLI next to ComfyUI) can share one file safely; WAL plus a busy timeout lets writers queue up
instead of failing.
"""

from __future__ import annotations

import builtins
import contextlib
import enum
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigError, InvalidInputError
from .redact import redact, redact_text
from .types import CostEstimate, GenerationRequest

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
MIN_PREFIX = 6  # shortest journal id prefix accepted by ``get``
STALE_PENDING_SECONDS = 600.0  # no submit stays unanswered this long in a live process


class RecordState(str, enum.Enum):
    PENDING = "pending"  # written before submit; not yet known to the provider
    UNCERTAIN = "uncertain"  # submit may have reached the provider, no id came back
    REJECTED = "rejected"  # provider refused the submit; nothing was billed
    SUBMITTED = "submitted"  # provider id known
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # provider finished; not downloaded yet (resumable)
    DOWNLOADED = "downloaded"  # result file on disk
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # we stopped waiting; provider may still finish (resumable)


@dataclass
class JobRecord:
    id: str
    created_at: float
    updated_at: float
    provider: str
    mode: str
    model: str | None
    request_hash: str
    params: dict[str, Any]
    base_url: str
    state: RecordState
    provider_job_id: str | None = None
    raw_status: str | None = None
    video_url: str | None = None
    result_path: str | None = None
    error: str | None = None
    cost_amount: float | None = None
    cost_unit: str | None = None
    job_model: str | None = None  # the model as the provider's submit answer named it (for polling)

    @property
    def resumable(self) -> bool:
        return self.provider_job_id is not None and self.state in (
            RecordState.SUBMITTED,
            RecordState.RUNNING,
            RecordState.SUCCEEDED,
            RecordState.INTERRUPTED,
        )

    @property
    def cost(self) -> CostEstimate | None:
        if self.cost_amount is None or self.cost_unit is None:
            return None
        return CostEstimate(self.cost_amount, self.cost_unit)


_COLUMNS = [f.name for f in fields(JobRecord)]
# Fields ``update`` may change; id, creation time and the request itself are fixed.
_UPDATABLE = set(_COLUMNS) - {"id", "created_at", "updated_at", "provider", "mode", "request_hash"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    provider TEXT NOT NULL,
    mode TEXT NOT NULL,
    model TEXT,
    request_hash TEXT NOT NULL,
    params TEXT NOT NULL,
    base_url TEXT NOT NULL,
    state TEXT NOT NULL,
    provider_job_id TEXT,
    raw_status TEXT,
    video_url TEXT,
    result_path TEXT,
    error TEXT,
    cost_amount REAL,
    cost_unit TEXT,
    job_model TEXT
);
CREATE INDEX IF NOT EXISTS jobs_request_hash ON jobs (request_hash);
CREATE INDEX IF NOT EXISTS jobs_provider_job_id ON jobs (provider_job_id);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE INDEX IF NOT EXISTS jobs_created_at ON jobs (created_at);
"""


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the database file to WAL (kept by every later connection). While another connection is
    still writing a fresh file in rollback mode, SQLite answers "locked" at once instead of waiting
    (it avoids a deadlock), so wait and try again here, up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def default_path() -> Path:
    from . import config  # late: config may read the environment at call time

    return Path(config.data_dir()) / "journal.sqlite3"


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        """``path`` None = <data_dir>/journal.sqlite3."""
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_schema()

    # --- connections ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One short-lived connection; a write holds the write lock from the start (BEGIN IMMEDIATE)
        so read-modify-write sequences never interleave with another writer."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"Cannot open the job journal at {self.path}: {exc}.",
                hint="Check that the data folder (LTX2_DATA_DIR) is writable.",
            ) from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn
        finally:
            conn.close()

    def _init_schema(self) -> None:
        with self._connect() as conn:
            enable_wal(conn, BUSY_TIMEOUT_MS / 1000)
        with self._connect(write=True) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"The job journal at {self.path} was written by a newer version of LTX-2 API Nodes "
                    f"(schema {version}, this version reads {SCHEMA_VERSION}).",
                    hint="Update the pack, or point LTX2_DATA_DIR at another folder.",
                )
            if version < SCHEMA_VERSION:
                for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- rows -------------------------------------------------------------------------------
    @staticmethod
    def _record(row: sqlite3.Row) -> JobRecord:
        values = {name: row[name] for name in _COLUMNS}
        values["params"] = json.loads(values["params"] or "{}")
        values["state"] = RecordState(values["state"])
        return JobRecord(**values)

    def _fetch(self, conn: sqlite3.Connection, record_id: str) -> JobRecord | None:
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else self._record(row)

    # --- public API -------------------------------------------------------------------------
    def create(
        self,
        req: GenerationRequest,
        *,
        model: str | None,
        base_url: str,
        cost: CostEstimate | None,
        guard: Callable[[sqlite3.Connection], None] | None = None,
    ) -> JobRecord:
        """A PENDING row, written before anything is submitted. ``guard`` (the budget check) runs in
        the same write transaction before the insert; an exception from it aborts the claim."""
        now = time.time()
        record = JobRecord(
            id=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
            provider=req.provider,
            mode=req.mode.value,
            model=model,
            request_hash=req.request_hash(),
            params=redact(req.params()),
            base_url=base_url,
            state=RecordState.PENDING,
            cost_amount=None if cost is None else float(cost.amount),
            cost_unit=None if cost is None else cost.unit,
        )
        row = {name: getattr(record, name) for name in _COLUMNS}
        row["params"] = json.dumps(record.params, sort_keys=True, default=str)
        row["state"] = record.state.value
        with self._connect(write=True) as conn:
            if guard is not None:
                guard(conn)
            conn.execute(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [row[name] for name in _COLUMNS],
            )
        return record

    def update(self, record_id: str, **fields: Any) -> JobRecord:
        """Change some fields of a record; errors are stored redacted. Returns the new record."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"Journal.update: unknown or fixed fields {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "state" and value is not None:
                value = RecordState(value).value
            elif name == "error" and value is not None:
                value = redact_text(str(value))
            elif name == "params":
                value = json.dumps(redact(value or {}), sort_keys=True, default=str)
            elif name == "result_path" and value is not None:
                value = str(value)
            values[name] = value
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._connect(write=True) as conn:
            cur = conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*values.values(), record_id])
            if cur.rowcount == 0:
                raise KeyError(f"no journal record {record_id!r}")
            record = self._fetch(conn, record_id)
        assert record is not None
        return record

    def get(self, ident: str) -> JobRecord | None:
        """By journal id (or unique prefix of at least 6 characters) or provider job id."""
        ident = (ident or "").strip()
        if not ident:
            return None
        with self._connect() as conn:
            record = self._fetch(conn, ident)
            if record is not None:
                return record
            row = conn.execute(
                "SELECT * FROM jobs WHERE provider_job_id = ? ORDER BY created_at DESC LIMIT 1", (ident,)
            ).fetchone()
            if row is not None:
                return self._record(row)
            if len(ident) < MIN_PREFIX:
                return None
            rows = conn.execute(
                "SELECT * FROM jobs WHERE substr(id, 1, ?) = ? LIMIT 2", (len(ident), ident.lower())
            ).fetchall()
        if len(rows) > 1:
            raise InvalidInputError(
                "job id",
                ident,
                "a longer prefix, the full journal id or the provider job id (see 'ltx2 jobs list')",
                reason="more than one job starts with it",
            )
        return self._record(rows[0]) if rows else None

    def list(
        self, *, limit: int = 50, states: tuple[RecordState, ...] | None = None
    ) -> builtins.list[JobRecord]:
        """Newest first."""
        sql, args = "SELECT * FROM jobs", []
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
            args.extend(RecordState(s).value for s in states)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit and limit > 0:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._connect() as conn:
            return [self._record(row) for row in conn.execute(sql, args).fetchall()]

    def unfinished(self) -> builtins.list[JobRecord]:
        """Accepted jobs never collected (resumable) plus UNCERTAIN ones. A PENDING row older than
        any submit takes means its process died mid-submit: just as uncertain, so it is listed too."""
        states = (
            RecordState.SUBMITTED,
            RecordState.RUNNING,
            RecordState.SUCCEEDED,
            RecordState.INTERRUPTED,
            RecordState.UNCERTAIN,
            RecordState.PENDING,
        )
        stale = time.time() - STALE_PENDING_SECONDS
        return [
            r
            for r in self.list(limit=0, states=states)
            if r.resumable
            or r.state is RecordState.UNCERTAIN
            or (r.state is RecordState.PENDING and r.updated_at < stale)
        ]

    def find_cached(self, request_hash: str, *, base_url: str | None = None) -> JobRecord | None:
        """Newest DOWNLOADED record with this hash whose result file still exists (and, when given,
        that came from this base URL: an emulator's result is no stand-in for the real service)."""
        sql = "SELECT * FROM jobs WHERE request_hash = ? AND state = ?"
        args: builtins.list[Any] = [request_hash, RecordState.DOWNLOADED.value]
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        sql += " ORDER BY created_at DESC, rowid DESC"
        with self._connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        for row in rows:
            record = self._record(row)
            if record.result_path and os.path.isfile(record.result_path):
                return record
        return None

    def find_resumable(self, request_hash: str, *, base_url: str) -> JobRecord | None:
        """Newest record of this request that the provider accepted and that was never collected
        (running, finished but not downloaded, or interrupted): collecting it costs nothing more."""
        states = [
            s.value
            for s in (
                RecordState.SUBMITTED,
                RecordState.RUNNING,
                RecordState.SUCCEEDED,
                RecordState.INTERRUPTED,
            )
        ]
        sql = (
            f"SELECT * FROM jobs WHERE request_hash = ? AND base_url = ? AND provider_job_id IS NOT NULL "
            f"AND state IN ({', '.join('?' * len(states))}) ORDER BY created_at DESC, rowid DESC LIMIT 1"
        )
        with self._connect() as conn:
            row = conn.execute(sql, [request_hash, base_url, *states]).fetchone()
        return None if row is None else self._record(row)

    def find_uncertain(self, request_hash: str, *, base_url: str, since: float) -> JobRecord | None:
        """Newest record of this request that became UNCERTAIN at or after ``since``: a submit of it
        that just got no answer and may have been accepted."""
        sql = (
            "SELECT * FROM jobs WHERE request_hash = ? AND base_url = ? AND state = ? AND updated_at >= ? "
            "ORDER BY updated_at DESC, rowid DESC LIMIT 1"
        )
        with self._connect() as conn:
            row = conn.execute(sql, [request_hash, base_url, RecordState.UNCERTAIN.value, since]).fetchone()
        return None if row is None else self._record(row)

    def export(self, record: JobRecord) -> dict[str, Any]:
        """JSON-safe view of a record (``ltx2 jobs show``). Holds no key: params and errors were
        redacted when written."""
        out: dict[str, Any] = {name: getattr(record, name) for name in _COLUMNS}
        out["state"] = record.state.value
        out["resumable"] = record.resumable
        out["created"] = _iso(record.created_at)
        out["updated"] = _iso(record.updated_at)
        out["params"] = redact(record.params)
        out["error"] = None if record.error is None else redact_text(record.error)
        return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")

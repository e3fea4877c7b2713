"""The job journal (sqlite, WAL): every paid request, its state and its result file.

A new connection is opened for every operation, so threads (concurrent nodes) and processes (the
CLI next to ComfyUI) can share one file safely; WAL plus a busy timeout lets writers queue up
instead of failing. The claim of a request (``claim``) is one write transaction, so equal requests
in several processes pay once. State changes go through ``api/jobstate.py`` (``set_state``), which
holds the table of allowed transitions. Every stored text is redacted of every registered key.
Storage failures (locked, corrupt, not a database, read-only, disk full) end in a ``JournalError``
that names the file.
"""

from __future__ import annotations

import builtins
import contextlib
import enum
import errno
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

from . import owner as owners
from .errors import ConfigError, InvalidInputError, JournalError
from .redact import redact, redact_keys, redact_text
from .types import CostEstimate, GenerationRequest

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
MIN_PREFIX = 6  # shortest journal id prefix accepted by ``get``
# A PENDING row without an owner (written by an older version) older than this is taken as left by a
# process that died mid-submit; rows with an owner are judged by the owner's liveness at once.
STALE_PENDING_SECONDS = 600.0
FALLBACK_NAME = "journal-accepted.jsonl"
# raw_status of a PENDING claim while its inputs are hosted: the submit has not been sent yet, so a
# process that dies now leaves nothing that can be billed. It becomes SENDING just before the submit.
PREPARING = "preparing"
RELEASED = ""  # owner_token of a claim whose run has ended: nobody is working on it
SENDING = "sending"  # accepted job ids the journal could not take at the time


class RecordState(str, enum.Enum):
    PENDING = "pending"  # claimed and written before submit; the submit may be in flight
    UNCERTAIN = "uncertain"  # submit may have reached the provider, no id came back
    REJECTED = "rejected"  # provider refused the submit (or it was never sent); nothing was billed
    SUBMITTED = "submitted"  # provider id known
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # provider finished; not downloaded yet (resumable)
    DOWNLOADED = "downloaded"  # result file on disk, checked to be a video
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # we stopped waiting; provider may still finish (resumable)


RESUMABLE_STATES = (
    RecordState.SUBMITTED,
    RecordState.RUNNING,
    RecordState.SUCCEEDED,
    RecordState.INTERRUPTED,
)
ACTIVE_STATES = (RecordState.PENDING, RecordState.SUBMITTED, RecordState.RUNNING, RecordState.SUCCEEDED)


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
    # The process holding the claim (see api/owner.py) and its heartbeat.
    owner_host: str | None = None
    owner_pid: int | None = None
    owner_started: float | None = None
    owner_token: str | None = None
    owner_seen: float | None = None
    # The checked result file: a cache hit needs the same size and content hash.
    result_size: int | None = None
    result_sha256: str | None = None

    @property
    def resumable(self) -> bool:
        return self.provider_job_id is not None and self.state in RESUMABLE_STATES

    @property
    def cost(self) -> CostEstimate | None:
        if self.cost_amount is None or self.cost_unit is None:
            return None
        return CostEstimate(self.cost_amount, self.cost_unit)

    def owner_alive(self, now: float | None = None) -> bool:
        """Whether the process that holds this record may still be working on it."""
        now = time.time() if now is None else now
        if self.owner_token == RELEASED:
            return False
        if self.owner_token == owners.current().token and owners.has_ended_here(self.id):
            return False  # this process's run of it ended, though the journal may not know yet
        if self.owner_token is None:  # written before owners were recorded
            return self.updated_at >= now - STALE_PENDING_SECONDS
        return owners.alive(
            self.owner_host,
            self.owner_pid,
            self.owner_started,
            self.owner_token,
            self.owner_seen,
            now=now,
        )

    def is_orphan(self, now: float | None = None) -> bool:
        """A claim whose process died while its submit may have been accepted (and billed)."""
        return (
            self.state is RecordState.PENDING and self.raw_status != PREPARING and not self.owner_alive(now)
        )

    def is_abandoned(self, now: float | None = None) -> bool:
        """A claim whose process died before its submit was sent: nothing can have been billed."""
        return (
            self.state is RecordState.PENDING and self.raw_status == PREPARING and not self.owner_alive(now)
        )

    @property
    def orphaned(self) -> bool:
        return self.is_orphan()


_COLUMNS = [f.name for f in fields(JobRecord)]
_OWNER_COLUMNS = ("owner_host", "owner_pid", "owner_started", "owner_token", "owner_seen")
# Fields ``update`` may change; id, creation time and the request itself are fixed, the state changes
# only through ``set_state`` and the owner only through ``claim`` / ``take_over``.
_UPDATABLE = set(_COLUMNS) - {
    "id",
    "created_at",
    "updated_at",
    "provider",
    "mode",
    "request_hash",
    "state",
    *_OWNER_COLUMNS,
}
# Stored values that must stay usable (an output URL with its signature, a path, an id) lose only the
# registered keys; free text loses everything key-like too.
_KEYS_ONLY = {"video_url", "result_path", "provider_job_id", "job_model", "base_url", "owner_host"}
_TEXT = {"model", "raw_status", "error", "cost_unit"}

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
# Columns added after schema 1, created on open when missing (added, never renamed or dropped).
_ADDED_COLUMNS = {
    "owner_host": "TEXT",
    "owner_pid": "INTEGER",
    "owner_started": "REAL",
    "owner_token": "TEXT",
    "owner_seen": "REAL",
    "result_size": "INTEGER",
    "result_sha256": "TEXT",
}


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


TIMEOUT_ENV = "LTX2_JOURNAL_TIMEOUT"  # seconds to wait for another writer before "locked"


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if 0 < value <= 3600 else default


def default_path() -> Path:
    from . import config  # late: config may read the environment at call time

    return Path(config.data_dir()) / "journal.sqlite3"


def out_of_space(path: Path) -> str | None:
    """Why a write near ``path`` cannot grow a file, when that is so: no free space on its file system,
    or a cap on file sizes for this process (RLIMIT_FSIZE). None when neither is the case."""
    try:
        st = os.statvfs(path.parent if not path.is_dir() else path)
        if st.f_bavail * st.f_frsize < (1 << 20):
            return "on a full disk"
    except (OSError, AttributeError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            return f"on a full disk (this process may write no file larger than {soft} bytes)"
    except (ImportError, OSError, ValueError):
        pass
    return None


def storage_problem(exc: BaseException, path: Path | None = None) -> str:
    """What is wrong with a database file, in words, from sqlite's or the OS's exception."""
    text = str(exc).lower()
    if path is not None and ("disk i/o" in text or "full" in text or isinstance(exc, OSError)):
        full = out_of_space(path)
        if full:
            return full
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return f"on a full disk ({exc.strerror or exc})"
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "read-only (permission denied)"
    if "locked" in text or "busy" in text:
        return "locked by another program"
    if "malformed" in text or "corrupt" in text:
        return "corrupt"
    if "not a database" in text or "encrypted" in text:
        return "not a database"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "read-only (it cannot be written here)"
    if "full" in text or "too large" in text:
        return "on a full disk"
    if "disk i/o" in text:
        return "unwritable (disk I/O error)"
    return f"unusable ({type(exc).__name__}: {redact_text(str(exc))})"


class Journal:
    def __init__(self, path: Path | None = None, *, busy_timeout: float | None = None) -> None:
        """``path`` None = <data_dir>/journal.sqlite3. ``busy_timeout`` (seconds) is how long an
        operation waits for another writer before it reports the journal as locked."""
        self.path = Path(path) if path is not None else default_path()
        if busy_timeout is None:
            busy_timeout = _env_seconds(TIMEOUT_ENV, BUSY_TIMEOUT_MS / 1000)
        self.busy_timeout = float(busy_timeout)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.error(exc) from None
        self._init_schema()
        with contextlib.suppress(JournalError):  # still refused: the file waits for the next open
            self.reconcile_fallback()

    @property
    def fallback_path(self) -> Path:
        return self.path.with_name(FALLBACK_NAME)

    def error(self, exc: BaseException, *, detail: str = "") -> JournalError:
        """The one-line error for a storage failure of this journal."""
        problem = storage_problem(exc, self.path)
        hint = {
            "locked by another program": "Wait for the other program (another ComfyUI or ltx2) and try again.",
            "corrupt": "Move the file aside (it is a SQLite database) and run again; a new journal is created.",
            "not a database": "Move the file aside or point LTX2_DATA_DIR at another folder.",
        }.get(problem, "Check that the data folder (LTX2_DATA_DIR) is writable and has free space.")
        return JournalError(
            f"The job journal {self.path} is {problem}{detail}.", path=str(self.path), hint=hint
        )

    # --- connections ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One short-lived connection; a write holds the write lock from the start (BEGIN IMMEDIATE)
        so read-modify-write sequences never interleave with another writer. Every sqlite or OS
        failure becomes a ``JournalError`` naming the file."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise self.error(exc) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if write:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            else:
                yield conn
        except (sqlite3.Error, OSError) as exc:
            raise self.error(exc) from None
        finally:
            conn.close()

    def _init_schema(self) -> None:
        with self._connect() as conn:
            try:
                enable_wal(conn, self.busy_timeout)
            except sqlite3.Error as exc:
                raise self.error(exc) from None
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
            present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in present:
                    conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

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

    @staticmethod
    def _stored(name: str, value: Any) -> Any:
        """A value as it is written: state as its word, params as redacted JSON, text redacted."""
        if value is None:
            return None
        if name == "state":
            return RecordState(value).value
        if name == "params":
            return json.dumps(redact(value or {}), sort_keys=True, default=str)
        if name in _KEYS_ONLY:
            return redact_keys(str(value))
        if name in _TEXT:
            return redact_text(str(value))
        return value

    def _insert(self, conn: sqlite3.Connection, record: JobRecord) -> None:
        conn.execute(
            f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            [self._stored(name, getattr(record, name)) for name in _COLUMNS],
        )

    @staticmethod
    def _new_record(
        req: GenerationRequest,
        *,
        model: str | None,
        base_url: str,
        cost: CostEstimate | None,
        owner: owners.Owner | None,
    ) -> JobRecord:
        now = time.time()
        return JobRecord(
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
            owner_host=None if owner is None else owner.host,
            owner_pid=None if owner is None else owner.pid,
            owner_started=None if owner is None else owner.started,
            owner_token=None if owner is None else owner.token,
            owner_seen=None if owner is None else now,
        )

    def _write(self, conn: sqlite3.Connection, record_id: str, values: dict[str, Any]) -> JobRecord:
        values = {name: self._stored(name, value) for name, value in values.items()}
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in values)
        cur = conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*values.values(), record_id])
        if cur.rowcount == 0:
            raise KeyError(f"no journal record {record_id!r}")
        record = self._fetch(conn, record_id)
        assert record is not None
        return record

    # --- public API -------------------------------------------------------------------------
    def create(
        self,
        req: GenerationRequest,
        *,
        model: str | None,
        base_url: str,
        cost: CostEstimate | None,
        owner: owners.Owner | None = None,
        guard: Callable[[sqlite3.Connection], None] | None = None,
    ) -> JobRecord:
        """A PENDING row, written before anything is submitted (no claim checks: see ``claim``).
        ``guard(conn)`` runs in the same write transaction before the insert, as in ``claim``."""
        record = self._new_record(req, model=model, base_url=base_url, cost=cost, owner=owner)
        with self._connect(write=True) as conn:
            if guard is not None:
                guard(conn)
            self._insert(conn, record)
        return record

    def claim(
        self,
        req: GenerationRequest,
        *,
        model: str | None,
        base_url: str,
        cost: CostEstimate | None,
        reuse: bool = True,
        new_take: bool = False,
        skip: frozenset[str] = frozenset(),
        waited_for: frozenset[str] = frozenset(),
        guard: Callable[[sqlite3.Connection], None] | None = None,
        owner: owners.Owner | None = None,
    ) -> Claim:
        """Claim ``req`` at ``base_url`` in one write transaction (BEGIN IMMEDIATE), before any submit.

        What is found first decides (see ``Claim``); only when nothing stands in the way is a PENDING
        row owned by this process inserted, after ``guard(conn)`` (inside the same transaction: an
        exception from it inserts nothing). ``reuse``: an equal earlier result or job may serve this
        request (fixed seed, cache on). ``new_take``: the user asked to buy a new take even over a
        claim whose process died mid-submit. ``skip``: downloaded records the caller found unusable;
        ``waited_for``: claims this request already waited for."""
        owner = owner or owners.current()
        now = time.time()
        with self._connect(write=True) as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE request_hash = ? AND base_url = ? ORDER BY created_at DESC, rowid DESC",
                (req.request_hash(), redact_keys(base_url)),
            ).fetchall()
            records = [self._record(row) for row in rows]
            from .jobstate import abandon_orphans, close_unsent, collect_again  # state changes are jobstate's

            for record in records:
                if record.is_abandoned(now):
                    close_unsent(self, conn, record)
            records = [r for r in records if not r.is_abandoned(now)]
            if not new_take:
                for record in records:
                    if record.is_orphan(now):
                        return Claim(ClaimKind.ORPHANED, record)
            if reuse:
                for record in records:
                    if record.state is RecordState.DOWNLOADED and record.id not in skip:
                        return Claim(ClaimKind.CACHED, record)
                for record in records:
                    if record.state in ACTIVE_STATES and record.owner_alive(now):
                        return Claim(ClaimKind.WAIT, record)
                for record in records:
                    if record.resumable:
                        owners.working_here(record.id)
                        taken = self._write(conn, record.id, self._owner_values(owner, now))
                        return Claim(ClaimKind.COLLECT, collect_again(self, conn, taken))
                for record in records:
                    if record.id in waited_for and record.state is RecordState.UNCERTAIN:
                        return Claim(ClaimKind.UNANSWERED, record)
            if new_take:
                abandon_orphans(self, conn, [r for r in records if r.is_orphan(now)])
            if guard is not None:
                guard(conn)
            record = self._new_record(req, model=model, base_url=base_url, cost=cost, owner=owner)
            record.raw_status = PREPARING
            self._insert(conn, record)
            return Claim(ClaimKind.NEW, record)

    @staticmethod
    def _owner_values(owner: owners.Owner, now: float) -> dict[str, Any]:
        return {
            "owner_host": owner.host,
            "owner_pid": owner.pid,
            "owner_started": owner.started,
            "owner_token": owner.token,
            "owner_seen": now,
        }

    def take_over(self, record_id: str, owner: owners.Owner | None = None) -> JobRecord:
        """Make this process the owner of a record (an explicit resume collects it)."""
        owners.working_here(record_id)
        with self._connect(write=True) as conn:
            return self._write(conn, record_id, self._owner_values(owner or owners.current(), time.time()))

    def release(self, record_id: str, owner: owners.Owner | None = None) -> None:
        """The run holding this claim has ended (whatever its outcome): nobody works on it any more, so
        an equal request need not wait for it."""
        token = (owner or owners.current()).token
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE jobs SET owner_token = ?, owner_seen = ? WHERE id = ? AND owner_token = ?",
                (RELEASED, time.time(), record_id, token),
            )

    def heartbeat(self, record_id: str, owner: owners.Owner | None = None) -> None:
        """A live owner tells the others it is still working on its claim."""
        token = (owner or owners.current()).token
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE jobs SET owner_seen = ? WHERE id = ? AND owner_token = ?",
                (time.time(), record_id, token),
            )

    def set_state(
        self,
        record_id: str,
        state: RecordState,
        *,
        conn: sqlite3.Connection | None = None,
        **changes: Any,
    ) -> JobRecord:
        """Move a record to ``state`` (with other field changes) if ``api/jobstate.py``'s table allows
        it from the state it is in, checked inside the write. Only jobstate calls this."""
        from .jobstate import check_transition

        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TypeError(f"Journal.set_state: unknown or fixed fields {sorted(unknown)}")
        state = RecordState(state)

        def apply(c: sqlite3.Connection) -> JobRecord:
            current = self._fetch(c, record_id)
            if current is None:
                raise KeyError(f"no journal record {record_id!r}")
            check_transition(current.state, state)
            return self._write(c, record_id, {**changes, "state": state})

        if conn is not None:
            return apply(conn)
        with self._connect(write=True) as c:
            return apply(c)

    def update(self, record_id: str, **changes: Any) -> JobRecord:
        """Change fields other than the state (e.g. where the result file went); stored redacted."""
        if "state" in changes:
            raise TypeError("Journal.update: the state changes through api.jobstate (Journal.set_state)")
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TypeError(f"Journal.update: unknown or fixed fields {sorted(unknown)}")
        with self._connect(write=True) as conn:
            return self._write(conn, record_id, changes)

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
        """Accepted jobs never collected (resumable), UNCERTAIN ones, and claims whose process died
        while the submit was in flight (known at once from the owner; they may have been billed)."""
        states = (*RESUMABLE_STATES, RecordState.UNCERTAIN, RecordState.PENDING)
        return [
            r
            for r in self.list(limit=0, states=states)
            if r.resumable or r.state is RecordState.UNCERTAIN or r.orphaned
        ]

    def find_cached(self, request_hash: str, *, base_url: str | None = None) -> JobRecord | None:
        """Newest DOWNLOADED record with this hash whose result file is still the file it recorded
        (same size and content hash), and, when given, that came from this base URL: an emulator's
        result is no stand-in for the real service."""
        sql = "SELECT * FROM jobs WHERE request_hash = ? AND state = ?"
        args: builtins.list[Any] = [request_hash, RecordState.DOWNLOADED.value]
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(redact_keys(base_url))
        sql += " ORDER BY created_at DESC, rowid DESC"
        with self._connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        for row in rows:
            record = self._record(row)
            if result_file_intact(record):
                return record
        return None

    # --- accepted ids the journal could not take ------------------------------------------
    def remember_accepted(self, record_id: str, job_id: str, job_model: str | None) -> Path:
        """Append an accepted job's id to the small fallback file next to the journal (fsynced), for
        when the journal itself refuses the write. Reconciled into the journal at the next open."""
        line = json.dumps(
            {
                "id": record_id,
                "provider_job_id": redact_keys(job_id),
                "job_model": job_model,
                "at": time.time(),
            }
        )
        path = self.fallback_path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return path

    def reconcile_fallback(self) -> int:
        """Write the job ids kept in the fallback file into the journal, then empty the file.
        Returns how many were applied. A journal that still refuses keeps the file for next time."""
        path = self.fallback_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        except OSError:
            return 0
        from .jobstate import apply_remembered_accept

        applied = 0
        with self._connect(write=True) as conn:
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                    record_id, job_id = str(entry["id"]), str(entry["provider_job_id"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line of a crash: nothing to apply
                applied += apply_remembered_accept(self, conn, record_id, job_id, entry.get("job_model"))
        with contextlib.suppress(OSError):
            path.unlink()
        return applied

    def export(self, record: JobRecord) -> dict[str, Any]:
        """JSON-safe view of a record (``ltx2 jobs show``). Holds no key: every column was redacted
        when written, and is redacted again here."""
        out: dict[str, Any] = {name: getattr(record, name) for name in _COLUMNS}
        out["state"] = record.state.value
        out["resumable"] = record.resumable
        out["created"] = _iso(record.created_at)
        out["updated"] = _iso(record.updated_at)
        out["params"] = redact(record.params)
        for name in _KEYS_ONLY | _TEXT:
            if isinstance(out.get(name), str):
                out[name] = redact_keys(out[name]) if name in _KEYS_ONLY else redact_text(out[name])
        return out


class ClaimKind(str, enum.Enum):
    NEW = "new"  # a PENDING row of this process: submit now
    CACHED = "cached"  # an equal request was downloaded (the caller checks the file)
    WAIT = "wait"  # an equal request's live owner is submitting or collecting it: wait and ask again
    COLLECT = "collect"  # an equal request's accepted job, never collected, now owned by this process
    ORPHANED = "orphaned"  # an equal request's process died mid-submit: it may have been billed
    UNANSWERED = "unanswered"  # the equal request waited for got no answer (uncertain): not sent again


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    record: JobRecord


def file_digest(path: str | Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file."""
    import hashlib

    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def result_file_intact(record: JobRecord) -> bool:
    """Whether the record's result file is still the file that was checked and recorded."""
    if not record.result_path or record.result_size is None or not record.result_sha256:
        return False
    try:
        if os.path.getsize(record.result_path) != record.result_size:
            return False
        return file_digest(record.result_path) == (record.result_size, record.result_sha256)
    except OSError:
        return False


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")

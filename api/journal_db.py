"""The journal's SQL dialects: the embedded SQLite file and a shared PostgreSQL database (a farm).

Everything that differs between the two lives here: how to connect, placeholders, how a write
transaction takes the one write lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction-level
advisory lock, so a claim and the budget check inside it stay one atomic step across machines), column
types and the schema version. The journal, the jobstate table and the budget guard see one kind of
connection: ``conn.execute(sql, args)`` with ``?`` placeholders, rows readable by index and by name.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from .errors import ConfigError

# One key for the advisory lock every journal write takes (any fixed 64-bit number: "LTX2JRNL").
WRITE_LOCK_KEY = 0x4C5458324A524E4C & 0x7FFFFFFFFFFFFFFF
INSTALL_HINT = "pip install 'ltx2-nodes[postgres]'"


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the journal, jobstate and the budget guard use of a connection (sqlite3's subset)."""

    def execute(self, sql: str, args: Sequence[Any] = ..., /) -> Cursor: ...


class Row(tuple):  # type: ignore[type-arg]
    """A PostgreSQL row read like ``sqlite3.Row``: by index and by column name."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection speaking the journal's ``?`` SQL."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self.raw.execute(_pg_sql(sql), list(args))

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != self.raw.info.transaction_status.IDLE


def _row_factory(cursor: Any) -> Any:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


def psycopg_module() -> Any:
    """psycopg 3, imported only when a PostgreSQL journal is configured."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            f"The journal URL points at PostgreSQL, but psycopg is not installed: run {INSTALL_HINT}."
        ) from None
    return psycopg


# --- schema -----------------------------------------------------------------------------------
# Version 1: the jobs table with the owner of a claim and the checked result file (SQLite files of
# version 1 written before those columns existed get them added on open). A later version adds a
# step to ``migrate`` of both dialects and raises SCHEMA_VERSION; a database of a newer version is refused.
JOBS_COLUMNS_V1 = [
    ("id", "TEXT PRIMARY KEY"),
    ("created_at", "REAL NOT NULL"),
    ("updated_at", "REAL NOT NULL"),
    ("provider", "TEXT NOT NULL"),
    ("mode", "TEXT NOT NULL"),
    ("model", "TEXT"),
    ("request_hash", "TEXT NOT NULL"),
    ("params", "TEXT NOT NULL"),
    ("base_url", "TEXT NOT NULL"),
    ("state", "TEXT NOT NULL"),
    ("provider_job_id", "TEXT"),
    ("raw_status", "TEXT"),
    ("video_url", "TEXT"),
    ("result_path", "TEXT"),
    ("error", "TEXT"),
    ("cost_amount", "REAL"),
    ("cost_unit", "TEXT"),
    ("job_model", "TEXT"),
]
ADDED_COLUMNS_V2 = {
    "owner_host": "TEXT",
    "owner_pid": "INTEGER",
    "owner_started": "REAL",
    "owner_token": "TEXT",
    "owner_seen": "REAL",
    "result_size": "INTEGER",
    "result_sha256": "TEXT",
}
INDEXES = [
    "CREATE INDEX IF NOT EXISTS jobs_request_hash ON jobs (request_hash)",
    "CREATE INDEX IF NOT EXISTS jobs_provider_job_id ON jobs (provider_job_id)",
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)",
    "CREATE INDEX IF NOT EXISTS jobs_created_at ON jobs (created_at)",
]
SCHEMA_VERSION = 1


def _pg_type(kind: str) -> str:
    # REAL is single precision in PostgreSQL: timestamps and amounts need double precision; a file
    # size may pass 2 GiB.
    return kind.replace("REAL", "DOUBLE PRECISION").replace("INTEGER", "BIGINT")


def newer_schema_error(where: str, version: int) -> ConfigError:
    return ConfigError(
        f"The job journal {where} was written by a newer version of LTX-2 API Nodes "
        f"(schema {version}, this version reads {SCHEMA_VERSION}).",
        hint="Update the pack on every machine that uses this journal, or point it at another journal.",
    )


# --- SQLite -------------------------------------------------------------------------------------
class SqliteDialect:
    name = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)

    def __init__(self, path: Any, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout

    @contextlib.contextmanager
    def connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
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
        finally:
            conn.close()

    def migrate(self, conn: sqlite3.Connection, where: str) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise newer_schema_error(where, version)
        if version < 1:
            cols = ", ".join(f"{n} {k}" for n, k in JOBS_COLUMNS_V1)
            conn.execute(f"CREATE TABLE IF NOT EXISTS jobs ({cols})")
            for statement in INDEXES:
                conn.execute(statement)
        # Version 1 files written before owners were recorded may lack some of these: add what is missing.
        present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
        for name, kind in ADDED_COLUMNS_V2.items():
            if name not in present:
                conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


# --- PostgreSQL -----------------------------------------------------------------------------------
class PostgresDialect:
    name = "postgresql"

    def __init__(self, url: str, connect_timeout: float) -> None:
        self.url = url
        self.busy_timeout = max(0.05, float(connect_timeout))
        self.connect_timeout = max(1, int(connect_timeout))
        self.psycopg = psycopg_module()
        self.errors: tuple[type[BaseException], ...] = (self.psycopg.Error, OSError)

    @contextlib.contextmanager
    def connect(self, *, write: bool) -> Iterator[PgConnection]:
        conn = self.psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=self.connect_timeout,
            application_name="ltx2-nodes",
        )
        try:
            conn.row_factory = _row_factory
            wrapped = PgConnection(conn)
            if write:
                with conn.transaction():
                    # The one write lock, held to the end of the transaction: writers queue up as on
                    # SQLite, so a claim's read, the budget sum and the insert are one atomic step.
                    # Waiting for another writer ends after the busy timeout, as on SQLite.
                    conn.execute(f"SET LOCAL lock_timeout = '{int(self.busy_timeout * 1000)}ms'")
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
                    yield wrapped
            else:
                yield wrapped
        finally:
            conn.close()

    def migrate(self, conn: PgConnection, where: str) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS ltx2_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM ltx2_schema").fetchone()
        version = int(row[0] or 0)
        if version > SCHEMA_VERSION:
            raise newer_schema_error(where, version)
        if version < 1:
            # rowid: the insertion order the journal sorts ties by (SQLite's own rowid).
            cols = ", ".join(f"{n} {_pg_type(k)}" for n, k in JOBS_COLUMNS_V1)
            conn.execute(f"CREATE TABLE IF NOT EXISTS jobs ({cols}, rowid BIGSERIAL)")
            for statement in INDEXES:
                conn.execute(statement)
        if version < 1:
            for name, kind in ADDED_COLUMNS_V2.items():
                conn.execute(f"ALTER TABLE jobs ADD COLUMN IF NOT EXISTS {name} {_pg_type(kind)}")
        if version < SCHEMA_VERSION:
            conn.execute("DELETE FROM ltx2_schema")
            conn.execute("INSERT INTO ltx2_schema (version) VALUES (?)", (SCHEMA_VERSION,))

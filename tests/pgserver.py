"""A real PostgreSQL server for the tests: Debian's binaries, ``initdb`` + ``pg_ctl`` in a temporary
folder, listening on a free loopback port, with a password-authenticated role (so the password's
redaction is exercised). Run as the ``postgres`` user when the tests run as root."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROLE = "ltx2farm"
# A password with characters a URL must percent-encode: redaction must catch both forms.
PASSWORD = "Pw:" + uuid.uuid4().hex[:12] + "/#@"


def find_bin_dir() -> Path | None:
    """The folder of ``initdb`` / ``pg_ctl``: $PATH first, else Debian's versioned folders."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bin_dir: Path
    root: Path
    port: int = field(default_factory=_free_port)
    _as: list[str] = field(default_factory=list)
    _databases: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as, *cmd], capture_output=True, text=True, timeout=timeout, check=True, cwd=self.root
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            runuser = shutil.which("runuser")
            self._as = (
                [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]
            )
            if not runuser:
                raise RuntimeError("runuser is missing")
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        self.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}' CREATEDB")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def psql(self, sql: str) -> str:
        out = self._run(
            str(self.bin_dir / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql,
        )  # fmt: skip
        return out.stdout

    def url(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{ROLE}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new empty database owned by the test role (one per test: no shared rows)."""
        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        self.psql(f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0")
        return self.url(name)


def start_server() -> PgServer | str:
    """A running server, or the reason why none can be started (the tests that need one skip)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return "PostgreSQL's initdb was not found (install Debian's postgresql-15)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'ltx2-nodes[postgres]')"
    server = PgServer(bin_dir=bin_dir, root=Path(tempfile.mkdtemp(prefix="ltx2-pg-")))
    try:
        server.init()
    except (subprocess.SubprocessError, OSError, RuntimeError, KeyError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        shutil.rmtree(server.root, ignore_errors=True)
        return f"PostgreSQL could not be started: {str(detail).strip()[:300]}"
    return server


def remove(server: PgServer) -> None:
    if server.running():
        try:
            server.stop()
        except subprocess.SubprocessError:
            pass
    shutil.rmtree(server.root, ignore_errors=True)

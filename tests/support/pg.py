"""A real, throw-away PostgreSQL server for the test session.

``PostgresServer`` runs ``initdb`` in a temporary directory, starts ``postgres`` on a free
loopback port with a private socket directory, and can be stopped and started again on the
same port (fault tests stop it under a running service). When the tests run as root, the
server runs as the OS user ``postgres`` (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.servers import free_port

SUPERUSER = "postgres"
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bindir() -> Path:
    """The directory with ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[str] = []
    if configured := os.environ.get("NOGILBENCH_PG_BINDIR"):
        candidates.append(configured)
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versioned, key=lambda p: int(re.sub(r"\D", "", p) or 0), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).resolve().parent))
    for candidate in candidates:
        bindir = Path(candidate)
        if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
        f"{candidates or 'any known location'}; install postgresql (Debian: apt-get install "
        "postgresql) or set NOGILBENCH_PG_BINDIR"
    )


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory; trust auth on loopback."""

    def __init__(self, bindir: Path | None = None, port: int | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = SUPERUSER
        self._run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._run_as = pwd.getpwnam(SUPERUSER)
        self.base = Path(tempfile.mkdtemp(prefix="nogilbench-pg-"))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.logfile = self.base / "postgres.log"
        self.socket_dir.mkdir()
        if self._run_as is not None:
            for path in (self.base, self.socket_dir):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        self._databases = 0
        self._initdb()

    # ---------------------------------------------------------------- process control

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bindir / tool), *args]
        if self._run_as is not None:
            return ["runuser", "-u", self._run_as.pw_name, "--", *command]
        return command

    def _run(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        done = subprocess.run(
            self._command(tool, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.base,
            check=False,
        )
        if done.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n{log}"
            )
        return done.stdout

    def _initdb(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        """Start (or restart after ``stop``) on the same port; return once it accepts work."""
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses={self.host} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
            timeout=START_TIMEOUT_S + 10,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections on {self.port}")
            time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: smart, fast or immediate); a no-op when already down."""
        if not self.is_running():
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        done = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data_dir), "status"),
            capture_output=True,
            timeout=30,
            cwd=self.base,
            check=False,
        )
        return done.returncode == 0

    def is_ready(self) -> bool:
        done = subprocess.run(
            self._command("pg_isready", "-h", self.host, "-p", str(self.port), "-U", self.user),
            capture_output=True,
            timeout=30,
            cwd=self.base,
            check=False,
        )
        return done.returncode == 0

    def close(self) -> None:
        """Stop the server and delete its directory."""
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    # ---------------------------------------------------------------- databases and URLs

    def url_for(self, database: str = "postgres", driver: str = "psycopg") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the maintenance database ``postgres``."""
        return self.url_for("postgres")

    def new_database(self, name: str | None = None) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._databases += 1
        base = re.sub(r"[^a-z0-9_]", "_", (name or "test").lower())
        database = f"{base[:50]}_{self._databases}"
        self._run("createdb", "-h", self.host, "-p", str(self.port), "-U", self.user, database)
        return self.url_for(database)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

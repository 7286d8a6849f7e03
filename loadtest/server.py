"""The image service in a subprocess on 127.0.0.1: started, waited for, stopped or killed.

Each `ServerProcess` gets its own data folder and database URL from the caller, a free
loopback port, and the interpreter and `-X gil=` flag to run under, so the same app can be
measured on stock CPython and on the free-threaded build with the GIL on or off. The tests
start the service with it too, with their own settings and, where they need one, their own
entry point (`args`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from nogilbench.paths import PROJECT_ROOT

DEFAULT_START_TIMEOUT_S = 60.0
TEST_SECRET = "nogilbench-perf-secret-" + "0123456789abcdef" * 3
# The service's settings for a load run, unless the caller gives its own (`settings`).
LOAD_SETTINGS = {
    "SECRET_KEY": TEST_SECRET,
    "BCRYPT_ROUNDS": "4",  # auth is not what these runs measure
    # A loopback test server: the load reads /api/system without a token, and per-user
    # quotas are not what these runs measure either.
    "PUBLIC_OPERATIONS": "true",
    "QUOTA_IMAGES": str(10**9),
    "QUOTA_STORED_BYTES": str(2**62),
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFailed(RuntimeError):
    """The server did not come up (its log tail is in the message)."""


@dataclass
class ServerProcess:
    """`with ServerProcess(python, data_dir, db_url) as server: server.url ...`"""

    python: str
    data_dir: Path
    database_url: str
    gil: int | None = None  # -X gil=0/1 on a free-threaded build; None: the interpreter default
    env: dict[str, str] = field(default_factory=dict)  # extra settings (MAX_PIXELS=...)
    port: int = 0
    workers: int = 1  # uvicorn --workers: several processes behind one socket
    log_path: Path | None = None
    # Another entry point than `-m uvicorn api.main:app` (a test's wrapper, say): the
    # arguments after the interpreter and its -X flag, "{port}" standing for the port.
    args: list[str] | None = None
    # The service's settings instead of LOAD_SETTINGS; DATABASE_URL and DATA_DIR always come
    # from the fields above, and `env` goes on top of both.
    settings: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        flags = [] if self.gil is None else ["-X", f"gil={self.gil}"]
        if self.args is not None:
            return [self.python, *flags, *(a.replace("{port}", str(self.port)) for a in self.args)]
        return [
            self.python,
            *flags,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "VIRTUAL_ENV")) and key != "DATABASE_URL"
        }
        env.update(LOAD_SETTINGS if self.settings is None else self.settings)
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "DATA_DIR": str(self.data_dir),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        env.update(self.env)
        return env

    def start(self, timeout_s: float = DEFAULT_START_TIMEOUT_S) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self.log_path = self.log_path or self.data_dir / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=PROJECT_ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our signals reach only this server
            )
        finally:
            log.close()
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise ServerFailed(f"the server exited with {code}: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.kill()
        raise ServerFailed(f"the server did not answer /health in {timeout_s:.0f} s: {self.log()}")

    def log(self, tail: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-tail:]

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL if it does not end in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the server and anything it started (a crash: no shutdown code runs)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its tree
        self.process.wait(30)

    def __enter__(self) -> ServerProcess:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

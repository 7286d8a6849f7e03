"""A real, throw-away Redis server (Debian's `redis-server`) for the tests and the load runs.

``RedisServer`` starts `redis-server` on a free loopback port with a private working
directory, no persistence and no protected-mode surprises, and stops it again. The tests of
shared limits and of the job engine use it the way PostgreSQL is used (tests/support/pg.py);
the engine's pool measurements (loadtest/engine_pools.py) use it as their broker.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from loadtest.server import free_port

START_TIMEOUT_S = 30.0


class RedisUnavailable(RuntimeError):
    """`redis-server` is not installed."""


class RedisServer:
    """One redis-server process on 127.0.0.1; `url` is its redis:// address (database 0)."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(
                "redis-server not found; install it (Debian: apt-get install redis-server)"
            )
        self.binary = binary
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.directory = Path(tempfile.mkdtemp(prefix="nogilbench-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise RuntimeError(f"redis-server exited at start: {error.strip()}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in time")

    def ping(self) -> bool:
        """True when the server answers PING (a raw RESP exchange: no client library)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as connection:
                connection.sendall(b"*1\r\n$4\r\nPING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

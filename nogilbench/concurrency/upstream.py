"""A loopback upstream for the I/O workloads, and its clients.

`Upstream(files, latency_s)` serves a fixed list of files over HTTP/1.1 on 127.0.0.1 (an
ephemeral port), each response held back `latency_s` as an upstream service or an object
store would: the cell's process starts it in a thread of its own (an asyncio server: a
thousand waiting requests cost no thread each) before any timing and stops it at the end.
Requests are bounded (one line and a few headers, `GET /<index>` only, a slot each among
`MAX_CONNECTIONS`), and it listens on the loopback interface only.

The clients compute the same bytes two ways: `fetch` blocks (http.client; threads, processes
and sub-interpreters' main-interpreter step call it) and its async form `afetch` uses
asyncio streams, so the `asyncio-loop` method overlaps every item's wait on one thread.

Workloads (built-ins of `nogilbench.concurrency.workloads`):
- `io`: fetch one sample image (the wait), then a SHA-1 of its bytes (next to nothing);
- `mixed`: fetch it, then the Pillow pipeline (what the image service does per request).

Stdlib only at import time (the `io` kernel also runs in sub-interpreters).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import threading
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from nogilbench.concurrency.asyncform import with_async
from nogilbench.concurrency.protocol import Workload

LATENCY_S = 0.02  # per request: a nearby upstream; 100 items wait 2 s in sync
HOST = "127.0.0.1"
MAX_CONNECTIONS = 512  # above the largest pool (base.MAX_WORKERS = 256)
MAX_HEADER_LINES = 32
MAX_LINE = 4096
CLIENT_TIMEOUT_S = 30.0
START_TIMEOUT_S = 10.0
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
IO_WORKERS = (1, 2, 4, 8, 16, 32, 64)  # waiting work: well past the cores
MIXED_WORKERS = (1, 2, 4, 8, 16)


class UpstreamError(RuntimeError):
    """The upstream answered something other than 200 with a body."""


class Upstream:
    """The server, as a context manager yielding one URL per file (in the files' order)."""

    def __init__(self, files: list[str], latency_s: float = LATENCY_S) -> None:
        if latency_s < 0:
            raise ValueError(f"latency must be >= 0 s, got {latency_s}")
        self.bodies = [Path(file).read_bytes() for file in files]
        self.latency_s = latency_s
        self.port = 0
        self.served = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="nogilbench-upstream", daemon=True)

    def urls(self) -> list[str]:
        return [f"http://{HOST}:{self.port}/{index}" for index in range(len(self.bodies))]

    def __enter__(self) -> list[str]:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._failure is not None:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the loopback upstream did not start: {self._failure}")
        return self.urls()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(START_TIMEOUT_S)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by __enter__, never lost in a thread
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        slots = asyncio.Semaphore(MAX_CONNECTIONS)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            async with slots:
                try:
                    await self._answer(reader, writer)
                except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                    pass  # the client went away: nothing to answer
                finally:
                    writer.close()

        server = await asyncio.start_server(handle, HOST, 0, limit=MAX_LINE)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopped.wait()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(CLIENT_TIMEOUT_S):
            request = (await reader.readline()).decode("latin-1").split()
            for _ in range(MAX_HEADER_LINES):
                if (await reader.readline()) in (b"\r\n", b"\n", b""):
                    break
        body = self._body(request)
        if body is None:
            writer.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        else:
            await asyncio.sleep(self.latency_s)  # the upstream's own time
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
            )
            self.served += 1
        await writer.drain()

    def _body(self, request: list[str]) -> bytes | None:
        if len(request) != 3 or request[0] != "GET" or not request[1][1:].isdigit():
            return None
        index = int(request[1][1:])
        return self.bodies[index] if index < len(self.bodies) else None


# ------------------------------------------------------------------ the clients


def _address(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise ValueError(f"an upstream URL looks like http://127.0.0.1:PORT/N, got {url!r}")
    return parts.hostname, parts.port, parts.path or "/"


async def afetch(url: str) -> bytes:
    """GET `url` over asyncio streams: the wait yields the event loop to other items."""
    host, port, path = _address(url)
    async with asyncio.timeout(CLIENT_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status = (await reader.readline()).split()
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(status) < 2 or status[1] != b"200" or length is None:
                raise UpstreamError(f"GET {url}: {b' '.join(status).decode('latin-1')}")
            return await reader.readexactly(length)
        finally:
            writer.close()
            await writer.wait_closed()


@with_async(afetch)
def fetch(url: str) -> bytes:
    """GET `url`, blocking the calling thread for the upstream's latency."""
    host, port, path = _address(url)
    connection = http.client.HTTPConnection(host, port, timeout=CLIENT_TIMEOUT_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise UpstreamError(f"GET {url}: {response.status} {response.reason}")
        return body
    finally:
        connection.close()


def digest_bytes(data: bytes) -> str:
    """The `io` workload's work: next to nothing, so the wait is what is measured."""
    return hashlib.sha1(data).hexdigest()[:16]


# ------------------------------------------------------------------ the workloads


def serve_paths(latency_s: float = LATENCY_S) -> Any:
    """items(paths) for an upstream workload: the server over the paths, its URLs as items."""

    def items(paths: list[str]) -> Upstream:
        return Upstream(paths, latency_s)

    return items


def io_workload(latency_s: float = LATENCY_S) -> Workload:
    """`io`: wait on the network for one image, hash it (the wait is the work)."""
    return Workload(
        "io", digest_bytes, load=fetch, items=serve_paths(latency_s),
        suggested_workers=IO_WORKERS,
        description=f"GET one image from a loopback upstream ({latency_s * 1000:g} ms latency)",
    )  # fmt: skip


def mixed_workload(latency_s: float = LATENCY_S) -> Workload:
    """`mixed`: fetch one image over HTTP, then the Pillow pipeline on it."""
    from nogilbench.concurrency.workloads import pillow_compute  # Pillow: only here

    return Workload(
        "mixed", pillow_compute, load=fetch, items=serve_paths(latency_s),
        suggested_workers=MIXED_WORKERS,
        description=f"GET one image ({latency_s * 1000:g} ms latency), then the Pillow pipeline",
    )  # fmt: skip

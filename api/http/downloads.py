"""Downloads that are all or nothing: the file is opened before the response starts.

A stored file is opened (and hashed, for the ETag) while the request can still answer with an
error envelope. The body is then streamed from that open handle, so deleting or replacing the
file afterwards (a `DELETE`, a new `process`, a start-up sweep) cannot cut a 200 short: on
POSIX an unlinked or renamed-over file lives on for the handles already open on it.
`Content-Length` is always sent, never chunked encoding, so a client can tell a complete body.

`Range: bytes=...` (one range) answers 206; a range past the end answers 416. A Range header
that is not a single byte range is ignored (a full 200), as RFC 9110 allows, and so is one
longer than MAX_RANGE_CHARS or with a position of more than MAX_POSITION_DIGITS digits (no
stored file is that large; an unbounded number would cost an unbounded parse); `If-Range` with
an ETag other than the current one also gets the full file.

The ETag is the SHA-256 of the file, computed once per stored file (`DIGESTS`), not on every
request: a one-byte Range request costs the same on a large file as on a small one.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from nogilbench.errors import NogilbenchError

CHUNK_BYTES = 64 * 1024
MAX_RANGE_CHARS = 64
MAX_POSITION_DIGITS = 18  # 10^18 bytes: beyond any stored file, and within int64
_SINGLE_RANGE = re.compile(
    rf"^bytes=(\d{{0,{MAX_POSITION_DIGITS}}})-(\d{{0,{MAX_POSITION_DIGITS}}})$"
)


class RangeNotSatisfiable(NogilbenchError):
    error_code = "RANGE_NOT_SATISFIABLE"

    def __init__(self, size: int) -> None:
        super().__init__(f"the requested range is outside the file's {size} bytes")
        self.headers = {"Content-Range": f"bytes */{size}"}


@dataclass
class OpenedFile:
    """An open stored file with the size and strong ETag of exactly the bytes it holds."""

    handle: BinaryIO
    size: int
    etag: str

    def close(self) -> None:
        self.handle.close()


class DigestCache:
    """SHA-256 of stored files, by the identity of the file version that was hashed.

    Stored files are never changed in place: each version is written under a temporary name
    and renamed to a fresh random name (api/core/storage.py). So the name, device, inode, size and
    modification time of an open file identify its bytes, and the digest is computed once per
    version and process. Least recently used entries go first past `entries`.
    """

    def __init__(self, entries: int = 4096) -> None:
        self.entries = entries
        self._lock = threading.Lock()
        self._digests: OrderedDict[tuple[object, ...], str] = OrderedDict()

    def digest(self, path: Path, handle: BinaryIO) -> str:
        info = os.fstat(handle.fileno())
        key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            known = self._digests.get(key)
            if known is not None:
                self._digests.move_to_end(key)
                return known
        digest = hashlib.file_digest(handle, "sha256").hexdigest()  # outside the lock
        handle.seek(0)
        with self._lock:
            self._digests[key] = digest
            while len(self._digests) > self.entries:
                self._digests.popitem(last=False)
        return digest


DIGESTS = DigestCache()


def open_stored(path: Path) -> OpenedFile | None:
    """Open `path` with its ETag; None if it does not exist (deleted or replaced meanwhile)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(handle.fileno()).st_size
        digest = DIGESTS.digest(path, handle)
    except BaseException:
        handle.close()
        raise
    return OpenedFile(handle, size, f'"sha256-{digest}"')


def _requested_range(headers: Headers, opened: OpenedFile) -> tuple[int, int] | None:
    """(first, last) byte of a single satisfiable range; None for the whole file."""
    raw = headers.get("range")
    if raw is None or len(raw) > MAX_RANGE_CHARS:
        return None  # absent, or longer than any single range of a stored file: ignored
    if_range = headers.get("if-range")
    if if_range is not None and if_range != opened.etag:
        return None  # the client's copy is another version: send it all
    match = _SINGLE_RANGE.match(raw.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None  # not one byte range: ignored
    first_text, last_text = match.groups()
    size = opened.size
    if first_text == "":  # a suffix: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(size - length, 0), size - 1
    first = int(first_text)
    last = size - 1 if last_text == "" else min(int(last_text), size - 1)
    if first >= size or first > last:
        raise RangeNotSatisfiable(size)
    return first, last


def _content_disposition(filename: str) -> str:
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


class OpenFileResponse(Response):
    """Streams an `OpenedFile` (whole or one range) and closes it, whatever happens."""

    def __init__(
        self, opened: OpenedFile, media_type: str, filename: str, request_headers: Headers
    ) -> None:
        self.opened = opened
        try:
            self._prepare(media_type, filename, request_headers)
        except BaseException:  # a 416 or anything else: the handle never outlives a refusal
            opened.close()
            raise

    def _prepare(self, media_type: str, filename: str, request_headers: Headers) -> None:
        opened = self.opened
        byte_range = _requested_range(request_headers, opened)
        first, last = byte_range or (0, opened.size - 1)
        self.first = first
        self.length = last - first + 1 if opened.size else 0
        headers = {
            "content-length": str(self.length),
            "etag": opened.etag,
            "accept-ranges": "bytes",
            "cache-control": "private, no-cache",
            "content-disposition": _content_disposition(filename),
        }
        if byte_range is not None:
            headers["content-range"] = f"bytes {first}-{last}/{opened.size}"
        super().__init__(
            status_code=206 if byte_range else 200, headers=headers, media_type=media_type
        )

    def _read(self, size: int) -> bytes:
        return self.opened.handle.read(size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            await anyio.to_thread.run_sync(self.opened.handle.seek, self.first)
            remaining = self.length
            while remaining > 0:
                chunk = await anyio.to_thread.run_sync(self._read, min(CHUNK_BYTES, remaining))
                if not chunk:  # never for our files (replaced by rename, never truncated)
                    raise OSError("the file shrank while it was being sent")
                remaining -= len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
                )
            if self.length == 0:
                await send({"type": "http.response.body", "body": b""})
        finally:
            self.opened.close()
        if self.background is not None:
            await self.background()

"""Files on disk under generated names: uploads, processed outputs, job result archives.

Names are random hex plus an extension chosen by the service, never the client's filename,
and every lookup goes through `_path`, which accepts only such names.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Set
from pathlib import Path
from typing import BinaryIO

_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{2,4}$")
TEMP_PREFIX = ".tmp-"  # `write` stages files under this prefix
# A file younger than this is never swept, whatever the caller's cut-off: with DATA_DIR on
# storage several hosts share, another host may have written it and not committed its row yet
# (and hosts' clocks differ by a little). A write's row commits within seconds of its last byte.
ORPHAN_GRACE_S = 900.0


EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "TIFF": "tif",
    "BMP": "bmp",
}


class FileStore:
    def __init__(self, root: Path, orphan_grace_s: float = ORPHAN_GRACE_S) -> None:
        self.root = root
        self.orphan_grace_s = orphan_grace_s
        root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def new_name(extension: str) -> str:
        return f"{uuid.uuid4().hex}.{extension}"

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"not a generated storage name: {name!r}")
        return self.root / name

    def path(self, name: str) -> Path:
        return self._path(name)

    def write(self, name: str, data: bytes) -> Path:
        """Write atomically (temp file + rename), so readers never see half a file."""
        target = self._path(name)
        descriptor, temp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def write_with(self, name: str, fill: Callable[[BinaryIO], None]) -> int:
        """Write what `fill` writes into an open file, atomically like `write`, streamed
        (never whole in memory); returns the size written."""
        target = self._path(name)
        descriptor, temp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(descriptor, "w+b") as handle:
                fill(handle)
                size = handle.seek(0, os.SEEK_END)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return size

    def read(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def delete(self, name: str | None) -> None:
        if name:
            self._path(name).unlink(missing_ok=True)

    def sweep(self, referenced: Set[str], older_than: float) -> list[str]:
        """Delete this folder's unreferenced files: generated names and staged temp files
        only, regular files only, modified before `older_than` and more than the orphan
        grace ago (a file another process or host is about to commit is never taken).
        `referenced` must be read before this is called: a file unreferenced then and older
        than the grace is one whose write ended long ago without its row. Returns the names
        removed."""
        older_than = min(older_than, time.time() - self.orphan_grace_s)
        removed = []
        for path in self.root.iterdir():
            name = path.name
            if name in referenced or not (_NAME.match(name) or name.startswith(TEMP_PREFIX)):
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= older_than:
                continue
            path.unlink(missing_ok=True)
            removed.append(name)
        return removed

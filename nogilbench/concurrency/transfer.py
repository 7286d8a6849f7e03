"""Moving one image's pixels to a worker: by file path, as pickled bytes, in shared memory.

The service's case: an image arrives in memory (decoded: width x height x 3 bytes, 1.8 MB
at 960x640) and a worker must process it. Three ways for the pixels to reach the worker,
with the same work once they are there (one SHA-1 pass over every byte, the least any work
does):

- `transfer-path`: the pixels are written to a file before the timing; the item is its path
  (a few bytes to pickle) and the worker reads the file (what the image sweeps do today);
- `transfer-pickle`: the item is the bytes themselves: a process pool pickles 1.8 MB into
  its pipe and the worker unpickles it (threads get a reference: nothing moves);
- `transfer-shm`: the pixels are put in a `multiprocessing.shared_memory` block before the
  timing; the item is its name and the worker maps it and reads it in place.

Measured apart: each output carries the worker's own time to get at the pixels (`receive`:
read the file, attach the block; 0 for pickled bytes, whose cost the pool pays around the
call) and the time of the work. `summary` stores their medians with each measurement, so
the transfer per item is the wall time per item minus the work (the path variant's small
pickle gives the pool's own cost per item). The digest is the pixels' SHA-1: every variant
and every method must deliver exactly the same bytes.

Stdlib only at import time (the kernels run in sub-interpreters; Pillow is imported only to
decode the sample images, in the cell's main process).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nogilbench.concurrency.protocol import Workload, median_ms

if TYPE_CHECKING:
    from multiprocessing.shared_memory import SharedMemory

Output = tuple[str, float, float]  # pixels' digest, receive seconds, work seconds


def decoded_pixels(path: str) -> bytes:
    """The sample image at `path`, decoded to RGB bytes (what a service holds in memory)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def _work(data: bytes | memoryview) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def _timed(received: float, data: bytes | memoryview) -> Output:
    started = time.perf_counter()
    digest = _work(data)
    return digest, received, time.perf_counter() - started


def from_path(path: str) -> Output:
    started = time.perf_counter()
    data = Path(path).read_bytes()
    return _timed(time.perf_counter() - started, data)


def from_bytes(data: bytes) -> Output:
    return _timed(0.0, data)  # the pool already moved it (or nothing moved: threads)


def _attach(name: str) -> SharedMemory:
    # imported here: only this variant needs the _posixshmem extension in its workers
    from multiprocessing import shared_memory

    try:
        return shared_memory.SharedMemory(name, track=False)  # type: ignore[call-arg]
    except TypeError:  # before 3.13: no `track`; the creator alone unlinks it anyway
        return shared_memory.SharedMemory(name)


def from_shared_memory(reference: tuple[str, int]) -> Output:
    name, size = reference
    started = time.perf_counter()
    block = _attach(name)
    try:
        view = block.buf[:size]
        received = time.perf_counter() - started
        try:
            return _timed(received, view)
        finally:
            view.release()
    finally:
        block.close()


def digest_of(output: Output) -> str:
    return output[0]


def summary(outputs: list[Output]) -> dict[str, Any]:
    """Medians per item, in ms: the worker's receive step and the work."""
    if not outputs:
        return {}
    return {
        "receive_ms_per_item": median_ms([output[1] for output in outputs]),
        "work_ms_per_item": median_ms([output[2] for output in outputs]),
    }


# ------------------------------------------------------------------ items, held for the cell


@contextmanager
def as_files(paths: list[str]) -> Iterator[list[str]]:
    directory = Path(tempfile.mkdtemp(prefix="nogilbench-transfer-"))
    try:
        files = []
        for index, path in enumerate(paths):
            file = directory / f"{index}.rgb"
            file.write_bytes(decoded_pixels(path))
            files.append(str(file))
        yield files
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def as_bytes(paths: list[str]) -> list[bytes]:
    return [decoded_pixels(path) for path in paths]


@contextmanager
def as_shared_memory(paths: list[str]) -> Iterator[list[tuple[str, int]]]:
    from multiprocessing import shared_memory

    blocks: list[SharedMemory] = []
    try:
        references = []
        for path in paths:
            pixels = decoded_pixels(path)
            block = shared_memory.SharedMemory(create=True, size=len(pixels))
            blocks.append(block)
            block.buf[: len(pixels)] = pixels
            references.append((block.name, len(pixels)))
        yield references
    finally:
        for block in blocks:
            block.close()
            block.unlink()


def _workload(name: str, compute: Any, items: Any, description: str) -> Workload:
    return Workload(
        name, compute, items=items, digest=digest_of, summary=summary, description=description
    )


def path_workload() -> Workload:
    return _workload(
        "transfer-path", from_path, as_files, "pixels by file path, read in the worker"
    )


def pickle_workload() -> Workload:
    return _workload(
        "transfer-pickle", from_bytes, as_bytes, "pixels as bytes, pickled to the worker"
    )


def shm_workload() -> Workload:
    return _workload(
        "transfer-shm", from_shared_memory, as_shared_memory, "pixels in shared memory, by name"
    )

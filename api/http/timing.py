"""Where a request's time went, measured inside the server: the `Server-Timing` header (W3C).

With the SERVER_TIMING setting on, the request middleware starts a record per request, the
code marks its phases (`with phase("auth"): ...`), and the response carries them, e.g.
`Server-Timing: auth;dur=1.8, queue;dur=0.0, work;dur=41.2, app;dur=47.9` (milliseconds;
`app` is the whole time from the request's arrival to the start of the response). The
record is a context variable, so phases marked in worker threads (anyio copies the context
into them) land in their request's record. Off by default: the header tells a client how
long the server spent on what, which it has no need to know in production. The load harness
(`loadtest.load`) turns it on to profile the `/process` path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

PhaseRecord = list[tuple[str, float]]
_record: ContextVar[PhaseRecord | None] = ContextVar("server_timing", default=None)


def start() -> PhaseRecord:
    """A fresh record for the current request (the middleware calls this)."""
    record: PhaseRecord = []
    _record.set(record)
    return record


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as `name` in the current request's record (nothing if none)."""
    record = _record.get()
    if record is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        record.append((name, time.perf_counter() - started))


def header_value(record: PhaseRecord, total_s: float) -> bytes:
    """`name;dur=ms` per phase (repeated phases summed, in first-seen order), then `app`."""
    summed: dict[str, float] = {}
    for name, seconds in record:
        summed[name] = summed.get(name, 0.0) + seconds
    summed["app"] = total_s
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in summed.items()).encode(
        "ascii"
    )

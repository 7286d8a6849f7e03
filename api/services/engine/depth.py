"""The Celery engine's queue depth: messages waiting in each Redis list of the broker."""

from __future__ import annotations

import redis

from api.services.engine.naming import BENCH_PREFIX, JOBS_QUEUE

SEP = "\x06\x16"  # the Redis transport's separator between a queue and its priority band


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Waiting messages per queue (its priority bands summed); running ones are not waiting."""
    keys: list[str] = []
    for pattern in (f"{JOBS_QUEUE}*", f"{BENCH_PREFIX}*"):
        keys.extend(key.decode() for key in client.scan_iter(match=pattern, count=500))
    depths: dict[str, int] = {JOBS_QUEUE: 0}
    if not keys:
        return depths
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
    for key, size in zip(keys, pipe.execute(raise_on_error=False), strict=True):
        if isinstance(size, int):  # not a list (WRONGTYPE): not a queue
            queue = key.split(SEP, 1)[0]
            depths[queue] = depths.get(queue, 0) + size
    return depths

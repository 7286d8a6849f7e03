"""Blocking work off the event loop: the one way routers and services reach a thread."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


async def in_thread(func: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Blocking I/O (database, files) off the event loop, on anyio's default thread pool."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))

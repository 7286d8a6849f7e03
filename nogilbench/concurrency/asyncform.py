"""The async form of a blocking function, for the `asyncio-loop` method.

A workload's `load` or `compute` is a plain function every method can call (and pickle by
reference). Marking it with its coroutine twin lets the event loop await the twin instead,
so the waits of many items overlap on the loop's one thread:

    async def afetch(url: str) -> bytes: ...

    @with_async(afetch)
    def fetch(url: str) -> bytes: ...

Stdlib only, no import of the runners: sub-interpreters can load a marked function's module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

ASYNC_FORM = "__nogilbench_async__"

F = TypeVar("F", bound=Callable[..., Any])


def with_async(coroutine_function: Callable[..., Awaitable[Any]]) -> Callable[[F], F]:
    """Decorator: `function` computes what `coroutine_function` computes, blocking."""

    def mark(function: F) -> F:
        setattr(function, ASYNC_FORM, coroutine_function)
        return function

    return mark


def async_form_of(function: Any) -> Callable[..., Awaitable[Any]] | None:
    """The coroutine function marked on `function` (None: it has no async form)."""
    return getattr(function, ASYNC_FORM, None)

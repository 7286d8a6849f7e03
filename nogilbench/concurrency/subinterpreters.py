"""The `subinterpreters` method: one sub-interpreter (own GIL) per worker thread.

The PEP 734 API comes from the standard library's `concurrent.interpreters` (3.14+) or,
on 3.13, from the `backports.interpreters` package, which offers the same API over
CPython's private `_interpreters` module. One code path serves both.

Why not `InterpreterPoolExecutor`: it exists only from 3.14 on, starts its interpreters
lazily inside the first tasks and hides what crosses between interpreters. Here the costs
are measured apart, in `runner.details`:

- `interpreters_start_s`: creating the interpreters (in `_open`, before any warm-up);
- `imports_s`: importing each kernel's module once per interpreter;
- `last_map`: for the latest `map`, summed over its items (thread-seconds, not wall):
  `prepare_s` (read + decode in the main interpreter), `transfer_s` (entering the
  interpreter and copying arguments in and the result out) and `kernel_s` (the kernel
  itself, timed inside the sub-interpreter).

Work crosses as a module-level function referenced by module and name. A `Staged` compute
runs its `prepare` in the main interpreter and only its kernel inside; any other compute
runs whole inside. Whether a kernel's module can load in a sub-interpreter is found by
trying (`check_work`), never assumed: Pillow's C module refuses today, and the pillow
workload lights up the day it loads.
"""

from __future__ import annotations

import concurrent.futures as cf
import queue
import sys
import threading
import time
from importlib import metadata
from types import ModuleType
from typing import Any

from nogilbench.concurrency.base import MethodUnavailable, Runner, WorkerSeen
from nogilbench.concurrency.staged import Staged


def interpreters_api() -> tuple[ModuleType, str]:
    """The PEP 734 module and where it came from; MethodUnavailable if neither is here."""
    if sys.version_info < (3, 13):
        # The backport emulates older versions over one shared GIL: nothing to measure there.
        raise MethodUnavailable(
            "subinterpreters need Python 3.13+ (an interpreter per GIL); this interpreter is "
            f"{sys.version.split()[0]}"
        )
    try:
        import concurrent.interpreters as api  # type: ignore[import-not-found]

        return api, "concurrent.interpreters (stdlib)"
    except ImportError:
        pass
    try:
        from backports import interpreters as api  # type: ignore[no-redef]
    except ImportError:
        raise MethodUnavailable(
            f"subinterpreters on Python {sys.version.split()[0]} need the backports.interpreters "
            "package (installed by scripts/setup.sh): pip install backports.interpreters"
        ) from None
    return api, f"backports.interpreters {metadata.version('backports.interpreters')}"


# The two functions below run inside sub-interpreters. They are "stateless" (no globals,
# no closures, imports inside), so the API can send them as code on 3.13 and 3.14 alike.


def _call_by_reference(module: str, name: str, args: tuple[Any, ...]) -> tuple[Any, float]:
    import importlib
    import time

    function = getattr(importlib.import_module(module), name)
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def _observe_interpreter() -> tuple[int, int, bool]:
    import os
    import sys
    import threading

    probe = getattr(sys, "_is_gil_enabled", None)
    return os.getpid(), threading.get_ident(), True if probe is None else bool(probe())


def kernel_of(compute: Any) -> tuple[str, str]:
    """(module, name) of what runs inside the sub-interpreter for `compute`."""
    function = compute.kernel if isinstance(compute, Staged) else compute
    module, name = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    if not module or not name or "." in name or "<" in name:
        raise MethodUnavailable(
            f"{function!r} cannot run in a sub-interpreter: only module-level functions can"
        )
    return module, name


def _failure_text(exc: BaseException) -> str:
    """'ImportError: module PIL._imaging does not support ...' from an ExecutionFailed."""
    info = getattr(exc, "excinfo", None)
    kind = getattr(getattr(info, "type", None), "__name__", None)
    message = getattr(info, "msg", None)
    if kind and message:
        return f"{kind}: {message}"
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


class InterpreterRunner(Runner):
    """`workers` threads, each driving its own sub-interpreter (own GIL on default builds)."""

    method = "subinterpreters"

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.api, source = interpreters_api()
        self.details["interpreter_api"] = source
        self._interpreters: list[Any] = []
        self._imported: set[tuple[int, str]] = set()  # (interpreter id, module) done
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._lock = threading.Lock()
        self.executor: cf.ThreadPoolExecutor | None = None

    # -- set-up -------------------------------------------------------------------------

    def _new_interpreter(self) -> Any:
        interpreter = self.api.create()
        # Same import path as here (a checkout on PYTHONPATH, a venv's site-packages).
        interpreter.exec(f"import sys\nsys.path[:] = {sys.path!r}\n")
        return interpreter

    def check_work(self, compute: Any) -> None:
        """Try importing the kernel's module in a throw-away sub-interpreter; raise
        MethodUnavailable with the interpreter's own reason if it cannot load there."""
        module, _ = kernel_of(compute)
        interpreter = self._new_interpreter()
        try:
            self._import(interpreter, module)
        finally:
            interpreter.close()

    def _import(self, interpreter: Any, module: str) -> None:
        """Import `module` in `interpreter`; MethodUnavailable with its reason if it cannot."""
        try:
            interpreter.exec(f"import {module}")
        except self.api.ExecutionFailed as exc:
            raise MethodUnavailable(
                f"{module} cannot be imported in a sub-interpreter: {_failure_text(exc)}"
            ) from None

    def _open(self) -> None:
        started = time.perf_counter()
        try:
            for _ in range(self.workers):
                self._interpreters.append(self._new_interpreter())
        except BaseException:
            self._close()  # none left behind if the n-th one fails
            raise
        self.details["interpreters_start_s"] = round(time.perf_counter() - started, 6)
        self.details["imports_s"] = 0.0
        for interpreter in self._interpreters:
            self._free.put(interpreter)
        self.executor = cf.ThreadPoolExecutor(
            self.workers, thread_name_prefix="nogilbench-subinterpreter", initializer=self._claim
        )

    def _claim(self) -> None:
        # Each pool thread takes one interpreter for its whole life: no interpreter is ever
        # entered by two threads at once.
        self._local.interpreter = self._free.get_nowait()

    def _close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        for interpreter in self._interpreters:
            interpreter.close()
        self._interpreters = []  # dropped now, not at interpreter exit
        self._local = threading.local()

    # -- work ---------------------------------------------------------------------------

    def _ensure_imported(self, interpreter: Any, module: str) -> None:
        key = (interpreter.id, module)
        if key in self._imported:
            return
        started = time.perf_counter()
        self._import(interpreter, module)
        with self._lock:
            self._imported.add(key)
            self.details["imports_s"] = round(
                self.details["imports_s"] + time.perf_counter() - started, 6
            )

    def _run_item(self, compute: Any, load: Any, item: Any) -> tuple[Any, dict[str, float]]:
        interpreter = self._local.interpreter
        started = time.perf_counter()
        data = load(item) if load is not None else item
        args = compute.prepare(data) if isinstance(compute, Staged) else (data,)
        prepared = time.perf_counter()
        module, name = kernel_of(compute)
        self._ensure_imported(interpreter, module)
        entered = time.perf_counter()
        try:
            result, kernel_s = interpreter.call(_call_by_reference, module, name, tuple(args))
        except self.api.ExecutionFailed as exc:
            raise RuntimeError(f"{module}.{name} failed in a sub-interpreter: {exc}") from None
        call_s = time.perf_counter() - entered
        return result, {
            "prepare_s": prepared - started,
            "transfer_s": max(0.0, call_s - kernel_s),
            "kernel_s": kernel_s,
        }

    def _map(self, compute, items, load, on_result):  # type: ignore[no-untyped-def]
        if self.executor is None:
            raise RuntimeError("use the runner as a context manager")
        futures = {
            self.executor.submit(self._run_item, compute, load, item): index
            for index, item in enumerate(items)
        }
        results: list[Any] = [None] * len(items)
        totals = {"prepare_s": 0.0, "transfer_s": 0.0, "kernel_s": 0.0}
        try:
            for future in cf.as_completed(futures):
                index = futures[future]
                results[index], costs = future.result()
                for key, seconds in costs.items():
                    totals[key] += seconds
                if on_result is not None:
                    on_result(index, results[index])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        self.details["last_map"] = {
            "items": len(items),
            **{key: round(value, 6) for key, value in totals.items()},
        }
        return results

    def observe_workers(self) -> list[WorkerSeen]:
        """(pid, thread id, GIL enabled) seen inside each sub-interpreter, one per worker.

        Each interpreter answers on its own pool thread, so the count of distinct threads
        is the count of interpreters that really run in parallel."""
        if self.executor is None:
            raise RuntimeError("use the runner as a context manager")
        barrier = threading.Barrier(self.workers, timeout=30)

        def ask() -> WorkerSeen:
            barrier.wait()  # every pool thread takes exactly one probe
            return tuple(self._local.interpreter.call(_observe_interpreter))  # type: ignore[return-value]

        futures = [self.executor.submit(ask) for _ in range(self.workers)]
        return sorted({future.result() for future in futures})


def cost_summary(details: list[dict[str, Any]]) -> dict[str, float | None]:
    """Medians over a cell's rounds of what its `details` recorded, per image where it scales
    with the images: start-up (ms), imports (ms), prepare / transfer / kernel (ms per image),
    and the transfer's share of the time spent in the sub-interpreters."""
    import statistics

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 4) if values else None

    maps = [d["last_map"] for d in details if (d.get("last_map") or {}).get("items")]
    per_image = {
        key: median([1000 * m[key] / m["items"] for m in maps])
        for key in ("prepare_s", "transfer_s", "kernel_s")
    }
    inside = [m["transfer_s"] + m["kernel_s"] for m in maps]
    return {
        "interpreters_start_ms": median(
            [1000 * d["interpreters_start_s"] for d in details if "interpreters_start_s" in d]
        ),
        "imports_ms": median([1000 * d["imports_s"] for d in details if "imports_s" in d]),
        "prepare_ms_per_image": per_image["prepare_s"],
        "transfer_ms_per_image": per_image["transfer_s"],
        "kernel_ms_per_image": per_image["kernel_s"],
        "transfer_share": median(
            [m["transfer_s"] / total for m, total in zip(maps, inside, strict=True) if total > 0]
        ),
    }

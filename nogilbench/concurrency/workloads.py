"""The workloads: the two image benchmarks, and the protocol every workload follows.

A workload is named by a built-in name (`pillow`, `pure-python`, `io`, `mixed`, the
`shared-*` contention family, the `transfer-*` family), by `module:function` (a factory
importable from the current directory or sys.path), or by an entry point of an installed
package in the group `nogilbench.workloads`. `resolve_workload(name)` finds it, in the
sweep's own process (to validate) and in every cell's worker process (to run it); the
factory returns a `Workload` (`nogilbench.concurrency.protocol`, stdlib only): how its items
are made, what one item's work is, how its output is checked. docs/workloads.md documents the
protocol with a worked example.

The two image workloads, applied to one image file each call:

- `pillow`: read -> decode -> resize/blur/sharpen/watermark -> JPEG encode. Pillow's C code
  releases the GIL for most of this, so threads can overlap even with the GIL.
- `pure-python`: read, decode and downscale with Pillow (a small share), then a 3x3
  convolution written in pure Python over the grey pixel bytes. The GIL serialises this
  part, which is what free-threading changes.

Every function returns a short digest of its output, so runners can be checked to compute
exactly what `sync` computes. Workers share no mutable object: each call builds its own
lists, and kernels are tuples of ints (immutable), so free-threaded threads do not contend
on reference counts or locks of shared containers.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from PIL import Image

from nogilbench.concurrency.base import MethodUnavailable
from nogilbench.concurrency.protocol import MAX_NAME, Workload, output_digest
from nogilbench.concurrency.staged import Staged
from nogilbench.errors import InvalidParameter
from nogilbench.imaging.codec import decode_image
from nogilbench.imaging.kernels import convolve_digest
from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE

# Downscaled width for the pure-Python kernel and number of passes: sized so one image costs
# tens of milliseconds on a current x86-64 core (the sweep records the real per-image time).
PURE_PYTHON_WIDTH = 192
PURE_PYTHON_PASSES = 1


def load_file(path: str) -> bytes:
    """The I/O half of every workload (the asyncio runner awaits it off the event loop)."""
    return Path(path).read_bytes()


def pillow_compute(data: bytes) -> str:
    output = BENCHMARK_PIPELINE.run(data)
    return hashlib.sha1(output).hexdigest()[:16]


def grey_pixels(data: bytes, width: int = PURE_PYTHON_WIDTH) -> tuple[bytes, int, int]:
    image = decode_image(data).image.convert("L")
    height = max(3, round(image.height * width / image.width))
    small = image.resize((width, height), Image.Resampling.BILINEAR)
    return small.tobytes(), width, height


def pure_python_prepare(data: bytes) -> tuple[bytes, int, int, int]:
    """Decode and downscale (Pillow): the kernel's arguments."""
    return (*grey_pixels(data), PURE_PYTHON_PASSES)


# Decode with Pillow, then the pure-Python kernel (stdlib only, so it also runs inside a
# sub-interpreter, where Pillow cannot load).
pure_python_compute = Staged(pure_python_prepare, convolve_digest)


# Workload name -> compute(bytes) -> digest; the input is always `load_file(path)`.
WORKLOADS: dict[str, Callable[[bytes], str]] = {
    "pillow": pillow_compute,
    "pure-python": pure_python_compute,
}


def run_workload(name: str, path: str) -> str:
    """One image through one workload, start to end (read included)."""
    return WORKLOADS[name](load_file(path))


# ------------------------------------------------------------------ the workload protocol

ENTRY_POINT_GROUP = "nogilbench.workloads"
# Set by the sweep for its cell processes (sweep.launch): where the sweep was started, so a
# `module:function` importable from there is importable in every cell too.
CALLER_CWD_VARIABLE = "NOGILBENCH_CALLER_CWD"


def _image_workload(name: str, compute: Callable[[bytes], str], description: str) -> Workload:
    return Workload(name, compute, load=load_file, description=description)


IMAGE_WORKLOADS = {
    "pillow": _image_workload(
        "pillow", pillow_compute, "decode, resize, blur, sharpen, watermark, encode (Pillow)"
    ),
    "pure-python": _image_workload(
        "pure-python", pure_python_compute, "decode with Pillow, then a pure-Python convolution"
    ),
}

# Built-ins beyond the image pair, as factories imported only when named (a cell imports
# what its workload needs, nothing more).
BUILTIN_FACTORIES = {
    "io": "nogilbench.concurrency.upstream:io_workload",
    "mixed": "nogilbench.concurrency.upstream:mixed_workload",
    "shared-dict": "nogilbench.concurrency.contention:shared_dict_workload",
    "shared-lock": "nogilbench.concurrency.contention:shared_lock_workload",
    "shared-list": "nogilbench.concurrency.contention:shared_list_workload",
    "share-nothing": "nogilbench.concurrency.contention:share_nothing_workload",
    "transfer-path": "nogilbench.concurrency.transfer:path_workload",
    "transfer-pickle": "nogilbench.concurrency.transfer:pickle_workload",
    "transfer-shm": "nogilbench.concurrency.transfer:shm_workload",
}

BUILTIN_NAMES = (*IMAGE_WORKLOADS, *BUILTIN_FACTORIES)

_resolved: dict[str, Workload] = {}


def resolve_workload(name: str) -> Workload:
    """The workload called `name`; InvalidParameter (one line) if it cannot be found, imported
    or built. Resolved once per process."""
    if name in _resolved:
        return _resolved[name]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidParameter(
            f"a workload name must have 1 to {MAX_NAME} characters, got {name!r}"
        )
    if name in IMAGE_WORKLOADS:
        workload = IMAGE_WORKLOADS[name]
    elif name in BUILTIN_FACTORIES:
        workload = _from_factory(name, BUILTIN_FACTORIES[name])
    elif ":" in name:
        _importable_from_caller()
        workload = _from_factory(name, name)
    else:
        workload = _from_entry_point(name)
    _resolved[name] = workload
    return workload


def _importable_from_caller() -> None:
    """Put the sweep's working directory (else this one) at the end of sys.path: a user's
    `module:function` is found as `python -m` would find it, without shadowing anything."""
    where = os.environ.get(CALLER_CWD_VARIABLE) or os.getcwd()
    if where not in sys.path and os.path.abspath(where) not in sys.path:
        sys.path.append(where)


def _from_factory(name: str, target: str) -> Workload:
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name.isidentifier():
        raise InvalidParameter(
            f"workload {name!r}: give a built-in name ({', '.join(BUILTIN_NAMES)}), "
            "module:function, or an installed entry point"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module: any error is theirs to see, in one line
        raise InvalidParameter(
            f"workload {name!r}: cannot import {module_name}: {type(exc).__name__}: {exc}"
        ) from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise InvalidParameter(f"workload {name!r}: {module_name} has no function {function_name}")
    return _built(name, factory)


def _from_entry_point(name: str) -> Workload:
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise InvalidParameter(
            f"unknown workload {name!r}; choose from {', '.join(BUILTIN_NAMES)}, give "
            f"module:function, or install a package with a {ENTRY_POINT_GROUP!r} entry point"
        )
    try:
        factory = found[0].load()
    except Exception as exc:
        raise InvalidParameter(
            f"workload {name!r}: entry point {found[0].value} cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return _built(name, factory)


def _built(name: str, factory: Callable[[], Any]) -> Workload:
    """Call the factory; accept a Workload or any object with the protocol's attributes."""
    try:
        made = factory()
    except Exception as exc:
        raise InvalidParameter(
            f"workload {name!r}: its factory raised {type(exc).__name__}: {exc}"
        ) from None
    if isinstance(made, Workload):
        return made if made.name == name else replace(made, name=name)
    compute = getattr(made, "compute", None)
    if not callable(compute):
        raise InvalidParameter(
            f"workload {name!r}: its factory must return a nogilbench Workload (or an object "
            f"with a callable `compute`), got {type(made).__name__}"
        )
    return Workload(
        name, compute, load=getattr(made, "load", None), items=getattr(made, "items", None),
        digest=getattr(made, "digest", None) or output_digest,
        summary=getattr(made, "summary", None),
        suggested_workers=tuple(getattr(made, "suggested_workers", ()) or ()),
        description=str(getattr(made, "description", "") or ""),
    )  # fmt: skip


def check_sendable(method: str, workload: Workload, items: Sequence[Any]) -> None:
    """MethodUnavailable (with the reason) when multiprocessing cannot send this work to its
    worker processes: the work and an item must pickle."""
    if method != "multiprocessing":
        return
    for what, value in (("its work", workload.compute), ("its load step", workload.load),
                        ("an item", items[0] if items else None)):  # fmt: skip
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise MethodUnavailable(
                f"workload {workload.name!r} cannot be sent to worker processes: {what} does "
                f"not pickle ({type(exc).__name__}: {exc})"
            ) from None

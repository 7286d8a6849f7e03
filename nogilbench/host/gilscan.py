"""Will my dependencies keep the GIL off? A scan of an interpreter's extension modules.

For every installed distribution of `python` (a free-threaded build) that ships extension
modules, each of its top-level modules is imported in a fresh process, then every extension
module under it, and the process reports whether the GIL came back on
(`sys._is_gil_enabled()`) and the RuntimeWarning CPython printed when it did (it names the
module that has not declared `Py_mod_gil`).

The processes run in the build's default mode, with no `-X gil` and no PYTHON_GIL: that mode
is the question. Under `-X gil=0` (or PYTHON_GIL=0) CPython keeps the GIL off whatever is
imported, at the user's risk, and says nothing, so a scan there would always answer "off".

Stdlib only; `gil_scan(python)` is what `nogilbench info` and the report call.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from nogilbench.host.topology import usable_cores

IMPORT_TIMEOUT_S = 60.0  # one top-level module and its extension modules
LIST_TIMEOUT_S = 60.0

# Runs in the scanned interpreter: its distributions that ship extension modules, with the
# top-level modules those belong to.
_LIST_SNIPPET = r"""
import importlib.machinery, json, sys
from importlib import metadata
suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
found = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name or name.lower() in found:
        continue
    modules = {}
    for file in dist.files or ():
        text = str(file).replace("\\", "/")
        suffix = next((s for s in suffixes if text.endswith(s)), None)
        if suffix is None:
            continue
        parts = text[: -len(suffix)].split("/")
        if not parts or not all(part.isidentifier() for part in parts):
            continue  # a bundled library (pkg.libs/libfoo.so), not a module
        modules.setdefault(parts[0], []).append(".".join(parts))
    if modules:
        found[name.lower()] = {
            "distribution": name, "version": dist.version,
            "modules": {top: sorted(names) for top, names in sorted(modules.items())},
        }
print(json.dumps(sorted(found.values(), key=lambda d: d["distribution"].lower())))
"""

# Runs in a fresh process per top-level module: import it, then its extension modules.
_IMPORT_SNIPPET = r"""
import json, sys, warnings
top, extensions = sys.argv[1], sys.argv[2:]
failed = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for name in [top, *extensions]:
        try:
            __import__(name)
        except BaseException as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}".splitlines()[0][:300])
texts = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)
         and "global interpreter lock" in str(w.message)]
print(json.dumps({"gil_enabled": sys._is_gil_enabled(), "warning": texts[0] if texts else None,
                  "failed": failed}))
"""


class GilScanError(RuntimeError):
    """The interpreter could not list its distributions (not a Python, or a broken one)."""


def _environment(path: Sequence[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "PYTHONWARNINGS")}
    if path:
        env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def list_extension_distributions(python: str, path: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The distributions of `python` with extension modules: name, version, modules by top."""
    try:
        done = subprocess.run(
            [python, "-c", _LIST_SNIPPET], capture_output=True, text=True,
            timeout=LIST_TIMEOUT_S, env=_environment(path), check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GilScanError(f"cannot list the packages of {python}: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise GilScanError(f"cannot list the packages of {python}: {last}")
    return json.loads(done.stdout)


def _import_one(
    python: str, top: str, extensions: list[str], path: Sequence[str], timeout_s: float
) -> dict[str, Any]:
    started = time.perf_counter()
    command = [python, "-c", _IMPORT_SNIPPET, top, *[e for e in extensions if e != top]]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s,
            env=_environment(path), check=False,
        )  # fmt: skip
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        answer = {
            "gil_enabled": None,
            "warning": None,
            "failed": [f"timed out after {timeout_s:g} s"],
        }
    except (IndexError, json.JSONDecodeError):
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        answer = {"gil_enabled": None, "warning": None, "failed": [last[:300]]}
    answer["seconds"] = round(time.perf_counter() - started, 3)
    return answer


def gil_scan(
    python: str,
    *,
    path: Sequence[str] = (),
    timeout_s: float = IMPORT_TIMEOUT_S,
    jobs: int | None = None,
) -> list[dict[str, Any]]:
    """One dict per (distribution, top-level module) of `python` with extension modules:
    `distribution`, `version`, `module`, `extensions` (how many), `gil_enabled` (True: the
    GIL came back on; None: the import did not finish), `warning` (CPython's text),
    `failed` (imports that raised, one line each), `seconds`. `path`: extra sys.path entries
    (ahead of the interpreter's own). Imports run in parallel, up to the usable cores."""
    tasks = [
        (dist, top, extensions)
        for dist in list_extension_distributions(python, path)
        for top, extensions in dist["modules"].items()
    ]
    workers = max(1, min(jobs or usable_cores(), len(tasks) or 1))
    with cf.ThreadPoolExecutor(workers, thread_name_prefix="gil-scan") as pool:
        answers = pool.map(lambda t: _import_one(python, t[1], t[2], path, timeout_s), tasks)
        return [
            {"distribution": dist["distribution"], "version": dist["version"], "module": top,
             "extensions": len(extensions), **answer}
            for (dist, top, extensions), answer in zip(tasks, answers, strict=True)
        ]  # fmt: skip

"""The order of the steps that find or build the base interpreters, and ``provision()``.

Stdlib only: this runs as ``python3 -m nogilbench.host.provision`` before any virtual environment
exists. It looks for a free-threaded CPython (3.14t preferred, 3.13t accepted) in this order,
each step failing fast and reporting one line:

1. ``NOGILBENCH_FT_PYTHON``
2. ``python3.14t`` / ``python3.13t`` on ``PATH``
3. a build already verified in the cache (``${NOGILBENCH_CACHE:-~/.cache/nogilbench}``)
4. ``uv python find 3.14t`` / ``3.13t``
5. ``uv python install 3.14t``
6. a build from CPython source with ``--disable-gil`` into the cache; the source comes from
   python.org or, where that is unreachable, from the distribution's source package through
   the machine's configured apt mirror. The default (GIL) build of the same source is built
   beside it so the report can show what the free-threaded build costs on one thread.

Each step reports one line to stderr (``base.log``).
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from nogilbench.host.provision.base import (
    BaseInterpreter,
    ProvisionError,
    cache_root,
    log,
    wanted_series,
)
from nogilbench.host.provision.build import build_cpython
from nogilbench.host.provision.fetch import fetch_source, from_uv_install
from nogilbench.host.provision.find import (
    FT_PYTHON_VARIABLE,
    GIL_PYTHON_VARIABLE,
    from_cache,
    from_env,
    from_path,
    from_uv_find,
    path_names,
)


@dataclass(frozen=True)
class Provisioned:
    free_threaded: BaseInterpreter | None
    default_build: BaseInterpreter | None
    ft_reason: str
    gil_reason: str


def _attempt(label: str, step: object, *args: object, **kwargs: object) -> BaseInterpreter | None:
    started = time.monotonic()
    try:
        found = step(*args, **kwargs)  # type: ignore[operator]
    except ProvisionError as exc:
        log(f"  {label}: no ({exc}) [{time.monotonic() - started:.1f} s]")
        return None
    log(f"  {label}: yes -> {found.path} ({found.version}) [{time.monotonic() - started:.1f} s]")
    return found


def provision_free_threaded(
    build: bool,
) -> tuple[BaseInterpreter | None, str, tuple[Path, str] | None]:
    """Walk the discovery order; return (interpreter, reason if none, source used if built)."""
    series = wanted_series()
    names = path_names(free_threaded=True, series=series)
    log(f"free-threaded interpreter (series {', '.join(series)}):")
    variable = FT_PYTHON_VARIABLE
    steps: list[tuple[str, object, tuple[object, ...], dict[str, object]]] = [
        (f"${variable}", from_env, (variable,), {"free_threaded": True}),
        (f"{' / '.join(names)} on PATH", from_path, (names,), {"free_threaded": True}),
        (f"cache {cache_root()}", from_cache, (), {"free_threaded": True}),
        ("uv python find", from_uv_find, (series,), {"free_threaded": True}),
    ]
    for label, step, args, kwargs in steps:
        found = _attempt(label, step, *args, **kwargs)
        if found:
            return found, "", None
    if not build:
        return None, "not found and --no-build given", None
    found = _attempt(f"uv python install {series[0]}t", from_uv_install, series)
    if found:
        return found, "", None
    try:
        tarball, version, origin = fetch_source(series)
        log(f"  source: CPython {version} from {origin}")
        built = build_cpython(tarball, version, free_threaded=True)
    except (ProvisionError, OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        log(f"  source build: no ({exc})")
        return None, f"every step failed; last: source build: {exc}", None
    return built, "", (tarball, version)


def provision_default_build(
    ft: BaseInterpreter | None, build: bool, source: tuple[Path, str] | None
) -> tuple[BaseInterpreter | None, str]:
    """A default (GIL) build, of the same version as the free-threaded one where possible."""
    log("default (GIL) build:")
    variable = GIL_PYTHON_VARIABLE
    found = _attempt(f"${variable}", from_env, variable, free_threaded=False)
    if found:
        return found, ""
    if ft is None:
        return None, "no free-threaded interpreter to match"
    if ft.source.startswith(("cache", "built")):
        found = _attempt(
            f"cache cpython-{ft.version}-gil", from_cache, free_threaded=False, version=ft.version
        )
        if found:
            return found, ""
        if source is None and build:
            try:
                source_tar, version, _ = fetch_source([ft.series])
                source = (source_tar, version) if version == ft.version else None
            except ProvisionError as exc:
                log(f"  source: {exc}")
        if source is not None and build:
            try:
                return build_cpython(source[0], source[1], free_threaded=False), ""
            except (ProvisionError, OSError, subprocess.SubprocessError) as exc:
                log(f"  source build: no ({exc})")
                return None, f"build failed: {exc}"
    names = path_names(free_threaded=False, series=[ft.series])
    found = _attempt(f"{names[0]} on PATH", from_path, names, free_threaded=False)
    if found is None and shutil.which("uv"):
        found = _attempt("uv python find", from_uv_find, [ft.series], free_threaded=False)
    if found:
        return found, ""
    return None, f"no default build of {ft.series} found"


def provision(build: bool = True) -> Provisioned:
    """Both base interpreters (or why not), one provisioning per cache at a time."""
    started = time.monotonic()
    cache_root().mkdir(parents=True, exist_ok=True)
    # One provisioning at a time per cache: a second run waits, then finds the first's build.
    with (cache_root() / ".lock").open("w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no lock
            pass
        ft, ft_reason, source = provision_free_threaded(build)
        gil, gil_reason = provision_default_build(ft, build, source)
    ft_text = f"{ft.path} ({ft.version})" if ft else f"UNAVAILABLE: {ft_reason}"
    gil_text = f"{gil.path} ({gil.version})" if gil else f"none: {gil_reason}"
    log("result:")
    log(f"  free-threaded: {ft_text}")
    log(f"  default build: {gil_text}")
    log(f"  took {time.monotonic() - started:.1f} s")
    return Provisioned(ft, gil, ft_reason, gil_reason)

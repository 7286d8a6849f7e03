"""Building CPython from source into the cache: configure (``--disable-gil`` for the
free-threaded build), make, install into a staging folder, swap into place, verify. Stdlib only.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from nogilbench.host.provision.base import (
    BaseInterpreter,
    ProvisionError,
    cache_root,
    install_dir,
    installed_python,
    log,
    verify,
)


def _run_logged(args: Sequence[str], cwd: Path, logfile: Path, env: dict[str, str]) -> None:
    with logfile.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {shlex.join(args)}\n")
        out.flush()
        done = subprocess.run(
            args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
        )
    if done.returncode != 0:
        tail = logfile.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        for line in tail:
            log(f"  | {line}")
        raise ProvisionError(f"`{shlex.join(args[:2])}` failed (full log: {logfile})")


def build_cpython(tarball: Path, version: str, *, free_threaded: bool) -> BaseInterpreter:
    """Configure, build and install CPython into the cache, atomically; verify it."""
    kind = "ft" if free_threaded else "gil"
    final = install_dir(version, kind)
    logs = cache_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    logfile = logs / f"build-{version}-{kind}.log"
    logfile.write_text(f"nogilbench build of CPython {version} ({kind}) from {tarball}\n")
    configure_args = [f"--prefix={final}", "--with-ensurepip=install"]
    if free_threaded:
        configure_args.append("--disable-gil")
    jobs = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    started = time.monotonic()
    log(f"building CPython {version} ({kind}) with {' '.join(configure_args[1:])}, -j{jobs}")
    log(f"  log: {logfile}")
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".build-{version}-{kind}-", dir=cache_root()) as tmp:
        work = Path(tmp)
        with tarfile.open(tarball) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(work, filter="data")
            else:  # Python < 3.11.4
                archive.extractall(work)
        sources = [p for p in work.iterdir() if (p / "configure").exists()]
        if not sources:
            raise ProvisionError(f"{tarball}: no CPython source tree inside")
        src = sources[0]
        _run_logged([str(src / "configure"), *configure_args], src, logfile, env)
        _run_logged(["make", f"-j{jobs}"], src, logfile, env)
        staging = work / "destdir"
        _run_logged(["make", "install", f"DESTDIR={staging}"], src, logfile, env)
        staged_prefix = staging / str(final).lstrip("/")
        python = installed_python(staged_prefix)
        if python is None:
            raise ProvisionError(f"install produced no interpreter under {staged_prefix}")
        manifest = {
            "version": version,
            "kind": kind,
            "configure": configure_args,
            "tarball": tarball.name,
            "build_seconds": round(time.monotonic() - started, 1),
        }
        (staged_prefix / "nogilbench-build.json").write_text(json.dumps(manifest, indent=2) + "\n")
        # Swap into place: the cache never holds a half-installed interpreter.
        if final.exists():
            shutil.rmtree(final)
        os.rename(staged_prefix, final)
    elapsed = time.monotonic() - started
    built = verify(
        str(installed_python(final)), free_threaded=free_threaded, source=f"built ({final})"
    )
    log(f"  built {built.path} in {elapsed:.0f} s")
    return built

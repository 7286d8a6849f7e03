"""Find or build the base interpreters nogilbench measures with.

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

The report goes to stderr; ``--print-ft``, ``--print-gil`` and ``--shell`` write
machine-readable results to stdout.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Series tried for a free-threaded interpreter, newest first (override with
# NOGILBENCH_CPYTHON_SERIES="3.13" for instance).
DEFAULT_SERIES: tuple[str, ...] = ("3.14", "3.13")
# Exact releases fetched from python.org when it is reachable.
PYTHON_ORG_RELEASES: dict[str, str] = {"3.14": "3.14.0", "3.13": "3.13.9"}
PYTHON_ORG_TIMEOUT_S = 10.0
UV_FIND_TIMEOUT_S = 15.0
UV_INSTALL_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 30.0
APT_TIMEOUT_S = 300.0
# Modules a base interpreter needs so that venv + pip + the benchmark work on it.
REQUIRED_MODULES: tuple[str, ...] = ("ssl", "zlib", "bz2", "lzma", "sqlite3", "ctypes", "venv")

_PROBE = """
import json, platform, sys, sysconfig
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
missing = []
for name in sys.argv[1:]:
    try:
        __import__(name)
    except Exception:
        missing.append(name)
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": sys.implementation.name,
    "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": gil,
    "missing_modules": missing,
}))
"""


class ProvisionError(RuntimeError):
    """A step could not produce an interpreter; the message says why."""


@dataclass(frozen=True)
class BaseInterpreter:
    """A verified base interpreter and how it was obtained."""

    path: str
    version: str
    free_threaded_build: bool
    source: str

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])


def log(message: str) -> None:
    print(f"[provision] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    configured = os.environ.get("NOGILBENCH_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "nogilbench"


def wanted_series() -> tuple[str, ...]:
    configured = os.environ.get("NOGILBENCH_CPYTHON_SERIES", "").replace(",", " ").split()
    return tuple(configured) or DEFAULT_SERIES


# --------------------------------------------------------------------------- verification


def verify(python: str, *, free_threaded: bool, source: str) -> BaseInterpreter:
    """Run ``python`` and check it is the kind of build asked for; raise ProvisionError if not."""
    args = [python]
    if free_threaded:
        args += ["-X", "gil=0"]
    args += ["-c", _PROBE, *REQUIRED_MODULES]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "PYTHONHOME")}
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProvisionError(f"{python}: cannot run ({exc})") from exc
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProvisionError(f"{python}: exited {done.returncode} ({tail})")
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    if facts["implementation"] != "cpython":
        raise ProvisionError(f"{python}: not CPython ({facts['implementation']})")
    if facts["free_threaded_build"] != free_threaded:
        kind = "free-threaded" if free_threaded else "default (GIL)"
        raise ProvisionError(f"{python}: {facts['version']} is not a {kind} build")
    if free_threaded and facts["gil_enabled"]:
        raise ProvisionError(f"{python}: the GIL stays enabled under -X gil=0")
    if facts["missing_modules"]:
        missing = ", ".join(facts["missing_modules"])
        raise ProvisionError(f"{python}: missing stdlib modules: {missing}")
    return BaseInterpreter(
        path=facts["executable"] or python,
        version=facts["version"],
        free_threaded_build=facts["free_threaded_build"],
        source=source,
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


# --------------------------------------------------------------------------- discovery steps


def from_env(variable: str, *, free_threaded: bool) -> BaseInterpreter:
    value = os.environ.get(variable)
    if not value:
        raise ProvisionError(f"{variable} not set")
    python = shutil.which(value) or value
    return verify(python, free_threaded=free_threaded, source=f"${variable}")


def from_path(names: Sequence[str], *, free_threaded: bool) -> BaseInterpreter:
    reasons = []
    for name in names:
        python = shutil.which(name)
        if python is None:
            reasons.append(f"{name} not on PATH")
            continue
        try:
            return verify(python, free_threaded=free_threaded, source=f"PATH ({name})")
        except ProvisionError as exc:
            reasons.append(str(exc))
    raise ProvisionError("; ".join(reasons))


def install_dir(version: str, kind: str) -> Path:
    return cache_root() / f"cpython-{version}-{kind}"


def _installed_python(prefix: Path) -> Path | None:
    """``bin/python3.Xt`` in a free-threaded install (which also has python3.X), else python3.X."""
    candidates = [
        c for c in glob.glob(str(prefix / "bin" / "python3.*")) if re.search(r"3\.\d+t?$", c)
    ]
    candidates.sort(key=lambda c: (not c.endswith("t"), len(c)))
    return Path(candidates[0]) if candidates else None


def from_cache(*, free_threaded: bool, version: str | None = None) -> BaseInterpreter:
    kind = "ft" if free_threaded else "gil"
    pattern = f"cpython-{version or '*'}-{kind}"
    prefixes = sorted(
        cache_root().glob(pattern),
        key=lambda p: _version_key(p.name),
        reverse=True,
    )
    series = wanted_series()
    reasons = []
    for prefix in prefixes:
        python = _installed_python(prefix)
        if python is None:
            reasons.append(f"{prefix}: no bin/python3.*")
            continue
        try:
            found = verify(str(python), free_threaded=free_threaded, source=f"cache ({prefix})")
        except ProvisionError as exc:
            reasons.append(str(exc))
            continue
        if version is None and found.series not in series:
            reasons.append(f"{prefix}: series {found.series} not in {series}")
            continue
        return found
    if not prefixes:
        reasons.append(f"no {pattern} under {cache_root()}")
    raise ProvisionError("; ".join(reasons))


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise ProvisionError("uv not on PATH")
    return uv


def from_uv_find(series: Sequence[str], *, free_threaded: bool) -> BaseInterpreter:
    uv = _uv()
    reasons = []
    for ser in series:
        request = f"{ser}t" if free_threaded else ser
        try:
            done = subprocess.run(
                [uv, "python", "find", "--no-python-downloads", request],
                capture_output=True,
                text=True,
                timeout=UV_FIND_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"uv python find {request}: {exc}")
            continue
        if done.returncode != 0 or not done.stdout.strip():
            reasons.append(f"uv python find {request}: not found")
            continue
        try:
            return verify(
                done.stdout.strip().splitlines()[-1],
                free_threaded=free_threaded,
                source=f"uv python find {request}",
            )
        except ProvisionError as exc:
            reasons.append(str(exc))
    raise ProvisionError("; ".join(reasons))


def from_uv_install(series: Sequence[str]) -> BaseInterpreter:
    uv = _uv()
    reasons = []
    for ser in series:
        request = f"{ser}t"
        try:
            done = subprocess.run(
                [uv, "python", "install", request],
                capture_output=True,
                text=True,
                timeout=UV_INSTALL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"uv python install {request}: {exc}")
            continue
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["failed"])[-1]
            reasons.append(f"uv python install {request}: {tail}")
            continue
        return from_uv_find([ser], free_threaded=True)
    raise ProvisionError("; ".join(reasons))


# --------------------------------------------------------------------------- source download


def _download_python_org(series: Sequence[str], dest: Path) -> tuple[Path, str]:
    reasons = []
    for ser in series:
        version = PYTHON_ORG_RELEASES.get(ser)
        if version is None:
            continue
        target = dest / f"Python-{version}.tar.xz"
        if target.exists():
            return target, version
        url = f"https://www.python.org/ftp/python/{version}/Python-{version}.tar.xz"
        partial = target.with_suffix(".part")
        try:
            with (
                urllib.request.urlopen(url, timeout=PYTHON_ORG_TIMEOUT_S) as response,
                partial.open("wb") as out,
            ):
                shutil.copyfileobj(response, out)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            reasons.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        partial.rename(target)
        return target, version
    raise ProvisionError("; ".join(reasons) or "no python.org release known for the series")


def apt_mirror_uris() -> list[str]:
    """The Debian archive URIs of the machine's apt configuration (security mirrors excluded)."""
    uris: list[str] = []
    for sources in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        text = Path(sources).read_text(encoding="utf-8", errors="replace")
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            suites = fields.get("suites", "")
            if "security" in suites:
                continue
            uris += fields.get("uris", "").split()
    for listing in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        if not os.path.exists(listing):
            continue
        for line in Path(listing).read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if match and "security" not in match.group(2):
                uris.append(match.group(1))
    seen: list[str] = []
    for uri in uris:
        uri = uri.rstrip("/")
        if uri.startswith(("http://", "https://")) and uri not in seen:
            seen.append(uri)
    return seen


def _download_apt_source(series: Sequence[str], dest: Path) -> tuple[Path, str]:
    if shutil.which("apt-get") is None:
        raise ProvisionError("apt-get not available")
    uris = apt_mirror_uris()
    if not uris:
        raise ProvisionError("no Debian archive URI in the apt configuration")
    with tempfile.TemporaryDirectory(prefix="nogilbench-apt-") as tmp:
        root = Path(tmp)
        (root / "lists" / "partial").mkdir(parents=True)
        (root / "archives" / "partial").mkdir(parents=True)
        # The newer suites carry the newer CPython releases; apt picks the newest version.
        lines = [f"deb-src {uri} {suite} main" for uri in uris[:1] for suite in ("trixie", "forky")]
        (root / "sources.list").write_text("\n".join(lines) + "\n", encoding="utf-8")
        options = [
            f"-o=Dir::Etc::SourceList={root / 'sources.list'}",
            "-o=Dir::Etc::SourceParts=/dev/null",
            f"-o=Dir::State::Lists={root / 'lists'}",
            f"-o=Dir::Cache::Archives={root / 'archives'}",
            "-o=Dir::Cache::pkgcache=",
            "-o=Dir::Cache::srcpkgcache=",
            "-o=Acquire::Retries=1",
            "-o=Acquire::http::Timeout=20",
        ]
        log(f"apt source index: {' | '.join(lines)}")
        update = subprocess.run(
            ["apt-get", *options, "-q", "update"],
            capture_output=True,
            text=True,
            timeout=APT_TIMEOUT_S,
            check=False,
        )
        reasons = []
        for ser in series:
            package = f"python{ser}"
            shown = subprocess.run(
                ["apt-cache", *options, "showsrc", package],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            versions = re.findall(r"^Version: (\S+)$", shown.stdout, flags=re.MULTILINE)
            releases = [v for v in versions if "~" not in v]  # no alphas / release candidates
            if not releases:
                reasons.append(f"apt: no released {package} source ({versions or 'none'})")
                log(f"  {reasons[-1]}")
                continue
            newest = max(releases, key=_version_key)
            fetched = subprocess.run(
                ["apt-get", *options, "-q", "source", "--download-only", f"{package}={newest}"],
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT_S,
                check=False,
                cwd=root,
            )
            origs = sorted(root.glob(f"{package}_*.orig.tar.*"))
            if fetched.returncode != 0 or not origs:
                tail = (fetched.stderr.strip().splitlines() or ["failed"])[-1]
                reasons.append(f"apt-get source {package}={newest}: {tail}")
                log(f"  apt-get source {package}={newest}: {tail}")
                continue
            orig = origs[0]
            upstream = orig.name.split("_", 1)[1].split(".orig", 1)[0]
            target = dest / orig.name
            shutil.move(str(orig), target)
            log(f"apt source: {package} {newest} -> {target.name}")
            return target, upstream
        if update.returncode != 0:
            reasons.append(f"apt-get update: {(update.stderr.strip().splitlines() or [''])[-1]}")
        raise ProvisionError("; ".join(reasons))


def fetch_source(series: Sequence[str]) -> tuple[Path, str, str]:
    """Return (tarball, upstream version, where it came from); reuse a tarball already fetched."""
    dest = cache_root() / "src"
    dest.mkdir(parents=True, exist_ok=True)
    for ser in series:
        cached = sorted(
            [*dest.glob(f"Python-{ser}.*.tar.xz"), *dest.glob(f"python{ser}_{ser}.*.orig.tar.*")],
            key=lambda p: _version_key(p.name.split("_")[-1]),
            reverse=True,
        )
        if cached:
            name = cached[0].name
            version = re.search(r"(\d+\.\d+\.\d+)", name.split("_")[-1])
            if version:
                return cached[0], version.group(1), f"cached tarball {cached[0]}"
    try:
        tarball, version = _download_python_org(series, dest)
        return tarball, version, "python.org"
    except ProvisionError as exc:
        log(f"  python.org: {exc}")
    tarball, version = _download_apt_source(series, dest)
    return tarball, version, "distribution source package (apt)"


# --------------------------------------------------------------------------- source build


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
        python = _installed_python(staged_prefix)
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
        str(_installed_python(final)), free_threaded=free_threaded, source=f"built ({final})"
    )
    log(f"  built {built.path} in {elapsed:.0f} s")
    return built


# --------------------------------------------------------------------------- orchestration


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


def find_free_threaded(build: bool) -> tuple[BaseInterpreter | None, str, tuple[Path, str] | None]:
    """Walk the discovery order; return (interpreter, reason if none, source used if built)."""
    series = wanted_series()
    names = [f"python{s}t" for s in series]
    log(f"free-threaded interpreter (series {', '.join(series)}):")
    steps: list[tuple[str, object, tuple[object, ...], dict[str, object]]] = [
        ("$NOGILBENCH_FT_PYTHON", from_env, ("NOGILBENCH_FT_PYTHON",), {"free_threaded": True}),
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


def find_default_build(
    ft: BaseInterpreter | None, build: bool, source: tuple[Path, str] | None
) -> tuple[BaseInterpreter | None, str]:
    """A default (GIL) build, of the same version as the free-threaded one where possible."""
    log("default (GIL) build:")
    found = _attempt(
        "$NOGILBENCH_GIL_PYTHON", from_env, "NOGILBENCH_GIL_PYTHON", free_threaded=False
    )
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
    names = [f"python{ft.series}"]
    found = _attempt(f"{names[0]} on PATH", from_path, names, free_threaded=False)
    if found is None and shutil.which("uv"):
        found = _attempt("uv python find", from_uv_find, [ft.series], free_threaded=False)
    if found:
        return found, ""
    return None, f"no default build of {ft.series} found"


def provision(build: bool = True) -> Provisioned:
    started = time.monotonic()
    cache_root().mkdir(parents=True, exist_ok=True)
    # One provisioning at a time per cache: a second run waits, then finds the first's build.
    with (cache_root() / ".lock").open("w") as lock:
        try:
            import fcntl

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no lock
            pass
        ft, ft_reason, source = find_free_threaded(build)
        gil, gil_reason = find_default_build(ft, build, source)
    ft_text = f"{ft.path} ({ft.version})" if ft else f"UNAVAILABLE: {ft_reason}"
    gil_text = f"{gil.path} ({gil.version})" if gil else f"none: {gil_reason}"
    log("result:")
    log(f"  free-threaded: {ft_text}")
    log(f"  default build: {gil_text}")
    log(f"  took {time.monotonic() - started:.1f} s")
    return Provisioned(ft, gil, ft_reason, gil_reason)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m nogilbench.host.provision",
        description="Find or build the free-threaded and default CPython builds nogilbench uses.",
    )
    parser.add_argument(
        "--no-build", action="store_true", help="only discover: no uv install, no source build"
    )
    parser.add_argument(
        "--require-ft", action="store_true", help="exit 1 if no free-threaded interpreter"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--print-ft", action="store_true", help="print the free-threaded path")
    output.add_argument("--print-gil", action="store_true", help="print the default-build path")
    output.add_argument("--shell", action="store_true", help="print FT_PYTHON=... GIL_PYTHON=...")
    output.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    result = provision(build=not args.no_build)
    ft_path = result.free_threaded.path if result.free_threaded else ""
    gil_path = result.default_build.path if result.default_build else ""
    if args.print_ft:
        if not ft_path:
            return 1
        print(ft_path)
    elif args.print_gil:
        if not gil_path:
            return 1
        print(gil_path)
    elif args.shell:
        print(f"FT_PYTHON={shlex.quote(ft_path)}")
        print(f"FT_VERSION={shlex.quote(result.free_threaded.version if ft_path else '')}")
        print(f"FT_REASON={shlex.quote(result.ft_reason)}")
        print(f"GIL_PYTHON={shlex.quote(gil_path)}")
    elif args.json:
        print(
            json.dumps(
                {
                    "free_threaded": result.free_threaded.__dict__ if ft_path else None,
                    "default_build": result.default_build.__dict__ if gil_path else None,
                    "free_threaded_reason": result.ft_reason,
                    "default_build_reason": result.gil_reason,
                },
                indent=2,
            )
        )
    if args.require_ft and not ft_path:
        log("a free-threaded interpreter is required (--require-ft) and none could be had")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

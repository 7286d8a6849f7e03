"""Getting an interpreter that is not on this machine yet: ``uv python install``, or CPython's
source from python.org or, where that is unreachable, from the distribution's source package
through the machine's configured apt mirror (a tarball already fetched is reused). Stdlib only.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from nogilbench.host.provision.base import (
    BaseInterpreter,
    ProvisionError,
    cache_root,
    log,
    version_key,
)
from nogilbench.host.provision.find import from_uv_find, uv

# Exact releases fetched from python.org when it is reachable.
PYTHON_ORG_RELEASES: dict[str, str] = {"3.14": "3.14.0", "3.13": "3.13.9"}
PYTHON_ORG_TIMEOUT_S = 10.0
UV_INSTALL_TIMEOUT_S = 60.0
APT_TIMEOUT_S = 300.0


def from_uv_install(series: Sequence[str]) -> BaseInterpreter:
    command = uv()
    reasons = []
    for ser in series:
        request = f"{ser}t"
        try:
            done = subprocess.run(
                [command, "python", "install", request],
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
            newest = max(releases, key=version_key)
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
            key=lambda p: version_key(p.name.split("_")[-1]),
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

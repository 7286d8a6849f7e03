"""requirements/*.lock agree with pyproject.toml: every requirement of an environment is pinned
in its lock at a version the requirement allows (a pyproject edit without `make lock` fails
here, not on another host), no lock names a package index, and the benchmark's core libraries
are pinned alike in all three locks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support import ROOT

LOCKS = ROOT / "requirements"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# The environments' base interpreters as the locks were resolved for them (scripts/lock.sh).
FT_ENV = {"python_version": "3.13", "python_full_version": "3.13.0"}
DEV_ENVS = [
    {"python_version": f"3.{minor}", "python_full_version": f"3.{minor}.0"}
    for minor in (11, 12, 13, 14)
]


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's core requirements plus those of `extras`, its own extras expanded."""
    found = [Requirement(text) for text in PROJECT["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == PROJECT["name"]:
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def _pins(lock: Path, environment: dict[str, str]) -> dict[str, Version]:
    """name -> version of the lock's lines whose marker holds in `environment`."""
    pins: dict[str, Version] = {}
    for line in lock.read_text().splitlines():
        if not line or line[0] in "# ":
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (specifier,) = requirement.specifier  # one `==` pin per line
            pins[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pins


def _extra_inputs(path: Path) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def _check(requirements: list[Requirement], pins: dict[str, Version], env: dict[str, str]):
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not pinned: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {requirement}: run `make lock`"
        )


def _series_locks(kind: str) -> list[Path]:
    locks = sorted(LOCKS.glob(f"{kind}-*.lock"))
    assert locks, f"no requirements/{kind}-X.Y.lock"
    return locks


@pytest.mark.parametrize("lock", _series_locks("ft"), ids=lambda p: p.name)
def test_free_threaded_lock_pins_core_api_and_plain_psycopg(lock: Path) -> None:
    series = lock.stem.split("-")[1]
    env = {"python_version": series, "python_full_version": f"{series}.0"}
    pins = _pins(lock, env)
    wanted = _requirements(("api",)) + _extra_inputs(LOCKS / "ft.in")
    _check(wanted, pins, env)
    assert "psycopg-binary" not in pins  # no free-threaded wheels: plain psycopg over libpq
    assert not {"cffi", "hiredis"} & set(pins)  # does not build there / re-enables the GIL


@pytest.mark.parametrize("lock", _series_locks("gil"), ids=lambda p: p.name)
def test_default_build_lock_pins_the_core_as_the_free_threaded_one(lock: Path) -> None:
    series = lock.stem.split("-")[1]
    env = {"python_version": series, "python_full_version": f"{series}.0"}
    pins = _pins(lock, env)
    _check(_requirements(()), pins, env)
    free_threaded = _pins(LOCKS / f"ft-{series}.lock", env)
    assert {name: free_threaded[name] for name in pins} == pins


@pytest.mark.parametrize("env", DEV_ENVS, ids=lambda env: env["python_version"])
def test_dev_lock_pins_every_extra_for_each_stock_python(env: dict[str, str]) -> None:
    pins = _pins(LOCKS / "dev.lock", env)
    _check(_requirements(("dev",)), pins, env)
    # The measured libraries are the ones the benchmark environments run.
    for gil_lock in _series_locks("gil"):
        core = _pins(gil_lock, FT_ENV)
        for name in ("pillow", "psutil"):
            assert pins[name] == core[name], f"{name}: dev.lock and {gil_lock.name} differ"


def test_no_lock_names_an_index_or_a_url() -> None:
    for lock in LOCKS.glob("*.lock"):
        text = lock.read_text()
        assert not re.search(r"--(extra-)?index-url|--find-links|://", text), lock.name

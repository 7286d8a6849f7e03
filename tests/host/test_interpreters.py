"""nogilbench.host.interpreters against real interpreters: this one and the free-threaded build."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nogilbench.host import interpreters
from nogilbench.host.interpreters import InterpreterInfo, InterpreterUnavailable, describe


def test_describe_current_interpreter() -> None:
    info = describe(sys.executable, "current")
    assert info.version == ".".join(map(str, sys.version_info[:3]))
    assert info.implementation == "cpython"
    assert info.role == "current"
    assert info.pillow_version is not None  # .venv has the core dependencies
    assert info.psutil_version is not None
    assert info.has_core_dependencies
    if not info.free_threaded_build:
        assert info.can_disable_gil is False
        assert info.gil_enabled_default is True


def test_current_is_sys_executable() -> None:
    info = interpreters.current()
    assert info.role == "current"
    assert info.version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")


def test_describe_missing_interpreter_raises_with_reason(tmp_path) -> None:
    missing = str(tmp_path / "no-such-python")
    with pytest.raises(InterpreterUnavailable, match="not found"):
        describe(missing, "current")


def test_describe_broken_interpreter_raises_with_reason(tmp_path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho boom >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(InterpreterUnavailable, match="exited 3"):
        describe(str(broken), "current")


@pytest.mark.freethreaded
def test_free_threaded_interpreter_can_run_without_gil(ft_interpreter: InterpreterInfo) -> None:
    info = ft_interpreter
    assert info.role == "free-threaded"
    assert info.free_threaded_build is True
    assert info.can_disable_gil is True
    assert info.has_core_dependencies, "the free-threaded env must have Pillow and psutil"
    assert tuple(int(p) for p in info.version.split(".")[:2]) >= (3, 13)
    # Observed directly: the GIL is off under -X gil=0 even after Pillow and psutil are imported.
    out = subprocess.run(
        [
            info.path,
            "-X",
            "gil=0",
            "-c",
            "import PIL.Image, psutil, sys, sysconfig; "
            "print(sys._is_gil_enabled(), sysconfig.get_config_var('Py_GIL_DISABLED'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == ["False", "1"]


@pytest.mark.freethreaded
def test_free_threaded_interpreter_with_gil_forced_on(ft_python: str) -> None:
    out = subprocess.run(
        [ft_python, "-X", "gil=1", "-c", "import sys; print(sys._is_gil_enabled())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out == "True"


def test_find_free_threaded_reports_everything_tried(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NOGILBENCH_FT_PYTHON", str(tmp_path / "missing-python"))
    monkeypatch.setattr(interpreters, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InterpreterUnavailable) as caught:
        interpreters.find_free_threaded()
    reason = caught.value.reason
    for tried in ("$NOGILBENCH_FT_PYTHON", ".venv-ft", "python3.14t", "python3.13t"):
        assert tried in reason


def test_find_free_threaded_rejects_a_default_build(monkeypatch, tmp_path) -> None:
    if interpreters.current().free_threaded_build:
        pytest.skip("the test interpreter is itself free-threaded")
    monkeypatch.setenv("NOGILBENCH_FT_PYTHON", sys.executable)
    monkeypatch.setattr(interpreters, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InterpreterUnavailable, match="not a free-threaded build"):
        interpreters.find_free_threaded()


def test_find_default_build_is_not_free_threaded() -> None:
    try:
        info = interpreters.find_default_build()
    except InterpreterUnavailable as exc:
        pytest.skip(f"no default build here: {exc.reason}")
    assert info.role == "default-build"
    assert info.free_threaded_build is False
    assert info.gil_enabled_default is True


def test_discover_lists_every_role() -> None:
    found = interpreters.discover()
    assert set(found) == {"current", "free-threaded", "default-build"}
    assert isinstance(found["current"], InterpreterInfo)
    for value in found.values():
        assert isinstance(value, InterpreterInfo | InterpreterUnavailable)


def test_host_info_fields() -> None:
    host = interpreters.host_info()
    assert host["cpu_model"] and isinstance(host["cpu_model"], str)
    assert host["logical_cores"] >= 1
    assert 1 <= host["physical_cores"] <= host["logical_cores"]
    assert 1 <= host["usable_cores"] <= host["logical_cores"]
    assert host["memory_total_bytes"] > 0
    assert host["os"] and host["platform"] and host["kernel"]
    assert host["psutil"] is not None


def test_host_info_without_psutil(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError
    host = interpreters.host_info()
    assert host["psutil"] is None
    assert host["logical_cores"] >= 1
    assert host["memory_total_bytes"] > 0

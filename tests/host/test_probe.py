"""The one interpreter probe (nogilbench.host.probe) and the base-interpreter checks of
provisioning built on it, against this interpreter and a broken one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nogilbench.host import interpreters
from nogilbench.host.interpreters import InterpreterUnavailable
from nogilbench.host.probe import ProbeFailed, build_and_gil, run_probe
from nogilbench.host.provision.base import ProvisionError, verify
from nogilbench.host.provision.find import path_names


def test_probe_answers_every_field_for_this_interpreter() -> None:
    facts = run_probe(sys.executable, modules=["json", "no_such_module_xyz"])
    assert facts["version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["implementation"] == "cpython"
    assert facts["missing_modules"] == ["no_such_module_xyz"]
    assert facts["pillow_version"] is not None and facts["psutil_version"] is not None
    expected = {"executable", "free_threaded_build", "gil_enabled", "has_interpreter_pool",
                "subinterpreters_api"}  # fmt: skip
    assert expected <= set(facts)
    line = build_and_gil(facts)
    assert line.startswith(facts["version"] + " ")
    assert line.endswith("GIL on" if facts["gil_enabled"] else "GIL off")


def test_probe_failures_say_why(tmp_path: Path) -> None:
    with pytest.raises(ProbeFailed, match="not found"):
        run_probe(str(tmp_path / "no-python"))
    chatty = tmp_path / "python"
    chatty.write_text("#!/bin/sh\necho not json\n")
    chatty.chmod(0o755)
    with pytest.raises(ProbeFailed, match="unreadable answer"):
        run_probe(str(chatty))


def test_verify_a_base_interpreter() -> None:
    facts = run_probe(sys.executable)
    if facts["free_threaded_build"]:
        pytest.skip("the test interpreter is itself free-threaded")
    found = verify(sys.executable, free_threaded=False, source="test")
    assert found.version == facts["version"] and found.source == "test"
    with pytest.raises(ProvisionError, match="is not a free-threaded build"):
        verify(sys.executable, free_threaded=True, source="test")


def test_the_finders_share_the_series_of_provisioning(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOGILBENCH_CPYTHON_SERIES", "3.13")
    assert path_names(free_threaded=True) == ["python3.13t"]
    assert path_names(free_threaded=False, series=["3.14"]) == ["python3.14"]
    monkeypatch.delenv("NOGILBENCH_FT_PYTHON", raising=False)
    monkeypatch.setattr(interpreters, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InterpreterUnavailable) as caught:
        interpreters.find_free_threaded()
    assert "python3.13t: not on PATH" in caught.value.reason
    assert "python3.14t" not in caught.value.reason

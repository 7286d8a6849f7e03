"""The GIL scan on the free-threaded build: Pillow keeps the GIL off; a tiny extension this
test compiles without `Py_mod_gil` turns it back on, with CPython's warning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from nogilbench.host.gilscan import GilScanError, gil_scan, list_extension_distributions

# A multi-phase module with no Py_mod_gil slot: CPython must assume it
# needs the GIL and enable it on import.
NEEDS_GIL_C = r"""
#include <Python.h>
static PyModuleDef_Slot slots[] = {{0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "needsgil", NULL, 0, NULL, slots};
PyMODINIT_FUNC PyInit_needsgil(void) { return PyModuleDef_Init(&def); }
"""


def _config(python: str) -> dict[str, str]:
    script = (
        "import json, sysconfig; print(json.dumps({'include': sysconfig.get_paths()['include'],"
        " 'suffix': sysconfig.get_config_var('EXT_SUFFIX')}))"
    )
    return json.loads(subprocess.check_output([python, "-c", script], text=True, timeout=60))


def _install_needsgil(python: str, site: Path) -> None:
    """Compile the module against `python`'s headers and install it as a distribution would
    (a module file plus a dist-info with METADATA and RECORD)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build the test extension")
    config = _config(python)
    source = site / "needsgil.c"
    source.write_text(NEEDS_GIL_C)
    module = f"needsgil{config['suffix']}"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O0", f"-I{config['include']}", str(source), "-o",
         str(site / module)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    source.unlink()
    info = site / "needsgil-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: needsgil\nVersion: 0.1\n")
    (info / "RECORD").write_text(
        f"{module},,\nneedsgil-0.1.dist-info/METADATA,,\nneedsgil-0.1.dist-info/RECORD,,\n"
    )


def test_pillow_keeps_the_gil_off_and_an_unmarked_extension_does_not(
    ft_python: str, tmp_path: Path
) -> None:
    _install_needsgil(ft_python, tmp_path)
    rows = gil_scan(ft_python, path=[str(tmp_path)])
    by_module = {row["module"]: row for row in rows}

    needs = by_module["needsgil"]
    assert needs["distribution"] == "needsgil" and needs["extensions"] == 1
    assert needs["gil_enabled"] is True and needs["failed"] == []
    assert "has been enabled to load module 'needsgil'" in needs["warning"]

    pil = by_module["PIL"]
    assert pil["distribution"].lower() == "pillow" and pil["extensions"] >= 1
    assert pil["gil_enabled"] is False and pil["warning"] is None, pil
    # every package of the environment with extension modules is listed, with an answer
    assert {"psutil", "PIL"} <= set(by_module)
    assert all(isinstance(row["seconds"], float) for row in rows)


def test_pure_python_distributions_are_not_listed(ft_python: str) -> None:
    names = {d["distribution"].lower() for d in list_extension_distributions(ft_python)}
    assert "pillow" in names and "fastapi" not in names and "nogilbench" not in names


def test_a_missing_interpreter_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GilScanError, match="cannot list the packages"):
        gil_scan(str(tmp_path / "no-python"))

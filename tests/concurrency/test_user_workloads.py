"""A user's own workload: resolved by name, module:function or entry point; bad ones get one
line; a workload in a file outside the package runs through every method on both builds."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from nogilbench.concurrency.base import MethodUnavailable
from nogilbench.concurrency.runners import ALL_METHODS
from nogilbench.concurrency.workloads import (
    BUILTIN_NAMES,
    Workload,
    check_sendable,
    output_digest,
    resolve_workload,
)
from nogilbench.errors import InvalidParameter
from nogilbench.host.interpreters import InterpreterInfo, InterpreterUnavailable, find_default_build
from nogilbench.paths import PROJECT_ROOT
from nogilbench.store import repository
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.manager import run_sweep
from nogilbench.sweep.parameters import SWEEP_PARAMETERS, sweep_config
from nogilbench.sweep.plan import Interpreters, largest_plan

# Stdlib only, module-level functions: every method can run it, sub-interpreters included.
USER_MODULE = '''
"""A user's workload: word counts over a text made from each item's number."""
from nogilbench.concurrency.protocol import Workload

def make_text(index):
    return " ".join(f"w{(index * 7 + i) % 13}" for i in range(2000))

def count_words(text):
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items())

def numbered(paths):
    return list(range(len(paths)))

def make_workload():
    return Workload("wordcount", count_words, load=make_text, items=numbered,
                    suggested_workers=(1, 2, 4))
'''


def _module(directory: Path, name: str, text: str) -> str:
    (directory / f"{name}.py").write_text(textwrap.dedent(text))
    return name


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's tmp folder as the current directory, removed from sys.path afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtins_resolve_with_their_protocol() -> None:
    for name in BUILTIN_NAMES:
        workload = resolve_workload(name)
        assert (
            isinstance(workload, Workload) and workload.name == name and callable(workload.compute)
        )
    assert resolve_workload("io").suggested_workers[-1] > 8  # waiting: well past the cores
    assert resolve_workload("pillow") is resolve_workload("pillow")  # once per process


def test_module_function_from_the_current_directory(in_tmp: Path) -> None:
    module = _module(in_tmp, "userwl_resolve", USER_MODULE)
    workload = resolve_workload(f"{module}:make_workload")
    assert workload.name == f"{module}:make_workload"  # named as the user named it
    with workload.opened(["a", "b", "c"]) as items:
        assert items == [0, 1, 2]
        outputs = [workload.run_one(item) for item in items]
    assert sum(count for _, count in outputs[0]) == 2000
    assert len({output_digest(output) for output in outputs}) == 3


def test_an_object_with_the_protocols_attributes_is_accepted(in_tmp: Path) -> None:
    module = _module(in_tmp, "userwl_duck", '''
        class Mine:
            suggested_workers = [1, 8]
            @staticmethod
            def compute(item):
                return item * 2
        def make():
            return Mine()
    ''')  # fmt: skip
    workload = resolve_workload(f"{module}:make")
    assert workload.run_one(21) == 42 and workload.suggested_workers == (1, 8)
    assert workload.load is None and workload.digest is output_digest


def test_an_entry_point_of_an_installed_package(in_tmp: Path) -> None:
    module = _module(in_tmp, "userwl_plugin", USER_MODULE)
    info = in_tmp / "userwl_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userwl-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[nogilbench.workloads]\nwordcount-plugin = {module}:make_workload\n"
    )
    workload = resolve_workload("wordcount-plugin")
    assert workload.name == "wordcount-plugin" and workload.compute.__name__ == "count_words"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("nosuch", None, "unknown workload 'nosuch'"),
        ("userwl_missing:make", None, "cannot import userwl_missing: ModuleNotFoundError"),
        ("userwl_syntax:make", "def make(:\n", "cannot import userwl_syntax: SyntaxError"),
        ("userwl_nofn:make", "x = 1\n", "userwl_nofn has no function make"),
        ("userwl_raises:make", "def make():\n    raise OSError('no disk')\n",
         "its factory raised OSError: no disk"),
        ("userwl_wrong:make", "def make():\n    return 3\n", "must return a nogilbench Workload"),
        ("userwl:", None, "module:function"),
        ("x" * 41, None, "1 to 40 characters"),
    ],
)  # fmt: skip
def test_bad_workloads_are_one_line(
    in_tmp: Path, name: str, text: str | None, message: str
) -> None:
    if text is not None:
        _module(in_tmp, name.split(":")[0], text)
    with pytest.raises(InvalidParameter) as caught:
        resolve_workload(name)
    assert message in caught.value.message and "\n" not in caught.value.message
    with pytest.raises(InvalidParameter, match="workload"):
        SweepConfig(workloads=[name]).validate()


def test_work_that_does_not_pickle_is_unavailable_for_processes_only() -> None:
    local = Workload("local", lambda item: item)  # a lambda pickles by reference: it cannot
    check_sendable("threading", local, [1])
    with pytest.raises(MethodUnavailable, match="cannot be sent to worker processes: its work"):
        check_sendable("multiprocessing", local, [1])
    items = Workload("items", output_digest)
    with pytest.raises(MethodUnavailable, match="an item does not pickle"):
        check_sendable("multiprocessing", items, [lambda: 0])


def test_user_workload_runs_through_every_method_on_both_builds(
    in_tmp: Path, ft_interpreter: InterpreterInfo
) -> None:
    """The done-when of issue 18: a workload in a file outside the package, given as
    module:function, measured by every method on the free-threaded and the default build,
    digests equal to sync's, stored; a closure-based one is `unavailable` with the reason."""
    try:
        baseline = find_default_build()
    except InterpreterUnavailable as exc:
        pytest.skip(f"no default build: {exc.reason}")
    module = _module(in_tmp, "userwl_sweep", USER_MODULE)
    name = f"{module}:make_workload"
    engine = repository.open_store(f"sqlite:///{in_tmp / 'r.db'}")
    config = SweepConfig(name="user", workloads=[name], images=[2], workers=[1, 2],
                         methods=list(ALL_METHODS), repeats=1, max_rounds=1, budget_s=0,
                         image_size=(64, 48))  # fmt: skip
    interpreters = Interpreters(ft_interpreter, ft_interpreter, "", baseline)
    sweep_id = run_sweep(config, engine, image_dir=in_tmp / "img", interpreters=interpreters)
    with Session(engine) as session:
        rows = repository.results_for(session, [sweep_id])
    assert rows and all(r.status == "ok" for r in rows), [
        (r.method, r.interpreter, r.status, r.error) for r in rows if r.status != "ok"
    ]
    assert {r.workload for r in rows} == {name}
    builds = {r.interpreter for r in rows}
    assert len(builds) == 2
    for build in builds:
        methods = {r.method for r in rows if r.interpreter == build}
        expected = set(ALL_METHODS) - ({"free-threaded"} if not build.endswith("t") else set())
        assert methods == expected, build
    assert len({r.digest for r in rows}) == 1  # every method, both builds: sync's outputs
    # ... and the report shows it: its own kind in "which model when, per kind of work", and
    # a row per model in the pros and cons table.
    from nogilbench.report import proscons
    from nogilbench.report import workloads as kinds
    from nogilbench.report.data import load_sweeps

    url = f"sqlite:///{in_tmp / 'r.db'}"
    found = kinds.find_workloads_sweep(url, [])
    assert found is not None and found.name == "user"
    answers = kinds.answers([found])
    lines = kinds.kind_lines(answers)
    assert any(line.startswith(f"**{kinds.USER_KIND.title}**, {name}") for line in lines), lines
    table = proscons.pros_cons_frame(answers, found, load_sweeps(url, ["user"]))
    assert "free-threaded (GIL off)" in set(table["model"])


def test_unsendable_user_workload_is_an_unavailable_cell(
    in_tmp: Path, ft_interpreter: InterpreterInfo
) -> None:
    module = _module(in_tmp, "userwl_closure", '''
        from nogilbench.concurrency.protocol import Workload
        def make():
            scale = 3
            def work(item):
                return item * scale
            return Workload("closure", work, items=lambda paths: list(range(len(paths))))
    ''')  # fmt: skip
    engine = repository.open_store(f"sqlite:///{in_tmp / 'c.db'}")
    config = SweepConfig(name="closure", workloads=[f"{module}:make"], images=[2], workers=[1],
                         methods=["sync", "multiprocessing", "subinterpreters"], repeats=1,
                         max_rounds=1, budget_s=0, image_size=(64, 48), baseline=False)  # fmt: skip
    interpreters = Interpreters(ft_interpreter, ft_interpreter, "", None)
    sweep_id = run_sweep(config, engine, image_dir=in_tmp / "img", interpreters=interpreters)
    with Session(engine) as session:
        rows = {r.method: r for r in repository.results_for(session, [sweep_id])}
    assert rows["sync"].status == "ok", rows["sync"].error
    assert rows["multiprocessing"].status == "unavailable"
    assert "does not pickle" in rows["multiprocessing"].error
    assert rows["subinterpreters"].status == "unavailable"
    assert "only module-level functions" in rows["subinterpreters"].error


def test_the_workloads_sweep_parameters_plan_waiting_work_past_the_cores() -> None:
    params = yaml.safe_load((PROJECT_ROOT / "notebooks" / "params" / "workloads.yaml").read_text())
    config = sweep_config("w", {k: params[k] for k in SWEEP_PARAMETERS if k in params})
    assert set(config.workloads) == set(BUILTIN_NAMES) - {"pillow"}
    assert "asyncio-loop" in config.methods
    cells = largest_plan(config, cores=2)
    loop = {c.spec.workers for c in cells if c.spec.method == "asyncio-loop"}
    assert max(loop) > 2  # the waits are measured well past the cores
    assert len(cells) == 160

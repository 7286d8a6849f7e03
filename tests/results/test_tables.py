"""The order of the models in the tables: asyncio-loop beside asyncio, every method once."""

from __future__ import annotations

from nogilbench.concurrency.runners import ALL_METHODS
from nogilbench.results import tables

ROW = {"workload": "io", "interpreter": "3.14t", "images": 4, "status": "ok",
       "wall_median_s": 1.0, "wall_low_s": 0.9, "wall_high_s": 1.1}  # fmt: skip


def test_every_method_has_one_place_and_asyncio_loop_sits_beside_asyncio() -> None:
    assert sorted(tables.MODEL_ORDER) == sorted(ALL_METHODS)
    assert len(set(tables.MODEL_ORDER)) == len(tables.MODEL_ORDER)
    assert tables.method_order("asyncio-loop") == tables.method_order("asyncio") + 1
    assert tables.method_order("sync") == 0
    assert tables.method_order("threading") > tables.method_order("asyncio-loop")


def test_tables_list_asyncio_loop_next_to_asyncio() -> None:
    methods = ("subinterpreters", "asyncio-loop", "threading", "sync", "asyncio")
    results = [{**ROW, "method": method, "workers": 2} for method in methods]
    assert [line["method"] for line in tables.final_table(results, "io", 2)] == [
        "sync", "asyncio", "asyncio-loop", "threading", "subinterpreters",
    ]  # fmt: skip
    grid = tables.speedup_grid(results, "io", 4)
    assert [line["method"] for line in grid] == [
        "sync", "asyncio", "asyncio-loop", "threading", "subinterpreters",
    ]  # fmt: skip

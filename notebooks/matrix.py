# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: nogilbench (.venv)
#     language: python
#     name: nogilbench
# ---

# %% [markdown]
# # The benchmark matrix
#
# Runs (or resumes) one sweep of the matrix through `nogilbench.sweep.manager`: every cell (workload x
# method x workers x image count x interpreter) in a fresh process of the interpreter under
# test, each stored as soon as it finishes. Running it again with the same `sweep_name`
# skips the cells already stored.
#
# The defaults below are a tiny sweep in its own database. The full default matrix:
#
#     papermill notebooks/matrix.ipynb reports/matrix.ipynb -f notebooks/params/full.yaml

# %% tags=["parameters"]
sweep_name = "notebook-tiny"
database_url = "sqlite:///data/notebook-tiny.db"  # relative paths: from the project root
workloads = ["pillow", "pure-python"]
images = [2, 4]
workers = [1, 2]
methods = ["sync", "threading", "multiprocessing", "free-threaded"]
repeats = 2  # minimum rounds (each round: every cell of a group once, shuffled)
max_rounds = 2  # more rounds, up to this, while a cell's interval is wider than the target
target = 0.05  # wanted interval half-width, as a fraction of the median
budget_s = 0  # extra rounds start only while the sweep has run less than this (None: no limit)
image_size = "320x213"
baseline = True  # also measure on a default (GIL) build of the same version
start_method = None  # multiprocessing: None (forkserver where available), fork, spawn
seed = 0
past_cores = "same-binary"  # rows also run past the usable cores: "same-binary" or "all"
pin = False  # each cell on distinct physical cores of one NUMA node
scaling = "strong"  # "weak": w workers get w x images_per_worker images (images ignored)
images_per_worker = 10
free_threaded_python = None  # None: .venv-ft / python3.14t / python3.13t
default_python = None  # None: .venv-gil
cell_timeout_s = 900.0
checks = False  # also store the race demo and the GIL scan with the sweep (workloads.yaml)

# %% [markdown]
# ## The parameter grid

# %%
from nogilbench.notebook import matrix
from nogilbench.report import data

config = matrix.sweep_config(
    sweep_name, workloads, images, workers, methods, repeats, image_size, baseline,
    start_method, seed, max_rounds, target, budget_s, past_cores, pin, scaling,
    images_per_worker,
)  # fmt: skip
interpreters = matrix.discover_interpreters(baseline, free_threaded_python, default_python)
print("\n".join(matrix.describe(config, interpreters)))

# %% [markdown]
# ## Running the sweep
# One line per measurement (one round of one cell); rounds already stored are skipped.

# %% tags=["nbval-ignore-output"]
sweep = matrix.run_matrix(config, database_url, interpreters, cell_timeout_s)

# %% tags=["nbval-ignore-output"]
if checks:  # the report reads them from the store (its "limits" and pros-and-cons parts)
    from nogilbench.sweep.checks import record_checks

    print("\n".join(record_checks(data.resolve_database_url(database_url), sweep_name)))

# %% [markdown]
# ## What was stored

# %%
frame = sweep.frame()
print(f"sweep {sweep.name}: {len(frame)} of {sweep.sweep.cell_count} cells stored")
print("rows per workload and method:")
print(frame.groupby(["workload", "method"], sort=False).size().to_string())
print("columns:", ", ".join(frame.columns))

# %% tags=["nbval-ignore-output"]
data.coverage_frame(frame)

# %% tags=["nbval-ignore-output"]
frame[
    ["workload", "interpreter", "method", "workers", "images", "status", "wall_median_s",
     "speedup", "cpu_percent", "peak_rss_mb", "unstable"]
]  # fmt: skip

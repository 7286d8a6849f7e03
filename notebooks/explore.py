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
# # Explore a sweep
#
# For your own questions, in JupyterLab (`make lab`), on your own store (the one `make report`
# fills): see which sweeps it holds, load one into pandas, filter and pivot it, look at one
# cell's timed values and the interval of their median, and overlay two sweeps. Change the
# parameters below (or pass them with papermill `-p`) and run all cells; the panels at the end
# redraw as you pick.

# %% tags=["parameters"]
database_url = None  # None: $DATABASE_URL, else sqlite:///data/nogilbench.db (`make report`'s)
sweep_name = None  # e.g. "default"; None: the newest sweep in the store
compare_with = None  # a second sweep to overlay; None: the newest other one, if any
workload = "pure-python"
method = "free-threaded"
workers = 2
images = 10  # the default sweep's batches: 10, 50, 100

# %%
from IPython.display import display
from nogilbench.notebook import explore

# %% [markdown]
# ## The sweeps in this store

# %% tags=["nbval-ignore-output"]
stored = explore.sweeps_frame(database_url)
names = list(stored["sweep"])
sweep_name = sweep_name or explore.newest_sweep(stored, database_url)
display(stored)

# %% [markdown]
# ## One sweep as a pandas DataFrame
#
# One row per cell; `wall_times_s` holds every timed value, the other timings are derived
# from it.

# %%
frame = explore.load_frame(database_url, sweep_name)
print(f"sweep {sweep_name}: {len(frame)} cells, {frame.shape[1]} columns")
print("columns:", ", ".join(frame.columns))

# %% [markdown]
# ## Filter: one workload, the cells that ran

# %% tags=["nbval-ignore-output"]
chosen = frame.query("workload == @workload and status == 'ok'")
chosen[["interpreter", "method", "workers", "images", "wall_median_s", "speedup", "unstable"]]

# %% [markdown]
# ## Pivot: median wall time (s), methods x workers, at the largest batch

# %% tags=["nbval-ignore-output"]
explore.wall_time_pivot(frame, workload).style.format("{:.3f}", na_rep="—")

# %% [markdown]
# ## One cell: every timed value and the interval of the median
#
# The dots are the timed rounds, the line their median, the band the interval of the median
# (nogilbench.results.stats: order statistics, 95% from 6 rounds on; below that the min-max, whose
# lower level is stated). Run the sweep with more rounds for a tighter one.

# %% tags=["nbval-ignore-output"]
cell = explore.cell_values(frame, workload, method, workers, images)
explore.show_cell(cell)

# %% [markdown]
# ## Two sweeps overlaid
#
# Median wall time against workers, per method: the first sweep in solid lines, the second
# dashed (for example the same matrix on two machines, or before and after a change).

# %% tags=["nbval-ignore-output"]
explore.show_sweeps_overlay(database_url, names, sweep_name, frame, workload, compare_with)

# %% [markdown]
# ## Pick interactively
#
# In JupyterLab these panels redraw on every choice; run headless (papermill, nbval) they are
# drawn once with the parameters above.

# %% tags=["nbval-ignore-output"]
display(
    explore.cell_picker(frame, workload=workload, method=method, workers=workers, images=images)
)

# %% tags=["nbval-ignore-output"]
display(explore.overlay_picker(database_url, names, sweep_name, workload))

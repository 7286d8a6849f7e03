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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Explore a sweep
#
# A starting point for your own questions: load any sweep into pandas, filter, pivot, and look
# at one cell's repeats. Change the parameters below (or pass them with papermill `-p`).

# %% tags=["parameters"]
database_url = "sqlite:///data/notebook-tiny.db"  # e.g. sqlite:///data/nogilbench.db
sweep_name = "notebook-tiny"  # e.g. "default"
workload = "pure-python"
method = "free-threaded"
workers = 2
images = 4

# %%
from nogilbench.report import data, figures, present

sweep = data.load_sweeps(database_url, [sweep_name])[0]
frame = sweep.frame()
print(f"{len(frame)} rows, {frame.shape[1]} columns")
print("columns:", ", ".join(frame.columns))

# %% [markdown]
# ## Filter: one workload, the cells that ran

# %% tags=["nbval-ignore-output"]
chosen = data.ok_rows(frame[frame["workload"] == workload])
chosen[["interpreter", "method", "workers", "images", "wall_median_s", "speedup", "unstable"]]

# %% [markdown]
# ## Pivot: median wall time (s), methods x workers, at the largest batch

# %% tags=["nbval-ignore-output"]
largest = chosen[chosen["images"] == chosen["images"].max()]
largest.pivot_table(index="method", columns="workers", values="wall_median_s", sort=False)

# %% [markdown]
# ## One cell's repeats

# %% tags=["nbval-ignore-output"]
repeats = data.repeats_frame(frame, workload, method, workers, images)
title = f"{workload} / {method} / {workers} workers / {images} images"
present.show_figure(figures.repeats_figure(repeats, title), "repeats", None, "No such cell.")

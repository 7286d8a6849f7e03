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
# # nogilbench: which concurrency model wins for CPU-bound image work?
#
# Each cell of the matrix ran one batch of images through one workload with one concurrency
# model, in a fresh process: `sync` (one thread), `threading` (threads, GIL on),
# `multiprocessing` (a process pool), `free-threaded` (threads on a free-threaded CPython
# with the GIL off), `asyncio` (an event loop handing the work to a thread pool) and
# `subinterpreters` (one interpreter with its own GIL per worker), on the free-threaded build
# and on the default (GIL) build people run today. The `pillow` workload decodes, filters
# and re-encodes JPEGs in Pillow's C code; the `pure-python` workload runs an image
# convolution written in Python. Every number and sentence below is computed from the stored
# measurements.
#
# **How to read the numbers.** Cells were measured in rounds: each round ran cells of a
# workload and image count once, each in a fresh process, in a shuffled order, so a slow
# minute on the host falls on every method alike; the cells the conclusions use got more
# rounds, in passes each followed by its mirror image. A wall time is the median of the
# rounds with its interval in brackets: 95% (order statistics) from 6 rounds on, otherwise
# the min-max of the rounds, whose lower level is stated. A speedup or any "A vs B" is a
# ratio paired by round, printed with its level. One rule decides every sentence: *faster*
# when the interval clears 1 and the estimate is beyond 5%; *within 5% of each other* when
# the whole interval lies inside ±5%; otherwise *this run cannot tell*. Comparisons made
# together are held at 5% family-wise error (Holm), which is why some levels read 97.5% or
# 99%. "Which model when" names the leading tier: a configuration leaves it only when
# another is surely faster by more than 25%; the differences inside it are stated at the 5%
# margin. It also says how often a rerun on this host would name the same set.
# A cell scaling more than 10% beyond what its cores allow is annotated as an anomaly, never
# dropped. Every speedup names its baseline: sync on the same build, or sync on the default
# (GIL) build that most people run today.

# %% tags=["parameters"]
database_url = "sqlite:///data/notebook-tiny.db"  # relative paths: from the project root
sweeps = ["notebook-tiny"]  # one or several sweep names (several hosts in one database)
workers = None  # worker count of the headline tables; None: the largest that fits the cores
output_dir = "data/notebook-tiny"  # figures/*.png and results.csv go here

# %% tags=["hide-in-report"]
import pandas as pd
from IPython.display import display
from nogilbench.notebook import present
from nogilbench.report import conclusions, costs, data, figures, hosts, weak
from nogilbench.report import limits, proscons, sharing
from nogilbench.report import workloads as kinds

pd.set_option("display.max_colwidth", None)
loaded = data.load_sweeps(database_url, sweeps)
several = len(loaded) > 1
out = data.project_path(output_dir)
frames = {sweep.name: sweep.frame() for sweep in loaded}
all_results = pd.concat(frames.values(), ignore_index=True)
data.export_csv(all_results, out / "results.csv")
print(f"{len(loaded)} sweep(s), {len(all_results)} result rows")
print("columns:", ", ".join(all_results.columns))

# %% [markdown]
# ## Environment
# The machine, the interpreters and their builds, library versions and the commit measured.

# %% tags=["nbval-ignore-output"]
data.environment_frame(loaded)

# %% [markdown]
# ### Sweep parameters

# %%
for sweep in loaded:
    print(f"{sweep.name}:", "; ".join(data.parameter_lines(sweep.sweep)))

# %% [markdown]
# ## The final table
# Methods as rows; median wall time for each batch size, then peak memory of the whole process
# tree (MiB), CPU utilisation (100% = one core) and speedup vs `sync`, all at the largest batch.
# `—` marks a cell that did not run; the note says why.

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    frame = frames[sweep.name]
    main = data.main_rows(frame)
    count = workers or data.headline_workers(main["workers"], sweep.cores)
    for workload in dict.fromkeys(main["workload"]):
        present.heading(f"{workload}: {count} workers" + (f" ({sweep.name})" if several else ""))
        display(data.style_headline(data.headline_frame(sweep.results, workload, count)))

# %% [markdown]
# ## Figures
# Both workloads side by side. Dotted vertical line: the number of usable cores. Hollow red
# circles mark unstable cells (repeats more than 25% apart): read those points with care.

# %% [markdown]
# ### Wall time vs workers

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    fig = figures.wall_time_figure(frames[sweep.name], sweep.cores)
    name = present.figure_name("wall_time", sweep.name, several)
    present.show_figure(fig, name, out / "figures", "No successful cells to plot.")

# %% [markdown]
# ### Speedup vs workers

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    fig = figures.speedup_figure(frames[sweep.name], sweep.cores)
    name = present.figure_name("speedup", sweep.name, several)
    present.show_figure(fig, name, out / "figures", "No speedups to plot (no sync baseline).")

# %% [markdown]
# ### Weak scaling
# Strong scaling (above) keeps the images fixed; weak scaling gives every worker the same
# number of images, so the ideal wall time is flat (dotted: each method's 1-worker time) and
# the weak efficiency T(1)/T(w) is 1.0 up to the cores. Drawn for sweeps run with
# `nogilbench sweep --scaling weak` (or notebooks/params/weak.yaml) and reported beside this.

# %% tags=["nbval-ignore-output"]
weak_sweeps = [sweep for sweep in loaded if sweep.scaling == "weak"]
if not weak_sweeps:
    present.show_markdown([], "No weak-scaling sweep in this report.")
for sweep in weak_sweeps:
    weak_rows = weak.weak_frame(frames[sweep.name], sweep.cores, sweep.main_interpreter)
    fig = figures.weak_scaling_figure(weak_rows, sweep.cores)
    name = present.figure_name("weak_scaling", sweep.name, several)
    present.show_figure(fig, name, out / "figures", "No weak-scaling cells to plot.")
    present.show_markdown(weak.weak_sentences(weak_rows, sweep.cores))

# %% [markdown]
# ### Parallel efficiency

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    fig = figures.efficiency_figure(frames[sweep.name], sweep.cores)
    name = present.figure_name("efficiency", sweep.name, several)
    present.show_figure(fig, name, out / "figures", "No efficiencies to plot.")

# %% [markdown]
# ### Peak memory

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    fig = figures.memory_figure(frames[sweep.name], sweep.cores)
    name = present.figure_name("memory", sweep.name, several)
    present.show_figure(fig, name, out / "figures", "No memory measurements to plot.")

# %% [markdown]
# ### CPU utilisation

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    fig = figures.cpu_figure(frames[sweep.name], sweep.cores)
    name = present.figure_name("cpu", sweep.name, several)
    present.show_figure(fig, name, out / "figures", "No CPU measurements to plot.")

# %% [markdown]
# ### The cost of the free-threaded build itself
# `sync` on the free-threaded build vs on the default (GIL) build of the same version.

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    fig = figures.build_cost_figure(frames[sweep.name], sweep.cores)
    name = present.figure_name("build_cost", sweep.name, several)
    missing = "No default build was measured in this sweep (baseline off or unavailable)."
    present.show_figure(fig, name, out / "figures", missing)

# %% [markdown]
# ### Sub-interpreters: what they cost
# Measured apart from the kernel: starting the interpreters and importing the kernel's module
# in each (before the timing), then per image: preparing in the main interpreter (read and
# decode), crossing into and out of a sub-interpreter, and the kernel itself. Medians of the
# cell's rounds.

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    if several:
        present.heading(sweep.name)
    cost_rows = costs.subinterpreter_costs(sweep.measurements)
    reasons = costs.unavailable_reasons(sweep.measurements)
    if not cost_rows.empty:
        display(cost_rows.style.hide(axis="index").format(precision=2))
    present.show_markdown(
        costs.cost_sentences(cost_rows) + reasons, "No subinterpreters cell in this sweep."
    )

# %% [markdown]
# ## Measurement quality
# Where the rounds went (every cell, then the cells of the report's questions until a rerun
# would give the same answers), measurements taken again because the machine was taken from
# them, what the host was doing (its speed states, load, CPU steal, clock), what this run left
# open, and the cells whose interval is wider than ±10% of their median (read them with it).

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    if several:
        present.heading(sweep.name)
    notes = conclusions.measurement_quality(sweep)
    notes += conclusions.contention_notes(frames[sweep.name])
    notes += conclusions.unstable_notes(frames[sweep.name])
    present.show_markdown(notes, "Nothing recorded.")

# %% [markdown]
# ## Conclusions

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    if several:
        present.heading(sweep.name)
    present.show_markdown(conclusions.conclusions(frames[sweep.name], sweep.cores))

# %% [markdown]
# ## Which model when

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    if several:
        present.heading(sweep.name)
    present.show_markdown(conclusions.which_model_when(frames[sweep.name], sweep.cores))

# %% [markdown]
# ## Which model when, per kind of work
# The same question for the work services have: CPU-bound (the image workloads above), waiting
# on I/O (GETs from a loopback upstream with a set latency), mixed (fetch, then process),
# shared state (threads on one dict, a locked counter, one list, against the same work on
# private objects) and moving data (an image handed to a worker as a path, pickled bytes or
# shared memory), plus any workload of your own (`--workloads mypkg.bench:make_workload`,
# see docs/workloads.md). The kinds beyond CPU-bound come from the workloads sweep
# (notebooks/params/workloads.yaml), kept apart from the default sweep for its time budget and
# stored in the same database. Each line is one leader set, decided by the same rule as
# above; work that waits is compared at the most workers measured, not at the cores.

# %% tags=["nbval-ignore-output"]
workloads_sweep = kinds.find_workloads_sweep(database_url, loaded)
main_sweeps = kinds.main_sweeps(loaded)
kind_answers = kinds.answers([*main_sweeps, *filter(None, [workloads_sweep])])
if workloads_sweep is None:
    present.show_markdown([kinds.HOW_TO])
else:
    print(f"workloads sweep: {workloads_sweep.name}")
kinds_table = kinds.kinds_frame(kind_answers)
if not kinds_table.empty:
    display(kinds_table.style.hide(axis="index"))
present.show_markdown(kinds.kind_lines(kind_answers, several), "No leader set to state.")

# %% [markdown]
# ### Shared state and moving data
# Threads on shared objects against one thread (sync), beside the share-nothing baseline; then
# what handing one image to a worker costs per item.

# %% tags=["nbval-ignore-output"]
if workloads_sweep is None:
    present.show_markdown([], "Needs the workloads sweep (see above).")
else:
    present.show_markdown(sharing.contention_lines(workloads_sweep), "No shared-state cells.")
    moved = sharing.transfer_frame(workloads_sweep)
    if not moved.empty:
        display(moved.style.hide(axis="index").format(precision=2))
    present.show_markdown(sharing.transfer_lines(workloads_sweep), "No data-transfer cells.")

# %% [markdown]
# ### Pros and cons of each model
# One row per model, every cell read from this report's measurements.

# %% tags=["nbval-ignore-output"]
pros_cons = proscons.pros_cons_frame(kind_answers, workloads_sweep, main_sweeps)
if pros_cons.empty:
    present.show_markdown([], "No model was measured at a headline point.")
else:
    display(pros_cons.style.hide(axis="index").set_table_attributes('class="pros-cons"'))
present.show_markdown([proscons.pros_cons_note()])

# %% [markdown]
# ## Limits of free-threaded Python today
# What this report measured about the free-threaded build itself: its single-thread cost,
# whether the installed extension modules keep the GIL off, the race the GIL used to hide,
# and threads on contended shared objects.

# %% tags=["nbval-ignore-output"]
main_sweep = main_sweeps[0] if main_sweeps else None
present.show_markdown(limits.limits_lines(main_sweep, workloads_sweep))
scan = limits.gil_scan_frame(limits.stored_fact([main_sweep, workloads_sweep], limits.GIL_SCAN))
if not scan.empty:
    display(scan.style.hide(axis="index"))

# %% [markdown]
# ## Notes
# ### Oversubscription

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    notes = conclusions.oversubscription_notes(frames[sweep.name], sweep.cores)
    present.show_markdown(notes, f"No cell had more workers than the {sweep.cores} cores.")

# %% [markdown]
# ### Cells that did not run

# %% tags=["nbval-ignore-output"]
for sweep in loaded:
    notes = conclusions.unavailable_notes(frames[sweep.name])
    present.show_markdown(notes, "Every cell ran.")

# %% [markdown]
# ## Hosts side by side
# Given sweeps from different machines (e.g. bundles brought home with `nogilbench import`):
# each host's speedup vs its own sync, same build, at the largest image count they share,
# one colour per host, each host's usable cores marked; then each host at its own core count.

# %% tags=["nbval-ignore-output"]
host_rows = hosts.hosts_frame(loaded)
present.show_markdown(hosts.hosts_summary(loaded))
if host_rows.empty and len(hosts.by_host(loaded)) > 1:
    present.show_markdown([], "These hosts' sweeps share no image count: nothing to compare.")
elif host_rows.empty:
    present.show_markdown([], "One host in this report: nothing to set side by side.")
else:
    fig = hosts.hosts_figure(host_rows)
    present.show_figure(fig, "hosts", out / "figures", "No common cells to plot.")
    display(hosts.hosts_table(host_rows))

# %% [markdown]
# ## Sweeps compared
# With several sweeps (runs, hosts or interpreters): each one against the first, cell by
# cell, time(B) / time(A) with a 95% Welch interval on log times, significant cells first
# (`nogilbench compare A B` prints the same).

# %% tags=["nbval-ignore-output"]
if not several:
    present.show_markdown([], "One sweep: nothing to compare.")
for other in loaded[1:]:
    present.heading(f"{other.name} vs {loaded[0].name}")
    table = data.comparison_frame(loaded[0], other)
    if table.empty:
        present.show_markdown([], "No measured cell in common.")
    else:
        verdicts = table["verdict"].value_counts()
        present.show_markdown(
            [
                f"{len(table)} cells: {verdicts.get('B slower', 0)} significantly slower in "
                f"{other.name}, {verdicts.get('B faster', 0)} significantly faster, "
                f"{verdicts.get('not significant', 0)} not significant."
            ]
        )
        display(table.style.hide(axis="index"))
        present.show_markdown(data.relative_comparison_lines(loaded[0], other))

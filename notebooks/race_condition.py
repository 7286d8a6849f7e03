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
# # The race the GIL used to hide
#
# Several threads add 1 to one shared counter, `counter.value += 1`: a read, an add and a
# write. Three variants run in each trial: the shared counter with no lock, the same counter
# behind a `threading.Lock`, and per-thread counters merged at the end. Each GIL mode runs in
# a fresh process of the free-threaded interpreter (`-X gil=0` and `-X gil=1`).

# %% tags=["parameters"]
threads = 4
increments = 100_000  # per thread
trials = 3

# %%
from nogilbench.report import racing
from nogilbench.sweep.race import race_demo

interpreter, note = racing.race_interpreter()
rows = race_demo(interpreter, threads, increments, trials)
frame = racing.race_frame(rows)
print(f"{threads} threads x {increments:,} increments, {trials} trials per variant and GIL mode")
print("\n".join(racing.safe_variant_lines(frame)))

# %% tags=["nbval-ignore-output"]
print(f"interpreter: {interpreter.path} ({interpreter.version})" + (f"; {note}" if note else ""))
racing.race_summary(frame)

# %% tags=["nbval-ignore-output"]
from nogilbench.notebook import present

present.show_figure(racing.race_figure(frame), "race", None)

# %% [markdown]
# ## What the trials showed

# %% tags=["nbval-ignore-output"]
present.show_markdown(racing.race_conclusions(frame))

# %% [markdown]
# ## Why the GIL hid it
#
# With the GIL, only one thread runs Python bytecode at a time, and CPython switches threads
# only at certain points of the bytecode: in practice not between the read and the write of
# `counter.value += 1`, so no update is lost even though the code is not thread-safe. With
# the GIL off, two threads really run the read-add-write at the same moment and one
# overwrites the other's result. The fix is the same with or without the GIL: a lock around
# the shared update, or no sharing at all (per-thread counters, merged once at the end).

"""The job engine's pool measurements (`loadtest.engine_pools`) as a markdown section of
reports/performance.md: the setup, one table per workload, the ratios against the reference
pool, and a conclusion computed from the figures (a lead is stated only when its paired
interval excludes 1)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from nogilbench.paths import PROJECT_ROOT
from nogilbench.results.stats import Interval, paired_ratio

TITLE = "## The job engine's worker pools: which model when"
COMMAND = "PYTHONPATH=. .venv/bin/python -m loadtest.engine_pools"


def _shown(python: str) -> str:
    """`.venv/bin/python` for this checkout's environments, the full path for others."""
    path = Path(python)
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else python


def _interval(values: dict[str, Any]) -> Interval:
    return Interval(**values)


def _mid(values: dict[str, Any], digits: int = 1) -> str:
    return f"{values['estimate']:.{digits}f}"


def _pipeline_text(workload: dict[str, Any]) -> str:
    operations = ", ".join(
        operation["op"]
        + "".join(f" {key}={value}" for key, value in operation.items() if key != "op")
        for operation in workload["pipeline"]["operations"]
    )
    return f"`{operations}`"


def _setup(results: dict[str, Any], labels: dict[str, str]) -> list[str]:
    config = results["config"]
    lines = [
        "One API server (stock CPython, SQLite, `JOB_ENGINE=celery`) and one `redis-server` on "
        "loopback. For each pool one worker, `python -m api.worker --pool <pool> --concurrency "
        f"{config['concurrency']}` (concurrency = the {config['cores']} usable cores), is "
        "started and waited for; then every job of a workload is submitted at once "
        "(`POST /api/jobs/batch`, `method: sync`: a job's items one after another, so the pool "
        "is the parallelism) and the run ends when the last job is done. A job's latency is "
        "its row's submit -> finish; throughput counts from the first job created to the last "
        "finished. Memory is the worker's process tree (a prefork parent and its children) "
        f"sampled every {config['sample_interval_s']:g} s: RSS counts pages forked children "
        f"share once per child, PSS splits them. {config['rounds']} interleaved rounds: each "
        "round runs every pool once, in an order rotated per round, so the host's drift hits "
        "every pool alike.",
        "",
        "Workloads:",
        "",
    ]
    for workload in config["workloads"]:
        width, height = workload["image_size"]
        lines.append(
            f"- **{workload['name']}**: {workload['users']} users x {workload['jobs_per_user']} "
            f"jobs x {workload['items_per_job']} images of {width}x{height}, pipeline "
            f"{_pipeline_text(workload)}"
        )
    lines.append("")
    lines.append("Pools:")
    lines.append("")
    for pool in config["pools"]:
        probe = results["probes"][pool["key"]]
        if probe["available"]:
            what = f"{probe['interpreter']}, Celery {probe['celery']}"
            reported = sorted(
                {entry.get("gil_in_worker", "not reported")
                 for entry in results["summary"].get(pool["key"], {}).values()}
            )  # fmt: skip
            if reported:
                what += f"; every job's worker process reported: {' / '.join(reported)}"
        else:
            what = f"**not measured**: {probe['reason']}"
        flags = "" if pool["gil"] is None else f" -X gil={pool['gil']}"
        lines.append(f"- {labels[pool['key']]}: `{_shown(pool['python'])}{flags}`, {what}")
    lines += [
        "",
        f"Reproduce: `{COMMAND}` (about 5 minutes on 2 cores; `--quick`: about 1 minute, "
        "`--json PATH` keeps the figures). The free-threaded pools need Celery in `.venv-ft` "
        "(the `engine` extra); `NOGILBENCH_ENGINE_FT_PYTHON` names another free-threaded "
        "interpreter that has it.",
        "",
    ]
    return lines


def _table(
    results: dict[str, Any], workload: str, labels: dict[str, str], reference: str
) -> list[str]:
    lines = [
        f"| pool | interpreter | jobs/s [interval] | items/s [interval] | latency p50 / p95 (s) "
        f"| peak RSS (PSS) MB | CPU s (cores busy) | items/s vs {labels[reference]} |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, workloads in results["summary"].items():
        entry = workloads[workload]
        ratio = entry.get("ratio_vs_reference")
        versus = "1 (reference)" if key == reference else (
            _interval(ratio).text("x") if ratio else "n/a"
        )  # fmt: skip
        lines.append(
            f"| {labels[key]} | {results['probes'][key]['interpreter']} "
            f"| {_interval(entry['jobs_per_s']).text()} | {_interval(entry['items_per_s']).text()} "
            f"| {_mid(entry['latency_p50_s'], 2)} / {_mid(entry['latency_p95_s'], 2)} "
            f"| {_mid(entry['peak_rss_mb'], 0)} ({_mid(entry['peak_pss_mb'], 0)}) "
            f"| {_mid(entry['cpu_s'])} ({_mid(entry['cores_busy'], 2)}) | {versus} |"
        )
    return lines


def _items_per_s(results: dict[str, Any], key: str, workload: str) -> list[float]:
    return [run["items_per_s"] for run in results["rounds"][key][workload]]


def _against_reference(results: dict[str, Any], workload: str, labels: dict[str, str]) -> str:
    """'Against <reference>: A 1.53x [...]; not told apart: B, C' from the paired ratios."""
    reference = results.get("config", {}).get("reference")
    apart, not_apart = [], []
    for key, entry in results["summary"].items():
        ratio = entry[workload].get("ratio_vs_reference")
        if key == reference or not ratio:
            continue
        interval = _interval(ratio)
        if interval.n >= 2 and interval.excludes(1.0):
            apart.append(f"{labels[key]} at {interval.text('x')}")
        else:
            not_apart.append(labels[key])
    if reference is None or not (apart or not_apart):
        return ""
    text = f"Items/s against the reference ({labels[reference]}): "
    text += f"told apart: {'; '.join(apart)}" if apart else "no pool told apart"
    if not_apart:
        text += f". Not told apart: {'; '.join(not_apart)}"
    return text


def conclusion(results: dict[str, Any], workload: str, labels: dict[str, str]) -> str:
    """Which pool led on this workload, stated only when the paired interval against the
    runner-up excludes 1; the smallest memory; from the figures, never written by hand."""
    summary = results["summary"]
    ranked = sorted(
        summary, key=lambda key: summary[key][workload]["items_per_s"]["estimate"], reverse=True
    )
    if len(ranked) < 2:
        return f"Only {labels[ranked[0]]} ran: nothing to compare."
    leader, runner_up = ranked[0], ranked[1]
    ratio = paired_ratio(
        _items_per_s(results, leader, workload), _items_per_s(results, runner_up, workload)
    )
    if ratio.n >= 2 and ratio.excludes(1.0):
        lead = (
            f"{labels[leader]} leads: {ratio.text('x')} the items/s of the runner-up, "
            f"{labels[runner_up]}"
        )
        if not ratio.rounds_agree:
            lead += " (though not in every round)"
    else:
        lead = (
            f"{labels[leader]} and {labels[runner_up]} were not told apart (items/s ratio "
            f"{ratio.text('x')}: the interval includes 1)"
        )
    against = _against_reference(results, workload, labels)
    if against:
        lead += f". {against}"
    memory = min(summary, key=lambda key: summary[key][workload]["peak_pss_mb"]["estimate"])
    pss = summary[memory][workload]["peak_pss_mb"]["estimate"]
    return f"{lead}. The smallest worker was {labels[memory]} ({pss:.0f} MB PSS at its peak)."


def render_engine_pools(results: dict[str, Any]) -> str:
    """The section, from `measure_engine_pools`'s figures."""
    config = results["config"]
    reference = config["reference"]
    labels = {pool["key"]: pool["label"] for pool in config["pools"]}
    lines = [TITLE, "", *_setup(results, labels)]
    every_once = all(entry["exactly_once"] for pool in results["summary"].values()
                     for entry in pool.values())  # fmt: skip
    for workload in config["workloads"]:
        name = workload["name"]
        lines += [f"### {name}", "", *_table(results, name, labels, reference), ""]
        lines += [conclusion(results, name, labels), ""]
    intervals = (
        "Intervals: a median's is distribution-free over the rounds ([min, max] with fewer than "
        "6 rounds, its lower coverage shown); a ratio's is paired by round (geometric mean of "
        "the per-round ratios, Student t on their logarithms)."
    )
    others = sorted(
        run["others_cores"]
        for pool in results["rounds"].values()
        for runs in pool.values()
        for run in runs
    )
    lines += [
        f"Every job ran exactly once in every run (one attempt, one output per image): "
        f"{'yes' if every_once else '**no**, see the JSON'}. {intervals}",
        "",
        f"How to read it: the pools ran {config['concurrency']} jobs at once on "
        f"{config['cores']} usable cores; more workers (or prefork children) than cores only "
        "oversubscribe them, and a threads pool on the default build keeps one core busy "
        "whatever its size while Python runs (its cores busy say so). This host is shared and "
        f"noisy: other processes kept {statistics.median(others):.2f} cores busy during the "
        f"median run (up to {others[-1]:.2f}; load average {results['load_before'][0]:.2f} "
        f"before, {results['load_after'][0]:.2f} after; the whole measurement took "
        f"{results['wall_s']:.0f} s), so a pool that needs both cores loses most when they are "
        "taken; differences inside the intervals are not differences.",
        "",
    ]
    return "\n".join(lines)

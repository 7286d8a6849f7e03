"""`make performance`: every measurement of issue 5, back to back, into reports/performance.md.

1. Load: the same bounded load (upload -> process -> download) against a fresh server on
   stock CPython, on the free-threaded build with the GIL on and with it off, for the Pillow
   pipeline and for the pure-Python operation; each run then checked for lost or orphaned
   data. Ratios are taken against the stock run and GIL-on vs GIL-off.
2. The API's image throughput (`POST /process` only) against the library's thread runner on
   the same interpreter, both at concurrency = cores (target >= 80%).
3. The library's Pillow pipeline against Pillow called directly (the limit).
4. The sweep's own overhead and the spread of repeats, from a small real sweep.
5. The schemathesis summary written by `make schemathesis-long`, when present.

    python -m loadtest.report [--out reports/performance.md] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtest.load import (
    LoadConfig,
    percentile,
    process_throughput,
    run_against_new_server,
)
from loadtest.server import ServerProcess
from nogilbench.host.interpreters import host_info, usable_cores
from nogilbench.paths import PROJECT_ROOT
from nogilbench.sweep.provenance import git_commit

DEFAULT_OUT = PROJECT_ROOT / "reports" / "performance.md"
SCHEMATHESIS_SUMMARY = PROJECT_ROOT / "reports" / "schemathesis-long.json"
COMMAND = "make performance"


def _venv_python(name: str) -> str:
    return str(PROJECT_ROOT / name / "bin" / "python")


# label -> (interpreter, -X gil=)
SERVERS: dict[str, tuple[str, int | None]] = {
    "stock CPython": (_venv_python(".venv"), None),
    "free-threaded, GIL on": (_venv_python(".venv-ft"), 1),
    "free-threaded, GIL off": (_venv_python(".venv-ft"), 0),
}
STOCK, FT_ON, FT_OFF = SERVERS


def _flags(gil: int | None) -> list[str]:
    return [] if gil is None else ["-X", f"gil={gil}"]


def _limits(python: str, gil: int | None, what: str, *args: str) -> dict[str, Any]:
    """Run `loadtest.limits` under another interpreter; its JSON back."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        command = [python, *_flags(gil), "-m", "loadtest.limits", what, *args]
        subprocess.run(
            [*command, "--json", handle.name],
            cwd=PROJECT_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )
        return dict(json.loads(Path(handle.name).read_text()))


def _describe(python: str, gil: int | None) -> str:
    snippet = (
        "import sys, sysconfig; g = getattr(sys, '_is_gil_enabled', lambda: True)(); "
        "print(sys.version.split()[0], 'free-threaded build' if "
        "sysconfig.get_config_var('Py_GIL_DISABLED') else 'default build', "
        "'GIL on' if g else 'GIL off')"
    )
    result = subprocess.run(
        [python, *_flags(gil), "-c", snippet], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _git_commit() -> str:
    """Short commit of this checkout, as recorded with every sweep (sweep.provenance)."""
    commit = git_commit()
    if commit is None:
        return "unknown"
    short = commit.removesuffix("-dirty")[:7]
    return short + (" (with uncommitted changes)" if commit.endswith("-dirty") else "")


def measure(work: Path, quick: bool) -> dict[str, Any]:
    cores = usable_cores()
    started = time.time()
    load_before = os.getloadavg()
    users, per_user = (2, 3) if quick else (4, 6)
    results: dict[str, Any] = {"cores": cores, "load": {}, "throughput": {}}
    image_dir = work / "images"

    for workload in ("pillow", "pure-python"):
        for label, (python, gil) in SERVERS.items():
            config = LoadConfig(
                workload=workload,
                users=users,
                images_per_user=per_user,
                concurrency=2 * cores,
                image_dir=image_dir,
            )
            run_dir = work / f"load-{workload}-{python.split('/')[-3]}-{gil}"
            results["load"][(workload, label)] = run_against_new_server(
                python, gil, config, run_dir
            )

    from loadtest.limits import sample_bytes

    images = sample_bytes(image_dir, 8 if quick else 12)
    rounds = "2" if quick else "3"
    for label, (python, gil) in SERVERS.items():
        run_dir = work / f"throughput-{python.split('/')[-3]}-{gil}"
        url = f"sqlite:///{run_dir / 'api.db'}"
        # Server-Timing on: each response says where its time went (api/http/timing.py)
        timing_env = {"SERVER_TIMING": "true"}
        with ServerProcess(python, run_dir / "data", url, gil=gil, env=timing_env) as server:
            api = process_throughput(server.url, images, cores, rounds=int(rounds))
        library = _limits(
            python,
            gil,
            "library-throughput",
            "--image-dir",
            str(image_dir),
            "--images",
            str(len(images)),
            "--workers",
            str(cores),
            "--rounds",
            rounds,
        )
        results["throughput"][label] = {**api, **library}

    results["pillow_limit"] = {
        label: _limits(
            python,
            gil,
            "pillow-limit",
            "--image-dir",
            str(image_dir),
            "--images",
            str(len(images)),
            "--rounds",
            "3" if quick else "5",
        )
        for label, (python, gil) in SERVERS.items()
    }
    from loadtest.limits import sweep_overhead

    results["overhead"] = sweep_overhead(
        work / "sweep", repeats=2 if quick else 3, images=4 if quick else 10
    )
    results["wall_s"] = round(time.time() - started, 1)
    results["load_before"] = load_before
    results["load_after"] = os.getloadavg()
    return results


# -- markdown --------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _interpreter_line(label: str, environment: dict[str, Any]) -> str:
    python, gil = SERVERS[label]
    flag = "" if gil is None else f" -X gil={gil}"
    path = python.replace(str(PROJECT_ROOT) + "/", "")
    return f"- {label}: `{path}{flag}` = {environment['interpreters'][label]}"


def render(results: dict[str, Any], environment: dict[str, Any]) -> str:
    cores = results["cores"]
    out: list[str] = [
        "# nogilbench performance",
        "",
        f"Generated by `{COMMAND}` (`python -m loadtest.report`) in "
        f"{results['wall_s']} s. Every figure below comes from that one run; the commands in "
        "each section reproduce a part of it.",
        "",
        "## Environment",
        "",
        f"- Host: {environment['cpu']}, {environment['logical_cores']} logical / "
        f"{environment['physical_cores']} physical cores ({cores} usable), "
        f"{environment['memory_gb']} GB RAM, {environment['os']}",
        f"- Commit: {environment['commit']}; measured {environment['date']}",
        *[_interpreter_line(label, environment) for label in SERVERS],
        f"- Load client: httpx (async) on {environment['client']}, same machine, loopback.",
        f"- System load average (1/5/15 min) before: "
        f"{', '.join(f'{x:.2f}' for x in results['load_before'])}; after: "
        f"{', '.join(f'{x:.2f}' for x in results['load_after'])}.",
        f"- **Noise:** {_noise_note(results['load_before'][0], cores)} The load client shares "
        "the cores with the server. Compare ratios measured within this run, not absolute "
        "numbers across runs.",
        "- Servers: uvicorn, one worker process, SQLite (WAL) in a fresh folder per run, bcrypt "
        f"rounds 4 (auth is not what is measured), CPU limiter = {cores} (cores).",
        "",
    ]
    out += _load_section(results, cores)
    out += _throughput_section(results, cores)
    out += _profile_section(results, cores)
    out += _limit_section(results)
    out += _overhead_section(results)
    out += _schemathesis_section()
    return "\n".join(out) + "\n"


def _load_section(results: dict[str, Any], cores: int) -> list[str]:
    load = results["load"]
    first = next(iter(load.values()))
    out = [
        "## Load: stock CPython vs free-threaded (GIL on / off)",
        "",
        f"Each run: a fresh server, {first['flows_completed'] // 1 or '?'} flows "
        "(register + login per user, then upload -> process -> download per image) with "
        f"{2 * cores} flows in flight; then the database and the files are checked (every "
        "acknowledged upload and result present with the same bytes, no orphan file, no "
        "duplicate or unacknowledged row). Latencies are per request of the flows. "
        "Command for one run: `python -m loadtest.load --python .venv-ft/bin/python "
        "--gil 0 --workload pure-python --users 4 --images-per-user 6 --concurrency 4`.",
        "",
    ]
    rows = []
    for (workload, label), s in load.items():
        rows.append(
            [
                workload,
                label,
                s["requests"],
                s["errors"],
                s["requests_per_s"],
                s["images_per_s"],
                s["latency_ms"]["p50"],
                s["latency_ms"]["p95"],
                s["latency_ms"]["p99"],
                s["latency_by_request_ms"]["process"]["p50"],
                s["server_cpu_per_image_ms"],
                "ok" if s["integrity_ok"] else "; ".join(s["integrity_problems"]),
            ]
        )
    out += _table(
        [
            "workload",
            "server",
            "requests",
            "errors",
            "req/s",
            "images/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "process p50 ms",
            "server CPU ms/image",
            "integrity",
        ],
        rows,
    )
    out += ["", "Ratios (images/s; > 1 means faster than the reference):", ""]
    ratio_rows = []
    for workload in ("pillow", "pure-python"):
        ips = {label: load[(workload, label)]["images_per_s"] for label in SERVERS}
        p95 = {label: load[(workload, label)]["latency_ms"]["p95"] for label in SERVERS}
        ratio_rows.append(
            [
                workload,
                _ratio(ips[FT_ON], ips[STOCK]),
                _ratio(ips[FT_OFF], ips[STOCK]),
                _ratio(ips[FT_OFF], ips[FT_ON]),
                _ratio(p95[FT_ON], p95[FT_OFF]),
            ]
        )
    out += _table(
        [
            "workload",
            "ft GIL on / stock",
            "ft GIL off / stock",
            "GIL off / GIL on",
            "p95 GIL on / GIL off",
        ],
        ratio_rows,
    )
    out += [
        "",
        "The Pillow pipeline releases the GIL inside Pillow's C code, so the GIL matters less "
        "there; the pure-Python operation holds it, so only the GIL-off server runs two "
        "requests' image work at once.",
        "",
    ]
    return out


def _throughput_section(results: dict[str, Any], cores: int) -> list[str]:
    out = [
        f"## API image throughput vs the library's, at concurrency = cores ({cores})",
        "",
        f"API: `POST /api/images/{{id}}/process` with the benchmark Pillow pipeline, {cores} "
        "requests in flight, images uploaded beforehand (the figure includes reading the "
        "upload, the CPU limiter, writing the output file and the row). Library: "
        f"`BENCHMARK_PIPELINE.run` over the library's thread runner with {cores} workers, in "
        "one process of the same interpreter (`python -m loadtest.limits "
        "library-throughput --workers N`). Best of the rounds for both. Target: API >= 80% "
        "of the library.",
        "",
    ]
    rows = []
    for label, t in results["throughput"].items():
        share = t["api_ips"] / t["library_ips"] if t["library_ips"] else 0
        rows.append(
            [
                label,
                t["method"],
                t["images"],
                t["library_ips"],
                t["api_ips"],
                f"{share:.0%}",
                "yes" if share >= 0.8 else "**no**",
            ]
        )
    out += _table(
        ["server", "library runner", "images", "library img/s", "API img/s", "API / library",
         ">= 80%"],
        rows,
    )  # fmt: skip
    return [*out, ""]


# Server-Timing phases of POST /process, in the order a request meets them (api/http/timing.py).
PHASES = {
    "auth": "authentication: token check + the user's row (a thread hop)",
    "lookup": "the image's row (a thread hop)",
    "read": "reading the upload file",
    "queue": "waiting for a CPU token (the limiter)",
    "work": "decode, operations, encode (a thread hop + the library's work)",
    "quota": "the storage quota check",
    "write": "writing the output file",
    "commit": "pointing the row at the output (compare and swap)",
}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def profile_rows(throughput: dict[str, Any], cores: int) -> list[list[Any]]:
    """Per phase: median and p90 ms per request and its share of the client-seen latency."""
    phases: dict[str, list[float]] = throughput.get("phases_ms") or {}
    client: list[float] = throughput.get("client_ms") or []
    total = sum(client)
    if not total or not phases:
        return []
    rows = []
    for name, what in PHASES.items():
        values = phases.get(name, [])
        if values:
            rows.append([name, what, f"{_median(values):.2f}", f"{percentile(values, 90):.2f}",
                         f"{sum(values) / total:.0%}"])  # fmt: skip
    app = phases.get("app", [])
    inside = sum(sum(phases.get(name, [])) for name in PHASES)
    rows.append(["(rest of the app)", "routing, validation, dependencies, serialising",
                 f"{_median(app) - sum(_median(phases.get(n, [])) for n in PHASES):.2f}", "",
                 f"{(sum(app) - inside) / total:.0%}"])  # fmt: skip
    rows.append(["(outside the app)", "HTTP parsing, the event loop, the client, the socket",
                 f"{_median(client) - _median(app):.2f}", "",
                 f"{(total - sum(app)) / total:.0%}"])  # fmt: skip
    library_ms = 1000 * cores / throughput["library_ips"] if throughput.get("library_ips") else 0
    rows.append(["(library, same concurrency)", "one image's time in the library runner",
                 f"{library_ms:.2f}", "", ""])  # fmt: skip
    return rows


def _profile_section(results: dict[str, Any], cores: int) -> list[str]:
    out = [
        "## Where a `/process` request's time goes",
        "",
        "The throughput runs above, measured inside the server: with `SERVER_TIMING=true` each "
        "response carries a `Server-Timing` header with the time of each phase of the request "
        "(`api/http/timing.py`), and the load client adds them up over the timed rounds "
        "(`loadtest.load.process_throughput`). Share: the phase's summed time over "
        "the summed client-seen latency of the same requests (concurrent requests overlap, so "
        "a share is of request time, not of wall time). The library row is one image's time "
        f"at {cores} workers (1 / library img/s x workers), to set against `work`.",
        "",
    ]
    for label, throughput in results["throughput"].items():
        rows = profile_rows(throughput, cores)
        if not rows:
            out += [f"{label}: no Server-Timing data recorded.", ""]
            continue
        client = throughput.get("client_ms") or []
        out += [
            f"**{label}**: {len(client)} requests, client-seen latency median "
            f"{_median(client):.1f} ms (p90 {percentile(client, 90):.1f} ms).",
            "",
        ]
        out += _table(["phase", "what", "median ms", "p90 ms", "share of latency"], rows)
        out.append("")
    return out


def _limit_section(results: dict[str, Any]) -> list[str]:
    out = [
        "## The library's Pillow pipeline vs Pillow called directly (the limit)",
        "",
        "One thread, the same images; the library (`BENCHMARK_PIPELINE.run`: validated "
        "operations, format sniffing with pixel limits, EXIF transpose, metadata-free encode) "
        "against the same Pillow calls written by hand (`loadtest.limits.direct_pillow`)"
        ". Rounds interleaved, best round each (`python -m loadtest.limits "
        "pillow-limit`).",
        "",
    ]
    rows = [
        [
            label,
            r["images"],
            r["rounds"],
            r["direct_ips"],
            r["library_ips"],
            f"{r['library_vs_direct']:.0%}",
            f"{r['library_round_spread']:.0%} / {r['direct_round_spread']:.0%}",
        ]
        for label, r in results["pillow_limit"].items()
    ]
    out += _table(
        ["interpreter", "images", "rounds", "direct img/s", "library img/s", "library / direct",
         "round spread lib / direct"],
        rows,
    )  # fmt: skip
    return [*out, ""]


def _noise_note(load_before: float, cores: int) -> str:
    """What the 1-minute load average before the run says about other work on the host."""
    if load_before > 0.5 * cores:
        return (
            f"the host was busy before the run (1-minute load {load_before:.2f} on {cores} "
            "cores): other work competed for the cores, so expect noisy figures."
        )
    return f"the host was quiet before the run (1-minute load {load_before:.2f} on {cores} cores)."


def _overhead_section(results: dict[str, Any]) -> list[str]:
    o = results["overhead"]
    params = o["parameters"]
    out = [
        "## Harness overhead and spread of repeats",
        "",
        f"A real sweep (`loadtest.limits.sweep_overhead`): workloads "
        f"{', '.join(params['workloads'])}, {params['images'][0]} images of "
        f"{params['image_size'][0]}x{params['image_size'][1]}, workers "
        f"{params['workers']}, methods {', '.join(params['methods'])}, {params['repeats']} "
        f"repeats; {o['cells_ok']} of {o['cells_total']} cells ok, {o['sweep_wall_s']} s. "
        "Overhead share = 1 - (sum of the timed repeats) / (the cell's whole process wall time "
        "seen by the orchestrator): process start, imports, pool start, the warm-up pass, "
        "measurement and the JSON hand-back. Start-up share = the cell's `startup_ms` (from the "
        "orchestrator's spawn until imports, pool start and warm-up are done) over the same "
        "whole wall time. Spread = (max - min) / median of the repeats.",
        "",
        f"- Overhead share: median {o['overhead_share_median']:.1%}, max "
        f"{o['overhead_share_max']:.1%}. The share falls as cells grow: the matrix's "
        "50- and 100-image cells amortise the fixed start-up over more timed work.",
        f"- Start-up share (spawn, imports, pool, warm-up): median "
        f"{o['startup_share_median']:.1%}.",
        f"- Spread of repeats: median {o['spread_median']:.1%}, max {o['spread_max']:.1%}.",
        "",
    ]
    rows = [
        [
            c["workload"],
            c["method"],
            c["workers"],
            c["interpreter"],
            c["cell_wall_s"],
            c["timed_s"],
            f"{c['overhead_share']:.1%}",
            f"{c['spread']:.1%}" if c["spread"] is not None else "n/a",
        ]
        for c in o["cells"]
    ]
    out += _table(
        ["workload", "method", "workers", "interpreter", "cell wall s", "timed s", "overhead",
         "spread"],
        rows,
    )  # fmt: skip
    return [*out, ""]


def _schemathesis_section() -> list[str]:
    out = ["## Hostile input: schemathesis (long run)", ""]
    if not SCHEMATHESIS_SUMMARY.exists():
        return [*out, "Not run: `make schemathesis-long` writes the summary shown here.", ""]
    s = json.loads(SCHEMATHESIS_SUMMARY.read_text())
    out += [
        f"`make schemathesis-long`: the suite's schemathesis test (in-process, as a logged-in "
        f"user, every check except positive-data acceptance) with "
        f"{s['examples_per_operation']} examples per operation: {s['requests']} requests over "
        f"{s['operations']} operation/method pairs; {s['server_errors']} 5xx responses and "
        f"{len(s['failures'])} failure(s) (an unhandled exception counts as a failure: the "
        "in-process client raises it instead of answering 500).",
        "",
    ]
    for operation, failure in sorted(s["failures"].items()):
        out.append(f"- **failure** {operation}: {failure}")
    return [*out, ""]


def environment() -> dict[str, Any]:
    host = host_info()
    return {
        "cpu": host.get("cpu_model") or platform.processor() or "unknown CPU",
        "logical_cores": host.get("logical_cores"),
        "physical_cores": host.get("physical_cores"),
        "memory_gb": host.get("memory_total_gib"),
        "os": host.get("os") or platform.platform(),
        "commit": _git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "client": f"Python {platform.python_version()}",
        "interpreters": {label: _describe(python, gil) for label, (python, gil) in SERVERS.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    env = environment()
    with tempfile.TemporaryDirectory(prefix="nogilbench-perf-") as work:
        results = measure(Path(work), args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, env))
    if args.json:
        load = {f"{w} / {label}": s for (w, label), s in results["load"].items()}
        raw = {**results, "load": load}
        args.json.write_text(json.dumps({"environment": env, **raw}, indent=2) + "\n")
    print(f"wrote {args.out}")
    bad = [key for key, s in results["load"].items() if not s["integrity_ok"] or s["errors"]]
    if bad:
        print(f"load runs with errors or lost data: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

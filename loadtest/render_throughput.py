"""The throughput sections of reports/performance.md, from `loadtest.throughput`'s figures:
the service against its library and the free-threaded server's GIL effect, each with its
interval and a verdict against its target that the interval, not the estimate, decides."""

from __future__ import annotations

from typing import Any

from loadtest.markdown import median as _median
from loadtest.markdown import table as _table

API_TARGET = 0.8  # the service's images/s over the library's, at concurrency = cores
GIL_TARGET = 1.8  # GIL-off server over GIL-on server, pure-Python operation

CLIENT_RUNS = {
    "at cores": "httpx, cores in flight",
    "queued": "httpx, 2 x cores in flight",
}


def interval_text(value: dict[str, Any], percent: bool = False) -> str:
    """`0.83 [0.78, 0.88]` (or `83% [78%, 88%]`)."""
    if percent:
        return f"{value['estimate']:.0%} [{value['low']:.0%}, {value['high']:.0%}]"
    return f"{value['estimate']:.2f}x [{value['low']:.2f}, {value['high']:.2f}]"


def verdict(value: dict[str, Any], target: float) -> str:
    """Met only when the whole interval clears the target; missed when it lies below."""
    if value["low"] >= target:
        return "met"
    if value["high"] < target:
        return "**missed**"
    return "not told apart from the target"


def _on_off(enabled: bool | None) -> str:
    return "not reported" if enabled is None else ("on" if enabled else "off")


def api_vs_library_section(result: dict[str, Any]) -> list[str]:
    plan = result["plan"]
    cores = plan["cores"]
    confidence = _confidence(result)
    out = [
        f"## The service against its library, at concurrency = cores ({cores})",
        "",
        f"{plan['rounds']} interleaved rounds (`python -m loadtest.throughput --rounds "
        f"{plan['rounds']}`). Each round visits the three servers in a rotated order; for "
        f"each it sends the round's {plan['images']} uploaded images through `POST "
        f"/api/images/{{id}}/process` with {cores} requests in flight (the project's client, "
        "httpx), then at once runs the same images through the library's thread runner with "
        f"{cores} workers in a long-lived process of the same interpreter "
        "(`loadtest.library_rounds`), then the same with 2 x cores requests in flight, then "
        f"wrk ({cores} connections, {plan['wrk_seconds']:g} s, one image). The API figure "
        "includes everything a request does: authentication, the row, reading the upload, "
        "the CPU limiter, the work, the quota, writing the output and the swap. Ratios are "
        "paired by round (the API round against the library round next to it); the interval "
        f"is a {confidence:.0%} paired t interval on the log ratios. Target: the API at least "
        f"{API_TARGET:.0%} of the library, met when the whole interval is at or above it.",
        "",
    ]
    rows = []
    for label, server in result["servers"].items():
        library = server["library_ips"]
        for workload in library:
            for run, description in CLIENT_RUNS.items():
                ratio = server["api_vs_library"][f"{workload} {run}"]
                api = server["api_ips"][f"{workload} {run}"]
                rows.append([
                    label, workload, description, f"{_median(library[workload]):.1f}",
                    f"{_median(api):.1f}", interval_text(ratio, percent=True),
                    verdict(ratio, API_TARGET),
                ])  # fmt: skip
            wrk = server["wrk_vs_library"][workload]
            rows.append([
                label, workload, f"wrk, {cores} connections, one image",
                f"{_median(library[workload]):.1f}", f"{_median(server['wrk_rps'][workload]):.1f}",
                interval_text(wrk, percent=True), verdict(wrk, API_TARGET),
            ])  # fmt: skip
    out += _table(
        ["server", "workload", "client", "library img/s (median)", "API img/s (median)",
         "API / library", f">= {API_TARGET:.0%}"],
        rows,
    )  # fmt: skip
    errors = {label: s["wrk_errors"] for label, s in result["servers"].items() if s["wrk_errors"]}
    out += [
        "",
        "wrk errors (non-2xx answers, socket errors): "
        + (", ".join(f"{k}: {v}" for k, v in errors.items()) if errors else "none")
        + ". Every httpx request answered 200 (a failure stops the measurement).",
        "",
    ]
    observed = [
        f"{label}: server {_on_off(s['gil_enabled'].get('server'))}, library "
        f"{_on_off(s['gil_enabled'].get('library'))}"
        for label, s in result["servers"].items()
        if s.get("gil_enabled")
    ]
    if observed:
        out += [
            "The GIL as each process reported it while measured (a label it contradicts "
            "stops the measurement): " + "; ".join(observed) + ".",
            "",
        ]
    return out


def gil_section(result: dict[str, Any]) -> list[str]:
    effect = result.get("gil_effect") or {}
    if not effect:
        return []
    confidence = _confidence(result)
    out = [
        "## The free-threaded server, GIL off against GIL on",
        "",
        "The same rounds: throughput of the free-threaded build's server with the GIL off over "
        "the same server with the GIL on, paired by round, for each client, and the library's "
        "own ratio beside it (what the interpreter allows without a server). "
        f"{confidence:.0%} paired t intervals on the log ratios. Target on the pure-Python "
        f"operation: at least {GIL_TARGET:g}x, met when the whole interval is at or above it.",
        "",
    ]
    rows = []
    for workload, by_client in effect.items():
        target = verdict(by_client["client"], GIL_TARGET) if workload == "pure-python" else ""
        wrk_target = verdict(by_client["wrk"], GIL_TARGET) if workload == "pure-python" else ""
        rows.append([
            workload, interval_text(by_client["client"]), target,
            interval_text(by_client["wrk"]), wrk_target, interval_text(by_client["library"]),
        ])  # fmt: skip
    out += _table(
        ["workload", "API, httpx", f">= {GIL_TARGET:g}x", "API, wrk", f">= {GIL_TARGET:g}x",
         "library"],
        rows,
    )  # fmt: skip
    return [*out, ""]


def cpu_section(result: dict[str, Any]) -> list[str]:
    """CPU time per image (medians over the rounds): what the service adds to its library."""
    out = [
        "### CPU time per image",
        "",
        "The same rounds, with cores requests in flight: CPU time (user + system, every thread) "
        "of the server process, of the measuring process (the httpx client and its event loop) "
        "and of the library's process, per image, median over the rounds. On a host whose "
        "cores the client shares, API / library cannot pass library / (server + client): "
        "the service's own CPU per image is what to cut.",
        "",
    ]
    rows = []
    for label, server in result["servers"].items():
        cpu = server.get("cpu_ms_per_image")
        if not cpu:
            continue
        for workload, library_rounds in cpu["library"].items():
            library = _median(library_rounds)
            service = _median(cpu["server"][f"{workload} at cores"])
            client = _median(cpu["client"][f"{workload} at cores"])
            bound = library / (service + client) if service + client else 0.0
            rows.append([
                label, workload, f"{library:.1f}", f"{service:.1f}", f"{service - library:+.1f}",
                f"{client:.1f}", f"{bound:.0%}",
            ])  # fmt: skip
    if not rows:
        return []
    out += _table(
        ["server", "workload", "library ms", "server ms", "server - library", "client ms",
         "library / (server + client)"],
        rows,
    )  # fmt: skip
    return [*out, ""]


def profile_input(result: dict[str, Any], label: str) -> dict[str, Any]:
    """One server's Server-Timing record in the shape `loadtest.render.profile_rows` reads."""
    server = result["servers"][label]
    return {
        "phases_ms": server["phases_ms"],
        "client_ms": server["client_ms"],
        "library_ips": _median(server["library_ips"]["pillow"]),
    }


def _confidence(result: dict[str, Any]) -> float:
    for server in result["servers"].values():
        for ratio in server["api_vs_library"].values():
            return float(ratio["confidence"])
    return 0.95

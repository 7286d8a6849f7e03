"""The service against its library, and the free-threaded server's GIL effect, with intervals.

Three servers (stock CPython, the free-threaded build with the GIL on, with it off) and, for
each, a library process on the same interpreter (`loadtest.library_rounds`) stay up for the
whole measurement. Rounds are interleaved: each round visits the three in a rotated order and
measures, back to back for one of them, its API round and its library round on the same
images, then the same for the next; so drift on a noisy host hits each pair alike, and each
round gives one API/library ratio per server and one GIL-off/GIL-on ratio per workload. The
intervals are paired t intervals on the log ratios over the rounds
(`nogilbench.results.stats.paired_ratio`), as the sweep's own.

Two clients, measuring the same servers in the same rounds:
- the project's own (httpx, asyncio): every image of the round through `POST /process`,
  `cores` requests in flight (the library's worker count), and again with 2 x cores in flight
  (a queue in front of the server's CPU limiter, which stays at `cores`, as the library's
  runner has one in front of its workers);
- wrk, independent and written in C: `cores` connections for a fixed time on one image
  (`wrk.lua` built here: the pipeline as the body, the token in the header).

    python -m loadtest.throughput [--rounds 8] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtest.client import process_cpu_s, sign_in
from loadtest.limits import sample_bytes
from loadtest.load import parse_server_timing
from loadtest.pipelines import PIPELINES
from loadtest.server import ServerProcess
from nogilbench.paths import PROJECT_ROOT
from nogilbench.results.stats import Interval, paired_ratio

PASSWORD = "throughput-password-1"
WORKLOADS = ("pillow", "pure-python")


@dataclass(frozen=True)
class Interpreter:
    label: str
    python: str
    gil: int | None

    @property
    def flags(self) -> list[str]:
        return [] if self.gil is None else ["-X", f"gil={self.gil}"]


@dataclass
class Plan:
    rounds: int = 8
    images: int = 24  # per API / library round
    wrk_seconds: int = 3  # wrk takes whole seconds
    cores: int = 2

    @property
    def client_runs(self) -> dict[str, int]:
        """The project's client: name -> requests in flight."""
        return {"at cores": self.cores, "queued": 2 * self.cores}


@dataclass
class Target:
    """One interpreter: its server, its library process and what the rounds recorded."""

    interpreter: Interpreter
    server: ServerProcess
    library: subprocess.Popen[str]
    headers: dict[str, str] = field(default_factory=dict)
    image_ids: list[int] = field(default_factory=list)
    api_s: dict[str, list[float]] = field(default_factory=dict)  # "pillow at cores" -> rounds
    library_s: dict[str, list[float]] = field(default_factory=dict)  # workload -> rounds
    wrk_rps: dict[str, list[float]] = field(default_factory=dict)  # workload -> rounds
    wrk_errors: int = 0
    # CPU ms per image, per round: the server process (every thread), this process (the httpx
    # client), the library process; "pillow at cores" -> rounds, library: workload -> rounds
    server_cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    client_cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    library_cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    gil_enabled: dict[str, bool] = field(default_factory=dict)  # as observed: server, library
    phases_ms: dict[str, list[float]] = field(default_factory=dict)  # pillow at cores
    client_ms: list[float] = field(default_factory=list)


# -- one round of each kind ---------------------------------------------------------------------


async def _api_round(target: Target, workload: str, inflight: int, record: bool) -> float:
    """Seconds for every image through `POST /process`, `inflight` requests at a time."""
    pipeline = PIPELINES[workload]
    queue = list(target.image_ids)
    failures: list[str] = []
    limits = httpx.Limits(max_connections=inflight)
    async with httpx.AsyncClient(
        base_url=target.server.url, timeout=120.0, limits=limits, headers=target.headers
    ) as http:
        await http.get("/health")  # the connection pool is warm before the clock starts

        async def worker() -> None:
            while queue:
                image_id = queue.pop()
                started = time.perf_counter()
                response = await http.post(f"/api/images/{image_id}/process", json=pipeline)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                elif record:
                    target.client_ms.append((time.perf_counter() - started) * 1000)
                    timing = parse_server_timing(response.headers.get("server-timing", ""))
                    for name, ms in timing.items():
                        target.phases_ms.setdefault(name, []).append(ms)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{target.interpreter.label}: process failed: {failures[:3]}")
    return seconds


def _library_round(target: Target, workload: str) -> float:
    assert target.library.stdin is not None and target.library.stdout is not None
    target.library.stdin.write(workload + "\n")
    target.library.stdin.flush()
    return float(json.loads(target.library.stdout.readline())["seconds"])


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{authorization}"
"""


def _wrk_round(target: Target, workload: str, plan: Plan, work: Path) -> float:
    """Requests/s of wrk on one image, `cores` connections for `wrk_seconds`."""
    script = work / f"wrk-{target.server.port}-{workload}.lua"
    body = json.dumps(PIPELINES[workload])
    script.write_text(WRK_SCRIPT.format(body=body, authorization=target.headers["Authorization"]))
    url = f"{target.server.url}/api/images/{target.image_ids[0]}/process"
    command = [
        "wrk", "-t1", f"-c{plan.cores}", f"-d{plan.wrk_seconds}s", "--timeout", "60s",
        "-s", str(script), url,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if output.returncode != 0:
        raise RuntimeError(f"wrk failed ({output.returncode}): {output.stderr[-500:]}")
    return _parse_wrk(output.stdout, target)


def _parse_wrk(text: str, target: Target) -> float:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate: {text[-500:]}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors: (.*)", text)
    target.wrk_errors += int(bad.group(1)) if bad else 0
    if socket_errors:
        target.wrk_errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return float(rate.group(1))


# -- set-up ------------------------------------------------------------------------------------


def _sign_in_and_upload(target: Target, images: list[bytes]) -> None:
    with httpx.Client(base_url=target.server.url, timeout=60.0) as http:
        email = f"throughput-{time.time_ns():x}@example.com"
        target.headers = sign_in(http, email, PASSWORD)
        # The GIL as the server itself reports it (loopback servers serve /api/system openly)
        system = http.get("/api/system")
        system.raise_for_status()
        target.gil_enabled["server"] = bool(system.json()["python"]["gil_enabled"])
        for index, data in enumerate(images):
            files = {"file": (f"t{index}.jpg", data, "image/jpeg")}
            response = http.post("/api/images/upload", files=files, headers=target.headers)
            response.raise_for_status()
            target.image_ids.append(int(response.json()["id"]))


def _check_gil(target: Target) -> None:
    """A figure labelled GIL off must come from processes that ran with it off (and on)."""
    expected = target.interpreter.gil != 0
    wrong = {side: on for side, on in target.gil_enabled.items() if on is not expected}
    if wrong:
        raise RuntimeError(
            f"{target.interpreter.label}: the GIL was {'on' if not expected else 'off'} in "
            f"the {', '.join(wrong)} process, not as the label says"
        )


@contextmanager
def _targets(
    interpreters: list[Interpreter], plan: Plan, work: Path, image_dir: Path
) -> Iterator[list[Target]]:
    images = sample_bytes(image_dir, plan.images)
    with ExitStack() as stack:
        targets = []
        for number, interpreter in enumerate(interpreters):
            run_dir = work / f"server-{number}"
            server = ServerProcess(
                interpreter.python,
                run_dir / "data",
                f"sqlite:///{run_dir / 'api.db'}",
                gil=interpreter.gil,
                env={"SERVER_TIMING": "true", "CPU_WORKERS": str(plan.cores)},
            )
            stack.enter_context(server)
            library = subprocess.Popen(
                [
                    interpreter.python, *interpreter.flags, "-m", "loadtest.library_rounds",
                    "--workers", str(plan.cores), "--image-dir", str(image_dir),
                    "--images", str(plan.images),
                ],
                cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            stack.callback(_stop_library, library)
            assert library.stdout is not None
            ready = json.loads(library.stdout.readline() or "{}")
            if not ready.get("ready"):
                raise RuntimeError(f"{interpreter.label}: the library process did not start")
            target = Target(interpreter, server, library)
            target.gil_enabled["library"] = bool(ready["gil_enabled"])
            _sign_in_and_upload(target, images)
            _check_gil(target)
            targets.append(target)
        yield targets


def _stop_library(library: subprocess.Popen[str]) -> None:
    if library.stdin is not None:
        library.stdin.close()
    try:
        library.wait(30)
    except subprocess.TimeoutExpired:
        library.kill()


# -- the rounds --------------------------------------------------------------------------------


def _one_target_round(target: Target, plan: Plan, work: Path, first: bool) -> None:
    server_pid = target.server.process.pid if target.server.process else 0
    per_image = 1000 / plan.images
    for workload in WORKLOADS:
        for run, inflight in plan.client_runs.items():
            record = workload == "pillow" and run == "at cores" and not first
            server_before, client_before = process_cpu_s(server_pid), time.process_time()
            seconds = asyncio.run(_api_round(target, workload, inflight, record))
            key = f"{workload} {run}"
            target.api_s.setdefault(key, []).append(seconds)
            target.server_cpu_ms.setdefault(key, []).append(
                (process_cpu_s(server_pid) - server_before) * per_image
            )
            target.client_cpu_ms.setdefault(key, []).append(
                (time.process_time() - client_before) * per_image
            )
            if run == "at cores":  # the library right after the API round it is set against
                library_before = process_cpu_s(target.library.pid)
                target.library_s.setdefault(workload, []).append(_library_round(target, workload))
                target.library_cpu_ms.setdefault(workload, []).append(
                    (process_cpu_s(target.library.pid) - library_before) * per_image
                )
        target.wrk_rps.setdefault(workload, []).append(_wrk_round(target, workload, plan, work))


def run_rounds(targets: list[Target], plan: Plan, work: Path) -> None:
    for target in targets:  # warm-up round, not recorded: imports, caches, the first files
        asyncio.run(_api_round(target, "pillow", plan.cores, record=False))
        asyncio.run(_api_round(target, "pure-python", plan.cores, record=False))
    for number in range(plan.rounds):
        shift = number % len(targets)
        for target in targets[shift:] + targets[:shift]:
            _one_target_round(target, plan, work, first=False)


# -- figures -----------------------------------------------------------------------------------


def _interval(value: Interval) -> dict[str, Any]:
    return {
        "estimate": round(value.estimate, 4),
        "low": round(value.low, 4),
        "high": round(value.high, 4),
        "confidence": value.confidence,
        "rounds": value.n,
    }


def _rounded(values: dict[str, list[float]]) -> dict[str, list[float]]:
    return {key: [round(v, 3) for v in vs] for key, vs in values.items()}


def _ips(seconds: list[float], images: int) -> list[float]:
    return [images / s for s in seconds]


def figures(targets: list[Target], plan: Plan) -> dict[str, Any]:
    """Per interpreter: throughput per round and API/library; across them: GIL off / on."""
    servers: dict[str, Any] = {}
    for target in targets:
        label = target.interpreter.label
        library_ips = {w: _ips(s, plan.images) for w, s in target.library_s.items()}
        api_ips = {run: _ips(s, plan.images) for run, s in target.api_s.items()}
        ratios = {}
        for run, values in api_ips.items():
            workload = run.split(" ")[0]
            ratios[run] = _interval(paired_ratio(values, library_ips[workload]))
        wrk_vs_library = {
            # wrk's rounds ran between the same library rounds: paired by round as well
            workload: _interval(paired_ratio(rps, library_ips[workload]))
            for workload, rps in target.wrk_rps.items()
        }
        servers[label] = {
            "library_ips": {w: [round(v, 3) for v in vs] for w, vs in library_ips.items()},
            "api_ips": {r: [round(v, 3) for v in vs] for r, vs in api_ips.items()},
            "wrk_rps": {w: [round(v, 3) for v in vs] for w, vs in target.wrk_rps.items()},
            "wrk_errors": target.wrk_errors,
            "gil_enabled": target.gil_enabled,
            "cpu_ms_per_image": {
                "server": _rounded(target.server_cpu_ms),
                "client": _rounded(target.client_cpu_ms),
                "library": _rounded(target.library_cpu_ms),
            },
            "api_vs_library": ratios,
            "wrk_vs_library": wrk_vs_library,
            "phases_ms": {n: [round(v, 3) for v in vs] for n, vs in target.phases_ms.items()},
            "client_ms": [round(v, 3) for v in target.client_ms],
        }
    by_label = {t.interpreter.label: t for t in targets}
    gil_effect: dict[str, Any] = {}
    if {"free-threaded, GIL on", "free-threaded, GIL off"} <= set(by_label):
        on, off = by_label["free-threaded, GIL on"], by_label["free-threaded, GIL off"]
        for workload in WORKLOADS:
            run = f"{workload} at cores"
            gil_effect[workload] = {
                # GIL off / GIL on throughput = GIL-on time / GIL-off time, round by round
                "client": _interval(paired_ratio(on.api_s[run], off.api_s[run])),
                "wrk": _interval(paired_ratio(off.wrk_rps[workload], on.wrk_rps[workload])),
                "library": _interval(paired_ratio(on.library_s[workload], off.library_s[workload])),
            }
    return {
        "plan": {
            "rounds": plan.rounds,
            "images": plan.images,
            "wrk_seconds": plan.wrk_seconds,
            "cores": plan.cores,
            "client_runs": plan.client_runs,
        },
        "servers": servers,
        "gil_effect": gil_effect,
    }


def measure_throughput(
    interpreters: list[Interpreter], plan: Plan, work: Path, image_dir: Path
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt install wrk; scripts/setup.sh)")
    started = time.perf_counter()
    with _targets(interpreters, plan, work, image_dir) as targets:
        run_rounds(targets, plan, work)
        result = figures(targets, plan)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    import tempfile

    from loadtest.measure import SERVERS
    from nogilbench.host.interpreters import usable_cores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--wrk-seconds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    plan = Plan(args.rounds, args.images, args.wrk_seconds, usable_cores())
    if args.quick:
        plan = Plan(2, 8, 1, plan.cores)
    interpreters = [Interpreter(label, python, gil) for label, (python, gil) in SERVERS.items()]
    with tempfile.TemporaryDirectory(prefix="nogilbench-throughput-") as work:
        result = measure_throughput(interpreters, plan, Path(work), Path(work) / "images")
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    summary = {
        label: {run: ratio["estimate"] for run, ratio in server["api_vs_library"].items()}
        for label, server in result["servers"].items()
    }
    print(json.dumps({"api_vs_library": summary, "gil_effect": result["gil_effect"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

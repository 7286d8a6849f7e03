"""A bounded load client for the image service, and the integrity check that follows it.

`run_load(base_url, config)` registers `users` users, then `concurrency` asyncio workers
share the flows (one per image): upload -> process -> download, every request timed. The
run is bounded in requests (users x images_per_user flows) and in time (`deadline_s`).

`check_integrity(database_url, data_dir, result)` then reads the service's tables through
its own repositories (`api.repositories`) and lists its storage folders: every acknowledged
upload has its row and its file (same bytes), every downloaded result has its row and its
file (same bytes), no file is left without a row, no row is duplicated or unacknowledged.

Command line (starts its own server on loopback, with its own SQLite database):

    python -m loadtest.load --python .venv-ft/bin/python --gil 0 --workload pillow
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.core.database import Database
from api.repositories import images as images_repository
from api.repositories import jobs as jobs_repository
from api.repositories import users as users_repository
from loadtest.pipelines import PIPELINES
from loadtest.server import ServerProcess
from nogilbench.imaging.samples import generate_images

PASSWORD = "load-test-password-1"
DEFAULT_IMAGE_SIZE = (800, 533)


@dataclass
class LoadConfig:
    workload: str = "pillow"
    users: int = 2
    images_per_user: int = 4
    concurrency: int = 4
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    request_timeout_s: float = 120.0
    deadline_s: float = 300.0  # the whole run, whatever happens
    image_dir: Path | None = None  # sample images (generated and reused); default: a temp dir
    run_id: str = ""  # distinguishes the e-mails of repeated runs against one database

    @property
    def pipeline(self) -> dict[str, Any]:
        return PIPELINES[self.workload]


@dataclass
class Request:
    name: str  # register, login, upload, process, download, system
    status: int  # 0: no response (timeout, connection error)
    ms: float
    error: str | None = None


@dataclass
class LoadResult:
    config: dict[str, Any]
    server: dict[str, Any] = field(default_factory=dict)  # /api/system before the run
    server_cpu_s: float | None = None  # server process CPU time spent during the flows
    requests: list[Request] = field(default_factory=list)
    flows_wall_s: float = 0.0
    flows_completed: int = 0
    uploaded: dict[int, str] = field(default_factory=dict)  # acknowledged id -> sha256
    downloaded: dict[int, str] = field(default_factory=dict)  # id -> sha256 of the output
    users: list[str] = field(default_factory=list)
    timed_out: bool = False

    @property
    def errors(self) -> list[Request]:
        return [r for r in self.requests if r.error is not None]

    def summary(self) -> dict[str, Any]:
        flow_requests = [r for r in self.requests if r.name in ("upload", "process", "download")]
        wall = self.flows_wall_s or math.nan
        by_name: dict[str, dict[str, Any]] = {}
        for name in ("register", "login", "upload", "process", "download"):
            times = [r.ms for r in self.requests if r.name == name and r.error is None]
            by_name[name] = {"count": len(times), **latency_summary(times)}
        server_python = self.server.get("python", {})
        return {
            "workload": self.config["workload"],
            "server_version": server_python.get("version"),
            "server_free_threaded_build": server_python.get("free_threaded_build"),
            "server_gil_enabled": server_python.get("gil_enabled"),
            "requests": len(flow_requests),
            "errors": len(self.errors),
            "error_samples": [f"{r.name} {r.status}: {r.error}" for r in self.errors[:5]],
            "flows_completed": self.flows_completed,
            "flows_wall_s": round(self.flows_wall_s, 3),
            "requests_per_s": round(len(flow_requests) / wall, 2),
            "images_per_s": round(self.flows_completed / wall, 3),
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_per_image_ms": (
                round(1000 * self.server_cpu_s / self.flows_completed, 1)
                if self.server_cpu_s is not None and self.flows_completed
                else None
            ),
            "latency_ms": latency_summary([r.ms for r in flow_requests if r.error is None]),
            "latency_by_request_ms": by_name,
            "timed_out": self.timed_out,
        }


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1) if values else math.nan,
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Client:
    """One httpx client shared by the workers; every call appends a `Request`."""

    def __init__(self, http: httpx.AsyncClient, result: LoadResult) -> None:
        self.http = http
        self.result = result

    async def call(self, name: str, method: str, url: str, expect: int, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            self.result.requests.append(Request(name, 0, ms, f"{type(exc).__name__}: {exc}"))
            return None
        ms = (time.perf_counter() - started) * 1000
        error = None if response.status_code == expect else response.text[:300]
        self.result.requests.append(Request(name, response.status_code, ms, error))
        return response if error is None else None


async def _register(client: _Client, email: str) -> dict[str, str] | None:
    body = {"email": email, "password": PASSWORD}
    if await client.call("register", "POST", "/auth/register", 201, json=body) is None:
        return None
    form = {"username": email, "password": PASSWORD}
    response = await client.call("login", "POST", "/auth/login", 200, data=form)
    if response is None:
        return None
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _flow(
    client: _Client, headers: dict[str, str], name: str, data: bytes, pipeline: dict[str, Any]
) -> None:
    files = {"file": (name, data, "image/jpeg")}
    response = await client.call(
        "upload", "POST", "/api/images/upload", 201, files=files, headers=headers
    )
    if response is None:
        return
    image_id = int(response.json()["id"])
    client.result.uploaded[image_id] = sha256(data)
    url = f"/api/images/{image_id}"
    if await client.call("process", "POST", f"{url}/process", 200, json=pipeline, headers=headers):
        response = await client.call("download", "GET", f"{url}/download", 200, headers=headers)
        if response is not None:
            client.result.downloaded[image_id] = sha256(response.content)
            client.result.flows_completed += 1


async def _server_cpu(client: _Client) -> tuple[dict[str, Any], float | None]:
    response = await client.http.get("/api/system")
    if response.status_code != 200:
        return {}, None
    info = response.json()
    process = info.get("process", {})
    return info, process.get("cpu_user_s", 0.0) + process.get("cpu_system_s", 0.0)


async def _run(base_url: str, config: LoadConfig, images: list[bytes]) -> LoadResult:
    result = LoadResult(config={**asdict(config), "image_dir": None})
    limits = httpx.Limits(max_connections=config.concurrency + config.users + 2)
    timeout = httpx.Timeout(config.request_timeout_s)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as http:
        client = _Client(http, result)
        result.server, cpu_before = await _server_cpu(client)
        prefix = config.run_id or f"{time.time_ns():x}"
        emails = [f"load-{prefix}-{n}@example.com" for n in range(config.users)]
        logins = await asyncio.gather(*(_register(client, email) for email in emails))
        result.users = [email for email, h in zip(emails, logins, strict=True) if h is not None]
        queue: asyncio.Queue[tuple[dict[str, str], str, bytes]] = asyncio.Queue()
        for user, headers in enumerate(logins):
            if headers is None:
                continue
            for index in range(config.images_per_user):
                data = images[(user * config.images_per_user + index) % len(images)]
                queue.put_nowait((headers, f"u{user}-img{index}.jpg", data))

        async def worker() -> None:
            while not queue.empty():
                headers, name, data = queue.get_nowait()
                await _flow(client, headers, name, data, config.pipeline)

        started = time.perf_counter()
        workers = [asyncio.create_task(worker()) for _ in range(config.concurrency)]
        done, pending = await asyncio.wait(workers, timeout=config.deadline_s)
        for task in pending:
            task.cancel()
        if pending:
            result.timed_out = True
            await asyncio.gather(*pending, return_exceptions=True)
        result.flows_wall_s = time.perf_counter() - started
        for task in done:
            task.result()  # a bug in the client itself must not pass silently
        _, cpu_after = await _server_cpu(client)
        if cpu_before is not None and cpu_after is not None:
            result.server_cpu_s = round(cpu_after - cpu_before, 3)
    return result


def sample_images(config: LoadConfig) -> list[bytes]:
    count = max(1, min(config.users * config.images_per_user, 16))
    directory = config.image_dir or Path(tempfile.gettempdir()) / "nogilbench-load-images"
    size_dir = directory / f"{config.image_size[0]}x{config.image_size[1]}"
    return [path.read_bytes() for path in generate_images(size_dir, count, config.image_size)]


def run_load(base_url: str, config: LoadConfig, images: list[bytes] | None = None) -> LoadResult:
    return asyncio.run(_run(base_url, config, images or sample_images(config)))


def parse_server_timing(value: str) -> dict[str, float]:
    """A `Server-Timing` header (the API's, with SERVER_TIMING on) as {phase: milliseconds}."""
    phases: dict[str, float] = {}
    for entry in value.split(","):
        name, _, parameters = entry.strip().partition(";")
        for parameter in parameters.split(";"):
            key, _, number = parameter.strip().partition("=")
            if key == "dur" and name:
                phases[name] = phases.get(name, 0.0) + float(number)
    return phases


# -- integrity --------------------------------------------------------------------------------


@dataclass
class IntegrityReport:
    problems: list[str] = field(default_factory=list)
    rows: int = 0
    upload_files: int = 0
    output_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {path.name: path for path in folder.iterdir() if path.is_file()}


def check_integrity(database_url: str, data_dir: Path, result: LoadResult) -> IntegrityReport:
    """Compare what the client was told (acknowledged ids, downloaded bytes) with what is stored."""
    database = Database(database_url, run_migrations=False)  # read only: never migrate
    try:
        with database.session() as session:
            rows = images_repository.every(session)
            job_outputs = jobs_repository.referenced_files(session)["outputs"]
            emails = users_repository.emails(session)
    finally:
        database.engine.dispose()
    report = IntegrityReport(rows=len(rows))
    problems = report.problems
    uploads = _files(data_dir / "uploads")
    outputs = _files(data_dir / "outputs")
    report.upload_files, report.output_files = len(uploads), len(outputs)
    by_id = {row.id: row for row in rows}

    for label, values in (
        ("image id", [row.id for row in rows]),
        ("stored file name", [row.stored_name for row in rows]),
        ("processed file name", [row.processed_name for row in rows if row.processed_name]),
        ("user e-mail", emails),
    ):
        duplicates = [value for value, n in Counter(values).items() if n > 1]
        if duplicates:
            problems.append(f"duplicate {label}(s): {duplicates[:5]}")
    missing_users = set(result.users) - set(emails)
    if missing_users:
        problems.append(f"registered users missing: {sorted(missing_users)[:5]}")

    for image_id, digest in result.uploaded.items():
        row = by_id.get(image_id)
        if row is None:
            problems.append(f"acknowledged upload {image_id} has no row")
            continue
        path = uploads.get(row.stored_name)
        if path is None:
            problems.append(f"upload {image_id}: file {row.stored_name} is missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"upload {image_id}: stored bytes differ from the uploaded ones")
    for image_id, digest in result.downloaded.items():
        row = by_id.get(image_id)
        if row is None or not row.processed_name:
            problems.append(f"downloaded result of image {image_id} has no processed row")
            continue
        path = outputs.get(row.processed_name)
        if path is None:
            problems.append(f"result of image {image_id}: file {row.processed_name} is missing")
        elif sha256(path.read_bytes()) != digest:
            problems.append(f"result of image {image_id}: stored bytes differ from the download")
    unacknowledged = set(by_id) - set(result.uploaded)
    if unacknowledged:
        problems.append(f"rows nobody was told about (half-done uploads): {sorted(unacknowledged)}")

    referenced_uploads = {row.stored_name for row in rows}
    referenced_outputs = {row.processed_name for row in rows if row.processed_name} | job_outputs
    orphans = sorted(set(uploads) - referenced_uploads) + sorted(set(outputs) - referenced_outputs)
    if orphans:
        problems.append(f"{len(orphans)} orphan file(s): {orphans[:5]}")
    return report


# -- command line -----------------------------------------------------------------------------


def run_against_new_server(
    python: str,
    gil: int | None,
    config: LoadConfig,
    work_dir: Path,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Start a server (own SQLite unless `database_url`), run the load, check, stop."""
    data_dir = work_dir / "data"
    url = database_url or f"sqlite:///{work_dir / 'load.db'}"
    images = sample_images(config)
    with ServerProcess(python, data_dir, url, gil=gil) as server:
        result = run_load(server.url, config, images)
    integrity = check_integrity(url, data_dir, result)
    return {
        **result.summary(),
        "integrity_ok": integrity.ok,
        "integrity_problems": integrity.problems,
        "rows": integrity.rows,
        "upload_files": integrity.upload_files,
        "output_files": integrity.output_files,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the server")
    parser.add_argument("--gil", type=int, choices=(0, 1), help="-X gil= for the server")
    parser.add_argument("--workload", choices=sorted(PIPELINES), default="pillow")
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--images-per-user", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds, whole run")
    parser.add_argument("--json", type=Path, help="write the summary here too")
    args = parser.parse_args(argv)
    config = LoadConfig(
        workload=args.workload,
        users=args.users,
        images_per_user=args.images_per_user,
        concurrency=args.concurrency,
        deadline_s=args.deadline,
    )
    with tempfile.TemporaryDirectory(prefix="nogilbench-load-") as work:
        summary = run_against_new_server(args.python, args.gil, config, Path(work))
    text_out = json.dumps(summary, indent=2)
    print(text_out)
    if args.json:
        args.json.write_text(text_out + "\n")
    ok = summary["integrity_ok"] and not summary["errors"] and not summary["timed_out"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

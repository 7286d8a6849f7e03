"""Real uvicorn on loopback: no request holds a database connection while it waits.

30 open SSE streams and 30 /process calls queued behind a one-token CPU limiter, against a
pool of 5 connections and no overflow: `GET /auth/me` still answers 200 (were a connection
held per stream or per queued request, it would wait DB_POOL_TIMEOUT and answer 503). Also:
an upload from an anonymous or invalid token is refused before its body is read.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from api.core.models import utcnow
from nogilbench.store.db import make_engine
from tests.support.images import noise_bytes
from tests.support.servers import ServerProcess

PASSWORD = "pool-test-password"
USERS = 3
STREAMS = 30
PROCESS_CALLS = 30
# Pure-Python work: a queue of these keeps the single CPU token busy for several seconds.
SLOW_PIPELINE = {
    "operations": [{"op": "python_convolve", "max_side": 256, "passes": 4}],
    "format": "png",
}
SERVER_ENV = {
    "CPU_WORKERS": "1",
    "DB_POOL_SIZE": "5",
    "DB_MAX_OVERFLOW": "0",
    "DB_POOL_TIMEOUT": "5",
    "SSE_POLL_SECONDS": "0.25",
    "AUTH_RATE_LIMIT_ADDRESS": "1000/minute",
    "QUOTA_EVENT_STREAMS": str(STREAMS),  # 10 streams per user, past the default quota of 4
}


def _held_job(database_url: str, owner_id: int) -> int:
    """A job another (live) worker holds: its stream stays open, polling, never finishing."""
    engine = make_engine(database_url, check=False)
    try:
        with engine.begin() as connection:
            row = connection.execute(
                text(
                    "INSERT INTO jobs (owner_id, kind, status, method, workers, total, done, "
                    "failed, parameters, created_at, claimed_by, lease_expires_at, attempts) "
                    "VALUES (:owner, 'batch', 'processing', 'sync', 1, 1, 0, 0, '{}', :now, "
                    "'elsewhere', :lease, 1) RETURNING id"
                ),
                {"owner": owner_id, "now": utcnow(), "lease": utcnow() + timedelta(hours=1)},
            ).one()
        return int(row[0])
    finally:
        engine.dispose()


async def _scenario(base_url: str, users: list[dict], database_url: str) -> dict:
    limits = httpx.Limits(max_connections=STREAMS + PROCESS_CALLS + 10)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        opened = 0
        all_open = asyncio.Event()

        async def follow(user: dict) -> None:
            nonlocal opened
            url = f"/api/jobs/{user['job_id']}/events"
            async with client.stream("GET", url, headers=user["headers"]) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("event: progress"):
                        opened += 1
                        if opened == STREAMS:
                            all_open.set()

        async def process(user: dict) -> int:
            url = f"/api/images/{user['image_id']}/process"
            response = await client.post(url, json=SLOW_PIPELINE, headers=user["headers"])
            return response.status_code

        streams = [asyncio.create_task(follow(users[n % USERS])) for n in range(STREAMS)]
        await asyncio.wait_for(all_open.wait(), 60)
        calls = [asyncio.create_task(process(users[n % USERS])) for n in range(PROCESS_CALLS)]
        await asyncio.sleep(0.5)  # the calls reach the server and queue for the CPU token
        me = []
        for _ in range(5):
            started = time.perf_counter()
            response = await client.get("/auth/me", headers=users[0]["headers"])
            me.append((response.status_code, time.perf_counter() - started))
            await asyncio.sleep(0.2)
        queued_while_measured = sum(not call.done() for call in calls)
        streams_alive = sum(not stream.done() for stream in streams)
        statuses = await asyncio.gather(*calls)
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        return {
            "me": me,
            "queued_while_measured": queued_while_measured,
            "streams_alive": streams_alive,
            "process_statuses": statuses,
        }


@pytest.mark.slow
def test_streams_and_queued_work_leave_the_pool_free(db_url: str, tmp_path: Path) -> None:
    server = ServerProcess(sys.executable, tmp_path / "data", db_url, env=SERVER_ENV)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        users = []
        for n in range(USERS):
            email = f"pool{n}@example.com"
            body = {"email": email, "password": PASSWORD}
            assert client.post("/auth/register", json=body).status_code == 201
            form = {"username": email, "password": PASSWORD}
            token = client.post("/auth/login", data=form).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            files = {"file": ("noise.png", noise_bytes((320, 240), 50), "image/png")}
            image = client.post("/api/images/upload", files=files, headers=headers).json()
            owner_id = client.get("/auth/me", headers=headers).json()["id"]
            job_id = _held_job(db_url, owner_id)
            users.append({"headers": headers, "image_id": image["id"], "job_id": job_id})
        result = asyncio.run(_scenario(server.url, users, db_url))
    latencies = [round(seconds, 3) for _, seconds in result["me"]]
    print(f"GET /auth/me under load: {latencies} s; {result['queued_while_measured']} "
          f"/process calls still queued, {result['streams_alive']} streams open")  # fmt: skip
    assert [status for status, _ in result["me"]] == [200] * 5, result["me"]
    assert result["streams_alive"] == STREAMS  # the load was there while /auth/me answered
    assert result["queued_while_measured"] > 0
    assert result["process_statuses"] == [200] * PROCESS_CALLS


def _raw_upload_head(port: int, authorization: str | None) -> bytes:
    """Send the headers and 1 KB of a 200 KB multipart upload; return the first reply bytes."""
    lines = [
        "POST /api/images/upload HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: multipart/form-data; boundary=xyz",
        "Content-Length: 200000",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head + part + b"\0" * 1000)
        # The rest of the body is never sent: a server that parsed it first would wait here.
        reply = b""
        while b"}" not in reply:  # the status line, the headers, then the JSON envelope
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


def test_anonymous_uploads_are_refused_before_the_body_is_read(db_url: str, tmp_path: Path) -> None:
    with ServerProcess(sys.executable, tmp_path / "data", db_url) as server:
        for authorization in (None, "Bearer not-a-token"):
            reply = _raw_upload_head(server.port, authorization)
            assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
            assert b'"error_code":"INVALID_TOKEN"' in reply.replace(b" ", b"")

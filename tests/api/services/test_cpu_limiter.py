"""CPU work goes through a limiter sized to the cores; it never starves other requests."""

from __future__ import annotations

import threading

import anyio
import pytest

from api.services.cpu_limiter import CpuLimiter
from nogilbench.imaging.pipeline import Pipeline
from tests.support.api import OPS, upload
from tests.support.images import image_bytes


def test_limiter_caps_concurrency():
    limiter = CpuLimiter(2)
    active = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def work() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        release.wait(0.05)
        with lock:
            active -= 1

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(limiter.run, work)

    anyio.run(main)
    assert peak == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_busy_cpu_limiter_does_not_block_auth_or_health(client, app, auth_headers, monkeypatch):
    app.state.services.cpu = CpuLimiter(1)
    image_id = upload(client, auth_headers, image_bytes()).json()["id"]
    entered, release = threading.Event(), threading.Event()
    real_render = Pipeline.render

    def slow_render(self, *args, **kwargs):
        entered.set()
        release.wait(30)
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "render", slow_render)
    results = {}

    def process(key: str) -> None:
        results[key] = client.post(
            f"/api/images/{image_id}/process",
            json={"operations": [{"op": "grayscale"}]},
            headers=auth_headers,
        ).status_code

    first = threading.Thread(target=process, args=("first",))
    second = threading.Thread(target=process, args=("second",))  # queued behind the first
    first.start()
    assert entered.wait(30)
    second.start()
    try:
        # The only CPU token is taken and another image waits for it; auth and DB still answer.
        assert client.get("/health").status_code == 200
        assert client.get("/auth/me", headers=auth_headers).status_code == 200
        assert client.get("/api/system", headers=OPS).json()["service"]["cpu_limiter_busy"] == 1
    finally:
        release.set()
        first.join(30)
        second.join(30)
    assert results == {"first": 200, "second": 200}


def test_threads_and_requests_share_one_pool_of_tokens():
    """A job thread holding every token makes request work wait, first come first served."""
    limiter = CpuLimiter(2)
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def job() -> None:
        with limiter.hold(5) as held:  # asks for more than exist: capped at the size
            order.append(f"job holds {held}")
            holding.set()
            release.wait(30)
        order.append("job released")

    async def main() -> None:
        thread = threading.Thread(target=job)
        thread.start()
        await anyio.to_thread.run_sync(holding.wait, 30)
        assert limiter.borrowed == 2

        async def request() -> None:
            await limiter.run(order.append, "request ran")

        async with anyio.create_task_group() as group:
            group.start_soon(request)
            await anyio.sleep(0.1)
            assert order == ["job holds 2"]  # still waiting for a token
            release.set()
        await anyio.to_thread.run_sync(thread.join, 30)

    anyio.run(main)
    assert order == ["job holds 2", "job released", "request ran"]
    assert limiter.borrowed == 0


def test_a_cancelled_wait_leaks_no_token():
    limiter = CpuLimiter(1)

    async def main() -> None:
        await limiter.acquire()
        with anyio.move_on_after(0.05):
            await limiter.acquire()  # never granted: cancelled while waiting
        limiter.release()
        assert limiter.borrowed == 0
        await limiter.run(lambda: None)  # the token is free again

    anyio.run(main)
    assert limiter.borrowed == 0


def test_a_stopped_job_gives_up_waiting():
    from api.services.cpu_limiter import LimiterWaitStopped

    limiter = CpuLimiter(1)
    stop = threading.Event()

    async def main() -> None:
        await limiter.acquire()
        stop.set()
        with pytest.raises(LimiterWaitStopped):
            await anyio.to_thread.run_sync(_hold_one, limiter, stop)
        limiter.release()

    anyio.run(main)
    assert limiter.borrowed == 0


def _hold_one(limiter: CpuLimiter, stop: threading.Event) -> None:
    with limiter.hold(1, stop):
        raise AssertionError("the token was taken")

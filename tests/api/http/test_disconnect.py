"""ClientWatch: the work's answer when the client stays, ClientGone (and the work cancelled,
a worker thread stopped at its next checkpoint) when it hangs up, and no listener left behind."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio
import anyio.to_thread
import pytest

from api.http.disconnect import ClientGone, ClientWatch, checkpoint


def _receive(disconnect: asyncio.Event):  # type: ignore[no-untyped-def]
    async def receive() -> dict[str, str]:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    return receive


def _listeners() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


def test_the_answer_comes_back_and_no_listener_stays() -> None:
    async def main() -> None:
        watch = ClientWatch(_receive(asyncio.Event()))

        async def work() -> int:
            await asyncio.sleep(0.01)
            return 42

        assert await watch.run(work) == 42
        await asyncio.sleep(0)  # the listener's cancellation is delivered
        assert _listeners() == set()

    asyncio.run(main())


def test_an_error_of_the_work_is_its_own() -> None:
    async def main() -> None:
        async def work() -> int:
            raise ValueError("bad pipeline")

        with pytest.raises(ValueError, match="bad pipeline"):
            await ClientWatch(_receive(asyncio.Event())).run(work)

    asyncio.run(main())


def test_a_hang_up_stops_the_thread_at_its_next_checkpoint() -> None:
    steps: list[int] = []
    stopped = threading.Event()

    def render() -> str:
        try:
            for step in range(200):
                checkpoint()
                steps.append(step)
                time.sleep(0.01)
        except BaseException:
            stopped.set()
            raise
        return "done"

    async def main() -> None:
        disconnect = asyncio.Event()
        asyncio.get_running_loop().call_later(0.1, disconnect.set)
        started = time.perf_counter()
        with pytest.raises(ClientGone):
            await ClientWatch(_receive(disconnect)).run(lambda: anyio.to_thread.run_sync(render))
        assert time.perf_counter() - started < 1.5  # not the 2 s the whole render takes
        await asyncio.sleep(0)
        assert _listeners() == set()

    asyncio.run(main())
    assert stopped.is_set() and 0 < len(steps) < 200

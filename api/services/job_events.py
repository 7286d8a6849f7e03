"""Job progress pushed to its followers (SSE streams) instead of each stream polling its row.

One small interface, two implementations:

- `LocalJobEvents` (the embedded default, one process): `publish(job_id)` from any thread wakes
  the streams of this process that follow the job (`loop.call_soon_threadsafe`).
- `RedisJobEvents` (REDIS_URL): `publish` sends the id on one Redis pub/sub channel; every
  process listens to it and wakes its own followers, so a worker in another process (or
  host) wakes them all.

Who publishes: nobody by hand. `install(database, events)` hooks the database's sessions, so
every commit that changed what a follower sees of a job (status, counts, error, result; an
ORM change or an UPDATE/DELETE statement on `jobs`) publishes after it commits, whichever
writer made it (the job runner, a request, a worker of another engine).

A follower wakes on a notification and reads the row again; notifications that arrive while
it reads are kept (an `asyncio.Event` set, not a message queue), so none is lost between a
read and the next wait, and many coalesce into one read. A stream still reads the row every
SSE_POLL_SECONDS without a notification, in case one was lost (Redis restarting).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from api.core.database import Database
from api.core.models import Job

if TYPE_CHECKING:
    import redis

logger = logging.getLogger("api.services.job_events")

CHANNEL = "nogilbench:job-events"
EVERY_JOB = 0  # published when a statement changed jobs whose ids it does not say
# What a follower sees of a job (`services.jobs.job_view`): a change elsewhere (the lease a
# heartbeat renews every few seconds) wakes nobody.
VISIBLE = frozenset(
    {"status", "total", "done", "failed", "error", "sweep_id", "started_at", "finished_at",
     "result_name"}
)  # fmt: skip
_PENDING = "nogilbench_job_events"  # session.info key: job ids changed in this transaction
RECONNECT_S = 1.0
# A publish is part of a writer's commit path (a job's every item): with Redis unreachable it
# must not wait seconds each time. After a failure, publishes stay local for this long.
PUBLISH_TIMEOUT_S = 0.5
PUBLISH_BACKOFF_S = 5.0


class JobEvents(Protocol):
    def publish(self, job_id: int) -> None:
        """The job changed (committed): wake its followers. Any thread; never raises."""

    def follow(self, job_id: int) -> Any:
        """`async with events.follow(job_id) as follower`: `await follower.wait(timeout)`."""

    async def start(self) -> None:
        """Begin delivering (in the app's event loop)."""

    async def stop(self) -> None:
        """Stop delivering; release connections."""


class Follower:
    """One stream's view of one job's notifications."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def notify(self) -> None:  # from any thread
        with suppress(RuntimeError):  # its loop is closed: the stream is gone
            self.loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        """True once notified since the last wait returned; False after `timeout` without."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                return False
        self._event.clear()
        return True


class LocalJobEvents:
    """Followers of this process, woken by publishers of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._followers: dict[int, set[Follower]] = {}

    def publish(self, job_id: int) -> None:
        with self._lock:
            if job_id == EVERY_JOB:
                woken = [f for followers in self._followers.values() for f in followers]
            else:
                woken = list(self._followers.get(job_id, ()))
        for follower in woken:
            follower.notify()

    def wake_all(self) -> None:
        self.publish(EVERY_JOB)

    @asynccontextmanager
    async def follow(self, job_id: int) -> AsyncIterator[Follower]:
        follower = Follower(job_id)
        with self._lock:
            self._followers.setdefault(job_id, set()).add(follower)
        try:
            yield follower
        finally:
            with self._lock:
                followers = self._followers.get(job_id)
                if followers is not None:
                    followers.discard(follower)
                    if not followers:
                        del self._followers[job_id]

    def following(self) -> int:
        with self._lock:
            return sum(len(followers) for followers in self._followers.values())

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisJobEvents:
    """Followers of this process, woken by publishers of every process through Redis."""

    def __init__(self, url: str) -> None:
        from api.core import shared_redis

        self.url = url
        self.local = LocalJobEvents()
        self._publisher: redis.Redis = shared_redis.sync_client(url, timeout_s=PUBLISH_TIMEOUT_S)
        self._listener: asyncio.Task[None] | None = None
        self._down_until = 0.0  # monotonic: publishes stay local until then

    def publish(self, job_id: int) -> None:
        if time.monotonic() >= self._down_until:
            try:
                self._publisher.publish(CHANNEL, str(job_id))
                return
            except Exception as exc:
                self._down_until = time.monotonic() + PUBLISH_BACKOFF_S
                logger.warning("job events: cannot publish through Redis: %s", exc)
        # Redis down: this process's followers at least; the others' safety poll finds it.
        self.local.publish(job_id)

    def follow(self, job_id: int) -> Any:
        return self.local.follow(job_id)

    async def start(self) -> None:
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready), name="job-events-listener")
        # Subscribed before the app serves: a publish after start-up reaches this process.
        try:
            await asyncio.wait_for(ready.wait(), 5.0)
        except TimeoutError:
            logger.warning("job events: Redis not subscribed yet; streams poll meanwhile")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._publisher.close()

    async def _listen(self, ready: asyncio.Event) -> None:
        from api.core import shared_redis

        while True:
            client = shared_redis.async_client(self.url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    ready.set()
                    # Whatever was published while not subscribed: every follower reads again.
                    self.local.wake_all()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("job events: Redis subscription lost (%s); retrying", exc)
                await asyncio.sleep(RECONNECT_S)
            finally:
                await client.aclose()

    def _deliver(self, data: object) -> None:
        try:
            job_id = int(data)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return
        self.local.publish(job_id)


def for_settings(redis_url: str | None) -> LocalJobEvents | RedisJobEvents:
    return RedisJobEvents(redis_url) if redis_url else LocalJobEvents()


# -- publishing from every commit -------------------------------------------------------------

_installed: weakref.WeakKeyDictionary[Engine, JobEvents] = weakref.WeakKeyDictionary()
_hooks_lock = threading.Lock()
_hooked = False


def install(database: Database, events: JobEvents) -> None:
    """Publish every committed change of a job made through `database`'s sessions."""
    global _hooked
    with _hooks_lock:
        _installed[database.engine] = events
        if not _hooked:  # once per process: the hooks look the engine up
            event.listen(Session, "after_flush", _after_flush)
            event.listen(Session, "do_orm_execute", _after_statement)
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_rollback", _after_rollback)
            _hooked = True


def uninstall(database: Database) -> None:
    with _hooks_lock:
        _installed.pop(database.engine, None)


def _events_of(session: Session) -> JobEvents | None:
    bind = session.bind
    return _installed.get(bind) if isinstance(bind, Engine) else None


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    if _events_of(session) is None:
        return
    changed: set[int] = session.info.setdefault(_PENDING, set())
    for job in session.deleted:
        if isinstance(job, Job) and job.id is not None:
            changed.add(job.id)
    for job in session.dirty:
        if isinstance(job, Job) and job.id is not None:
            state = inspect(job)
            if any(state.attrs[name].history.has_changes() for name in VISIBLE):
                changed.add(job.id)


def _after_statement(state: ORMExecuteState) -> None:
    """An UPDATE or DELETE statement on `jobs` (claims, bulk fails, deletes): it does not say
    which rows it changed, so every follower reads again (these are rare)."""
    if not (state.is_update or state.is_delete) or _events_of(state.session) is None:
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) != Job.__tablename__:
        return
    if state.is_update:
        # The SET clause's columns (Update._values: SQLAlchemy has no public accessor).
        values = getattr(state.statement, "_values", None) or {}
        names = {getattr(key, "key", key) for key in values}
        if names and not names & VISIBLE:
            return
    state.session.info.setdefault(_PENDING, set()).add(EVERY_JOB)


def _after_commit(session: Session) -> None:
    changed = session.info.pop(_PENDING, None)
    events = _events_of(session)
    if not changed or events is None:
        return
    if EVERY_JOB in changed:
        changed = {EVERY_JOB}
    for job_id in changed:
        events.publish(job_id)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)

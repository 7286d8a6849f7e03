"""A job's progress as Server-Sent Events, pushed: the stream reads the job's row when a
notification says it changed (`api.services.job_events`), and otherwise only every
SSE_POLL_SECONDS (a safety net for a lost notification), never several times a second.

Events are snapshots of the job. Each `progress` (and the final `done`) carries an `id:` that
names the state it shows (status, done, failed, total). A client that reconnects with
`Last-Event-ID` (an `EventSource` does it by itself) gets the current state only if it is not
the one it last saw: no duplicate, and nothing lost (a snapshot holds everything before it).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from api.core.database import Database
from api.core.errors import QuotaExceeded
from api.core.models import User
from api.core.schemas import JobRead
from api.core.threads import in_thread
from api.repositories import jobs
from api.services.job_events import JobEvents
from api.services.job_runner import TERMINAL
from api.services.jobs import job_view, owned_job
from api.services.stream_slots import RENEW_S, SlotsUnavailable, StreamSlots
from nogilbench.errors import NogilbenchError

HEARTBEAT_SECONDS = 15.0
MAX_EVENT_ID_CHARS = 200  # a Last-Event-ID is only compared, never parsed; longer is nobody's
DATABASE_DOWN = {"error_code": "DATABASE_UNAVAILABLE", "message": "database unavailable"}
QUOTA_DOWN = {"error_code": "STREAM_QUOTA_UNAVAILABLE", "message": "stream quota unavailable"}


class StreamQuotaUnavailable(NogilbenchError):
    error_code = "STREAM_QUOTA_UNAVAILABLE"


def event_id(view: JobRead) -> str:
    """The id of the state a snapshot shows."""
    return f"{view.status}-{view.done}-{view.failed}-{view.total}"


def frame(event: str, data: dict[str, Any], identifier: str | None = None) -> str:
    head = f"id: {identifier}\n" if identifier is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class JobStream:
    def __init__(
        self,
        database: Database,
        slots: StreamSlots,
        events: JobEvents,
        poll_seconds: float,
        max_seconds: float,
    ) -> None:
        self.database = database
        self.slots = slots
        self.events = events
        self.poll_seconds = poll_seconds
        self.max_seconds = max_seconds

    async def open(
        self, user: User, job_id: int, recheck: Callable[[], User], last_event_id: str | None
    ) -> AsyncIterator[str]:
        """Check access and the stream quota now (errors get the envelope: JOB_NOT_FOUND,
        QUOTA_EXCEEDED, STREAM_QUOTA_UNAVAILABLE), then return the frames. The slot is taken
        again when the stream starts and held until it ends (a response never started holds
        none).

        `recheck` loads the caller again (from the access or the stream token) on every read
        of the job, so logging out everywhere, a password change or a deactivation ends an
        open stream with an `error` event."""
        assert user.id is not None
        await in_thread(self._owned, job_id, user)
        try:
            holder = await self.slots.take(user.id)
        except SlotsUnavailable:
            raise StreamQuotaUnavailable(
                "the event-stream quota cannot be checked (shared storage unavailable); retry later"
            ) from None
        if holder is None:
            raise QuotaExceeded(
                f"you have {self.slots.limit} event streams open, the most allowed; close one first"
            )
        await self.slots.give_back(user.id, holder)
        last = (last_event_id or "")[:MAX_EVENT_ID_CHARS] or None
        return self._held(user.id, self._frames(job_id, recheck, last))

    def _owned(self, job_id: int, user: User) -> None:
        with self.database.session() as session:
            owned_job(session, job_id, user)

    async def _held(self, user_id: int, frames: AsyncIterator[str]) -> AsyncIterator[str]:
        """The frames, holding one of the user's stream slots while the stream is open."""
        try:
            holder = await self.slots.take(user_id)
        except SlotsUnavailable:
            yield frame("error", QUOTA_DOWN)
            return
        if holder is None:  # another stream took the last slot meanwhile
            error = {"error_code": "QUOTA_EXCEEDED", "message": "too many open event streams"}
            yield frame("error", error)
            return
        renewed = time.monotonic()
        try:
            async for item in frames:
                yield item
                if time.monotonic() - renewed > RENEW_S:  # a frame at least every 15 s
                    renewed = time.monotonic()
                    await self.slots.renew(user_id, holder)
        finally:
            await self.slots.give_back(user_id, holder)

    def _snapshot(self, job_id: int, recheck: Callable[[], User]) -> JobRead | None:
        """The job as its owner may see it now; None once it is gone. The caller's access is
        checked again first (InvalidToken, Forbidden): a stream lasts longer than a request.
        """
        user = recheck()
        # Its own short session per read: the stream outlives the request's session.
        with self.database.session() as session:
            job = jobs.get(session, job_id)
            return None if job is None or job.owner_id != user.id else job_view(job)

    async def _frames(
        self, job_id: int, recheck: Callable[[], User], last: str | None
    ) -> AsyncIterator[str]:
        """`progress` on every change, then one `done` (or `error`) and the end. After
        SSE_MAX_SECONDS an `expired` event ends it; an EventSource reconnects."""
        last_sent = opened = time.monotonic()
        yield "retry: 2000\n\n"
        async with self.events.follow(job_id) as follower:
            while True:
                if time.monotonic() - opened > self.max_seconds:
                    message = (
                        f"the stream ended after {self.max_seconds:g} s; reconnect to follow "
                        "the job"
                    )
                    yield frame("expired", {"message": message})
                    return
                try:
                    view = await in_thread(self._snapshot, job_id, recheck)
                except NogilbenchError as exc:
                    if exc.error_code == "DATABASE_UNAVAILABLE":  # its message names the host
                        yield frame("error", DATABASE_DOWN)
                    else:  # the session ended (INVALID_TOKEN) or the account is off (FORBIDDEN)
                        yield frame("error", {"error_code": exc.error_code, "message": exc.message})
                    return
                except SQLAlchemyError:  # an outage, or an exhausted pool
                    yield frame("error", DATABASE_DOWN)
                    return
                if view is None:
                    yield frame("error", {"error_code": "JOB_NOT_FOUND", "message": "job deleted"})
                    return
                identifier = event_id(view)
                data = view.model_dump(mode="json")
                if identifier != last:
                    last = identifier
                    last_sent = time.monotonic()
                    yield frame("progress", data, identifier)
                if view.status in TERMINAL:
                    yield frame("done", data, identifier)
                    return
                idle = time.monotonic() - last_sent
                if idle >= HEARTBEAT_SECONDS:
                    last_sent = time.monotonic()
                    yield ": keep-alive\n\n"
                    idle = 0.0
                # Woken by the job's next change; at the latest, the safety poll or the
                # keep-alive, whichever is first.
                await follower.wait(min(self.poll_seconds, HEARTBEAT_SECONDS - idle))

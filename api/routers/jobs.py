"""/api/jobs: batch processing in the background, status, SSE progress, zip result."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.core.errors import error_responses
from api.core.schemas import (
    BatchRequest,
    JobAccepted,
    JobRead,
    Limit,
    Offset,
    PathId,
    StreamToken,
)
from api.core.stream_tokens import QUERY_PARAMETER
from api.core.threads import in_thread
from api.deps import CurrentUser, Services, SessionDep, load_stream_user, load_user, oauth2_scheme
from api.http.downloads import OpenFileResponse
from api.services.job_stream import JobStream
from api.services.jobs import JobService, owned_job

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

ZIP_CONTENT = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


async def job_service(services: Services, session: SessionDep) -> JobService:
    settings = services.settings
    return JobService(
        session,
        services.database,
        services.jobs,
        services.results,
        services.outputs,
        settings.batch_max_images,
        settings.batch_max_workers,
        settings.max_pixels,
        settings.quota_active_jobs,
    )


Jobs = Annotated[JobService, Depends(job_service)]


def accepted(job_id: int, job_status: str) -> JobAccepted:
    return JobAccepted(
        job_id=job_id,
        status=job_status,
        status_url=f"/api/jobs/{job_id}",
        events_url=f"/api/jobs/{job_id}/events",
    )


@router.post(
    "/batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    summary="Process several images in the background",
    description="Stores a job and answers at once with its id. The images run through the "
    "pipeline on a nogilbench runner (`method`, `workers`); follow the progress with "
    "`GET /api/jobs/{id}` or the `/events` stream, then fetch the zip from `/result`.",
    responses=error_responses(
        "INVALID_TOKEN",
        "FORBIDDEN",
        "IMAGE_NOT_FOUND",
        "INVALID_OPERATION",
        "METHOD_UNAVAILABLE",
        "QUOTA_EXCEEDED",
    ),
)
def create_batch(body: BatchRequest, user: CurrentUser, service: Jobs) -> JobAccepted:
    job = service.submit_batch(user, body)
    return accepted(job.id, job.status)  # type: ignore[arg-type]


@router.get(
    "/",
    response_model=list[JobRead],
    summary="Your jobs",
    description="Batch and benchmark jobs you started, newest first.",
    responses=error_responses("INVALID_TOKEN"),
)
def list_jobs(
    user: CurrentUser,
    service: Jobs,
    offset: Offset = 0,
    limit: Limit = 50,
) -> list[JobRead]:
    return service.list_for(user, offset, limit)


@router.get(
    "/{job_id:int}",
    response_model=JobRead,
    summary="A job's status",
    description="Status (queued, processing, completed, failed), progress done/total, "
    "failures and timings.",
    responses=error_responses("INVALID_TOKEN", "FORBIDDEN", "JOB_NOT_FOUND"),
)
def get_job(job_id: PathId, user: CurrentUser, service: Jobs) -> JobRead:
    return service.get(user, job_id)


@router.post(
    "/{job_id:int}/stream-token",
    response_model=StreamToken,
    summary="A short-lived token to follow this job's events from a browser",
    description="A browser's `EventSource` cannot send an Authorization header: open "
    "`events_url` (the events URL with `?stream_token=...`) instead. The token is good for "
    "this job's `/events` only (any other job or endpoint refuses it), for `expires_in` "
    "seconds (60), during which an `EventSource` may reconnect with it; your access is "
    "checked again on every read, as with an access token.",
    responses=error_responses("INVALID_TOKEN", "FORBIDDEN", "JOB_NOT_FOUND"),
)
def create_stream_token(
    job_id: PathId, user: CurrentUser, services: Services, session: SessionDep
) -> StreamToken:
    owned_job(session, job_id, user)
    assert user.id is not None
    tokens = services.stream_tokens
    token = tokens.issue(user.id, job_id)
    return StreamToken(
        stream_token=token,
        expires_in=int(tokens.lifetime.total_seconds()),
        events_url=f"/api/jobs/{job_id}/events?{QUERY_PARAMETER}={token}",
    )


@router.get(
    "/{job_id:int}/events",
    response_class=StreamingResponse,
    summary="Follow a job (Server-Sent Events)",
    description="A `text/event-stream`: a `progress` event with the job's state on every "
    "change, then a final `done` event, after which the stream ends. Changes are pushed (a "
    "notification when the job's row changes, in any process), with a read at least every "
    "SSE_POLL_SECONDS. Every `progress` and `done` carries an `id:` naming the state it "
    "shows; reconnecting with `Last-Event-ID` (an `EventSource` does) sends the current state "
    "only if it is not that one. A stream lasts at most SSE_MAX_SECONDS (then an `expired` "
    "event; reconnect). Authenticate with `Authorization: Bearer` or, from a browser's "
    "`EventSource`, with `?stream_token=` from `POST /api/jobs/{id}/stream-token`. The "
    "caller's access is checked again on every read: logging out everywhere, a password "
    "change or a deactivation ends the stream with an `error` event (INVALID_TOKEN, "
    "FORBIDDEN). Try `curl -N -H 'Authorization: Bearer ...' .../events`.",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        **error_responses(
            "INVALID_TOKEN",
            "FORBIDDEN",
            "JOB_NOT_FOUND",
            "QUOTA_EXCEEDED",
            "STREAM_QUOTA_UNAVAILABLE",
        ),
    },
)
async def job_events(
    job_id: PathId,
    services: Services,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    stream_token: Annotated[
        str | None,
        Query(
            alias=QUERY_PARAMETER,
            max_length=2048,
            description="from `POST /api/jobs/{id}/stream-token`, for an `EventSource`",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="the last event's `id:`")
    ] = None,
) -> StreamingResponse:
    settings = services.settings
    # Every read checks the credential and the account again, as a new request would.
    if stream_token is not None:
        recheck = functools.partial(load_stream_user, services, stream_token, job_id)
    else:
        recheck = functools.partial(load_user, services, token)
    user = await in_thread(recheck)
    streamer = JobStream(
        services.database,
        services.streams,
        services.job_events,
        settings.sse_poll_seconds,
        settings.sse_max_seconds,
    )
    stream = await streamer.open(user, job_id, recheck, last_event_id)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{job_id:int}/result",
    status_code=status.HTTP_200_OK,
    response_class=OpenFileResponse,
    summary="Download a batch job's outputs (zip)",
    description="A zip of every processed image, numbered in request order; images that "
    "failed are listed in FAILED.txt inside it. Available once the job is completed. Sent "
    "with `Content-Length` and an `ETag` (SHA-256), from a file opened before the answer "
    "starts, so it is never cut short; `Range: bytes=first-last` answers 206.",
    responses={
        200: {"content": ZIP_CONTENT, "description": "the archive"},
        206: {"content": ZIP_CONTENT, "description": "the requested byte range"},
        **error_responses(
            "INVALID_TOKEN",
            "FORBIDDEN",
            "JOB_NOT_FOUND",
            "JOB_NOT_READY",
            "RESULT_EXPIRED",
            "RESULT_GONE",
            "RANGE_NOT_SATISFIABLE",
        ),
    },
)
def job_result(
    job_id: PathId, user: CurrentUser, service: Jobs, request: Request
) -> OpenFileResponse:
    opened, filename = service.result(user, job_id)
    return OpenFileResponse(opened, "application/zip", filename, request.headers)


@router.delete(
    "/{job_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Cancel and delete a job",
    description="The job, its outputs and its archive are deleted at once, and the answer "
    "does not wait for anything: a queued job never starts, a running one stops by itself at "
    "its next safe point (a batch between images, a benchmark sweep by killing its running "
    "cell process).",
    responses=error_responses("INVALID_TOKEN", "FORBIDDEN", "JOB_NOT_FOUND"),
)
def delete_job(job_id: PathId, user: CurrentUser, service: Jobs) -> Response:
    service.delete(user, job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""/api/jobs: batch processing in the background, status, SSE progress, zip result."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import StreamingResponse

from api.core.errors import error_responses
from api.core.schemas import BatchRequest, JobAccepted, JobRead, Limit, Offset, PathId
from api.deps import CurrentUser, Services, SessionDep, load_user, oauth2_scheme
from api.http.downloads import OpenFileResponse
from api.services.jobs import JobService

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

ZIP_CONTENT = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


def job_service(services: Services, session: SessionDep) -> JobService:
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
        services.streams,
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


@router.get(
    "/{job_id:int}/events",
    response_class=StreamingResponse,
    summary="Follow a job (Server-Sent Events)",
    description="A `text/event-stream`: a `progress` event with the job's state on every "
    "change, then a final `done` event, after which the stream ends. A stream lasts at most "
    "SSE_MAX_SECONDS (then an `expired` event; reconnect). The token and the account are "
    "checked again on every poll: logging out everywhere, a password change or a "
    "deactivation ends the stream with an `error` event (INVALID_TOKEN, FORBIDDEN). "
    "Try `curl -N -H 'Authorization: Bearer ...' .../events`.",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        **error_responses("INVALID_TOKEN", "FORBIDDEN", "JOB_NOT_FOUND", "QUOTA_EXCEEDED"),
    },
)
async def job_events(
    job_id: PathId,
    user: CurrentUser,
    services: Services,
    service: Jobs,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> StreamingResponse:
    settings = services.settings
    # Every poll checks the token and the account again, as a new request would.
    recheck = functools.partial(load_user, services, token)
    stream = await service.events(
        user, job_id, settings.sse_poll_seconds, settings.sse_max_seconds, recheck
    )
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

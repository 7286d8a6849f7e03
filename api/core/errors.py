"""API errors and their one envelope: `{"error_code": "...", "message": "..."}`.

Services raise `NogilbenchError` subclasses (the library's, or the API-only ones below);
the handlers registered by `install_error_handlers` turn every error — router 404/405 and
validation 422 included — into the envelope with the HTTP status of its code.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from nogilbench.errors import NogilbenchError

logger = logging.getLogger("api.core.errors")

BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400 detail


class DuplicateEmail(NogilbenchError):
    error_code = "DUPLICATE_EMAIL"


class InvalidCredentials(NogilbenchError):
    error_code = "INVALID_CREDENTIALS"


class InvalidToken(NogilbenchError):
    error_code = "INVALID_TOKEN"


class Forbidden(NogilbenchError):
    error_code = "FORBIDDEN"


class ImageNotFound(NogilbenchError):
    error_code = "IMAGE_NOT_FOUND"


class ImageNotProcessed(NogilbenchError):
    error_code = "IMAGE_NOT_PROCESSED"


class JobNotFound(NogilbenchError):
    error_code = "JOB_NOT_FOUND"


class JobNotReady(NogilbenchError):
    error_code = "JOB_NOT_READY"


class BenchmarkNotFound(NogilbenchError):
    error_code = "BENCHMARK_NOT_FOUND"


class PayloadTooLarge(NogilbenchError):
    error_code = "PAYLOAD_TOO_LARGE"


class ResultExpired(NogilbenchError):
    error_code = "RESULT_EXPIRED"


class QuotaExceeded(NogilbenchError):
    """A per-user quota (stored bytes, images, active jobs, open streams) is full."""

    error_code = "QUOTA_EXCEEDED"


class OverBudget(NogilbenchError):
    """A benchmark request would process more than the configured budget."""

    error_code = "OVER_BUDGET"


class ResultGone(NogilbenchError):
    """A completed job's archive vanished from storage (not expired: deleted meanwhile)."""

    error_code = "RESULT_GONE"


class QueueUnavailable(NogilbenchError):
    """The job engine's broker cannot be reached: the job was not queued."""

    error_code = "QUEUE_UNAVAILABLE"


# Error code -> HTTP status. Codes not listed (a new library error) answer 400.
STATUS_BY_CODE: dict[str, int] = {
    "DUPLICATE_EMAIL": 409,
    "INVALID_CREDENTIALS": 401,
    "INVALID_TOKEN": 401,
    "FORBIDDEN": 403,
    "IMAGE_NOT_FOUND": 404,
    "JOB_NOT_FOUND": 404,
    "BENCHMARK_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "INVALID_OPERATION": 400,
    "INVALID_PARAMETER": 400,
    "METHOD_UNAVAILABLE": 400,
    "NOGILBENCH_ERROR": 400,
    "IMAGE_NOT_PROCESSED": 409,  # the image's state, not the request, is what is wrong
    "JOB_NOT_READY": 409,
    "RESULT_EXPIRED": 410,
    "RESULT_GONE": 410,
    "RANGE_NOT_SATISFIABLE": 416,
    "VALIDATION_ERROR": 422,
    "OVER_BUDGET": 422,
    "QUOTA_EXCEEDED": 429,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "DATABASE_UNAVAILABLE": 503,
    "RATE_LIMITED": 429,
    "RATE_LIMIT_UNAVAILABLE": 503,
    "STREAM_QUOTA_UNAVAILABLE": 503,
    "QUEUE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
    "CLIENT_DISCONNECTED": 499,  # nginx's "client closed request": for the log, nobody reads it
}
DEFAULT_RETRY_AFTER_S = 5

# Starlette HTTPExceptions (router 404/405, body-size 413, ...) get a code from their status.
CODE_BY_STATUS: dict[int, str] = {
    401: "INVALID_TOKEN",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    503: "DATABASE_UNAVAILABLE",
}


class ErrorBody(BaseModel):
    """The envelope of every error response."""

    error_code: str
    message: str
    details: list[dict[str, Any]] | None = None


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 400)


def envelope(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error_code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def _auth_headers(code: str) -> dict[str, str] | None:
    return {"WWW-Authenticate": "Bearer"} if code == "INVALID_TOKEN" else None


def _retry_after(request: Request) -> dict[str, str]:
    services = getattr(request.app.state, "services", None)
    seconds = services.settings.retry_after_seconds if services else DEFAULT_RETRY_AFTER_S
    return {"Retry-After": str(seconds)}


def _unavailable(request: Request) -> JSONResponse:
    return envelope(
        503,
        "DATABASE_UNAVAILABLE",
        "the database is unavailable; retry later",
        headers=_retry_after(request),
    )


async def _nogilbench_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NogilbenchError)
    code = exc.error_code
    details = None
    field = getattr(exc, "field", None)
    if field:
        details = [{"field": field}]
    message = exc.message
    headers = dict(getattr(exc, "headers", None) or {})
    headers.update(_auth_headers(code) or {})
    if code == "DATABASE_UNAVAILABLE":
        # The reason names the driver and the host: the log keeps it, the client does not.
        logger.warning("database unavailable: %s", exc.message)
        message = "the database is unavailable; retry later"
        headers.update(_retry_after(request))
    return envelope(status_for(code), code, message, details, headers or None)


def _clean_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    # Never echo the submitted value back: it may be a password.
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_clean_validation_error(dict(error)) for error in exc.errors()]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(part for part in first["loc"] if part not in ("body", "query", "path"))
    message = f"{where}: {first['msg']}" if where else first["msg"]
    return envelope(422, "VALIDATION_ERROR", f"invalid request: {message}", details)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    # create_app keeps the flat list of its routes (newer FastAPI nests included routers).
    routes = getattr(request.app.state, "route_table", None) or request.app.router.routes
    for route in routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework's only 400s are bodies it cannot parse: FastAPI's BODY_PARSE_ERROR and
        # Starlette's multipart errors ("Invalid multipart data.", "Missing boundary ...").
        # The service's own 400s are NogilbenchErrors. Answered like bad JSON: a 422.
        detail = exc.detail if isinstance(exc.detail, str) else ""
        reason = "" if detail in ("", BODY_PARSE_ERROR) else f" ({detail.rstrip('.')[:200]})"
        return envelope(
            422, "VALIDATION_ERROR", f"invalid request: the body cannot be parsed{reason}"
        )
    code = CODE_BY_STATUS.get(exc.status_code, "HTTP_ERROR")
    messages = {
        404: "no such endpoint",
        405: "method not allowed on this endpoint",
    }
    detail = exc.detail if isinstance(exc.detail, str) else None
    message = (
        messages.get(exc.status_code)
        if detail in (None, "Not Found", "Method Not Allowed")
        else detail
    )
    headers = dict(exc.headers or {})
    headers.update(_auth_headers(code) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return envelope(exc.status_code, code, message or str(detail), None, headers or None)


def _is_outage(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _is_outage(exc):
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        logger.warning("database unavailable: %s", reason)
        return _unavailable(request)
    logger.exception("database error")
    return envelope(500, "INTERNAL_ERROR", "internal error")


async def _pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    """Every pooled connection stayed busy for DB_POOL_TIMEOUT seconds: overloaded, retry."""
    logger.warning("database pool exhausted: %s", str(exc).splitlines()[0])
    return _unavailable(request)


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return envelope(500, "INTERNAL_ERROR", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NogilbenchError, _nogilbench_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(Exception, _unexpected_error)


def error_responses(
    *codes: str, validation: bool = True, database: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error codes (grouped by status).

    422 VALIDATION_ERROR and 503 DATABASE_UNAVAILABLE are added unless switched off.
    """
    extra = (("VALIDATION_ERROR",) if validation else ()) + (
        ("DATABASE_UNAVAILABLE",) if database else ()
    )
    by_status: dict[int, list[str]] = {}
    for code in (*codes, *extra):
        by_status.setdefault(status_for(code), []).append(code)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, status_codes in sorted(by_status.items()):
        unique = list(dict.fromkeys(status_codes))
        responses[status] = {
            "model": ErrorBody,
            "description": "Error: " + ", ".join(unique),
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorBody"},
                    "example": {"error_code": unique[0], "message": "what went wrong"},
                }
            },
        }
    return responses

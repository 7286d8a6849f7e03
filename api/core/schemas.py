"""Request and response bodies (what the OpenAPI document shows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from api.core.security import MAX_ID, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from nogilbench.concurrency.base import MAX_WORKERS
from nogilbench.concurrency.runners import ALL_METHODS
from nogilbench.concurrency.workloads import BUILTIN_NAMES
from nogilbench.imaging.pipeline import pipeline_json_schema
from nogilbench.imaging.samples import MAX_SIDE, MIN_SIDE
from nogilbench.sweep.config import MAX_IMAGES


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The database keeps naive UTC; responses say so (RFC 3339 with "Z").
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


def _integral_float(value: Any) -> Any:
    # JSON Schema counts 2.0 as an integer, so the models take it (strict mode alone refuses it).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def bounded_int(low: int, high: int) -> Any:
    """An integer from `low` to `high`; 2.0 counts as 2 (the bounds go on the int schema)."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_integral_float)]


# Ids are INTEGER columns (32-bit on PostgreSQL); offsets are BIGINT in both databases. Larger
# values are refused at the edge (422) instead of overflowing in the driver or the server.
MAX_OFFSET = 2**63 - 1
MAX_COMPARE = 20  # sweeps compared in one request
RowId = bounded_int(1, MAX_ID)
BatchWorkers = bounded_int(1, 256)
ImageCount = bounded_int(1, MAX_IMAGES)
WorkerCount = bounded_int(1, MAX_WORKERS)
ImageSide = bounded_int(MIN_SIDE, MAX_SIDE)
Repeats = bounded_int(1, 20)
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=200)]

# Deliberately simple (mail delivery is the real check) and ASCII only, so that the pattern in
# the OpenAPI document means the same in every regex engine a client or a fuzzer uses.
EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
PASSWORD_PATTERN = r"^[^\x00]*$"  # no NUL character
# What a new password may be (registration, password change), stated exactly in the schema.
Password = Annotated[
    str,
    Field(
        min_length=MIN_PASSWORD_CHARS,
        max_length=MAX_PASSWORD_CHARS,
        pattern=PASSWORD_PATTERN,
        description=f"{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, no NUL character",
    ),
]


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"example": {"email": "ada@example.com", "password": "correct horse"}},
    )

    email: str = Field(
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="login name (ASCII); stored lower-cased",
    )
    password: Password

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return value.lower()


class UserRead(BaseModel):
    id: int
    email: str
    role: Literal["user", "operator"] = "user"
    created_at: UtcDateTime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="access token lifetime in seconds")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=4096)


class PasswordChangeRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class ImageRead(BaseModel):
    id: int
    filename: str
    source_format: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    status: Literal["uploaded", "processed"]
    processed_format: str | None = None
    processed_size_bytes: int | None = None
    processed_width: int | None = None
    processed_height: int | None = None
    pipeline: dict[str, Any] | None = None
    processing_ms: float | None = None
    created_at: UtcDateTime
    processed_at: UtcDateTime | None = None


# The upload route reads its multipart body itself, after the bearer token is checked (an
# anonymous upload is refused unread), so FastAPI does not see the body as a parameter; the
# OpenAPI document describes it from this model (`api.http.openapi` adds the settings' limits and
# the accepted media types).
class UploadForm(BaseModel):
    """The upload's multipart body."""

    model_config = ConfigDict(title="Body_upload")

    file: bytes = Field(description="the image")


BATCH_METHODS = ("sync", "asyncio", "threading", "free-threaded", "multiprocessing")


# Lists whose values may not repeat say so in the schema (`uniqueItems`), as the validators do.
UNIQUE: dict[str, Any] = {"uniqueItems": True}


def _distinct(values: list[int]) -> list[int]:
    if len(set(values)) != len(values):
        raise ValueError("the list must not repeat a value")
    return values


# The library validates a pipeline (parse_pipeline, 400 INVALID_OPERATION) and generates its
# JSON Schema from the same operation registry.
Pipeline = Annotated[dict[str, Any], WithJsonSchema(pipeline_json_schema())]


class BatchRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    image_ids: Annotated[list[RowId], AfterValidator(_distinct)] = Field(
        min_length=1,
        json_schema_extra=UNIQUE,
        description="your images, processed in this order, each once; at most the server's "
        "BATCH_MAX_IMAGES",
    )
    pipeline: Pipeline = Field(description="a nogilbench pipeline (see /api/operations)")
    method: Literal["sync", "asyncio", "threading", "free-threaded", "multiprocessing"] | None = (
        Field(
            default=None,
            description="concurrency model; default free-threaded when the server runs with "
            "the GIL off, threading otherwise",
        )
    )
    workers: BatchWorkers = Field(default=4, description="at most the server's BATCH_MAX_WORKERS")


class JobRead(BaseModel):
    id: int
    kind: Literal["batch", "benchmark"]
    status: Literal["queued", "processing", "completed", "failed"]
    method: str
    workers: int
    total: int
    done: int
    failed: int
    progress: float = Field(description="done / total, 0..1")
    parameters: dict[str, Any]
    sweep_id: int | None = None
    error: str | None = None
    created_at: UtcDateTime
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None
    elapsed_s: float | None = Field(default=None, description="processing time so far / total")
    result_url: str | None = None


class JobAccepted(BaseModel):
    job_id: int
    status: str
    status_url: str
    events_url: str


class StreamToken(BaseModel):
    """A token that follows one job's events, for a browser's `EventSource` (no headers)."""

    stream_token: str = Field(description="good for this job's /events only, briefly")
    expires_in: int = Field(description="seconds it stays valid")
    events_url: str = Field(description="the events URL with the token as `stream_token`")


class OperationParam(BaseModel):
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    required: bool

    model_config = ConfigDict(populate_by_name=True)


class OperationRead(BaseModel):
    name: str
    summary: str
    params: list[OperationParam]


class OperationsRead(BaseModel):
    operations: list[OperationRead]
    pipeline_schema: dict[str, Any]
    output_formats: list[str]


class HealthRead(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class BenchmarkRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "example": {
                "workloads": ["pillow"],
                "images": [2],
                "workers": [1],
                "methods": ["sync"],
                "repeats": 1,
                "image_size": [64, 48],
            }
        },
    )

    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="default: generated"
    )
    # The built-in workloads only: a user's module:function would run the caller's code on
    # the server, so it stays a CLI and notebook feature.
    workloads: list[Literal[tuple(BUILTIN_NAMES)]] = Field(  # type: ignore[valid-type]
        default=["pillow"], min_length=1, max_length=len(BUILTIN_NAMES), json_schema_extra=UNIQUE
    )
    images: list[ImageCount] = Field(
        default=[10],
        min_length=1,
        max_length=6,
        json_schema_extra=UNIQUE,
        description="image counts",
    )
    workers: list[WorkerCount] = Field(
        default=[1, 2, 4], min_length=1, max_length=8, json_schema_extra=UNIQUE
    )
    methods: list[Literal[tuple(ALL_METHODS)]] = Field(  # type: ignore[valid-type]
        default=["sync", "threading"], min_length=1, max_length=len(ALL_METHODS),
        json_schema_extra=UNIQUE,
    )  # fmt: skip
    repeats: Repeats = Field(
        default=3, description="timed rounds of every cell, after one warm-up (exactly this many)"
    )
    image_size: list[ImageSide] = Field(
        default=[640, 427], min_length=2, max_length=2, description="[width, height] in pixels"
    )
    baseline: bool = Field(
        default=False,
        description="also time sync on a default (GIL) build of the same Python version",
    )
    host: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="the host to measure on (its benchmark worker's BENCHMARK_HOST); "
        "default: the server's BENCHMARK_HOST. A single-process server has only its own",
    )

    @field_validator("workloads", "images", "workers", "methods")
    @classmethod
    def _no_repeats(cls, values: list[Any]) -> list[Any]:
        if len(set(values)) != len(values):
            raise ValueError("must not repeat a value")
        return values


class SweepRead(BaseModel):
    id: int
    name: str
    status: str
    created_at: UtcDateTime
    finished_at: UtcDateTime | None = None
    parameters: dict[str, Any]
    cell_count: int
    git_commit: str | None = None


class SweepDetail(SweepRead):
    host: dict[str, Any]
    interpreters: list[dict[str, Any]]
    library_versions: dict[str, Any]
    summary: list[dict[str, Any]]


class CompareRead(BaseModel):
    sweeps: list[SweepRead]
    rows: list[dict[str, Any]]

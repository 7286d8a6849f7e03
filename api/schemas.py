"""Request and response bodies (what the OpenAPI document shows)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from api.security import MAX_ID, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The database keeps naive UTC; responses say so (RFC 3339 with "Z").
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]

# Ids are INTEGER columns (32-bit on PostgreSQL); offsets are BIGINT in both databases. Larger
# values are refused at the edge (422) instead of overflowing in the driver or the server.
MAX_OFFSET = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=200)]

# Deliberately simple: one @, a dot in the domain, no spaces. Mail delivery is the real check.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class RegisterRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"example": {"email": "ada@example.com", "password": "correct horse"}},
    )

    email: str = Field(max_length=254, description="login name; stored lower-cased")
    password: str = Field(
        description=f"{MIN_PASSWORD_CHARS} characters to {MAX_PASSWORD_BYTES} bytes (UTF-8)"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if not EMAIL_PATTERN.match(value):
            raise ValueError("not a valid e-mail address")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        if len(value) < MIN_PASSWORD_CHARS:
            raise ValueError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
        if len(value.encode("utf-8")) > MAX_PASSWORD_BYTES:
            raise ValueError(f"the password may be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
        if "\x00" in value:
            raise ValueError("the password may not contain NUL characters")
        return value


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
    new_password: str = Field(
        description=f"{MIN_PASSWORD_CHARS} characters to {MAX_PASSWORD_BYTES} bytes (UTF-8)"
    )

    @field_validator("new_password")
    @classmethod
    def _new_password(cls, value: str) -> str:
        return RegisterRequest._password(value)


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


BATCH_METHODS = ("sync", "asyncio", "threading", "free-threaded", "multiprocessing")


class BatchRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    image_ids: list[RowId] = Field(min_length=1, description="your images, processed in this order")
    pipeline: dict[str, Any] = Field(description="a nogilbench pipeline (see /api/operations)")
    method: Literal["sync", "asyncio", "threading", "free-threaded", "multiprocessing"] | None = (
        Field(
            default=None,
            description="concurrency model; default free-threaded when the server runs with "
            "the GIL off, threading otherwise",
        )
    )
    workers: int = Field(default=4, ge=1, le=256)


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
    workloads: list[str] = Field(default=["pillow"], min_length=1, max_length=4)
    images: list[int] = Field(default=[10], min_length=1, max_length=6)
    workers: list[int] = Field(default=[1, 2, 4], min_length=1, max_length=8)
    methods: list[str] = Field(default=["sync", "threading"], min_length=1, max_length=6)
    repeats: int = Field(default=3, ge=1, le=20)
    image_size: list[int] = Field(
        default=[640, 427], min_length=2, max_length=2, description="[width, height] in pixels"
    )
    baseline: bool = Field(
        default=False,
        description="also time sync on a default (GIL) build of the same Python version",
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

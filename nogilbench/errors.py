"""Errors a user can cause, each with a stable machine-readable code.

The CLI prints `message` on one line; the API maps `error_code` to an HTTP status and the
`{"error_code", "message"}` envelope. Stdlib only: cells import this on every interpreter.
"""

from __future__ import annotations


class NogilbenchError(Exception):
    """Base class: a problem the user can fix, never a bug."""

    error_code = "NOGILBENCH_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidOperation(NogilbenchError):
    """A pipeline names an unknown operation or gives it a parameter out of bounds."""

    error_code = "INVALID_OPERATION"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedImage(NogilbenchError):
    """The bytes are not an image in an allowed format, or cannot be decoded."""

    error_code = "UNSUPPORTED_MEDIA_TYPE"


class ImageTooLarge(NogilbenchError):
    """The image declares more pixels than allowed (decompression-bomb guard)."""

    error_code = "PAYLOAD_TOO_LARGE"


class InvalidParameter(NogilbenchError):
    """A sweep/CLI parameter is out of range or unknown."""

    error_code = "INVALID_PARAMETER"


class StoreUnavailable(NogilbenchError):
    """The results database cannot be reached or opened."""

    error_code = "DATABASE_UNAVAILABLE"


class SweepCancelled(NogilbenchError):
    """A running sweep was asked to stop (its stop event was set); its cell process is gone."""

    error_code = "SWEEP_CANCELLED"

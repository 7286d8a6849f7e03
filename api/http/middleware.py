"""Pure ASGI middleware: request logging + metrics + request id, and the streaming body limit.

Pure ASGI (not BaseHTTPMiddleware) so streamed responses (SSE, files) pass straight through.
The access log records method, path (never the query string), client IP, status, duration
and request id; it never sees bodies or headers, so passwords and tokens cannot leak into it.
The path is the percent-decoded one, so control characters in it (a `%0A` would start a
forged log line) are escaped before it is logged. Every response says
`X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http import timing
from api.http.metrics import Metrics

access_logger = logging.getLogger("api.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Metric label values come from a fixed set: any other method is "other" and a request no
# route matched is "unmatched", so invented methods and paths cannot add series to /metrics.
METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A Content-Length of more digits than this is past any limit (and int() would refuse it).
MAX_LENGTH_DIGITS = 18
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """`text` with every control character written as a \\xNN / \\uNNNN escape."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, slow_ms: float = 500.0, server_timing: bool = False
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.slow_ms = slow_ms
        self.server_timing = server_timing  # the Server-Timing header (api/http/timing.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        streaming = False
        started = time.perf_counter()
        phases = timing.start() if self.server_timing else None

        async def send_with_id(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                headers.append((b"x-content-type-options", b"nosniff"))
                if phases is not None:
                    total = time.perf_counter() - started
                    headers.append((b"server-timing", timing.header_value(phases, total)))
                streaming = any(
                    name.lower() == b"content-type" and value.startswith(b"text/event-stream")
                    for name, value in headers
                )
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = (
                getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            )
            method = scope["method"]
            label = method if method in METRIC_METHODS else "other"
            self.metrics.requests.labels(label, template, str(status)).inc()
            self.metrics.latency.labels(label, template).observe(elapsed)
            client = scope.get("client")
            client_ip = client[0] if client else "-"
            elapsed_ms = elapsed * 1000
            args = (
                printable(method),
                printable(scope["path"]),
                printable(client_ip),
                status,
                elapsed_ms,
                request_id,
            )
            if elapsed_ms > self.slow_ms and not streaming:
                access_logger.warning("SLOW %s %s from %s -> %s in %.1f ms [%s]", *args)
            else:
                access_logger.info("%s %s from %s -> %s in %.1f ms [%s]", *args)


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a request body passes its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit:,} bytes")


class BodyLimitMiddleware:
    """Counts body bytes while they stream in and answers 413 as soon as the limit is passed.

    A declared Content-Length over the limit is refused before anything is read. Otherwise
    the wrapped `receive` raises once the limit is crossed; whatever the app does next
    (a parse error, a 400), the client gets the 413 envelope.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _header(scope, b"content-length")
        if (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and (len(declared) > MAX_LENGTH_DIGITS or int(declared) > limit)
        ):
            await _send_too_large(send, limit)
            return
        received = 0
        exceeded = False
        replied = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replied, started
            if exceeded:
                if not replied and message["type"] == "http.response.start":
                    replied = True
                    await _send_too_large(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
            if not replied:
                replied = True
                await _send_too_large(send, limit)


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error_code": "PAYLOAD_TOO_LARGE",
            "message": f"the request body is larger than the limit of {limit:,} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None

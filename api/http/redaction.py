"""Secrets in query strings never reach a log: uvicorn's access log writes the whole request
line, so a stream token (`?stream_token=...`, the one credential a URL may carry) is replaced
there. The service's own access log (`api.http.middleware`) never writes query strings."""

from __future__ import annotations

import logging
import re

SECRET_PARAMETERS = re.compile(r"((?:^|[?&])stream_token=)[^&\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"
# uvicorn's access logger; its record's args are (client, method, path with query, version,
# status).
ACCESS_LOGGERS = ("uvicorn.access",)


def redact(text: str) -> str:
    return SECRET_PARAMETERS.sub(lambda match: match.group(1) + REDACTED, text)


class RedactQuerySecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Once per process (idempotent): filter the access loggers that write query strings."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in logger.filters):
            logger.addFilter(RedactQuerySecrets())

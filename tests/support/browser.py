"""For the browser tests: Chromium's location and flags, the loopback check, and the
page-with-guard object the `browsing` fixture yields (fixtures: tests/browser/conftest.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("NOGILBENCH_CHROMIUM", "/usr/bin/chromium")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--metrics-recording-only",
    # Nothing but loopback: every other host goes to a proxy that does not exist (loopback
    # bypasses proxies), and no name resolves except localhost.
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def browser_required() -> bool:
    flags = (os.environ.get("CI", ""), os.environ.get("NOGILBENCH_REQUIRE_BROWSER", ""))
    return any(flag.strip().lower() not in ("", "0", "false", "no") for flag in flags)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOOPBACK_HOSTS


@dataclass
class Browsing:
    """A page plus the requests it tried to send beyond loopback (aborted)."""

    page: object  # playwright.sync_api.Page
    screenshot_dir: Path
    blocked: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TinyStore:
    """A temporary SQLite store holding tiny sweeps, and the report rendered from the first."""

    database_url: str
    folder: Path
    report_html: Path
    sweeps: tuple[str, ...]

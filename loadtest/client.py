"""Plain (synchronous) calls the measurements share: signing a user in, and the CPU time a
measured process has used so far."""

from __future__ import annotations

import httpx
import psutil


def sign_in(http: httpx.Client, email: str, password: str) -> dict[str, str]:
    """Register `email` and log in: the Authorization header of its access token."""
    http.post("/auth/register", json={"email": email, "password": password}).raise_for_status()
    login = http.post("/auth/login", data={"username": email, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process (every thread), as the OS counts them."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)

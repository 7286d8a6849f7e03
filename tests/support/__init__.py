"""What the test suites share, one home each; test modules import helpers only from here.

images (encoded images, noise, a decompression bomb, sample files), servers (a free port, the
service under a real uvicorn), api (settings, accounts, jobs and event streams, a live
server's seed data), pg (a throw-away PostgreSQL server), browser (Chromium's flags, the
loopback guard), results (result rows as a sweep derives them, from synthetic measurements),
noisy_host (seeded rounds with a noisy host's noise, for the statistics tests).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root

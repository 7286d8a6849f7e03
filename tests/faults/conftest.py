"""Fault tests: `tests/` holds a folder named `api`, so the repository root goes first."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
elif sys.path[0] != str(ROOT):
    sys.path.remove(str(ROOT))
    sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=".*httpx2.*")  # starlette's TestClient notice

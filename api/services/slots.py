"""Per-user slots: at most N of something open per user at once in this process."""

from __future__ import annotations

import threading


class PerUserSlots:
    """At most `limit` of something open per user at once in this process (SSE streams)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}

    def take(self, user_id: int) -> bool:
        with self._lock:
            if self._open.get(user_id, 0) >= self.limit:
                return False
            self._open[user_id] = self._open.get(user_id, 0) + 1
            return True

    def give_back(self, user_id: int) -> None:
        with self._lock:
            left = self._open.get(user_id, 0) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)

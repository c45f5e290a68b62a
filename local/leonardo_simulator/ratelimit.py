"""Rolling-window request limits (Leonardo counts requests per minute)."""

from __future__ import annotations

import math
import time
from collections import deque


class RollingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float = 60.0, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: deque[float] = deque()

    def acquire(self) -> int | None:
        """Record a hit and return None, or return the whole seconds to wait
        (for Retry-After) when the window is full. Refused hits are not counted."""
        now = self._clock()
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()
        if len(self._hits) >= self.limit:
            return max(1, math.ceil(self._hits[0] + self.window - now))
        self._hits.append(now)
        return None

    def reset(self) -> None:
        self._hits.clear()

"""The retry schedule and when an endpoint is given up on."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

# Standard Webhooks' example schedule: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h and 24 h (about 3 days in all).
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def parse_schedule(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if any(v < 0 for v in values):
        raise ValueError("retry delays are seconds >= 0")
    return values


@dataclass(frozen=True)
class DeliveryPolicy:
    schedule: tuple[int, ...] = DEFAULT_SCHEDULE  # delay after attempt n (1-based) = schedule[n-1]
    jitter: float = 0.1  # +-10%, so a receiver's recovery is not met by every retry at once
    max_retry_after: int = 86400  # a receiver's Retry-After is honoured up to this
    # An endpoint is disabled after this many events in a row exhausted their retries, or after
    # failing without a single success for this long (whichever comes first), or on 410 Gone.
    disable_after_failed_events: int = 5
    disable_after_seconds: int = 3 * 86400
    lease_seconds: int = 120  # a claimed attempt not recorded by then may be taken over
    event_retention_seconds: int = 30 * 86400  # events and delivery logs kept for replay

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def delay_after(self, attempt: int, *, key: str, retry_after: float | None = None) -> int:
        """Seconds to wait after failed attempt `attempt`; the jitter is fixed per key and attempt."""
        base = self.schedule[attempt - 1]
        spread = int.from_bytes(hashlib.sha256(f"{key}:{attempt}".encode()).digest()[:4]) / 0xFFFFFFFF
        delay = base * (1 + self.jitter * (2 * spread - 1))
        if retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return max(0, math.ceil(delay))

"""Per-user token buckets in DynamoDB: how often a user may call something costly.

A bucket holds up to `capacity` tokens and gains `per_second` tokens per second; each call takes
one. It is kept as the generic cell rate algorithm keeps it, the same limit in other terms: one
number per (user, purpose), the bucket's *theoretical arrival time* (TAT), the moment it would be
full again. A call fits if the TAT is at most `(capacity - 1) / per_second` ahead of now, and moves
it on by `1 / per_second` (from now, if it was in the past). So taking a token is one conditional
write, with no read before it and no race to lose: two concurrent calls each move the TAT on, and a
call that would not fit changes nothing. Guardrails reuse the same buckets for their own limits
(DECISIONS.md: built by the first issue that needs it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .errors import DomainError
from .policy import Clock


class RateLimited(DomainError):
    """429 `rate_limited`, with how long to wait (Retry-After)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class BucketLimit:
    capacity: float
    per_second: float

    @property
    def interval(self) -> float:
        """Seconds one call moves the bucket's TAT on (a token's refill time)."""
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of now the TAT may be for a call to fit: a full bucket admits `capacity` at once."""
        return max(0.0, self.capacity - 1) * self.interval


class BucketStore(Protocol):
    def advance(self, key: str, *, now: datetime, interval: float, tolerance: float) -> datetime | None:
        """Admit one call if it fits: move the bucket's TAT to max(TAT, now) + `interval` when
        max(TAT, now) - now <= `tolerance` (a missing bucket is full). None when admitted; else the
        stored TAT, unchanged."""


class TokenBuckets:
    def __init__(self, store: BucketStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    def take(self, user_id: str, purpose: str, limit: BucketLimit) -> None:
        """Take one token from the user's bucket for `purpose`, or raise RateLimited."""
        now = self._clock()
        tat = self._store.advance(f"{purpose}#{user_id}", now=now, interval=limit.interval,
                                  tolerance=limit.tolerance)  # fmt: skip
        if tat is not None:
            wait = max(1, math.ceil((tat - now).total_seconds() - limit.tolerance))
            raise RateLimited(f"Too many {purpose} calls; try again in {wait} s", retry_after=wait)

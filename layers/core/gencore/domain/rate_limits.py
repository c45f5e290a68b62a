"""Per-user token buckets in DynamoDB: how often a user may call something costly.

A bucket holds up to `capacity` tokens and gains `per_second` tokens per second; each call takes
one. It is one item per (user, purpose), read and written back with a condition on the moment it
was last refilled, so two concurrent calls cannot both take the last token. Guardrails reuse the
same buckets for their own limits (DECISIONS.md: built by the first issue that needs it).
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
class BucketState:
    tokens: float
    refilled_at: datetime


@dataclass(frozen=True)
class BucketLimit:
    capacity: float
    per_second: float


class BucketStore(Protocol):
    def load(self, key: str) -> BucketState | None: ...

    def save(self, key: str, state: BucketState, *, expected: BucketState | None) -> bool:
        """Write `state` if the bucket is still `expected` (None: it does not exist); False if not."""


class TokenBuckets:
    def __init__(self, store: BucketStore, clock: Clock, *, attempts: int = 5) -> None:
        self._store, self._clock, self._attempts = store, clock, attempts

    def take(self, user_id: str, purpose: str, limit: BucketLimit) -> None:
        """Take one token from the user's bucket for `purpose`, or raise RateLimited."""
        key = f"{purpose}#{user_id}"
        for _ in range(self._attempts):
            now = self._clock()
            current = self._store.load(key)
            tokens = limit.capacity
            if current is not None:
                elapsed = max(0.0, (now - current.refilled_at).total_seconds())
                tokens = min(limit.capacity, current.tokens + elapsed * limit.per_second)
            if tokens < 1:
                wait = math.ceil((1 - tokens) / limit.per_second)
                raise RateLimited(f"Too many {purpose} calls; try again in {wait} s", retry_after=wait)
            if self._store.save(key, BucketState(tokens=tokens - 1, refilled_at=now), expected=current):
                return
        # Lost every race: the bucket is being drained by concurrent calls right now.
        raise RateLimited(f"Too many {purpose} calls at once", retry_after=1)

"""Retries of Leonardo calls and uploads: the policy, the Retry-After header, and the loop.

429, 5xx and transport failures are retried with exponential backoff and full jitter
(``uniform(0, min(max_delay, base_delay * 2**n))``), or after Leonardo's ``Retry-After`` (seconds or
HTTP date, capped at ``max_delay``), at most ``RetryPolicy.max_attempts`` attempts in total. Which
failures are retryable is decided where the answer is read (leonardo/transport.py, uploads.py); a
paid POST runs with one attempt.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import TypeVar

from .errors import LeonardoError, NotFoundError

logger = logging.getLogger("gencore.leonardo.client")  # the name operators already filter on

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; delays are in seconds."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def ceiling(self, retry_index: int) -> float:
        """Upper bound of the full-jitter sleep before retry number ``retry_index`` (0-based)."""
        return min(self.max_delay, self.base_delay * 2.0**retry_index)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN guard
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class Retrier:
    """Runs one attempt at a time under a :class:`RetryPolicy`; shared by API calls and uploads."""

    def __init__(self, policy: RetryPolicy, sleep: Callable[[float], None], rng: random.Random) -> None:
        self.policy = policy
        self._sleep = sleep
        self._rng = rng

    def run(
        self,
        method: str,
        path: str,
        attempt_once: Callable[[], T | LeonardoError],
        what: str = "call",
        attempts: int | None = None,
    ) -> T:
        """Run ``attempt_once`` until it returns a result or a non-retryable error,
        within the retry policy; log each failure (never bodies or headers)."""
        attempts = attempts or self.policy.max_attempts
        for attempt in range(1, attempts + 1):
            outcome = attempt_once()
            if not isinstance(outcome, LeonardoError):
                return outcome
            error = outcome
            facts = {"method": method, "path": path, "status": error.status, "code": error.code}
            if not error.retryable or attempt == attempts:
                # A 404 is routine (polling a deleted generation); the rest deserve attention.
                level = logging.INFO if isinstance(error, NotFoundError) else logging.WARNING
                logger.log(level, f"leonardo {what} failed", extra=facts | {"attempt": attempt})
                raise error
            delay = self.delay(attempt - 1, getattr(error, "retry_after", None))
            logger.info(
                f"leonardo {what} will be retried",
                extra=facts | {"attempt": attempt, "delay": round(delay, 3)},
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def delay(self, retry_index: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.policy.max_delay, retry_after)
        return self._rng.uniform(0, self.policy.ceiling(retry_index))

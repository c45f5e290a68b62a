"""Tuning of the pipeline and the small helpers every use case shares."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Policy:
    """Tuning of the pipeline; read from settings once per cold start."""

    max_in_flight: int = 10
    dedupe_window_seconds: int = 60
    max_job_age_seconds: int = 3600
    submit_lease_seconds: int = 120  # longer than the submitter's timeout: a lease older than this was lost
    queued_check_seconds: int = 120  # a QUEUED job untouched this long has lost its submit message
    first_poll_seconds: int = 30  # webhooks normally win; polling is the safety net
    max_poll_interval_seconds: int = 300
    finalize_check_seconds: int = 120
    requeue_base_seconds: float = 2.0
    requeue_max_seconds: int = 120
    reconcile_batch: int = 100
    reconcile_workers: int = 4
    reconcile_budget_seconds: float = 30.0  # the reconciler's Timeout is 55 s
    # The longest one paid POST can take (every client timeout of one exchange) plus the write that
    # records it: a submitter with less time left does not start one, so it is never killed mid-way.
    post_budget_seconds: float = 28.0
    # How long after an unanswered POST a generation could still appear in Leonardo's list: the
    # lookup must have found nothing for this long before sending again is safe.
    submit_settle_seconds: int = 60
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def requeue_delay(self, attempt: int, retry_after: float | None = None) -> int:
        """Exponential backoff with full jitter, never shorter than Leonardo's Retry-After."""
        ceiling = min(self.requeue_max_seconds, self.requeue_base_seconds * 2 ** min(attempt, 16))
        delay = self.rng.uniform(0, ceiling)
        if retry_after:
            delay = max(delay, retry_after)
        return max(1, min(900, round(delay)))  # SQS DelaySeconds caps at 900

    def queued_recheck(self, checks: int) -> int:
        """When to look again at a QUEUED job whose submit message was re-sent: doubling, <= 15 min."""
        return int(min(900, self.queued_check_seconds * 2 ** min(checks, 16)))

    def poll_interval(self, checks: int) -> int:
        return int(min(self.max_poll_interval_seconds, self.first_poll_seconds * 2 ** min(checks, 16)))


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())

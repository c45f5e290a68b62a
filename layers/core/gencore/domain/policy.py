"""Tuning of the pipeline and the small helpers every use case shares.

Standard library only: `gencore.settings` builds these at every cold start, and importing the use
cases that take them would load ports, models and the kinds at init for nothing (each function
loads the use cases it calls from `gencore.wiring`; docs/performance.md, cold starts).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

Clock = Callable[[], datetime]

IMAGE, VIDEO = "image", "video"  # Leonardo's concurrency pools (Policy.pools)
KNOWN_POOLS = (IMAGE, VIDEO)
# How long an Idempotency-Key of a POST route (a job, a batch) returns what it first made.
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Policy:
    """Tuning of the pipeline; read from settings once per cold start."""

    max_in_flight: int = 10  # the image pool: Leonardo's concurrency for the account
    # Video's own pool, when Leonardo gives it one: 0 counts video jobs against the image pool (the
    # contract documents one pool only).
    video_max_in_flight: int = 0
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
    # How long every create waits after a 429 that named no Retry-After (the account's pause).
    rate_pause_seconds: int = 10
    # Stateless (os.urandom): environments restored from one SnapStart snapshot draw their own jitter.
    rng: random.Random = field(default_factory=random.SystemRandom, compare=False)

    @property
    def pools(self) -> tuple[str, ...]:
        """Leonardo's concurrency pools we keep apart, each with its own cap and waiting line."""
        return (IMAGE, VIDEO) if self.video_max_in_flight else (IMAGE,)

    def pool(self, wanted: str) -> str:
        """The pool a job of a kind that counts against `wanted` takes its slot from."""
        return wanted if wanted in self.pools else IMAGE

    def cap(self, pool: str) -> int:
        return self.video_max_in_flight if pool == VIDEO and self.video_max_in_flight else self.max_in_flight

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


@dataclass(frozen=True)
class AccountPolicy:
    """The account breaker's tuning (domain.account.AccountGuard)."""

    cache_seconds: float = 5.0  # how long an answer of blocked() is reused (a read per submit otherwise)
    probe_first_seconds: int = 60  # first probe after a trip; doubling after each failed probe...
    probe_max_seconds: int = 900  # ...up to this
    hold_max_seconds: int = 6 * 3600  # a block older than this fails the held jobs (leonardo_unavailable)
    fail_batch: int = 25  # held jobs failed per reconciler run once the hold is over

    def probe_delay(self, failed_probes: int) -> int:
        return int(
            min(self.probe_max_seconds, self.probe_first_seconds * 2 ** min(max(failed_probes, 0), 16))
        )


@dataclass(frozen=True)
class OrphanPolicy:
    """The orphan sweep's tuning (domain.orphans.OrphanSweep)."""

    every_seconds: int = 600  # at most one sweep this often
    grace_seconds: int = 900  # younger generations may still be adopted by their job
    first_lookback_seconds: int = 3600  # how far back the first sweep ever looks
    limit_pages: int = 10  # pages of Leonardo's list per sweep
    keep_seconds: int = 30 * 86400  # ORPHAN items expire after this (TTL)
    min_seconds: float = 20.0  # time the sweep needs left in the invocation to start at all


@dataclass(frozen=True)
class UploadPolicy:
    """Limits of source uploads (domain.uploads)."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 4096 * 4096  # decoded size stays under 64 MiB (RGBA)
    url_ttl_seconds: int = 900
    unfinished_ttl_seconds: int = 24 * 3600  # a PENDING or REJECTED record goes away after this


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())

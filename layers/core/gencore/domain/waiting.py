"""The waiting line: free Leonardo slots go to waiting jobs in turn, user by user.

A job that finds every slot taken parks in the line with a **turn** (`turn_of`): one past the later
of the line's head (the turn of the job most recently woken) and its user's last turn. So each
user's jobs are spaced one turn apart from the head on, and a user who arrives with one job behind
another user's backlog of thousands waits at most one turn, not behind the whole backlog (start-time
fair queueing, every user weighted alike). A job parked again keeps its turn. The line's order is
this one function: the hand-over (Waker) only ever takes the lowest turns.

Each of Leonardo's concurrency pools (`Pools`: the image pool, and video's when it has one of its
own) has its own cap and its own line, so a slot freed in one wakes a job that can use it.
While the account's creates are paused (a 429's Retry-After, domain/account.py) a freed slot still
wakes its job, with the message held back until the pause ends.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING

from .errors import TransitionConflict
from .kinds import kind_of
from .models import Job, JobStatus
from .policy import IMAGE, KNOWN_POOLS, Clock, Policy, epoch
from .ports import JobStore, SubmitQueue

if TYPE_CHECKING:
    from .account import AccountGuard

log = logging.getLogger(__name__)


def expired_in_queue(job: Job, now: datetime) -> bool:
    """Whether a job not yet sent to Leonardo waited past its plan's limit (it then fails
    `expired_in_queue`, its reservation released). A job whose POST may be unanswered is never
    expired: Leonardo may be running it."""
    return (
        job.queue_deadline is not None
        and job.submit_uncertain_since is None
        and epoch(now) > job.queue_deadline
    )


def expiry_of(job: Job) -> tuple[str, str]:
    """The code and message a waiting job fails with past its `queue_deadline`: a batch item's is
    its batch's deadline, any other job's its plan's waiting limit."""
    if job.batch is not None:
        return "batch_deadline_exceeded", "The batch's deadline passed before this item started"
    return "expired_in_queue", "The job waited here longer than your plan allows"


def turn_of(line_head: int, users_last_turn: int | None) -> int:
    """The turn of a job entering the line (see the module): never before the head, and one past
    its user's previous job."""
    return max(line_head, users_last_turn or 0) + 1


class Pools:
    """Which of Leonardo's concurrency pools a job's slot comes from (its kind's, if that pool is
    configured apart; else the image pool), and each pool's cap."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    @property
    def names(self) -> tuple[str, ...]:
        return self._policy.pools

    @property
    def retired(self) -> tuple[str, ...]:
        """Pools not kept apart under this configuration: a line of one holds only jobs parked
        before the configuration changed, woken to move to their pool's line."""
        return tuple(pool for pool in KNOWN_POOLS if pool not in self._policy.pools)

    def of(self, job: Job) -> str:
        return self._policy.pool(kind_of(job.kind).pool)

    def cap(self, pool: str) -> int:
        return self._policy.cap(pool)

    def __call__(self, job: Job) -> tuple[str, int]:
        """The job's pool and its cap (the PoolOf a slot claim takes)."""
        pool = self.of(job)
        return pool, self.cap(pool)


class Waker:
    """Hands free Leonardo slots to the waiting jobs whose turn it is.

    A job that finds every slot taken parks in the waiting line and sends no more messages; each
    slot given back wakes the head of the line. So waiting costs nothing, however long the line,
    and a freed slot is taken again at once instead of at some job's next poll.
    """

    LOOKAHEAD = 3  # line entries tried per wake: a concurrent waker may take the first ones
    MOVE_PER_RUN = 25  # jobs moved per run out of a retired pool's line

    def __init__(
        self,
        store: JobStore,
        submit_queue: SubmitQueue,
        clock: Clock,
        policy: Policy,
        guard: AccountGuard | None = None,
    ) -> None:
        self._store, self._queue, self._clock, self._policy = store, submit_queue, clock, policy
        self._guard = guard
        self.pools = Pools(policy)

    def wake(self, count: int = 1, pool: str = IMAGE) -> int:
        """Send a live submit message to up to `count` jobs waiting for a slot of `pool`; returns
        how many were woken. During a create pause each message is held back until it ends.

        Never raises: a wake that fails is made up by the reconciler, which wakes as many jobs as
        there are free slots on every run.
        """
        if count <= 0:
            return 0
        woken = 0
        try:
            hold = self._held_back()
            for job_id in self._store.waiting_job_ids(limit=count + self.LOOKAHEAD, pool=pool):
                # Out of the line and back under the re-send safety net, should this message be lost.
                due_at = epoch(self._clock()) + hold + self._policy.queued_check_seconds
                job = self._store.leave_line(job_id, due_at=due_at, pool=pool)
                if job is None:
                    continue  # someone else woke it, or it moved on
                if self._expired(job):
                    continue  # its turn passes to the next: the slot is still free
                self._queue.send(job_id, delay_seconds=hold, token=job.submit_token)
                woken += 1
                if woken == count:
                    break
        except Exception:
            log.exception("waking waiting jobs failed; the reconciler will wake them")
        return woken

    def _expired(self, job: Job) -> bool:
        """Fail a woken job whose turn came after its waiting limit (read from the wake's own answer:
        no second read); True if it is past it, whoever wrote its end."""
        now = self._clock()
        if job.status != JobStatus.QUEUED or not expired_in_queue(job, now):
            return False
        code, message = expiry_of(job)
        try:
            self._store.transition(
                job, JobStatus.FAILED, now=now, due_at=None, error_code=code, error_message=message
            )
            log.info("waiting job expired", extra={"job_id": job.id})
        except TransitionConflict:
            pass  # moved on meanwhile; if it still waits, the re-send net's submit expires it
        return True

    def _held_back(self) -> int:
        """Seconds a wake's message waits for the account's create pause to end (0: none)."""
        paused = self._guard.paused_for() if self._guard is not None else 0.0
        return min(900, math.ceil(paused))  # SQS DelaySeconds caps at 900

    def paused(self) -> bool:
        return self._guard is not None and self._guard.paused_for() > 0

    def wake_free(self) -> int:
        """Hand every slot free now to its pool's line (the reconciler's run, a batch's first items).
        A retired pool's line is emptied a few jobs a run: they park again in their pool's line."""
        woken = sum(self.wake(self.free(pool), pool) for pool in self.pools.names)
        return woken + sum(self.wake(self.MOVE_PER_RUN, pool) for pool in self.pools.retired)

    def free(self, pool: str) -> int:
        return self.pools.cap(pool) - self._store.in_flight(pool)

    def after_release(self, pool: str | None = IMAGE) -> None:
        """A slot of `pool` was given back: it belongs to the head of that pool's line."""
        self.wake(1, pool or IMAGE)

"""The waiting line: free Leonardo slots go to waiting jobs in turn, user by user.

A job that finds every slot taken parks in the line with a **turn** (`turn_of`): one past the later
of the line's head (the turn of the job most recently woken) and its user's last turn. So each
user's jobs are spaced one turn apart from the head on, and a user who arrives with one job behind
another user's backlog of thousands waits at most one turn, not behind the whole backlog (start-time
fair queueing, every user weighted alike). A job parked again keeps its turn. The line's order is
this one function: the hand-over (Waker) only ever takes the lowest turns.
"""

from __future__ import annotations

import logging
from datetime import datetime

from .errors import TransitionConflict
from .models import Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import JobStore, SubmitQueue

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


class Waker:
    """Hands free Leonardo slots to the waiting jobs whose turn it is.

    A job that finds every slot taken parks in the waiting line and sends no more messages; each
    slot given back wakes the head of the line. So waiting costs nothing, however long the line,
    and a freed slot is taken again at once instead of at some job's next poll.
    """

    LOOKAHEAD = 3  # line entries tried per wake: a concurrent waker may take the first ones

    def __init__(self, store: JobStore, submit_queue: SubmitQueue, clock: Clock, policy: Policy) -> None:
        self._store, self._queue, self._clock, self._policy = store, submit_queue, clock, policy

    def wake(self, count: int = 1) -> int:
        """Send a live submit message to up to `count` waiting jobs; returns how many were woken.

        Never raises: a wake that fails is made up by the reconciler, which wakes as many jobs as
        there are free slots on every run.
        """
        if count <= 0:
            return 0
        woken = 0
        try:
            for job_id in self._store.waiting_job_ids(limit=count + self.LOOKAHEAD):
                # Out of the line and back under the re-send safety net, should this message be lost.
                due_at = epoch(self._clock()) + self._policy.queued_check_seconds
                job = self._store.leave_line(job_id, due_at=due_at)
                if job is None:
                    continue  # someone else woke it, or it moved on
                if self._expired(job):
                    continue  # its turn passes to the next: the slot is still free
                self._queue.send(job_id, token=job.submit_token)
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

    def wake_free(self) -> int:
        """Hand every slot free now to the line (the reconciler's run, a batch's first items)."""
        return self.wake(self._policy.max_in_flight - self._store.in_flight())

    def after_release(self) -> None:
        """A slot was given back: it belongs to the head of the line."""
        self.wake(1)

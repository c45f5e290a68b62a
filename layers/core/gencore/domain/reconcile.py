"""The safety net: due jobs are found through the index and each one is made to move on."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from .errors import GenerationMissing, LeonardoBusy, TransitionConflict
from .models import GenerationEvent, Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import EventQueue, JobStore, Leonardo, SubmitQueue
from .waiting import Waker

log = logging.getLogger(__name__)


class Reconciler:
    """Finds due jobs through the index and makes sure each one moves on."""

    def __init__(
        self,
        store: JobStore,
        leonardo: Leonardo,
        events: EventQueue,
        submit_queue: SubmitQueue,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._store, self._leonardo, self._events, self._queue = store, leonardo, events, submit_queue
        self._clock, self._policy = clock, policy
        self._waker = Waker(store, submit_queue, clock, policy)

    def run(self) -> dict[str, int]:
        """Check due jobs batch by batch until none is due or the time budget is spent; then hand
        every free slot to the waiting line (slots freed by timeouts, expired leases, lost wakes)."""
        outcomes = self._check_due()
        free = self._policy.max_in_flight - self._store.in_flight()
        if woken := self._waker.wake(free):
            outcomes["woken"] = woken
        return outcomes

    def _check_due(self) -> dict[str, int]:
        started = self._clock()
        outcomes: dict[str, int] = {}
        seen: set[str] = set()
        with ThreadPoolExecutor(max_workers=self._policy.reconcile_workers) as pool:
            while True:
                now = epoch(self._clock())
                due = self._store.due_job_ids(now=now, limit=self._policy.reconcile_batch)
                fresh = [job_id for job_id in due if job_id not in seen]  # a failed check stays due
                seen.update(fresh)
                for outcome in pool.map(self._check_safely, fresh):
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                spent = (self._clock() - started).total_seconds()
                if len(due) < self._policy.reconcile_batch or not fresh:
                    return outcomes
                if spent > self._policy.reconcile_budget_seconds:
                    return outcomes

    def _check_safely(self, job_id: str) -> str:
        try:
            return self.check(job_id)
        except TransitionConflict:
            return "raced"
        except Exception:
            log.exception("reconcile check failed", extra={"job_id": job_id})
            return "error"

    def check(self, job_id: str) -> str:
        job = self._store.get(job_id)
        if job is None or job.status.terminal:
            return "gone"
        now = self._clock()
        # The age limit is for generations Leonardo never finishes. Waiting for one of our own
        # slots is not that: a QUEUED job waits as long as the line takes.
        started = job.submitted_at or job.created_at
        if (
            job.status != JobStatus.QUEUED
            and (now - started).total_seconds() > self._policy.max_job_age_seconds
        ):
            self._store.transition(
                job, JobStatus.FAILED, now=now, release_slot=True,
                error_code="timeout", error_message="The generation did not finish in time",
            )  # fmt: skip
            log.warning("job timed out", extra={"job_id": job.id, "status": str(job.status)})
            return "timed_out"
        if job.status == JobStatus.QUEUED and not job.slot_held:
            # Its submit message is late or lost. Either way the job needs a slot, not a message:
            # into the line it goes, and this run ends by waking one waiting job per free slot. A
            # message still on its way finds the job in line and carries on as usual.
            return "parked" if self._store.park(job) else "raced"
        if job.status == JobStatus.QUEUED:
            # A submitter took a slot and went quiet (crashed, or its answer was lost): re-send, so
            # the next attempt takes the lease over once it has run out (never a second slot). A new
            # live message: any older copy still cycling stops at its next wait. Backing off keeps
            # a lagging submit queue from being flooded.
            token = job.submit_token + 1
            wait = self._policy.queued_recheck(job.checks)
            self._store.reschedule(job, due_at=epoch(now) + wait, checks=job.checks + 1, submit_token=token)
            self._queue.send(job.id, token=token)
            return "resubmitted"
        return self._poll(job)

    def _poll(self, job: Job) -> str:
        assert job.generation_id
        now = epoch(self._clock())
        try:
            remote = self._leonardo.generation(job.generation_id)
        except LeonardoBusy:
            self._store.reschedule(job, due_at=now + self._policy.first_poll_seconds)
            return "busy"
        except GenerationMissing:
            self._store.transition(
                job, JobStatus.FAILED, now=self._clock(), release_slot=True,
                error_code="generation_missing", error_message="Leonardo no longer knows this generation",
            )  # fmt: skip
            return "missing"
        if remote.status == "PENDING":
            self._store.reschedule(
                job, due_at=now + self._policy.poll_interval(job.checks), checks=job.checks + 1
            )
            return "pending"
        self._events.send(
            GenerationEvent(
                source="reconciler",
                generation_id=job.generation_id,
                status="COMPLETE" if remote.status == "COMPLETE" else "FAILED",
                images=remote.images,
                api_credit_cost=remote.api_credit_cost,
            )
        )
        # If that event is lost too, look again later.
        self._store.reschedule(job, due_at=now + self._policy.finalize_check_seconds, checks=job.checks + 1)
        return "recovered"

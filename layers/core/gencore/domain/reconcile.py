"""The safety net: due jobs are found through the index and each one is made to move on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

from .account import UNAVAILABLE, AccountBlock, AccountGuard
from .errors import GenerationMissing, LeonardoBusy, TransitionConflict
from .kinds import kind_of
from .models import GenerationEvent, Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import EventQueue, JobStore, Leonardo, SubmitQueue
from .waiting import Waker

log = logging.getLogger(__name__)

# Kept free before the invocation is cut off: the wake, the metrics and the answer need it.
RESERVE_SECONDS = 10.0
# Outcome key counting account-level Leonardo calls (not a job's): the handler reports it apart.
ACCOUNT_CALLS = "account_calls"


def seconds_until(clock: Clock, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (moment - clock()).total_seconds())


def finish_before(
    pool: Executor, clock: Clock, until: datetime | None, call: Callable[..., Any], *args: Any
) -> tuple[bool, Any]:
    """Run `call(*args)` on `pool`; (True, its result) if it finished by `until`, else (False, None).

    A call still running at `until` is left behind, never waited for: an invocation that waits for
    a slow Leonardo answer is cut off with everything it has not reported yet.
    """
    future = pool.submit(call, *args)
    done, _ = wait([future], timeout=seconds_until(clock, until))
    return (True, future.result()) if done else (False, None)


def _count(outcomes: dict[str, int], outcome: str, n: int = 1) -> None:
    outcomes[outcome] = outcomes.get(outcome, 0) + n


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
        *,
        guard: AccountGuard | None = None,
        reserve_seconds: float = RESERVE_SECONDS,
    ) -> None:
        self._store, self._leonardo, self._events, self._queue = store, leonardo, events, submit_queue
        self._clock, self._policy = clock, policy
        self._waker = Waker(store, submit_queue, clock, policy, guard)
        self._guard, self._reserve = guard, reserve_seconds

    def run(self, *, ends_at: datetime | None = None) -> dict[str, int]:
        """Check due jobs batch by batch until none is due or the time is spent; then hand every free
        slot to the waiting line (slots freed by timeouts, expired leases, lost wakes).

        `ends_at` is when the invocation is cut off (the handler passes the Lambda's remaining
        time); `reserve_seconds` before it are kept for the wake and the metrics. No check starts
        once `reconcile_budget_seconds` (an upper bound) are spent or that point is reached: jobs not
        started stay due for the next run (`deferred`), and checks still running there are left
        behind (`unfinished`; every write they make is conditional, and the job stays due).

        While Leonardo refuses our account (the guard is tripped) the account is probed when due,
        held jobs fail once the hold is over, and nobody is woken: a woken job would only be held
        again. A good probe clears the block, and this run wakes the line. While creates are paused
        for Leonardo's rate (domain/account.py) nobody is woken either: the run after the pause does.
        """
        started = self._clock()
        hard = ends_at - timedelta(seconds=self._reserve) if ends_at is not None else None
        soft = started + timedelta(seconds=self._policy.reconcile_budget_seconds)
        if hard is not None:
            soft = min(soft, hard)
        outcomes: dict[str, int] = {}
        pool = ThreadPoolExecutor(max_workers=self._policy.reconcile_workers, thread_name_prefix="reconcile")
        try:
            blocked = self._account(pool, outcomes, hard)
            self._check_due(pool, outcomes, soft, hard)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a check left behind is not waited for
        if blocked or self._waker.paused():
            return outcomes  # a job woken now would only be held, or wait for the pause to end
        if woken := self._waker.wake_free():
            outcomes["woken"] = woken
        return outcomes

    def _account(self, pool: Executor, outcomes: dict[str, int], hard: datetime | None) -> bool:
        """Probe a blocked account when due; fail held jobs once the hold is over. True while blocked."""
        if self._guard is None:
            return False
        block = self._guard.blocked(fresh=True)
        if block is None:
            return False
        if self._clock() >= block.next_probe_at:
            _count(outcomes, ACCOUNT_CALLS)
            try:
                finished, usable = finish_before(pool, self._clock, hard, self._guard.probe, self._leonardo)
            except Exception:
                log.exception("Leonardo account probe failed")
                finished, usable = True, False
            if finished and usable:
                _count(outcomes, "account_cleared")
                return False
            _count(outcomes, "account_probe_failed")
            block = self._guard.blocked() or block
        if self._guard.hold_over(block):
            self._fail_held(block, outcomes, limit=self._guard.policy.fail_batch)
        return True

    def _fail_held(self, block: AccountBlock, outcomes: dict[str, int], *, limit: int) -> None:
        """The hold is over: the jobs at the head of the waiting line fail, `limit` per run."""
        message = (
            f"Leonardo has refused our account ({block.reason}) since {block.since.isoformat()}, "
            "longer than jobs are held"
        )
        held: list[str] = []
        for pool in (*self._waker.pools.names, *self._waker.pools.retired):  # every pool's line
            held += self._store.waiting_job_ids(limit=limit, pool=pool)
        for job_id in held[:limit]:
            job = self._store.get(job_id)
            if job is None or job.status != JobStatus.QUEUED:
                continue
            try:
                self._store.transition(
                    job, JobStatus.FAILED, now=self._clock(), release_slot=True,
                    error_code=UNAVAILABLE, error_message=message,
                )  # fmt: skip
            except TransitionConflict:
                _count(outcomes, "raced")
                continue
            log.warning(
                "held job failed: Leonardo unavailable", extra={"job_id": job.id, "reason": block.reason}
            )
            _count(outcomes, UNAVAILABLE)

    def _check_due(
        self, pool: Executor, outcomes: dict[str, int], soft: datetime, hard: datetime | None
    ) -> None:
        seen: set[str] = set()
        while self._clock() < soft:
            now = epoch(self._clock())
            due = self._store.due_job_ids(now=now, limit=self._policy.reconcile_batch)
            fresh = [job_id for job_id in due if job_id not in seen]  # a failed check stays due
            seen.update(fresh)
            # The budget is checked per job, as a worker picks it up, not per batch: a batch of
            # slow Leonardo answers must not run the invocation past its end.
            futures = [pool.submit(self._check_before, job_id, soft, now) for job_id in fresh]
            done, left = wait(futures, timeout=seconds_until(self._clock, hard))
            for future in done:
                _count(outcomes, future.result())
            for future in left:
                _count(outcomes, "deferred" if future.cancel() else "unfinished")
            if left or outcomes.get("deferred"):
                log.warning(
                    "reconciler out of time: jobs left due for the next run",
                    extra={
                        "deferred": outcomes.get("deferred", 0),
                        "unfinished": outcomes.get("unfinished", 0),
                    },
                )
                return
            if len(due) < self._policy.reconcile_batch or not fresh:
                return

    def _check_before(self, job_id: str, soft: datetime, due_by: int) -> str:
        if self._clock() >= soft:
            return "deferred"  # not started: still due, the next run takes it
        return self._check_safely(job_id, due_by)

    def _check_safely(self, job_id: str, due_by: int) -> str:
        try:
            return self.check(job_id, due_by=due_by)
        except TransitionConflict:
            return "raced"
        except Exception:
            log.exception("reconcile check failed", extra={"job_id": job_id})
            return "error"

    def check(self, job_id: str, *, due_by: int | None = None) -> str:
        """Look at one job now. `due_by` (the scheduled run's listing time) skips a job whose own
        record, read here, is due later: the due index is read eventually consistent and can list a
        job its last write already moved on (a QUEUED job's recheck, listed just as the submitter
        wrote SUBMITTED with a first poll 30 s away, would be polled while still PENDING). Without
        it (the ops CLI) the job is looked at whatever its due time."""
        job = self._store.get(job_id)
        if job is None or job.status.terminal:
            return "gone"
        if due_by is not None and job.due_at is not None and job.due_at > due_by:
            return "not_due"
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
        if job.status == JobStatus.QUEUED and not job.slot_held and job.submit_uncertain_since is None:
            # Its submit message is late or lost. Either way the job needs a slot, not a message:
            # into the line it goes, and this run ends by waking one waiting job per free slot. A
            # message still on its way finds the job in line and carries on as usual.
            return "parked" if self._store.park(job, self._waker.pools.of(job)) else "raced"
        if job.status == JobStatus.QUEUED:
            # A submitter took a slot and went quiet (crashed, or its answer was lost), or a POST
            # is unresolved (looking needs no slot, and must not wait in the line while the list it
            # reads grows): re-send, so the next attempt looks, or takes the lease over once it has
            # run out (never a second slot). A new live message: any older copy still cycling
            # stops at its next wait. Backing off keeps a lagging submit queue from being flooded.
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
            if kind_of(job.kind).remote == "variation":
                remote = self._leonardo.variation(job.generation_id)
            else:
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
        # Marked before the event is sent: a callback processed after this reads nothing more from
        # Leonardo (domain/processing.py). If the event is lost, the job is due again to look later.
        self._store.reschedule(
            job,
            due_at=now + self._policy.finalize_check_seconds,
            checks=job.checks + 1,
            recovered_at=self._clock(),
        )
        self._events.send(
            GenerationEvent(
                source="reconciler",
                generation_id=job.generation_id,
                status="COMPLETE" if remote.status == "COMPLETE" else "FAILED",
                images=remote.images,
                api_credit_cost=remote.api_credit_cost,
            )
        )
        return "recovered"

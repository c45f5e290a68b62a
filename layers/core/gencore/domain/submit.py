"""Submitting a QUEUED job to Leonardo under the concurrency cap, paying exactly once.

The protocol (docs/architecture.md, "The paid POST"):
1. claim a slot of the job's pool (or take over an expired lease);
2. if an earlier POST of the job may have created a generation, look for it first (adopt it, wait
   for it to show, or give up with `submit_outcome_unknown`), and send again only once the list
   has shown nothing for `submit_settle_seconds`;
3. only with enough of the invocation left for the POST's worst case, note durably that a POST
   may create a generation from now on, fenced on our claim and under the request lock (no other
   job's identical-looking POST is unanswered at the same time);
4. send the POST once; a definite "no" clears the note, an answer that does not say what happened
   goes straight back to step 2, and the generation id is recorded fenced on our claim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .account import AccountGuard
from .errors import (
    AccountRefused,
    IdenticalRequestInFlight,
    LeonardoBusy,
    LeonardoRejected,
    SourceUnavailable,
    SubmitOutcomeUnknown,
    TransitionConflict,
    UploadNotReady,
)
from .kinds import LeonardoCall, kind_of
from .models import Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import JobStore, Leonardo, SubmitQueue
from .sources import Sources
from .unanswered import SubmitResult, UnansweredPosts
from .waiting import Waker, expired_in_queue, expiry_of

log = logging.getLogger(__name__)

Remaining = Callable[[], float]  # seconds the invocation has left


class Submitter(UnansweredPosts):
    """Starts QUEUED jobs at Leonardo without exceeding the concurrency cap or paying twice."""

    def __init__(
        self,
        store: JobStore,
        leonardo: Leonardo,
        submit_queue: SubmitQueue,
        sources: Sources,
        clock: Clock,
        policy: Policy,
        guard: AccountGuard | None = None,
    ) -> None:
        self._store, self._leonardo, self._queue = store, leonardo, submit_queue
        self._sources, self._clock, self._policy = sources, clock, policy
        self._waker = Waker(store, submit_queue, clock, policy, guard)
        self._pools = self._waker.pools
        self._guard = guard

    def submit(
        self, job_id: str, *, attempt: int = 0, token: int = 0, remaining: Remaining | None = None
    ) -> SubmitResult:
        """One submit attempt; returns the outcome and the credits a successful submission costs."""
        if not self._time_for_post(remaining):
            return self._defer(job_id, attempt, token)
        claim = self._store.claim_slot(
            job_id, pools=self._pools, now=self._clock(), lease_seconds=self._policy.submit_lease_seconds
        )
        job = claim.job
        if job is None:
            return SubmitResult("missing")
        if job.status == JobStatus.QUEUED and expired_in_queue(job, self._clock()):
            return self._fail(job, *expiry_of(job))
        if not claim.granted:
            if job.status != JobStatus.QUEUED:
                return SubmitResult("skipped")  # already submitted, or terminal
            if job.slot_held:
                # Another submitter holds a live lease: it carries on, unless it died after sending.
                return self._look_while_held(job, attempt, token)
            if job.submit_uncertain_since:
                # Looking needs no slot, and must not wait for one: the list only grows.
                return self._resolve(job, attempt, token) or self._settled_nothing(job, token)
            return self._park(job, token)
        if job.submit_uncertain_since and (resolved := self._resolve(job, attempt, token)):
            return resolved
        if self._guard is not None and (block := self._guard.blocked()):
            # Leonardo refuses the account itself: every job would meet the same answer. Hold this
            # one in the line (the reconciler probes the account and wakes the line when it clears).
            return self._hold(job, token, block.reason)
        if self._guard is not None and (pause := self._guard.paused_for()) > 0:
            # Leonardo refuses every create until its window opens: come back then, sending nothing.
            return self._wait(self._release(job, wake=False), attempt, token, pause, "paused")
        # Nothing of an earlier POST exists: this job needs one (now, or later if time is short).
        if not self._time_for_post(remaining):
            self._store.release_slot(job, now=self._clock())
            self._waker.after_release(job.slot_pool)
            return self._defer(job.id, attempt, token)
        return self._post(job, attempt, token)

    # --- the POST ------------------------------------------------------------------------------
    def _post(self, job: Job, attempt: int, token: int) -> SubmitResult:
        try:
            call = self._call(job)
        except LeonardoBusy as busy:
            return self._wait(self._release(job, wake=False), attempt, token, busy.retry_after, "throttled")
        except (LeonardoRejected, UploadNotReady, SourceUnavailable) as rejected:
            return self._fail(job, rejected.code, rejected.message)
        now = self._clock()
        # A call the list can identify is locked by what the list echoes; any other by its job alone.
        fingerprint = (
            self._leonardo.request_fingerprint(call) if kind_of(job.kind).adopts else f"job:{job.id}"
        )
        # Past this the lock may be taken over (a job whose list stays unreadable fails by then).
        lock_until = epoch(now) + self._policy.max_job_age_seconds + self._policy.submit_settle_seconds
        try:
            # Unanswered past the settle time, the job is looked at again (a holder that died after
            # sending is then looked for by the next message, not when its lease runs out).
            due_at = epoch(now) + self._policy.submit_settle_seconds
            job = self._store.begin_post(
                job, now=now, fingerprint=fingerprint, lock_expires_at=lock_until, due_at=due_at
            )
        except IdenticalRequestInFlight as busy:
            # Two identical-looking POSTs unanswered at once could not be told apart: ours waits.
            delay = float(self._policy.submit_settle_seconds)
            log.info("identical request in flight; waiting", extra={"job_id": job.id, "why": busy.message})
            return self._wait(self._release(job), attempt, token, delay, "throttled")
        except TransitionConflict:
            return SubmitResult("superseded")  # our lease was taken over: the new holder carries on
        try:
            generation_id, cost = self._leonardo.start(call)
        except SubmitOutcomeUnknown as unknown:
            # Leonardo may have created (and charged for) it: look for it now, never send blindly.
            log.warning("paid POST outcome unknown", extra={"job_id": job.id, "why": unknown.message})
            return self._resolve(job, attempt, token, retry_after=unknown.retry_after) or self._wait(
                self._release(job), attempt, token, self._policy.submit_settle_seconds, "uncertain"
            )
        except AccountRefused as refused:
            # Our key (read again once) or our credits: refused unread, nothing was created.
            job = self._store.end_uncertainty(job)
            if self._guard is not None:
                self._guard.trip(refused.reason)
            return self._hold(job, token, refused.reason)
        except LeonardoBusy as busy:
            # Refused for sure (429, never sent): nothing was created, nothing to look for.
            return self._throttled(self._store.end_uncertainty(job), attempt, token, busy.retry_after)
        except LeonardoRejected as rejected:
            # Refused for sure: nothing was created (and nothing charged: the ledger releases it).
            return self._fail(job, rejected.code, rejected.message, submit_uncertain_since=None)
        now = self._clock()
        try:
            self._store.mark_submitted(
                job,
                generation_id=generation_id,
                cost=cost,
                now=now,
                due_at=epoch(now) + self._policy.first_poll_seconds,
            )
        except TransitionConflict:
            current = self._store.get(job.id)
            if current is not None and current.generation_id == generation_id:
                # Adopted while our answer was on its way, by a look that took us for dead.
                log.info("the answer was already recorded", extra={"job_id": job.id})
                return SubmitResult("submitted", cost=cost)
            # Otherwise only a submitter that outlived its lease gets here (the lease is longer
            # than the function's timeout): the new holder looks for this generation and adopts it.
            log.error(
                "submit answer arrived after the lease was taken over",
                extra={"job_id": job.id, "generation_id": generation_id},
            )
            return SubmitResult("superseded")
        return SubmitResult("submitted", cost=cost)

    def _time_for_post(self, remaining: Remaining | None) -> bool:
        return remaining is None or remaining() >= self._policy.post_budget_seconds

    def _call(self, job: Job) -> LeonardoCall:
        """The job's paid call, its source resolved to Leonardo's ids (an upload handed over on
        first use). The same job builds the same call every time: the lookup relies on it."""
        return kind_of(job.kind).build(job.request, self._sources.refs(job), job.leonardo_seed)

    # --- waiting, failing ----------------------------------------------------------------------
    def _release(self, job: Job, *, wake: bool = True) -> Job:
        """Give the job's slot back; it goes to the line's next turn, unless Leonardo just refused a
        create for its rate (`wake=False`): the next job would meet the same 429 (a storm of calls,
        one per waiting job). The throttled job takes a slot again after its Retry-After, and every
        other release, and the reconciler, wake the line as usual."""
        released = self._store.release_slot(job, now=self._clock())
        if job.slot_held and wake:
            self._waker.after_release(job.slot_pool)
        return released

    def _throttled(self, job: Job, attempt: int, token: int, retry_after: float | None) -> SubmitResult:
        """Leonardo refused the create for its rate: every create waits for its window (the account's
        pause: nothing is sent, or woken to be sent, before it ends), this job among the first back."""
        pause = retry_after or float(self._policy.rate_pause_seconds)
        if self._guard is not None:
            pause = max(pause, (self._guard.pause(pause) - self._clock()).total_seconds())
        return self._wait(self._release(job, wake=False), attempt, token, pause, "throttled")

    def _fail(self, job: Job, code: str, message: str, **fields: Any) -> SubmitResult:
        try:
            self._store.transition(
                job, JobStatus.FAILED, now=self._clock(), release_slot=True,
                error_code=code, error_message=message, **fields,
            )  # fmt: skip
        except TransitionConflict:
            return SubmitResult("superseded")
        if job.slot_held:
            self._waker.after_release(job.slot_pool)
        log.warning("submit failed", extra={"job_id": job.id, "error_code": code})
        return SubmitResult("failed")

    def _hold(self, job: Job, token: int, reason: str) -> SubmitResult:
        """The account is blocked: wait in the line like a job without a slot, sending nothing.

        The slot goes back without waking the line: the next job would only be held in turn.
        """
        log.warning("submit held: Leonardo refuses the account", extra={"job_id": job.id, "reason": reason})
        job = self._store.release_slot(job, now=self._clock())
        if token != job.submit_token or not self._store.park(job, self._pools.of(job)):
            return SubmitResult("superseded")
        return SubmitResult("held")

    def _park(self, job: Job, token: int) -> SubmitResult:
        """Every slot of its pool is taken: wait in that pool's line, with no message cycling, until a
        release wakes the job."""
        if token != job.submit_token:
            return SubmitResult("superseded")  # a newer message for this job is live
        pool = self._pools.of(job)
        if not self._store.park(job, pool):
            return SubmitResult("superseded")  # woken or re-sent meanwhile: that message carries on
        # A slot given back between our failed claim and the park found the line without us: look.
        if self._waker.free(pool) > 0:
            self._waker.wake(1, pool)
        return SubmitResult("waiting")

    def _defer(self, job_id: str, attempt: int, token: int) -> SubmitResult:
        """Too little of this invocation is left for a POST: hand the job to a fresh one."""
        job = self._store.get(job_id)
        if job is None:
            return SubmitResult("missing")
        if job.status != JobStatus.QUEUED:
            return SubmitResult("skipped")
        if token != job.submit_token:
            return SubmitResult("superseded")
        self._queue.send(job.id, attempt=attempt, token=token)
        return SubmitResult("deferred")

    def _wait(
        self, job: Job, attempt: int, token: int, retry_after: float | None, outcome: str
    ) -> SubmitResult:
        """Keep the job QUEUED in our own queue and come back later (only the live message cycles)."""
        if token != job.submit_token:
            return SubmitResult("superseded")  # the reconciler sent a newer message for this job
        delay = self._policy.requeue_delay(attempt, retry_after)
        self._queue.send(job.id, delay_seconds=delay, attempt=attempt + 1, token=token)
        # A live submit message exists: keep the reconciler from sending another one.
        self._store.reschedule(job, due_at=epoch(self._clock()) + delay + self._policy.queued_check_seconds)
        return SubmitResult(outcome)

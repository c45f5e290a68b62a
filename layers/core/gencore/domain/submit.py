"""Submitting a QUEUED job to Leonardo under the concurrency cap, paying exactly once."""

from __future__ import annotations

import logging
from typing import NamedTuple

from .errors import LeonardoBusy, LeonardoRejected, SubmitOutcomeUnknown, TransitionConflict, UploadNotReady
from .models import Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import JobStore, Leonardo, SubmitQueue
from .uploads import InitImages
from .waiting import Waker

log = logging.getLogger(__name__)


class SubmitResult(NamedTuple):
    outcome: (
        str  # submitted | adopted | waiting | throttled | uncertain | superseded | failed | skipped | missing
    )
    credits: float = 0.0


class Submitter:
    """Starts QUEUED jobs at Leonardo without exceeding the concurrency cap."""

    def __init__(
        self,
        store: JobStore,
        leonardo: Leonardo,
        submit_queue: SubmitQueue,
        init_images: InitImages,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._store, self._leonardo, self._queue = store, leonardo, submit_queue
        self._init_images, self._clock, self._policy = init_images, clock, policy
        self._waker = Waker(store, submit_queue, clock, policy)

    def submit(self, job_id: str, *, attempt: int = 0, token: int = 0) -> SubmitResult:
        """One submit attempt; returns the outcome and the credits a successful submission costs."""
        now = self._clock()
        claim = self._store.claim_slot(
            job_id,
            max_in_flight=self._policy.max_in_flight,
            now=now,
            lease_seconds=self._policy.submit_lease_seconds,
        )
        job = claim.job
        if job is None:
            return SubmitResult("missing")
        if not claim.granted:
            if job.status != JobStatus.QUEUED or job.slot_held:
                # Already submitted, terminal, or another submitter holds a live lease.
                return SubmitResult("skipped")
            return self._park(job, token)
        if job.submit_uncertain_since and (adopted := self._adopt(job, token)):
            return adopted
        try:
            init_image_id = self._init_image(job)
            generation_id, cost = self._leonardo.start_generation(job.request, init_image_id=init_image_id)
        except SubmitOutcomeUnknown as unknown:
            # Leonardo may have created (and charged for) it: look for it before ever sending again.
            job = self._store.note_uncertain_submit(job, since=job.submit_uncertain_since or now)
            job = self._store.release_slot(job, now=self._clock())
            return self._wait(job, attempt, token, unknown.retry_after, "uncertain")
        except LeonardoBusy as busy:
            job = self._store.release_slot(job, now=self._clock())
            return self._wait(job, attempt, token, busy.retry_after, "throttled")
        except (LeonardoRejected, UploadNotReady) as rejected:
            self._store.transition(
                job, JobStatus.FAILED, now=self._clock(), release_slot=True,
                error_code=rejected.code, error_message=rejected.message,
            )  # fmt: skip
            self._waker.after_release()
            return SubmitResult("failed")
        now = self._clock()
        self._store.mark_submitted(
            job,
            generation_id=generation_id,
            api_credit_cost=cost,
            now=now,
            due_at=epoch(now) + self._policy.first_poll_seconds,
        )
        return SubmitResult("submitted", credits=cost or 0.0)

    def _init_image(self, job: Job) -> str | None:
        """Leonardo's id for the job's source upload (handed over on first use), if it has one."""
        upload_id = job.request.get("init_upload_id")
        return self._init_images.leonardo_id(upload_id) if upload_id else None

    def _adopt(self, job: Job, token: int) -> SubmitResult | None:
        """Take over the generation an unanswered submit created, instead of paying for a second one."""
        assert job.submit_uncertain_since
        try:
            generation_id = self._leonardo.find_generation(job.request, since=job.submit_uncertain_since)
        except LeonardoBusy:  # cannot tell yet: do not risk a duplicate, wait and look again
            self._store.release_slot(job, now=self._clock())
            return self._wait(job, job.submit_attempts, token, None, "uncertain")
        if generation_id is None:
            return None
        now = self._clock()
        try:
            self._store.mark_submitted(
                job, generation_id=generation_id, api_credit_cost=None, now=now,
                due_at=epoch(now) + self._policy.first_poll_seconds,
            )  # fmt: skip
        except TransitionConflict:
            return None  # that generation belongs to another job: submit ours
        log.warning("adopted the generation of an unanswered submit", extra={"job_id": job.id})
        return SubmitResult("adopted")

    def _park(self, job: Job, token: int) -> SubmitResult:
        """Every slot is taken: wait in line, with no message cycling, until a release wakes the job."""
        if token != job.submit_token:
            return SubmitResult("superseded")  # a newer message for this job is live
        if not self._store.park(job):
            return SubmitResult("superseded")  # woken or re-sent meanwhile: that message carries on
        # A slot given back between our failed claim and the park found the line without us: look.
        if self._store.in_flight() < self._policy.max_in_flight:
            self._waker.wake(1)
        return SubmitResult("waiting")

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

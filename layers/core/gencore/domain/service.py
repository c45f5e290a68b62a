"""Use cases: accept a job, submit it under the concurrency cap, finish it from an event, reconcile.

Every collaborator comes in through a port, so each use case is tested with moto-backed adapters
or with fakes, and the same code runs on AWS and on the local stack.
"""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from .errors import (
    GenerationMissing,
    GenerationNotReady,
    InvalidRequest,
    JobNotFound,
    LeonardoBusy,
    LeonardoRejected,
    OutputRejected,
    SubmitOutcomeUnknown,
    TransitionConflict,
    UnknownGeneration,
    UploadNotReady,
)
from .models import GenerationEvent, ImageGenerationRequest, Job, JobStatus, LeonardoImage, OutputImage
from .ports import EventQueue, JobStore, Leonardo, OutputStore, Page, SubmitQueue
from .uploads import InitImages, Uploads

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600


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


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def output_prefix(job: Job) -> str:
    return f"outputs/{job.user_id}/{job.id}"


class Generations:
    """The public API's use cases: accept, read, list."""

    def __init__(
        self, store: JobStore, submit_queue: SubmitQueue, uploads: Uploads, clock: Clock, policy: Policy
    ) -> None:
        self._store, self._queue, self._uploads = store, submit_queue, uploads
        self._clock, self._policy = clock, policy

    def create(
        self, user_id: str, request: ImageGenerationRequest, *, idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Accept a job. Returns (job, created); a duplicate returns the live original."""
        if request.init_upload_id:
            self._uploads.usable(user_id, request.init_upload_id)  # 422 unless it is the caller's, READY
        now = self._clock()
        if idempotency_key:
            dedupe_key = "idem:" + hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()
            expires = _epoch(now) + IDEMPOTENCY_KEY_TTL_SECONDS
        else:
            dedupe_key = "req:" + request.dedupe_hash(user_id)
            expires = _epoch(now) + self._policy.dedupe_window_seconds
        job = Job(
            id=str(uuid.uuid4()),
            user_id=user_id,
            kind=request.kind,
            status=JobStatus.QUEUED,
            request=request.normalized(),
            created_at=now,
            updated_at=now,
            due_at=_epoch(now) + self._policy.queued_check_seconds,
        )
        existing = self._store.create(job, dedupe_key=dedupe_key, dedupe_expires_at=expires)
        if existing is not None:
            if idempotency_key and existing.request != job.request:
                raise InvalidRequest(
                    "Idempotency-Key was already used with different parameters",
                    code="idempotency_key_reused",
                )
            if existing.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                return existing, False
            # The earlier attempt failed: a retry is a new (paid) job, as the user intends.
            existing = self._store.create(
                job, dedupe_key=dedupe_key, dedupe_expires_at=expires, replace_job_id=existing.id
            )
            if existing is not None:  # lost a race with a concurrent retry: answer with the winner
                return existing, False
        try:
            self._queue.send(job.id)
        except Exception:
            # The job is stored and due: the reconciler re-sends lost submissions. Accepted is never lost.
            log.exception("submit enqueue failed; reconciler will retry", extra={"job_id": job.id})
        return job, True

    def get(self, user_id: str, job_id: str) -> Job:
        job = self._store.get(job_id)
        if job is None or job.user_id != user_id:  # another user's job does not exist for this caller
            raise JobNotFound("No such generation")
        return job

    def list(self, user_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._store.list_for_user(user_id, limit=limit, cursor=cursor)


class Waker:
    """Hands free Leonardo slots to the jobs that have waited longest.

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
                due_at = _epoch(self._clock()) + self._policy.queued_check_seconds
                token = self._store.leave_line(job_id, due_at=due_at)
                if token is None:
                    continue  # someone else woke it, or it moved on
                self._queue.send(job_id, token=token)
                woken += 1
                if woken == count:
                    break
        except Exception:
            log.exception("waking waiting jobs failed; the reconciler will wake them")
        return woken

    def after_release(self) -> None:
        """A slot was given back: it belongs to the head of the line."""
        self.wake(1)


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
            due_at=_epoch(now) + self._policy.first_poll_seconds,
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
                due_at=_epoch(now) + self._policy.first_poll_seconds,
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
        self._store.reschedule(job, due_at=_epoch(self._clock()) + delay + self._policy.queued_check_seconds)
        return SubmitResult(outcome)


class Processor:
    """Finishes jobs from generation events (webhook or reconciler): copy outputs, then complete.

    A callback proves only that its sender holds the webhook key, so for a webhook event the
    status and output URLs come from Leonardo's own record (one GET); a reconciler event already
    carries that record.
    """

    def __init__(
        self,
        store: JobStore,
        outputs: OutputStore,
        leonardo: Leonardo,
        waker: Waker,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._store, self._outputs, self._leonardo, self._waker = store, outputs, leonardo, waker
        self._clock, self._policy = clock, policy

    def handle(self, event: GenerationEvent) -> str:
        job = self._store.job_for_generation(event.generation_id)
        if job is None:
            raise UnknownGeneration(f"No job for generation {event.generation_id}")
        # The handler's lines carry the generation id; this one ties it to the job.
        log.info("generation event for job", extra={"job_id": job.id, "job_status": str(job.status)})
        if job.status.terminal:
            return "already_terminal"
        try:
            status, images = self._authoritative(event)
        except GenerationMissing:
            return self._finish(job, JobStatus.FAILED, error_code="generation_missing",
                                error_message="Leonardo no longer knows this generation")  # fmt: skip
        if status == "FAILED":
            return self._finish(
                job,
                JobStatus.FAILED,
                error_code="generation_failed",
                error_message="Leonardo reported FAILED",
            )
        if not images:
            return self._finish(
                job,
                JobStatus.FAILED,
                error_code="no_outputs",
                error_message="Leonardo completed without images",
            )
        if job.status == JobStatus.SUBMITTED:
            job = self._advance(job, JobStatus.FINALIZING, release_slot=True)
            if job.status.terminal:
                return "already_terminal"
        try:
            copied = self._copy_all(job, images)
        except OutputRejected as rejected:
            return self._finish(
                job, JobStatus.FAILED, error_code=rejected.code, error_message=rejected.message
            )
        job = self._advance(job, JobStatus.COMPLETE, images=copied)
        return "completed" if job.status == JobStatus.COMPLETE else "already_terminal"

    def _authoritative(self, event: GenerationEvent) -> tuple[str, list[LeonardoImage]]:
        if event.source == "reconciler":
            return event.status, event.images
        remote = self._leonardo.generation(event.generation_id)  # LeonardoBusy: retried by the queue
        if remote.status == "PENDING":
            raise GenerationNotReady(f"generation {event.generation_id} is still PENDING at Leonardo")
        return remote.status, remote.images

    def _copy_all(self, job: Job, images: list[LeonardoImage]) -> list[OutputImage]:
        prefix = output_prefix(job)
        copied = []
        for index, image in enumerate(images):
            existing = self._outputs.existing(prefix, index=index, source_id=image.id)
            copied.append(existing or self._outputs.copy(image.url, prefix, index=index, source_id=image.id))
        return copied

    def _finish(self, job: Job, status: JobStatus, **fields: object) -> str:
        job = self._advance(job, status, release_slot=True, **fields)
        return "failed" if job.status == JobStatus.FAILED else "already_terminal"

    def _advance(self, job: Job, to: JobStatus, *, release_slot: bool = False, **fields: object) -> Job:
        """Transition with a conditional write; on a lost race, re-read and accept what won."""
        due_at = None if to.terminal else _epoch(self._clock()) + self._policy.finalize_check_seconds
        try:
            moved = self._store.transition(
                job, to, now=self._clock(), release_slot=release_slot, due_at=due_at, **fields
            )
            if release_slot and job.slot_held:
                self._waker.after_release()
            return moved
        except TransitionConflict:
            current = self._store.get(job.id)
            if current is None or not (current.status.terminal or current.status == to):
                raise
            return current


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
                now = _epoch(self._clock())
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
            self._store.reschedule(job, due_at=_epoch(now) + wait, checks=job.checks + 1, submit_token=token)
            self._queue.send(job.id, token=token)
            return "resubmitted"
        return self._poll(job)

    def _poll(self, job: Job) -> str:
        assert job.generation_id
        now = _epoch(self._clock())
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

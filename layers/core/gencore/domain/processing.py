"""Finishing a job from a generation event: copy the outputs, then complete (or fail).

Images Leonardo flags NSFW are handled by the job's plan (docs/plans.md, "NSFW images"): kept,
kept and flagged, or withheld: not copied to our bucket at all, recorded on the job as withheld
(Leonardo's image id and flag, no key, no URL). The policy comes from a callable wiring passes
(`PlansDocument.nsfw_policy`): the domain reads no configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .errors import (
    AlreadyRecovered,
    GenerationMissing,
    GenerationNotReady,
    OutputRejected,
    TransitionConflict,
    UnknownGeneration,
)
from .kinds import kind_of
from .models import GenerationEvent, Job, JobStatus, LeonardoImage, NsfwPolicy, OutputImage
from .policy import Clock, Policy, epoch
from .ports import JobStore, Leonardo, OutputStore
from .waiting import Waker

log = logging.getLogger(__name__)

# A job's plan name (None: a job of no plan) -> what is done with its NSFW-flagged images.
NsfwPolicyOf = Callable[[str | None], NsfwPolicy]


def keep_all(plan: str | None) -> NsfwPolicy:
    """No plans: every image is copied (flagged ones show `nsfw: true`, as Leonardo reported it)."""
    return "keep"


def output_prefix(job: Job) -> str:
    return f"outputs/{job.user_id}/{job.id}"


class Processor:
    """Finishes jobs from generation events (webhook or reconciler): copy outputs, then complete.

    A callback proves only that its sender holds the webhook key, so for a webhook event the
    status and output URLs come from Leonardo's own record (one GET); a reconciler event already
    carries that record. So a callback that is processed after the reconciler has recovered its job
    (a backlog held it in the queue past the job's first poll) reads nothing: the reconciler's event
    finishes the job, and if that event is lost, the reconciler polls again.
    """

    def __init__(
        self,
        store: JobStore,
        outputs: OutputStore,
        leonardo: Leonardo,
        waker: Waker,
        clock: Clock,
        policy: Policy,
        nsfw_policy: NsfwPolicyOf = keep_all,
    ) -> None:
        self._store, self._outputs, self._leonardo, self._waker = store, outputs, leonardo, waker
        self._clock, self._policy, self._nsfw_policy = clock, policy, nsfw_policy

    def handle(self, event: GenerationEvent) -> str:
        job = self._store.job_for_generation(event.generation_id)
        if job is None:
            raise UnknownGeneration(f"No job for generation {event.generation_id}")
        # The handler's lines carry the generation id; this one ties it to the job.
        log.info("generation event for job", extra={"job_id": job.id, "job_status": str(job.status)})
        if job.status.terminal:
            return "already_terminal"
        if event.source == "webhook" and job.recovered_at is not None:
            # Raised, not returned: the reconciler's event has this event's dedupe key, and must not
            # find it taken.
            raise AlreadyRecovered(f"job {job.id} was recovered by the reconciler at {job.recovered_at}")
        try:
            status, images = self._authoritative(event, job)
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
        nsfw_policy = self._nsfw_policy(job.plan)
        try:
            copied = self._copy_all(job, images, nsfw_policy)
        except OutputRejected as rejected:
            return self._finish(
                job, JobStatus.FAILED, error_code=rejected.code, error_message=rejected.message
            )
        job = self._advance(job, JobStatus.COMPLETE, images=copied, nsfw_policy=nsfw_policy)
        return "completed" if job.status == JobStatus.COMPLETE else "already_terminal"

    def _authoritative(self, event: GenerationEvent, job: Job) -> tuple[str, list[LeonardoImage]]:
        if event.source == "reconciler":
            return event.status, event.images
        # LeonardoBusy: retried by the queue.
        if kind_of(job.kind).remote == "variation":
            remote = self._leonardo.variation(event.generation_id)
        else:
            remote = self._leonardo.generation(event.generation_id)
        if remote.status == "PENDING":
            raise GenerationNotReady(f"generation {event.generation_id} is still PENDING at Leonardo")
        return remote.status, remote.images

    def _copy_all(self, job: Job, images: list[LeonardoImage], nsfw_policy: NsfwPolicy) -> list[OutputImage]:
        prefix = output_prefix(job)
        video = kind_of(job.kind).output == "video"
        copied = []
        for index, image in enumerate(images):
            if image.nsfw and nsfw_policy == "withhold":
                # Never fetched: Leonardo's copy is the only one (docs/plans.md, NSFW images).
                log.info("NSFW image withheld", extra={"job_id": job.id, "index": index, "plan": job.plan})
                copied.append(OutputImage(index=index, leonardo_image_id=image.id, nsfw=True, withheld=True))
                continue
            # A video job's output is the clip (the generation's MP4), not the still beside it.
            url = image.video_url if video else image.url
            if not url:
                raise OutputRejected("Leonardo reported no video for the generation", code="output_missing")
            existing = self._outputs.existing(prefix, index=index, source_id=image.id)
            output = existing or self._outputs.copy(url, prefix, index=index, source_id=image.id)
            copied.append(output.model_copy(update={"nsfw": image.nsfw}))
        return copied

    def _finish(self, job: Job, status: JobStatus, **fields: object) -> str:
        job = self._advance(job, status, release_slot=True, **fields)
        return "failed" if job.status == JobStatus.FAILED else "already_terminal"

    def _advance(self, job: Job, to: JobStatus, *, release_slot: bool = False, **fields: object) -> Job:
        """Transition with a conditional write; on a lost race, re-read and accept what won."""
        due_at = None if to.terminal else epoch(self._clock()) + self._policy.finalize_check_seconds
        try:
            moved = self._store.transition(
                job, to, now=self._clock(), release_slot=release_slot, due_at=due_at, **fields
            )
            if release_slot and job.slot_held:
                self._waker.after_release(job.slot_pool)
            return moved
        except TransitionConflict:
            current = self._store.get(job.id)
            if current is None or not (current.status.terminal or current.status == to):
                raise
            return current

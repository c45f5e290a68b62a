"""Taking a job back: cancel it before Leonardo has it, delete it after it ended.

Cancel is for a job still waiting here: QUEUED, no slot claimed and no POST whose outcome is
unknown. It ends CANCELLED, out of the waiting line, nothing charged. Once a submitter holds the
job, Leonardo may have it (and bill it): 409 `not_cancellable`.

Delete is for a job that ended. It moves to DELETED first, so no new job can use its images from
then on; then our copies go, then Leonardo's generation (variations have no delete route there:
only our copies go, and the job records that Leonardo keeps its own). If Leonardo cannot be
reached, the answer is 503 and repeating the DELETE finishes the work. The record stays for
lineage; its view lists no images.
"""

from __future__ import annotations

import logging

from .errors import JobNotFound, NotCancellable, NotDeletable, TransitionConflict
from .kinds import kind_of
from .models import Job, JobStatus
from .policy import Clock
from .ports import JobStore, Leonardo, OutputStore

log = logging.getLogger(__name__)

# What happened to Leonardo's copy of a DELETED job's outputs.
PENDING, DELETED, KEPT = "pending", "deleted", "kept"


class Removal:
    def __init__(self, store: JobStore, outputs: OutputStore, leonardo: Leonardo, clock: Clock) -> None:
        self._store, self._outputs, self._leonardo, self._clock = store, outputs, leonardo, clock

    def cancel(self, user_id: str, job_id: str) -> Job:
        job = self._own(user_id, job_id)
        if job.status == JobStatus.CANCELLED:
            return job
        if job.status != JobStatus.QUEUED or job.slot_held or job.submit_uncertain_since:
            raise NotCancellable("Leonardo may already have this job; it can no longer be cancelled")
        try:
            return self._store.cancel(job, now=self._clock())
        except TransitionConflict as lost:  # a submitter claimed it meanwhile
            current = self._store.get(job.id)
            if current is not None and current.status == JobStatus.CANCELLED:
                return current
            raise NotCancellable(
                "Leonardo may already have this job; it can no longer be cancelled"
            ) from lost

    def delete(self, user_id: str, job_id: str) -> Job:
        job = self._own(user_id, job_id)
        if job.status != JobStatus.DELETED:
            if not job.status.terminal:
                raise NotDeletable("The job has not ended yet; cancel it first")
            remote = self._remote_copy(job)
            try:
                job = self._store.transition(job, JobStatus.DELETED, now=self._clock(), leonardo_copy=remote)
            except TransitionConflict:
                return self.delete(user_id, job_id)  # raced with another DELETE: carry on from there
        for image in job.images:
            if image.key:  # a withheld image was never copied here
                self._outputs.delete(image.key)
        if job.leonardo_copy == PENDING:
            assert job.generation_id is not None
            self._leonardo.delete_generation(job.generation_id)  # LeonardoBusy: 503, repeat
            job = self._store.update(job, now=self._clock(), leonardo_copy=DELETED)
        log.info("job deleted", extra={"job_id": job.id, "leonardo_copy": job.leonardo_copy})
        return job

    def _own(self, user_id: str, job_id: str) -> Job:
        job = self._store.get(job_id)
        if job is None or job.user_id != user_id:  # another user's job does not exist for this caller
            raise JobNotFound("No such generation")
        return job

    @staticmethod
    def _remote_copy(job: Job) -> str | None:
        if job.generation_id is None:
            return None  # Leonardo never had it
        return PENDING if kind_of(job.kind).remote in ("generation", "video") else KEPT

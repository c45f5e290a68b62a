"""Accepting a job (with double-click and Idempotency-Key dedupe), reading and listing jobs."""

from __future__ import annotations

import hashlib
import logging
import uuid

from .errors import InvalidRequest, JobNotFound
from .models import ImageGenerationRequest, Job, JobStatus
from .policy import Clock, Policy, epoch
from .ports import JobStore, Page, SubmitQueue
from .uploads import Uploads

log = logging.getLogger(__name__)
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600


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
            expires = epoch(now) + IDEMPOTENCY_KEY_TTL_SECONDS
        else:
            dedupe_key = "req:" + request.dedupe_hash(user_id)
            expires = epoch(now) + self._policy.dedupe_window_seconds
        job = Job(
            id=str(uuid.uuid4()),
            user_id=user_id,
            kind=request.kind,
            status=JobStatus.QUEUED,
            request=request.normalized(),
            created_at=now,
            updated_at=now,
            due_at=epoch(now) + self._policy.queued_check_seconds,
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

"""Accepting a job (with double-click and Idempotency-Key dedupe), reading and listing jobs.

A job is one of the kinds in domain/kinds/: a generation from `POST /v1/generations`, a variation
of one of the caller's images from `POST /v1/generations/{job_id}/images/{index}/variations`, or a
video from `POST /v1/videos`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from .admission import Admission, Admitted
from .errors import InvalidRequest, JobNotFound
from .models import Job, JobKind, JobStatus
from .parameters import job_seed
from .policy import IDEMPOTENCY_KEY_TTL_SECONDS, Clock, Policy, epoch
from .ports import JobStore, Page, SubmitQueue
from .requests import ImageGenerationRequest, Source, UploadUpscaleRequest, VariationRequest
from .sources import Sources
from .video_requests import VideoRequest

log = logging.getLogger(__name__)


class Generations:
    """The public API's use cases: accept, read, list."""

    def __init__(
        self,
        store: JobStore,
        submit_queue: SubmitQueue,
        sources: Sources,
        clock: Clock,
        policy: Policy,
        *,
        model_names: Callable[[str | None], str | None] = lambda model_id: None,
        admission: Admission | None = None,
    ) -> None:
        self._store, self._queue, self._sources = store, submit_queue, sources
        self._clock, self._policy, self._model_names = clock, policy, model_names
        self._admission = admission  # None: no plan applies (no ledger, no caps)

    def create_variation(
        self,
        user_id: str,
        job_id: str,
        index: int,
        request: VariationRequest,
        *,
        idempotency_key: str | None = None,
        plan: str | None = None,
    ) -> tuple[Job, bool]:
        """Accept a variation of image `index` of the caller's job `job_id` (a new job of its own).

        The job is named by the route: unknown or another user's is 404 `not_found`, as for every id
        in a path; the caller's own job not COMPLETE, or no such image, is 422 `source_not_usable`.
        """
        self.get(user_id, job_id)
        source = Source(job_id=job_id, index=index)
        stored = self._sources.check(user_id, source, kind=request.type)
        return self._accept(
            user_id, kind=request.type, request=request.normalized(source), source=stored, seed=None,
            idempotency_key=idempotency_key, plan=plan,
        )  # fmt: skip

    def create(
        self,
        user_id: str,
        request: ImageGenerationRequest,
        *,
        idempotency_key: str | None = None,
        plan: str | None = None,
    ) -> tuple[Job, bool]:
        """Accept a job. Returns (job, created); a repeat returns the original instead.

        An Idempotency-Key names one job for 24 h whatever becomes of it (a FAILED job is answered
        as FAILED: a new attempt takes a new key). Without a key, the same request within the
        double-click window is the same job, unless that job FAILED or was CANCELLED: then the
        click is a deliberate retry and starts a new (paid) job.
        """
        # 422 unless the source is the caller's and usable (an upload READY, a job COMPLETE).
        source = self._sources.check_images(user_id, request)
        # A seed of its own makes the job's generation recognisable in Leonardo's list.
        seed = job_seed(request.seed)
        return self._accept(
            user_id, kind=request.kind, request=request.normalized(), source=source, seed=seed,
            idempotency_key=idempotency_key, model_name=self._model_names(request.model_id), plan=plan,
        )  # fmt: skip

    def create_upload_upscale(
        self,
        user_id: str,
        upload_id: str,
        request: UploadUpscaleRequest,
        *,
        idempotency_key: str | None = None,
        plan: str | None = None,
    ) -> tuple[Job, bool]:
        """Accept a universal upscale of one of the caller's READY uploads (a kept realtime picture, or
        any image they uploaded): a job of kind `universal_upscale` whose source is the upload."""
        self._sources.own_upload(user_id, upload_id)  # another user's upload is 404, as any path id
        source = Source(upload_id=upload_id)
        stored = self._sources.check(user_id, source, kind=request.type)
        return self._accept(
            user_id, kind=request.type, request=request.normalized(source), source=stored, seed=None,
            idempotency_key=idempotency_key, plan=plan,
        )  # fmt: skip

    def create_video(
        self,
        user_id: str,
        request: VideoRequest,
        *,
        idempotency_key: str | None = None,
        plan: str | None = None,
    ) -> tuple[Job, bool]:
        """Accept a video job (`request.mode` is its kind), on the same terms as `create`. Its seed is
        the caller's only: an unanswered video POST is never looked for (domain/kinds/video.py)."""
        source = self._sources.check(user_id, request.source, kind=request.kind) if request.source else None
        return self._accept(
            user_id, kind=request.kind, request=request.normalized(), source=source, seed=request.seed,
            idempotency_key=idempotency_key, plan=plan,
        )  # fmt: skip

    def _accept(
        self, user_id: str, *, kind: JobKind, request: dict[str, Any], source: dict[str, Any] | None,
        seed: int | None, idempotency_key: str | None, model_name: str | None = None, plan: str | None = None,
    ) -> tuple[Job, bool]:  # fmt: skip
        """Store the job (reserving its estimate against the caller's budget: BudgetExceeded when it
        would go over, nothing stored) unless a repeat names an earlier one; then enqueue it."""
        now = self._clock()
        admitted = self._admission.admit(user_id, plan, kind, request, now) if self._admission else None
        if idempotency_key:
            dedupe_key = "idem:" + hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()
            expires = epoch(now) + IDEMPOTENCY_KEY_TTL_SECONDS
        else:
            dedupe_key = "req:" + dedupe_hash(user_id, kind, request)
            expires = epoch(now) + self._policy.dedupe_window_seconds
        job = Job(
            id=str(uuid.uuid4()),
            user_id=user_id,
            kind=kind,
            status=JobStatus.QUEUED,
            request=request,
            source=source,
            model_name=model_name,
            leonardo_seed=seed,
            created_at=now,
            updated_at=now,
            due_at=epoch(now) + self._policy.queued_check_seconds,
            **(_admitted_fields(admitted) if admitted else {}),
        )
        limits: dict[str, Any] = (
            {"budget": admitted.budget, "max_waiting": admitted.max_waiting} if admitted else {}
        )
        existing = self._store.create(job, dedupe_key=dedupe_key, dedupe_expires_at=expires, **limits)
        if existing is not None:
            if idempotency_key:
                if existing.request != job.request:
                    raise InvalidRequest(
                        "Idempotency-Key was already used with different parameters",
                        code="idempotency_key_reused",
                    )
                return existing, False  # whatever its state: a key names one job
            if existing.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                return existing, False
            # The earlier click's job failed: clicking again is a retry, a new (paid) job.
            existing = self._store.create(
                job, dedupe_key=dedupe_key, dedupe_expires_at=expires, replace_job_id=existing.id, **limits
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


def _admitted_fields(admitted: Admitted) -> dict[str, Any]:
    return {
        "plan": admitted.plan,
        "charge": admitted.charge,
        "waiting_counted": admitted.max_waiting is not None,
        "queue_deadline": admitted.queue_deadline,
    }


def dedupe_hash(user_id: str, kind: str, request: dict[str, Any]) -> str:
    """Same user + same kind + same normalized parameters = same hash (the double-click key)."""
    canonical = json.dumps(
        {"user": user_id, "kind": kind, "request": request}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()

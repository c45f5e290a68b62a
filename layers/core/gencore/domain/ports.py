"""What the domain needs from the outside world. Adapters implement these; tests may fake them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .models import GenerationEvent, ImageFacts, Job, JobStatus, LeonardoImage, OutputImage, Upload


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True)
class SlotClaim:
    """Outcome of asking for a Leonardo concurrency slot for a job."""

    granted: bool  # the job now holds a slot and may be submitted by this caller
    job: Job | None  # the job as it stands (None if it does not exist)


@dataclass(frozen=True)
class RemoteGeneration:
    status: str  # PENDING | COMPLETE | FAILED
    images: list[LeonardoImage]
    api_credit_cost: float | None = None


class JobStore(Protocol):
    def create(
        self, job: Job, *, dedupe_key: str, dedupe_expires_at: int, replace_job_id: str | None = None
    ) -> Job | None:
        """Store a new job unless a live job holds `dedupe_key`: then return that one instead.

        With `replace_job_id`, the dedupe entry may be taken over only from that job.
        """

    def get(self, job_id: str) -> Job | None: ...

    def list_for_user(self, user_id: str, *, limit: int, cursor: str | None) -> Page: ...

    def job_for_generation(self, generation_id: str) -> Job | None: ...

    def claim_slot(self, job_id: str, *, max_in_flight: int, now: datetime, lease_seconds: int) -> SlotClaim:
        """Atomically take a slot (or take over an expired lease) for a QUEUED job."""

    def mark_submitted(
        self, job: Job, *, generation_id: str, api_credit_cost: float | None, now: datetime, due_at: int
    ) -> Job:
        """QUEUED -> SUBMITTED and map the generation to the job; TransitionConflict if either is taken."""

    def transition(
        self,
        job: Job,
        to: JobStatus,
        *,
        now: datetime,
        release_slot: bool = False,
        due_at: int | None = None,
        **fields: object,
    ) -> Job:
        """Move `job` to `to` if it is still in `job.status`; raise TransitionConflict otherwise.

        With release_slot the job's concurrency slot (if it holds one) is returned in the same
        transaction. `due_at=None` on a terminal status removes the job from the due index.
        """

    def release_slot(self, job: Job, *, now: datetime) -> Job: ...

    def note_uncertain_submit(self, job: Job, *, since: datetime) -> Job:
        """Remember that a submit of this QUEUED job may have created a generation."""

    def reschedule(
        self, job: Job, *, due_at: int, checks: int | None = None, submit_token: int | None = None
    ) -> None: ...

    def due_job_ids(self, *, now: int, limit: int) -> list[str]: ...

    def park(self, job: Job) -> bool:
        """Move a QUEUED job without a slot to the waiting line if `job.submit_token` is still live."""

    def waiting_job_ids(self, *, limit: int) -> list[str]:
        """The head of the waiting line, longest waiting first."""

    def leave_line(self, job_id: str, *, due_at: int) -> int | None:
        """Take a waiting job out of the line with a new submit token; None if it was not waiting."""

    def in_flight(self) -> int: ...


class SubmitQueue(Protocol):
    def send(self, job_id: str, *, delay_seconds: int = 0, attempt: int = 0, token: int = 0) -> None: ...


class EventQueue(Protocol):
    def send(self, event: GenerationEvent) -> None: ...


class Leonardo(Protocol):
    def start_generation(
        self, request: dict, *, init_image_id: str | None = None
    ) -> tuple[str, float | None]:
        """Start a generation from our normalized request (guided by a Leonardo init image if given);
        returns (generation id, credit cost)."""

    def generation(self, generation_id: str) -> RemoteGeneration: ...

    def find_generation(self, request: dict, *, since: datetime) -> str | None:
        """A generation of ours matching `request`, created since `since` (an unanswered submit)."""

    def delete_init_image(self, init_image_id: str) -> None:
        """Delete Leonardo's copy of an init image (already gone counts as done)."""

    def upload_init_image(self, content: bytes, content_type: str) -> str:
        """Hand an image to Leonardo as an init image; returns Leonardo's init image id."""


class OutputStore(Protocol):
    def existing(self, key_prefix: str, *, index: int, source_id: str) -> OutputImage | None:
        """The output stored for `index` if it was copied from `source_id` already (crash recovery)."""

    def copy(self, url: str, key_prefix: str, *, index: int, source_id: str) -> OutputImage:
        """Stream `url` into the bucket under `key_prefix`/<index>.<ext>; never holds the whole file."""

    def presign(self, key: str) -> str: ...


@dataclass(frozen=True)
class PresignedPost:
    """Where and how a client uploads one file straight to our bucket."""

    url: str
    fields: dict[str, str]
    expires_at: int


class UploadStore(Protocol):
    def create_upload(self, upload: Upload) -> None: ...

    def get_upload(self, upload_id: str) -> Upload | None: ...

    def finish_upload(self, upload: Upload, **fields: object) -> Upload:
        """PENDING -> READY/REJECTED (fields carry the status and facts); the winner of a race is returned."""

    def set_leonardo_init_image(self, upload: Upload, init_image_id: str) -> str:
        """Record Leonardo's id for the upload unless one is recorded already; returns the recorded one."""

    def mark_deleted(self, upload: Upload, *, now: datetime) -> Upload:
        """Any status -> DELETED (no more use, no new Leonardo copy); returns the upload as stored."""

    def forget_leonardo_init_image(self, upload: Upload) -> None:
        """Leonardo's copy is gone: drop its id from the (DELETED) upload."""


class UploadBucket(Protocol):
    def presign_post(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        """A form POST that can only put `key`, of `content_type`, of at most `max_bytes`."""

    def head(self, key: str) -> tuple[int, str] | None:
        """(size, stored content type) of the object, or None if nothing was uploaded."""

    def read(self, key: str, *, max_bytes: int) -> bytes: ...

    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...


class ImageInspector(Protocol):
    def inspect(self, data: bytes, *, declared: str, max_pixels: int) -> ImageFacts:
        """Establish what `data` really is without decoding more than `max_pixels`.

        Raises UploadRejected (with a stable code) for anything but a single-frame image of the
        declared type.
        """

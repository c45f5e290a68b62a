"""Domain models: the job record, its lifecycle and the events that move it; uploads.

The public request bodies are in requests.py."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    QUEUED = "QUEUED"  # accepted here, waiting for a Leonardo concurrency slot
    SUBMITTED = "SUBMITTED"  # accepted by Leonardo (PENDING there)
    FINALIZING = "FINALIZING"  # Leonardo finished; outputs being copied to our bucket
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    DELETED = "DELETED"  # deleted by its owner after it ended: files gone, the record kept for lineage

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.DELETED})

# Forward-only lifecycle: a late or repeated event can never move a job backwards.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.SUBMITTED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.SUBMITTED: frozenset({JobStatus.FINALIZING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.FINALIZING: frozenset({JobStatus.COMPLETE, JobStatus.FAILED}),
    JobStatus.COMPLETE: frozenset({JobStatus.DELETED}),
    JobStatus.FAILED: frozenset({JobStatus.DELETED}),
    JobStatus.CANCELLED: frozenset({JobStatus.DELETED}),
    JobStatus.DELETED: frozenset(),
}


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """The statuses a job may move to `target` from."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


# The kinds of job (docs/architecture.md, "Job kinds"); each is declared once in domain/kinds/.
JobKind = Literal[
    "text_to_image", "image_to_image", "edit", "inpaint", "outpaint", "sketch2img",
    "upscale", "unzoom", "no_background", "universal_upscale",
    "text_to_video", "image_to_video", "motion",
]  # fmt: skip
VariationType = Literal["upscale", "unzoom", "no_background", "universal_upscale"]
# Our ids (uploads) and Leonardo's (models, elements) alike: a UUID in its canonical text form.
UUID_PATTERN = r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"


class Cost(BaseModel):
    """What a job cost, as Leonardo reported it (or our estimate where it reported nothing)."""

    model_config = ConfigDict(frozen=True)

    amount: str  # a decimal string: credits or dollars, never a float
    unit: Literal["CREDITS", "DOLLARS"]
    source: Literal["leonardo", "estimate"] = "leonardo"


Unit = Literal["CREDITS", "DOLLARS"]  # the billing unit of a deployment (domain/ledger.py)


class Charge(BaseModel):
    """What a job's accept reserved, and what became of it (kept on the job)."""

    model_config = ConfigDict(frozen=True)

    state: Literal["reserved", "settled", "released"]
    unit: Unit
    estimate: str  # the amount reserved at accept, a decimal string
    amount: str | None = None  # once settled: what it counts as spent
    source: Literal["leonardo", "estimate"] | None = None  # where the settled amount came from
    day: str  # the periods the reservation was made in (UTC): its settlement lands there too
    month: str


NsfwPolicy = Literal["keep", "flag", "withhold"]  # what a plan does with images Leonardo flags NSFW


class OutputImage(BaseModel):
    """One image of a job: our copy of it, or the record that it was withheld (no copy, no key)."""

    index: int
    key: str | None = None  # our copy (None: withheld)
    content_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    leonardo_image_id: str
    sha256: str | None = None  # of our copy, hex (None: copied before it was recorded)
    nsfw: bool | None = None  # Leonardo's flag on the image, as it reported it
    # Flagged NSFW under a plan that withholds such images: never copied to our bucket, no URL.
    withheld: bool = False


class BatchItemRef(BaseModel):
    """What makes a job an item of a batch (domain/batches.py): the batch, the line, its custom_id."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    custom_id: str
    line: int  # 1-based, as in the manifest (results come in this order)


class Job(BaseModel):
    """The job record, independent of how it is stored."""

    id: str
    user_id: str
    kind: JobKind = "text_to_image"
    status: JobStatus
    request: dict[str, Any]
    # Lineage: the upload, or the image of one of our jobs, that guided this job (None: text only).
    source: dict[str, Any] | None = None
    model_name: str | None = None  # the model's name when the job was accepted (from the model cache)
    created_at: datetime
    updated_at: datetime
    generation_id: str | None = None
    submitted_at: datetime | None = None  # accepted by Leonardo; the job's age limit counts from here
    slot_held: bool = False
    slot_acquired_at: datetime | None = None
    slot_pool: str | None = None  # the Leonardo pool its slot counts against (Policy.pools); None: image
    submit_attempts: int = 0
    # Which submit message is the live one: the reconciler bumps it when it re-sends, and older
    # copies stop cycling, so a lagging queue never fills with copies of waiting jobs.
    submit_token: int = 0
    # Leonardo's seed for this job: the caller's, or one drawn at accept time, so that the job's
    # generation can be recognised in Leonardo's list if a POST goes unanswered.
    leonardo_seed: int | None = None
    # Written before every paid POST (durably: a crash after sending leaves it) and cleared once the
    # outcome is known: while set, a generation of this job may exist, and is looked for first.
    submit_uncertain_since: datetime | None = None
    post_fingerprint: str | None = None  # the request as Leonardo echoes it, hashed (the request lock)
    checks: int = 0  # reconciler polls so far (drives the adaptive interval)
    # When the reconciler read the finished generation from Leonardo and sent it as an event: a
    # callback processed after that is left to the event (domain/processing.py), never read again.
    recovered_at: datetime | None = None
    due_at: int | None = None  # epoch seconds of the next reconciler check; None once terminal
    plan: str | None = None  # the plan of its user when it was accepted (domain/plans.py)
    waiting_counted: bool = False  # counted in its user's waiting jobs (the plan's cap) while QUEUED
    queue_deadline: int | None = None  # epoch seconds: still waiting here then, it fails expired_in_queue
    line_turn: int | None = None  # its place in the waiting line, kept when parked again (domain/waiting.py)
    cost: Cost | None = None
    charge: Charge | None = None  # its reservation against the user's budget (domain/ledger.py)
    api_credit_cost: float | None = None  # records written before `cost` existed (credits)
    images: list[OutputImage] = Field(default_factory=list)
    nsfw_policy: NsfwPolicy | None = None  # what its plan did with NSFW-flagged images, once copied
    error_code: str | None = None
    error_message: str | None = None
    idempotency_key_hash: str | None = None
    batch: BatchItemRef | None = None  # an item of a batch: no double-click dedupe, no waiting cap
    # Once DELETED: Leonardo's copy is "pending" (ask again), "deleted", or "kept" (no route to delete it).
    leonardo_copy: str | None = None


class LeonardoImage(BaseModel):
    id: str
    url: str
    nsfw: bool | None = None
    video_url: str | None = None  # a video generation's MP4 (what a video job copies)


class GenerationEvent(BaseModel):
    """What the processor consumes: a terminal state of a Leonardo generation, secret-free.

    Produced by the webhook (from a verified callback: ids and status only, a prompt to look) and by
    the reconciler (from polling: Leonardo's own images and cost); one processing path for both.
    """

    model_config = ConfigDict(extra="forbid")

    source: Literal["webhook", "reconciler"]
    event_type: str = "image_generation.complete"
    generation_id: str = Field(min_length=1, max_length=64)
    status: Literal["COMPLETE", "FAILED"]
    images: list[LeonardoImage] = Field(default_factory=list, max_length=16)
    api_credit_cost: float | None = None

    @property
    def dedupe_key(self) -> str:
        return f"{self.generation_id}:{self.event_type}:{self.status}"


class UploadStatus(StrEnum):
    PENDING = "PENDING"  # upload slot handed out; the file is not checked yet
    READY = "READY"  # checked: a single-frame image of the declared type within the limits
    REJECTED = "REJECTED"  # checked and refused (error_code says why); the object is deleted
    DELETED = "DELETED"  # deleted by its owner: files gone here and at Leonardo; the record stays for lineage


UploadContentType = Literal["image/png", "image/jpeg", "image/webp", "application/jsonl"]
EXTENSIONS: dict[str, str] = {
    "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "application/jsonl": "jsonl",
}  # fmt: skip


# What an upload is for: an image that guides a generation, a canvas mask (white: the area to
# paint, black: the area to keep), or a batch's JSONL manifest; checked as such when completed.
UploadPurpose = Literal["init", "mask", "batch_manifest"]


class ImageFacts(BaseModel):
    """What inspecting an uploaded file established."""

    content_type: UploadContentType
    width: int
    height: int


class Upload(BaseModel):
    """A file a user uploaded to our bucket, as a source for generations (lineage points here)."""

    id: str
    user_id: str
    status: UploadStatus
    content_type: UploadContentType
    key: str
    created_at: datetime
    updated_at: datetime
    purpose: UploadPurpose = "init"
    size: int | None = None
    width: int | None = None
    height: int | None = None
    leonardo_init_image_id: str | None = None  # set once the file was handed to Leonardo
    # A mask is handed over with its init image in one canvas exchange: both of Leonardo's ids.
    leonardo_canvas: dict[str, Any] | None = None  # {"init_upload_id", "init_id", "mask_id"}
    error_code: str | None = None
    error_message: str | None = None
    expires_at: int | None = None  # TTL for a PENDING upload never completed

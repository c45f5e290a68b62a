"""Domain models: the public generation request, the job record and the events that move it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class JobStatus(StrEnum):
    QUEUED = "QUEUED"  # accepted here, waiting for a Leonardo concurrency slot
    SUBMITTED = "SUBMITTED"  # accepted by Leonardo (PENDING there)
    FINALIZING = "FINALIZING"  # Leonardo finished; outputs being copied to our bucket
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED})

# Forward-only lifecycle: a late or repeated event can never move a job backwards.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.SUBMITTED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.SUBMITTED: frozenset({JobStatus.FINALIZING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.FINALIZING: frozenset({JobStatus.COMPLETE, JobStatus.FAILED}),
    JobStatus.COMPLETE: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """The statuses a job may move to `target` from."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


PresetStyle = Literal[
    "ANIME", "BOKEH", "CINEMATIC", "CINEMATIC_CLOSEUP", "CREATIVE", "DYNAMIC", "ENVIRONMENT", "FASHION",
    "FILM", "FOOD", "GENERAL", "HDR", "ILLUSTRATION", "LEONARDO", "LONG_EXPOSURE", "MACRO", "MINIMALISTIC",
    "MONOCHROME", "MOODY", "NONE", "NEUTRAL", "PHOTOGRAPHY", "PORTRAIT", "RAYTRACED", "RENDER_3D", "RETRO",
    "SKETCH_BW", "SKETCH_COLOR", "STOCK_PHOTO", "VIBRANT", "UNPROCESSED",
]  # fmt: skip

DEFAULT_MODEL_ID = "b24e16ff-06e3-43eb-8d33-4416c2d75876"  # Leonardo Lightning XL
MAX_SEED = 2147483637
Dimension = Annotated[int, Field(ge=32, le=1536, multiple_of=8)]
UUID_PATTERN = r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"

JobKind = Literal["text_to_image", "image_to_image"]


class ImageGenerationRequest(BaseModel):
    """The body of POST /v1/generations. Limits follow Leonardo's documented ranges.

    Text-to-image by default; with `init_upload_id` (one of the caller's READY uploads) it is
    image-to-image, the upload guiding the result with weight `init_strength`.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    prompt: str = Field(min_length=1, max_length=1500)
    negative_prompt: str | None = Field(default=None, max_length=1500)
    # A UUID's 8-4-4-4-12 shape: Leonardo rejects anything else after we accepted the job (fuzzing).
    model_id: str = Field(default=DEFAULT_MODEL_ID, pattern=UUID_PATTERN)
    width: Dimension = 1024
    height: Dimension = 1024
    num_images: int = Field(default=1, ge=1, le=8)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    preset_style: PresetStyle | None = None
    alchemy: bool | None = None
    photo_real: bool | None = None
    guidance_scale: float | None = Field(default=None, ge=1, le=20)
    num_inference_steps: int | None = Field(default=None, ge=10, le=60)
    init_upload_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    init_strength: float | None = Field(default=None, ge=0.1, le=0.9)

    @field_validator("model_id", "init_upload_id")
    @classmethod
    def _lower_uuid(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        # pydantic's stripping keeps e.g. "\x1e", which Leonardo treats as blank (found by fuzzing).
        if not value.strip():
            raise ValueError("prompt must not be blank")
        return value

    @model_validator(mode="after")
    def _few_images_when_large(self) -> ImageGenerationRequest:
        # Leonardo: "If either width or height is over 768, must be between 1 and 4."
        if (self.width > 768 or self.height > 768) and self.num_images > 4:
            raise ValueError("num_images must be at most 4 when width or height is over 768")
        if self.init_strength is not None and self.init_upload_id is None:
            raise ValueError("init_strength needs init_upload_id")
        return self

    @property
    def kind(self) -> JobKind:
        return "image_to_image" if self.init_upload_id else "text_to_image"

    def normalized(self) -> dict:
        """The request with defaults applied, as stored and echoed back."""
        return self.model_dump(mode="json")

    def dedupe_hash(self, user_id: str) -> str:
        """Same user + same normalized parameters = same hash (the double-click key)."""
        canonical = json.dumps({"user": user_id, "kind": self.kind, "request": self.normalized()},
                               sort_keys=True, separators=(",", ":"))  # fmt: skip
        return hashlib.sha256(canonical.encode()).hexdigest()


class OutputImage(BaseModel):
    index: int
    key: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    leonardo_image_id: str


class Job(BaseModel):
    """The job record, independent of how it is stored."""

    id: str
    user_id: str
    kind: JobKind = "text_to_image"
    status: JobStatus
    request: dict
    created_at: datetime
    updated_at: datetime
    generation_id: str | None = None
    submitted_at: datetime | None = None  # accepted by Leonardo; the job's age limit counts from here
    slot_held: bool = False
    slot_acquired_at: datetime | None = None
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
    due_at: int | None = None  # epoch seconds of the next reconciler check; None once terminal
    api_credit_cost: float | None = None
    images: list[OutputImage] = Field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    idempotency_key_hash: str | None = None


class LeonardoImage(BaseModel):
    id: str
    url: str
    nsfw: bool | None = None


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


UploadContentType = Literal["image/png", "image/jpeg", "image/webp"]
EXTENSIONS: dict[str, str] = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class CreateUploadRequest(BaseModel):
    """The body of POST /v1/uploads: what the caller is about to upload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_type: UploadContentType


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
    size: int | None = None
    width: int | None = None
    height: int | None = None
    leonardo_init_image_id: str | None = None  # set once the file was handed to Leonardo
    error_code: str | None = None
    error_message: str | None = None
    expires_at: int | None = None  # TTL for a PENDING upload never completed

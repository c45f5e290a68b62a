"""Domain models: the public generation request, the job record and the events that move it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


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

# The kinds of job (docs/architecture.md, "Job kinds"); each is declared once in domain/kinds/.
JobKind = Literal[
    "text_to_image", "image_to_image", "edit", "inpaint", "outpaint", "sketch2img",
    "upscale", "unzoom", "no_background", "universal_upscale",
]  # fmt: skip
VariationType = Literal["upscale", "unzoom", "no_background", "universal_upscale"]


def invalid_combination(rule: str, message: str) -> PydanticCustomError:
    """A rule between fields was broken: answered as 422 `invalid_combination` naming the rule."""
    return PydanticCustomError("invalid_combination", "{rule}: " + message, {"rule": rule})


class Source(BaseModel):
    """Where a job's guiding image comes from (its lineage): one of the caller's uploads, or one of
    the images of one of the caller's COMPLETE jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upload_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    job_id: str | None = Field(default=None, min_length=1, max_length=64)
    index: int | None = Field(default=None, ge=0, le=15)
    mask_upload_id: str | None = Field(
        default=None, pattern=UUID_PATTERN, description="Canvas jobs: the mask"
    )

    @field_validator("upload_id", "mask_upload_id")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @model_validator(mode="after")
    def _one_source(self) -> Source:
        if (self.upload_id is None) == (self.job_id is None):
            raise invalid_combination("source_one_of", "source names either upload_id or job_id and index")
        if (self.job_id is None) != (self.index is None):
            raise invalid_combination("source_image_index", "source.job_id goes with source.index")
        if self.mask_upload_id and not self.upload_id:
            raise invalid_combination("mask_needs_upload", "source.mask_upload_id goes with source.upload_id")
        return self


CanvasMode = Literal["inpaint", "outpaint", "sketch2img", "img2img"]


class Canvas(BaseModel):
    """A canvas job: an init image and a mask painted on it (Leonardo's canvas editor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: CanvasMode


class ImageGenerationRequest(BaseModel):
    """The body of POST /v1/generations. Limits follow Leonardo's documented ranges.

    Text-to-image by default. With a `source` it is guided by an image, with weight
    `init_strength`: one of the caller's READY uploads (`{"upload_id"}`: image-to-image; the older
    `init_upload_id` field is a synonym) or one of the caller's own outputs (`{"job_id", "index"}`:
    an edit).
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
    source: Source | None = None
    canvas: Canvas | None = None
    init_upload_id: str | None = Field(
        default=None, pattern=UUID_PATTERN, description="Synonym of source.upload_id (kept for older clients)"
    )
    init_strength: float | None = Field(default=None, ge=0.1, le=0.9)

    @model_validator(mode="before")
    @classmethod
    def _init_upload_id_is_a_source(cls, data: object) -> object:
        if not isinstance(data, dict) or data.get("init_upload_id") is None:
            return data
        if data.get("source") is not None:
            raise invalid_combination(
                "source_one_of", "init_upload_id is a synonym of source.upload_id: send one"
            )
        upload_id = data["init_upload_id"]
        rest = {k: v for k, v in data.items() if k != "init_upload_id"}
        return rest | {"source": {"upload_id": upload_id}}

    @field_validator("model_id")
    @classmethod
    def _lower_uuid(cls, value: str) -> str:
        return value.lower()

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
        if self.init_strength is not None and self.source is None:
            raise invalid_combination("init_strength_needs_source", "init_strength needs a source image")
        if self.canvas and not (self.source and self.source.upload_id and self.source.mask_upload_id):
            raise invalid_combination(
                "canvas_needs_init_and_mask", "canvas needs source.upload_id and source.mask_upload_id"
            )
        if self.source and self.source.mask_upload_id and not self.canvas:
            raise invalid_combination("mask_needs_canvas", "source.mask_upload_id is for canvas jobs")
        return self

    @property
    def kind(self) -> JobKind:
        if self.canvas and self.canvas.mode != "img2img":
            return self.canvas.mode
        if self.source is None:
            return "text_to_image"
        return "edit" if self.source.job_id else "image_to_image"

    def normalized(self) -> dict:
        """The request with defaults applied, as stored and echoed back (`source`, never its synonym)."""
        data = self.model_dump(mode="json", exclude={"init_upload_id"})
        if self.source is not None:
            data["source"] = self.source.model_dump(mode="json", exclude_none=True)
        return data


UpscalerStyle = Literal["GENERAL", "CINEMATIC", "2D ART & ILLUSTRATION", "CG ART & GAME ASSETS"]


class VariationRequest(BaseModel):
    """The body of POST /v1/generations/{job_id}/images/{index}/variations: a new job working on
    one of the caller's images. The universal upscaler's options follow Leonardo's documented ranges.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    type: VariationType
    upscaler_style: UpscalerStyle | None = None
    ultra_style: Literal["ARTISTIC", "REALISTIC"] | None = None
    creativity_strength: int | None = Field(default=None, ge=1, le=10)
    detail_contrast: int | None = Field(default=None, ge=1, le=10)
    similarity: int | None = Field(default=None, ge=1, le=10)
    multiplier: float | None = Field(default=None, ge=1.0, le=2.0)
    prompt: str | None = Field(default=None, min_length=1, max_length=1500)

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> VariationRequest:
        options = self.model_dump(exclude={"type"}, exclude_none=True)
        if options and self.type != "universal_upscale":
            raise invalid_combination(
                "options_need_universal_upscale", f"{', '.join(sorted(options))}: only for universal_upscale"
            )
        if self.upscaler_style and self.ultra_style:
            raise invalid_combination(
                "upscaler_style_with_ultra_style", "upscaler_style or ultra_style, not both"
            )
        if (self.detail_contrast is not None or self.similarity is not None) and not self.ultra_style:
            raise invalid_combination(
                "ultra_options_need_ultra_style", "detail_contrast and similarity need ultra_style"
            )
        return self

    def normalized(self, source: Source) -> dict:
        """As stored on the new job: the options and the image it works on."""
        return self.model_dump(mode="json", exclude_none=True) | {
            "source": source.model_dump(mode="json", exclude_none=True)
        }


class Cost(BaseModel):
    """What a job cost, as Leonardo reported it (or our estimate where it reported nothing)."""

    model_config = ConfigDict(frozen=True)

    amount: str  # a decimal string: credits or dollars, never a float
    unit: Literal["CREDITS", "DOLLARS"]
    source: Literal["leonardo", "estimate"] = "leonardo"


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
    # Lineage: the upload, or the image of one of our jobs, that guided this job (None: text only).
    source: dict | None = None
    model_name: str | None = None  # the model's name when the job was accepted (from the model cache)
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
    cost: Cost | None = None
    api_credit_cost: float | None = None  # records written before `cost` existed (credits)
    images: list[OutputImage] = Field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    idempotency_key_hash: str | None = None
    # Once DELETED: Leonardo's copy is "pending" (ask again), "deleted", or "kept" (no route to delete it).
    leonardo_copy: str | None = None


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


# What an upload is for: an image that guides a generation, or a canvas mask (white: the area to
# paint, black: the area to keep), checked as such when the upload is completed.
UploadPurpose = Literal["init", "mask"]


class CreateUploadRequest(BaseModel):
    """The body of POST /v1/uploads: what the caller is about to upload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_type: UploadContentType
    purpose: UploadPurpose = "init"


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
    leonardo_canvas: dict | None = None  # {"init_upload_id", "init_id", "mask_id"}
    error_code: str | None = None
    error_message: str | None = None
    expires_at: int | None = None  # TTL for a PENDING upload never completed

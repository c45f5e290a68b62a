"""The public request bodies: a generation (every text-to-image parameter Leonardo documents, with
its rules between fields), a variation of one of our images, an upload.

A generation's parameters and the rules between them live in domain/parameters.py
(`ImageParameters`, `broken_rules`); the request adds what is ours: the image that guides the job
(`source`), the canvas mode, the paste of Leonardo's own request JSON (`"leonardo"`, mapped
field by field in domain/recipes.py) and the cost/quality preset (`quality`, domain/quality.py,
applied first). A broken rule answers 422 `invalid_combination` naming the rule (`details[].rule`;
the rules and their sources are in docs/parameters.md), so a request we accept is not refused by
Leonardo after the caller was told it was accepted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .models import UUID_PATTERN, JobKind, UploadContentType, UploadPurpose, VariationType
from .parameters import ImageParameters, broken_rules, settle
from .quality import Quality, apply_quality


def invalid_combination(rule: str, message: str) -> PydanticCustomError:
    """A rule between fields was broken: answered as 422 `invalid_combination` naming the rule."""
    return PydanticCustomError("invalid_combination", "{rule}: " + message, {"rule": rule})


class Source(BaseModel):
    """Where a job's guiding image comes from (its lineage): one of the caller's uploads (with a
    mask for canvas jobs), or one of the images of one of the caller's COMPLETE jobs."""

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


class ImageGenerationRequest(ImageParameters):
    """The body of POST /v1/generations: the generation's parameters (`ImageParameters`) and ours.

    Text-to-image by default. With a `source` it is guided by an image, with weight
    `init_strength`: one of the caller's READY uploads (`{"upload_id"}`: image-to-image; the older
    `init_upload_id` field is a synonym), one of the caller's own outputs (`{"job_id", "index"}`:
    an edit), or with `canvas` an upload and its mask (`{"upload_id", "mask_upload_id"}`).
    `controlnets` guide it further, each through one of the caller's READY uploads.
    """

    source: Source | None = None
    canvas: Canvas | None = None
    init_upload_id: str | None = Field(
        default=None, pattern=UUID_PATTERN, description="Synonym of source.upload_id (kept for older clients)"
    )
    init_strength: float | None = Field(default=None, ge=0.1, le=0.9)
    leonardo: dict[str, Any] | None = Field(
        default=None,
        description="Leonardo's own request JSON (its field names, as its web app's 'Get API Code' shows), "
        "instead of ours: mapped field by field (docs/parameters.md)",
    )
    quality: Quality | None = Field(
        default=None,
        description="The cost/quality preset: draft (fast, cheap settings) or final (quality settings), "
        "filling only the fields you leave unset (docs/parameters.md, Quality presets)",
    )

    @model_validator(mode="before")
    @classmethod
    def _settle(cls, data: Any) -> Any:  # replaces ImageParameters._settle: ours first, then its
        if not isinstance(data, dict):
            return data
        if data.get("leonardo") is not None:
            from .recipes import from_leonardo  # the paste: Leonardo's names -> ours

            if len(data) > 1:
                raise invalid_combination(
                    "leonardo_alone", "`leonardo` carries the whole request: send it alone"
                )
            data = from_leonardo(data["leonardo"])
        if data.get("init_upload_id") is not None:
            if data.get("source") is not None:
                raise invalid_combination(
                    "source_one_of", "init_upload_id is a synonym of source.upload_id: send one"
                )
            data = {k: v for k, v in data.items() if k != "init_upload_id"} | {
                "source": {"upload_id": data["init_upload_id"]}
            }
        # The preset before anything else: the rules, the caps and the estimate see its settings.
        return settle(apply_quality(data))

    @model_validator(mode="after")
    def _rules(self) -> ImageGenerationRequest:
        source = self.source
        canvas_pair = bool(source and source.upload_id and source.mask_upload_id)
        ours = [
            ("init_strength_needs_source", self.init_strength is not None and source is None,
             "init_strength needs a source image"),
            ("canvas_needs_init_and_mask", bool(self.canvas) and not canvas_pair,
             "canvas needs source.upload_id and source.mask_upload_id"),
            ("mask_needs_canvas", bool(source and source.mask_upload_id) and not self.canvas,
             "source.mask_upload_id is for canvas jobs"),
        ]  # fmt: skip
        for rule, broken, message in ours:
            if broken:
                raise invalid_combination(rule, message)
        if violations := broken_rules(self, init_image=source is not None):
            raise violations[0].as_pydantic()
        return self

    @property
    def kind(self) -> JobKind:
        if self.canvas and self.canvas.mode != "img2img":
            return self.canvas.mode
        if self.source is None:
            return "text_to_image"
        return "edit" if self.source.job_id else "image_to_image"

    @property
    def guide_upload_ids(self) -> list[str]:
        """The uploads the ControlNets are guided by (each handed to Leonardo at submit)."""
        return [net.upload_id for net in self.controlnets or []]

    def normalized(self) -> dict[str, Any]:
        """The request with defaults (and its quality preset) applied, as stored and echoed back
        (`source`, never its synonym, and never the pasted `leonardo` body: it is stored in our
        names; `quality` only when asked for, so requests without one store as they always did)."""
        unstored = {"init_upload_id", "leonardo"} | ({"quality"} if self.quality is None else set())
        data = self.model_dump(mode="json", exclude=unstored)
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

    def normalized(self, source: Source) -> dict[str, Any]:
        """As stored on the new job: the options and the image it works on."""
        return self.model_dump(mode="json", exclude_none=True) | {
            "source": source.model_dump(mode="json", exclude_none=True)
        }


class UploadUpscaleRequest(VariationRequest):
    """The body of POST /v1/uploads/{upload_id}/upscale: the universal upscaler on one of the
    caller's uploads (its options as for a variation; the type is fixed)."""

    type: Literal["universal_upscale"] = "universal_upscale"


class CreateUploadRequest(BaseModel):
    """The body of POST /v1/uploads: what the caller is about to upload, and what for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_type: UploadContentType
    purpose: UploadPurpose = "init"

    @model_validator(mode="after")
    def _type_fits_purpose(self) -> CreateUploadRequest:
        manifest = self.purpose == "batch_manifest"
        if manifest != (self.content_type == "application/jsonl"):
            raise PydanticCustomError(
                "invalid_combination",
                "a batch_manifest upload is application/jsonl, and only a batch_manifest is",
                {"rule": "upload_purpose_type"},
            )
        return self

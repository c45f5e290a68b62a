"""The public request bodies: a generation (every text-to-image parameter Leonardo documents, with
its rules between fields), a variation of one of our images, an upload.

Limits follow Leonardo's documented ranges, so a request we accept is not refused by Leonardo
after the caller was told it was accepted. A rule between fields that is broken answers 422
`invalid_combination` naming the rule (`details[].rule`; the rules and their sources are in
docs/parameters.md). A body copied from Leonardo's web app ("Get API Code") is accepted under
`"leonardo"` and mapped field by field (domain/recipes.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .model_catalog import SEED_CAP, family_of
from .models import JobKind, UploadContentType, UploadPurpose, VariationType

PresetStyle = Literal[
    "ANIME", "BOKEH", "CINEMATIC", "CINEMATIC_CLOSEUP", "CREATIVE", "DYNAMIC", "ENVIRONMENT", "FASHION",
    "FILM", "FOOD", "GENERAL", "HDR", "ILLUSTRATION", "LEONARDO", "LONG_EXPOSURE", "MACRO", "MINIMALISTIC",
    "MONOCHROME", "MOODY", "NONE", "NEUTRAL", "PHOTOGRAPHY", "PORTRAIT", "RAYTRACED", "RENDER_3D", "RETRO",
    "SKETCH_BW", "SKETCH_COLOR", "STOCK_PHOTO", "VIBRANT", "UNPROCESSED",
]  # fmt: skip
# Documented: "When alchemy is disabled, use LEONARDO or NONE. When alchemy is enabled, use ..."
STYLES_WITHOUT_ALCHEMY = frozenset({"LEONARDO", "NONE"})
STYLES_WITH_ALCHEMY = frozenset({
    "ANIME", "CREATIVE", "DYNAMIC", "ENVIRONMENT", "GENERAL", "ILLUSTRATION", "PHOTOGRAPHY", "RAYTRACED",
    "RENDER_3D", "SKETCH_BW", "SKETCH_COLOR", "NONE",
})  # fmt: skip
CONTRASTS = (1.0, 1.3, 1.8, 2.5, 3.0, 3.5, 4.0, 4.5)
Scheduler = Literal[
    "KLMS", "EULER_ANCESTRAL_DISCRETE", "EULER_DISCRETE", "DDIM", "DPM_SOLVER", "PNDM", "LEONARDO"
]
SdVersion = Literal[
    "v1_5", "v2", "v3", "SDXL_0_8", "SDXL_0_9", "SDXL_1_0", "SDXL_LIGHTNING", "PHOENIX", "FLUX", "FLUX_DEV",
    "KINO_2_0",
]  # fmt: skip

DEFAULT_MODEL_ID = "b24e16ff-06e3-43eb-8d33-4416c2d75876"  # Leonardo Lightning XL
MAX_SEED = 2147483637  # the smallest family cap: the seed we draw for a job fits every model
Dimension = Annotated[int, Field(ge=32, le=1536, multiple_of=8)]
UUID_PATTERN = r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
Weight = Annotated[float, Field(strict=True, ge=-1.0, le=2.0)]  # a number, never a string


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


class Element(BaseModel):
    """One of Leonardo's platform elements (a LoRA), by its id, with a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=UUID_PATTERN)
    weight: Weight = 1.0


class UserElement(BaseModel):
    """One of our account's own trained elements, by Leonardo's numeric id, with a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(strict=True, ge=1)
    weight: Weight = 1.0


class ImageGenerationRequest(BaseModel):
    """The body of POST /v1/generations.

    Text-to-image by default. With a `source` it is guided by an image, with weight
    `init_strength`: one of the caller's READY uploads (`{"upload_id"}`: image-to-image; the older
    `init_upload_id` field is a synonym), one of the caller's own outputs (`{"job_id", "index"}`:
    an edit), or with `canvas` an upload and its mask (`{"upload_id", "mask_upload_id"}`).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    prompt: str = Field(min_length=1, max_length=1500)
    negative_prompt: str | None = Field(default=None, max_length=1500)
    # A UUID's 8-4-4-4-12 shape: Leonardo rejects anything else after we accepted the job (fuzzing).
    # None only for photoReal v1, which Leonardo runs without a model.
    model_id: str | None = Field(default=DEFAULT_MODEL_ID, pattern=UUID_PATTERN)
    width: Dimension = 1024
    height: Dimension = 1024
    num_images: int = Field(default=1, ge=1, le=8)
    seed: int | None = Field(default=None, ge=0, le=SEED_CAP)
    preset_style: PresetStyle | None = None
    alchemy: bool | None = None
    photo_real: bool | None = None
    photo_real_version: Literal["v1", "v2"] | None = None
    photo_real_strength: Literal[0.55, 0.5, 0.45] | None = None
    contrast: float | None = None
    contrast_ratio: float | None = Field(default=None, ge=0, le=1)
    ultra: bool | None = None
    guidance_scale: float | None = Field(default=None, ge=1, le=20)
    num_inference_steps: int | None = Field(default=None, ge=10, le=60)
    scheduler: Scheduler | None = None
    sd_version: SdVersion | None = None
    tiling: bool | None = None
    transparency: Literal["disabled", "foreground_only"] | None = None
    enhance_prompt: bool | None = None
    enhance_prompt_instruction: str | None = Field(default=None, min_length=1, max_length=1500)
    expanded_domain: bool | None = None
    fantasy_avatar: bool | None = None
    high_contrast: bool | None = None
    high_resolution: bool | None = None
    prompt_magic: bool | None = None
    prompt_magic_strength: float | None = Field(default=None, ge=0.1, le=1.0)
    prompt_magic_version: Literal["v2", "v3"] | None = None
    elements: list[Element] | None = Field(default=None, max_length=4)
    user_elements: list[UserElement] | None = Field(default=None, max_length=4)
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

    @model_validator(mode="before")
    @classmethod
    def _normalise_input(cls, data: object) -> object:
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
        if data.get("photo_real") and data.get("photo_real_version") != "v2":
            # photoReal v1 runs without a model: "requires ... unspecifying modelId".
            if data.get("model_id") is not None:
                raise invalid_combination("photo_real_v1_without_model", "photoReal v1 takes no model_id")
            data = data | {"model_id": None}
        return data

    @field_validator("model_id")
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

    @field_validator("contrast")
    @classmethod
    def _contrast_value(cls, value: float | None) -> float | None:
        if value is not None and not any(abs(value - allowed) < 1e-9 for allowed in CONTRASTS):
            raise invalid_combination(
                "contrast_value", f"contrast is one of {', '.join(map(str, CONTRASTS))}"
            )
        return value

    @model_validator(mode="after")
    def _rules(self) -> ImageGenerationRequest:
        # Leonardo: "If either width or height is over 768, must be between 1 and 4."
        if (self.width > 768 or self.height > 768) and self.num_images > 4:
            raise ValueError("num_images must be at most 4 when width or height is over 768")
        for rule, broken, message in self._broken_rules():
            if broken:
                raise invalid_combination(rule, message)
        return self

    def _broken_rules(self) -> list[tuple[str, bool, str]]:
        family, source = family_of(self.model_id), self.source
        alchemy, style = self.alchemy, self.preset_style
        canvas_pair = bool(source and source.upload_id and source.mask_upload_id)
        photo_real_options = self.photo_real_version is not None or self.photo_real_strength is not None
        magic_options = self.prompt_magic_strength is not None or self.prompt_magic_version is not None
        contrast_floor = family.alchemy_contrast_min if alchemy else None
        return [
            ("init_strength_needs_source", self.init_strength is not None and source is None,
             "init_strength needs a source image"),
            ("canvas_needs_init_and_mask", bool(self.canvas) and not canvas_pair,
             "canvas needs source.upload_id and source.mask_upload_id"),
            ("mask_needs_canvas", bool(source and source.mask_upload_id) and not self.canvas,
             "source.mask_upload_id is for canvas jobs"),
            ("ultra_with_alchemy", bool(self.ultra and alchemy), "ultra can not be used with alchemy"),
            ("ultra_model", bool(self.ultra) and not family.ultra,
             f"ultra is not available on a {family.name} model"),
            ("photo_real_needs_alchemy", bool(self.photo_real) and alchemy is False,
             "photoReal needs alchemy"),
            ("photo_real_v2_model",
             bool(self.photo_real) and self.photo_real_version == "v2" and not family.photo_real_v2,
             f"photoReal v2 runs on the SDXL models (Kino, Vision, Diffusion XL), not a {family.name} model"),
            ("photo_real_options_need_photo_real", photo_real_options and not self.photo_real,
             "photo_real_version and photo_real_strength need photo_real"),
            ("contrast_model", self.contrast is not None and not family.contrast,
             f"contrast is for Phoenix and Flux models, not a {family.name} model"),
            ("contrast_with_alchemy",
             self.contrast is not None and contrast_floor is not None and self.contrast < contrast_floor,
             f"with alchemy on a {family.name} model, contrast is at least {contrast_floor}"),
            ("contrast_ratio_needs_alchemy", self.contrast_ratio is not None and not alchemy,
             "contrast_ratio is used with alchemy"),
            ("preset_style_without_alchemy",
             alchemy is False and style is not None and style not in STYLES_WITHOUT_ALCHEMY,
             "without alchemy the preset style is LEONARDO or NONE"),
            ("preset_style_with_alchemy",
             bool(alchemy) and not self.photo_real and style is not None and style not in STYLES_WITH_ALCHEMY,
             f"with alchemy the preset style is one of {', '.join(sorted(STYLES_WITH_ALCHEMY))}"),
            ("seed_over_family_cap", self.seed is not None and self.seed > family.seed_cap,
             f"seeds of a {family.name} model are at most {family.seed_cap}"),
            ("enhance_prompt_instruction_needs_enhance_prompt",
             self.enhance_prompt_instruction is not None and not self.enhance_prompt,
             "enhance_prompt_instruction needs enhance_prompt"),
            ("prompt_magic_options_need_prompt_magic", magic_options and not self.prompt_magic,
             "prompt_magic_strength and prompt_magic_version need prompt_magic"),
        ]  # fmt: skip

    @property
    def kind(self) -> JobKind:
        if self.canvas and self.canvas.mode != "img2img":
            return self.canvas.mode
        if self.source is None:
            return "text_to_image"
        return "edit" if self.source.job_id else "image_to_image"

    def normalized(self) -> dict:
        """The request with defaults applied, as stored and echoed back (`source`, never its synonym,
        and never the pasted `leonardo` body: it is stored in our names)."""
        data = self.model_dump(mode="json", exclude={"init_upload_id", "leonardo"})
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


class CreateUploadRequest(BaseModel):
    """The body of POST /v1/uploads: what the caller is about to upload, and what for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_type: UploadContentType
    purpose: UploadPurpose = "init"

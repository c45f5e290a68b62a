"""Typed bodies of Leonardo's image tools: variations (upscale, unzoom, background removal, the
universal upscaler), the canvas init-image exchange and the prompt tools.

Same conventions as models.py: wire names as aliases, requests forbid unknown fields, responses
ignore them but require every field we read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .models import InitImageUpload, Priced, _Request, _Response

UpscalerStyle = Literal["GENERAL", "CINEMATIC", "2D ART & ILLUSTRATION", "CG ART & GAME ASSETS"]


class VariationRequest(_Request):
    """Body of ``POST /variations/{upscale,unzoom,nobg}``: one image (or, where Leonardo takes
    it, another variation's output with ``isVariation``)."""

    id: str = Field(min_length=1)
    is_variation: bool | None = Field(default=None, alias="isVariation")


class UniversalUpscaleRequest(_Request):
    """Body of ``POST /variations/universal-upscaler``, with the documented ranges."""

    generated_image_id: str | None = Field(default=None, alias="generatedImageId")
    init_image_id: str | None = Field(default=None, alias="initImageId")
    variation_id: str | None = Field(default=None, alias="variationId")
    upscaler_style: UpscalerStyle | None = Field(default=None, alias="upscalerStyle")
    ultra_upscale_style: Literal["ARTISTIC", "REALISTIC"] | None = Field(
        default=None, alias="ultraUpscaleStyle"
    )
    creativity_strength: int | None = Field(default=None, ge=1, le=10, alias="creativityStrength")
    detail_contrast: int | None = Field(default=None, ge=1, le=10, alias="detailContrast")
    similarity: int | None = Field(default=None, ge=1, le=10)
    upscale_multiplier: float | None = Field(default=None, ge=1.0, le=2.0, alias="upscaleMultiplier")
    prompt: str | None = None


class VariationJob(Priced):
    """A started variation: its id (not a generation id) and what it cost (:attr:`cost`)."""

    id: str = Field(min_length=1)


class UpscaleEnvelope(_Response):
    job: VariationJob = Field(alias="sdUpscaleJob")


class UnzoomEnvelope(_Response):
    job: VariationJob = Field(alias="sdUnzoomJob")


class NobgEnvelope(_Response):
    job: VariationJob = Field(alias="sdNobgJob")


class UniversalUpscaleEnvelope(_Response):
    job: VariationJob = Field(alias="universalUpscaler")


class Variation(_Response):
    """One item of ``GET /variations/{id}``: ``url`` is set once it is COMPLETE."""

    id: str = Field(min_length=1)
    status: Literal["PENDING", "COMPLETE", "FAILED"]
    url: str | None = None
    transform_type: str | None = Field(default=None, alias="transformType")
    created_at: str | None = Field(default=None, alias="createdAt")


class VariationEnvelope(_Response):
    generated_image_variation_generic: list[Variation]


class CanvasUploadRequest(_Request):
    """Body of ``POST /canvas-init-image``."""

    init_extension: Literal["png", "jpg", "jpeg", "webp"] = Field(alias="initExtension")
    mask_extension: Literal["png", "jpg", "jpeg", "webp"] = Field(alias="maskExtension")


class CanvasUpload(_Response):
    """``uploadCanvasInitImage``: two presigned S3 POSTs, the init image's and the mask's."""

    init_image_id: str = Field(min_length=1, alias="initImageId")
    init_fields: str = Field(alias="initFields", repr=False)
    init_key: str = Field(min_length=1, alias="initKey")
    init_url: str = Field(min_length=1, alias="initUrl")
    mask_image_id: str = Field(min_length=1, alias="maskImageId")
    mask_fields: str = Field(alias="maskFields", repr=False)
    mask_key: str = Field(min_length=1, alias="maskKey")
    mask_url: str = Field(min_length=1, alias="maskUrl")

    def slots(self) -> tuple[InitImageUpload, InitImageUpload]:
        """Each file's slot in the shape `send_init_image` posts to."""
        init = InitImageUpload.model_validate(
            {"id": self.init_image_id, "url": self.init_url, "key": self.init_key, "fields": self.init_fields}
        )
        mask = InitImageUpload.model_validate(
            {"id": self.mask_image_id, "url": self.mask_url, "key": self.mask_key, "fields": self.mask_fields}
        )
        return init, mask


class CanvasUploadEnvelope(_Response):
    conceals_body = True
    upload: CanvasUpload = Field(alias="uploadCanvasInitImage")


class PromptImproveRequest(_Request):
    prompt: str = Field(min_length=1)
    prompt_instructions: str | None = Field(default=None, alias="promptInstructions")


class PromptGeneration(Priced):
    """A prompt tool's answer: the prompt, and what it cost (:attr:`cost`)."""

    prompt: str = Field(min_length=1)


class PromptEnvelope(_Response):
    prompt_generation: PromptGeneration = Field(alias="promptGeneration")

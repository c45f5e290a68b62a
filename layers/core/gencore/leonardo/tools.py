"""Typed bodies of Leonardo's image tools: variations (upscale, unzoom, background removal, the
universal upscaler), the canvas init-image exchange and the prompt tools.

Same conventions as models.py: wire names as aliases, requests forbid unknown fields, responses
ignore them but require every field we read.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, model_validator

from .models import InitImageUpload, Priced, _Request, _Response

UpscalerStyle = Literal["GENERAL", "CINEMATIC", "2D ART & ILLUSTRATION", "CG ART & GAME ASSETS"]
UltraUpscaleStyle = Literal["ARTISTIC", "REALISTIC"]


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
    ultra_upscale_style: UltraUpscaleStyle | None = Field(default=None, alias="ultraUpscaleStyle")
    creativity_strength: int | None = Field(default=None, ge=1, le=10, alias="creativityStrength")
    detail_contrast: int | None = Field(default=None, ge=1, le=10, alias="detailContrast")
    similarity: int | None = Field(default=None, ge=1, le=10)
    upscale_multiplier: float | None = Field(default=None, ge=1.0, le=2.0, alias="upscaleMultiplier")
    prompt: str | None = None

    @model_validator(mode="after")
    def _one_source_image(self) -> UniversalUpscaleRequest:
        # Which image to upscale is the one thing the call cannot do without (the rules between
        # the style options are the domain's).
        named = [i for i in (self.generated_image_id, self.init_image_id, self.variation_id) if i]
        if len(named) != 1:
            raise ValueError("name exactly one of generatedImageId, initImageId and variationId")
        return self


class VariationJob(Priced):
    """A started variation: its id (not a generation id) and what it cost (:attr:`cost`)."""

    id: str = Field(min_length=1)


class UpscaleEnvelope(_Response):
    # The document's schema says sdUpscaleJob, its example sdUpscalerjob: a paid answer under
    # either name is read rather than reported as unknown.
    job: VariationJob = Field(
        alias="sdUpscaleJob", validation_alias=AliasChoices("sdUpscaleJob", "sdUpscalerjob")
    )


class UnzoomEnvelope(_Response):
    job: VariationJob = Field(alias="sdUnzoomJob")


class NobgEnvelope(_Response):
    job: VariationJob = Field(alias="sdNobgJob")


class UniversalUpscaleEnvelope(_Response):
    job: VariationJob = Field(alias="universalUpscaler")


class Variation(_Response):
    """One item of ``GET /variations/{id}``: ``url`` is set once it is COMPLETE.

    ``transform_type`` is documented as OUTPAINT, INPAINT, UPSCALE, UNZOOM or NOBG; kept as
    text so a type Leonardo adds (the universal upscaler's) does not make polling fail."""

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


class CanvasUploadSlots(NamedTuple):
    """The canvas pair's two presigned uploads; unpacks as ``init, mask``."""

    init: InitImageUpload
    mask: InitImageUpload


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

    _slots: CanvasUploadSlots = PrivateAttr()

    @model_validator(mode="after")
    def _slots_are_usable(self) -> CanvasUpload:
        # Parsed with the answer, so unusable details are a malformed answer (asked again), not a
        # failure after the call; the message never echoes the fields (they hold the signature).
        try:
            init, mask = (
                InitImageUpload.model_validate({"id": i, "url": u, "key": k, "fields": f})
                for i, u, k, f in (
                    (self.init_image_id, self.init_url, self.init_key, self.init_fields),
                    (self.mask_image_id, self.mask_url, self.mask_key, self.mask_fields),
                )
            )
        except ValidationError:
            raise ValueError("the presigned upload details are not usable") from None
        self._slots = CanvasUploadSlots(init=init, mask=mask)
        return self

    def slots(self) -> CanvasUploadSlots:
        """Each file's slot in the shape `send_init_image` posts to: (init, mask)."""
        return self._slots


class CanvasUploadEnvelope(_Response):
    conceals_body = True
    upload: CanvasUpload = Field(alias="uploadCanvasInitImage")


class PromptImproveRequest(_Request):
    """Body of ``POST /prompt/improve``."""

    prompt: str = Field(min_length=1)
    prompt_instructions: str | None = Field(default=None, alias="promptInstructions")
    is_video: bool | None = Field(default=None, alias="isVideo")


class PromptGeneration(Priced):
    """A prompt tool's answer: the prompt, and what it cost (:attr:`cost`)."""

    prompt: str = Field(min_length=1)


class PromptEnvelope(_Response):
    prompt_generation: PromptGeneration = Field(alias="promptGeneration")

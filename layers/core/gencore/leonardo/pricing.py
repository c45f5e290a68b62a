"""Typed bodies of ``POST /pricing-calculator`` (the pricing-calculator document).

The document's schema and its example disagree on the request: the schema names the parameters
after the service, ``{"service": "IMAGE_GENERATION", "serviceParams": {"IMAGE_GENERATION": {...}}}``
with model flags (``isSDXL``...), the example sends ``serviceParams.imageGenerationParams`` with a
``modelId``. We send the schema's shape. The answer's ``cost`` is an integer in the schema
(credits) and a fraction in the example (an account billed in dollars): read as a Decimal in the
account's unit, which the answer does not name.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .models import _amount, _Request, _Response

PricingService = Literal[
    "IMAGE_GENERATION", "FANTASY_AVATAR_GENERATION", "MOTION_SVD_GENERATION", "MOTION_VIDEO_GENERATION",
    "VEO3_MOTION_VIDEO_GENERATION", "LCM_GENERATION", "MODEL_TRAINING", "TEXTURE_GENERATION",
    "UNIVERSAL_UPSCALER", "UNIVERSAL_UPSCALER_ULTRA",
]  # fmt: skip


class ImageGenerationPricing(_Request):
    """``serviceParams.IMAGE_GENERATION``: every property the schema declares, with its ranges."""

    image_width: int = Field(ge=32, le=1024, multiple_of=8, alias="imageWidth")
    image_height: int = Field(ge=32, le=1024, multiple_of=8, alias="imageHeight")
    num_images: int = Field(ge=1, le=8, alias="numImages")
    inference_steps: int | None = Field(default=None, ge=10, le=60, alias="inferenceSteps")
    prompt_magic: bool | None = Field(default=None, alias="promptMagic")
    prompt_magic_strength: float | None = Field(default=None, ge=0.1, le=1.0, alias="promptMagicStrength")
    prompt_magic_version: Literal["v2", "v3"] | None = Field(default=None, alias="promptMagicVersion")
    alchemy_mode: bool | None = Field(default=None, alias="alchemyMode")
    photo_real_mode: bool | None = Field(default=None, alias="photoRealMode")
    # Floats in a Literal: pydantic checks them; PEP 586, and so mypy, does not allow them.
    photo_real_strength: Literal[0.55, 0.5, 0.45] | None = Field(  # type: ignore[valid-type]
        default=None, alias="photoRealStrength"
    )
    photo_real_version: Literal["v1", "v2"] | None = Field(default=None, alias="photoRealVersion")
    high_resolution: bool | None = Field(default=None, alias="highResolution")
    lora_count: int | None = Field(default=None, ge=0, alias="loraCount")
    is_model_custom: bool | None = Field(default=None, alias="isModelCustom")
    controlnets_cost: int | None = Field(default=None, ge=0, alias="controlnetsCost")
    is_phoenix: bool | None = Field(default=None, alias="isPhoenix")
    is_sdxl: bool | None = Field(default=None, alias="isSDXL")
    is_sdxl_lightning: bool | None = Field(default=None, alias="isSDXLLightning")
    is_ultra: bool | None = Field(default=None, alias="isUltra")
    is_flux_schnell: bool | None = Field(default=None, alias="isFluxSchnell")
    is_flux_dev: bool | None = Field(default=None, alias="isFluxDev")
    is_flux_kontext: bool | None = Field(default=None, alias="isFluxKontext")

    @model_validator(mode="after")
    def _large_images_limit_count(self) -> ImageGenerationPricing:
        # numImages: "If either width or height is over 768, must be between 1 and 4."
        if (self.image_width > 768 or self.image_height > 768) and self.num_images > 4:
            raise ValueError("numImages must be at most 4 when imageWidth or imageHeight is over 768")
        return self


# The typed parameters of a service, where we price it; others are sent as given.
TYPED_PARAMS: dict[str, type[_Request]] = {"IMAGE_GENERATION": ImageGenerationPricing}


class PricingRequest(_Request):
    """The body, in the schema's shape: the parameters under the service's own name."""

    service: PricingService
    service_params: dict[str, dict[str, Any]] = Field(alias="serviceParams")

    @classmethod
    def of(cls, service: PricingService, params: dict[str, Any]) -> PricingRequest:
        typed = TYPED_PARAMS.get(service)
        if typed is not None:
            params = typed.model_validate(params).to_payload()
        return cls(service=service, service_params={service: params})


class ServiceCost(_Response):
    cost: Decimal

    @field_validator("cost", mode="before")
    @classmethod
    def _readable_amount(cls, value: Any) -> Decimal:
        amount = _amount(value)
        if amount is None:
            raise ValueError("cost is not a non-negative amount")
        return amount


class PricingEnvelope(_Response):
    # Nullable in the schema: no price for these parameters.
    answer: ServiceCost | None = Field(alias="calculateProductionApiServiceCost")

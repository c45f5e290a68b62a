"""A small, fixed platform-model catalogue (real Leonardo ids and names)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformModel:
    id: str
    name: str
    description: str
    sd_version: str
    featured: bool
    width: int
    height: int


PLATFORM_MODELS: tuple[PlatformModel, ...] = (
    PlatformModel(
        "b24e16ff-06e3-43eb-8d33-4416c2d75876",
        "Leonardo Lightning XL",
        "Our new high-speed generalist image generation model.",
        "SDXL_LIGHTNING",
        True,
        1024,
        1024,
    ),
    PlatformModel(
        "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3",
        "Leonardo Phoenix 1.0",
        "Leonardo's foundational model with exceptional prompt adherence.",
        "PHOENIX",
        True,
        1024,
        1024,
    ),
    PlatformModel(
        "aa77f04e-3eec-4034-9c07-d0f619684628",
        "Leonardo Kino XL",
        "A model with a strong focus on cinematic outputs.",
        "SDXL_1_0",
        True,
        1024,
        1024,
    ),
    PlatformModel(
        "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3",
        "Leonardo Creative",
        "An alternative finetune of SD 2.1 that brings a little more creative interpretation to the mix.",
        "v2",
        False,
        768,
        768,
    ),
)

BY_ID = {model.id: model for model in PLATFORM_MODELS}

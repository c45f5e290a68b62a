"""Variations of one of our images: upscale, unzoom, background removal, universal upscaler.

Each is its own Leonardo route under `/variations/`, answered with a variation id (not a
generation id). Leonardo documents no webhook for them: the reconciler polls `GET /variations/{id}`.
The image is named by Leonardo's id for it (`generated_image_id`), which our job record kept when
the source job's outputs were copied. The universal upscaler also takes one of the caller's uploads
(a kept realtime picture has no Leonardo image id), handed over as an init image (`initImageId`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Kind, LeonardoCall, Refs

# Our universal-upscaler option -> Leonardo's wire name.
UNIVERSAL_UPSCALER_NAMES = {
    "upscaler_style": "upscalerStyle",
    "ultra_style": "ultraUpscaleStyle",
    "creativity_strength": "creativityStrength",
    "detail_contrast": "detailContrast",
    "similarity": "similarity",
    "multiplier": "upscaleMultiplier",
    "prompt": "prompt",
}


def _image(refs: Refs) -> str:
    if not refs.generated_image_id:
        raise ValueError("a variation needs Leonardo's id of the source image")
    return refs.generated_image_id


def upscale_call(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
    return LeonardoCall(route="/variations/upscale", body={"id": _image(refs)})


def _of_image_or_variation(route: str) -> Callable[[dict[str, Any], Refs, int | None], LeonardoCall]:
    """unzoom and nobg take a generated image or, with `isVariation`, another variation's output."""

    def build(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
        return LeonardoCall(route=route, body={"id": _image(refs), "isVariation": refs.from_variation})

    return build


def universal_upscale_call(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
    body = {
        wire: request[ours]
        for ours, wire in UNIVERSAL_UPSCALER_NAMES.items()
        if request.get(ours) is not None
    }
    if refs.init_image_id:  # one of the caller's uploads (a kept realtime picture): an init image
        image = {"initImageId": refs.init_image_id}
    else:
        image = {"variationId" if refs.from_variation else "generatedImageId": _image(refs)}
    return LeonardoCall(route="/variations/universal-upscaler", body=image | body)


KINDS = (
    Kind(name="upscale", remote="variation", build=upscale_call),
    Kind(
        name="unzoom",
        remote="variation",
        build=_of_image_or_variation("/variations/unzoom"),
        takes_variation=True,
    ),
    Kind(
        name="no_background",
        remote="variation",
        build=_of_image_or_variation("/variations/nobg"),
        takes_variation=True,
    ),
    Kind(name="universal_upscale", remote="variation", build=universal_upscale_call, takes_variation=True),
)

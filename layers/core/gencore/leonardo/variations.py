"""Leonardo's variation routes: upscale, unzoom, background removal and the universal upscaler.

Each is billed and asynchronous, answered with a variation id and read back with
``GET /variations/{id}``. The request and answer models live in tools.py.
"""

from __future__ import annotations

from .errors import NotFoundError
from .tools import (
    NobgEnvelope,
    UltraUpscaleStyle,
    UniversalUpscaleEnvelope,
    UniversalUpscaleRequest,
    UnzoomEnvelope,
    UpscaleEnvelope,
    UpscalerStyle,
    Variation,
    VariationEnvelope,
    VariationJob,
    VariationRequest,
)
from .transport import PaidRoutes, path_segment


class VariationCalls(PaidRoutes):
    """LeonardoClient's variation routes (mixed in: it provides `_paid`, sent once, and `_read`)."""

    def create_upscale(self, image_id: str) -> VariationJob:
        body = VariationRequest(id=image_id).to_payload()
        return self._paid("/variations/upscale", UpscaleEnvelope, body).job

    def create_unzoom(self, image_id: str, *, is_variation: bool = False) -> VariationJob:
        body = VariationRequest(id=image_id, is_variation=is_variation).to_payload()
        return self._paid("/variations/unzoom", UnzoomEnvelope, body).job

    def create_no_background(self, image_id: str, *, is_variation: bool = False) -> VariationJob:
        body = VariationRequest(id=image_id, is_variation=is_variation).to_payload()
        return self._paid("/variations/nobg", NobgEnvelope, body).job

    def create_universal_upscale(
        self,
        request: UniversalUpscaleRequest | None = None,
        *,
        generated_image_id: str | None = None,
        init_image_id: str | None = None,
        variation_id: str | None = None,
        upscaler_style: UpscalerStyle | None = None,
        ultra_upscale_style: UltraUpscaleStyle | None = None,
        creativity_strength: int | None = None,
        detail_contrast: int | None = None,
        similarity: int | None = None,
        upscale_multiplier: float | None = None,
        prompt: str | None = None,
    ) -> VariationJob:
        """Upscale one image (exactly one of the three source ids) with the universal upscaler:
        either a built :class:`UniversalUpscaleRequest` or its options as keywords."""
        options = {
            "generated_image_id": generated_image_id,
            "init_image_id": init_image_id,
            "variation_id": variation_id,
            "upscaler_style": upscaler_style,
            "ultra_upscale_style": ultra_upscale_style,
            "creativity_strength": creativity_strength,
            "detail_contrast": detail_contrast,
            "similarity": similarity,
            "upscale_multiplier": upscale_multiplier,
            "prompt": prompt,
        }
        given = {name: value for name, value in options.items() if value is not None}
        if request is not None and given:
            raise ValueError("pass a UniversalUpscaleRequest or its options, not both")
        body = (request or UniversalUpscaleRequest.model_validate(given)).to_payload()
        return self._paid("/variations/universal-upscaler", UniversalUpscaleEnvelope, body).job

    def get_variation(self, variation_id: str) -> Variation:
        envelope = self._read("GET", f"/variations/{path_segment(variation_id)}", VariationEnvelope)
        if not envelope.generated_image_variation_generic:
            raise NotFoundError("Leonardo has no such variation", status=200)
        return envelope.generated_image_variation_generic[0]

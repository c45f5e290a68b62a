"""Leonardo's realtime canvas (LCM) routes (the realtime-canvas OpenAPI document): generate from a
sketch, refine it, inpaint it with a mask, upscale it. Synchronous and billed: the answer carries
the picture itself (`imageDataUrl`, base64 data URLs), so a call is sent once and never again after
it may have reached Leonardo (DECISIONS.md: synchronous paid calls are never retried after sending).

Same conventions as models.py: wire names as aliases, requests forbid unknown fields (with the
document's ranges), responses ignore them but require every field we read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .models import Priced, _Request, _Response
from .transport import PaidRoutes

LcmStyle = Literal[
    "ANIME", "CINEMATIC", "DIGITAL_ART", "DYNAMIC", "ENVIRONMENT", "FANTASY_ART", "ILLUSTRATION",
    "PHOTOGRAPHY", "RENDER_3D", "RAYTRACED", "SKETCH_BW", "SKETCH_COLOR", "VIBRANT", "NONE",
]  # fmt: skip
LcmSide = Literal[512, 640, 1024]


class LcmRequest(_Request):
    """Body of ``POST /generations-lcm`` and ``/lcm-instant-refine``."""

    image_data_url: str = Field(alias="imageDataUrl", min_length=1)
    prompt: str = Field(min_length=1)
    guidance: float | None = Field(default=None, ge=0.5, le=20)
    strength: float | None = Field(default=None, ge=0.1, le=1)
    request_timestamp: str | None = Field(default=None, alias="requestTimestamp")
    style: LcmStyle | None = None
    steps: int | None = Field(default=None, ge=4, le=16)
    width: LcmSide | None = None
    height: LcmSide | None = None
    seed: int | None = Field(default=None, ge=0, le=9_999_999_998)


class LcmInpaintingRequest(LcmRequest):
    """Body of ``POST /lcm-inpainting``: the picture and the mask of the area to paint."""

    mask_data_url: str = Field(alias="maskDataUrl", min_length=1)


class LcmUpscaleRequest(LcmRequest):
    """Body of ``POST /lcm-upscale``."""

    refine_creative: bool | None = Field(default=None, alias="refineCreative")
    refine_strength: float | None = Field(default=None, ge=0.5, le=0.9, alias="refineStrength")


class LcmJob(Priced):
    """``lcmGenerationJob``: the pictures (data URLs) and what the call cost."""

    image_data_url: list[str] = Field(alias="imageDataUrl", min_length=1)
    request_timestamp: str | None = Field(default=None, alias="requestTimestamp")


class LcmEnvelope(_Response):
    job: LcmJob = Field(alias="lcmGenerationJob")


LCM_ROUTES: dict[str, type[LcmRequest]] = {
    "/generations-lcm": LcmRequest,
    "/lcm-instant-refine": LcmRequest,
    "/lcm-inpainting": LcmInpaintingRequest,
    "/lcm-upscale": LcmUpscaleRequest,
}


class RealtimeCalls(PaidRoutes):
    """LeonardoClient's realtime canvas routes (mixed in: it provides `_paid`, one attempt)."""

    def realtime(self, route: str, body: dict[str, Any]) -> LcmJob:
        """One realtime canvas call (billed, synchronous, sent once): the pictures it made."""
        request = LCM_ROUTES[route].model_validate(body)
        return self._paid(route, LcmEnvelope, request.to_payload()).job

"""Leonardo's motion routes (the motion OpenAPI document): text-to-video, image-to-video, and the
SVD motion of one image. Each is billed and asynchronous, answered with a generation id; the video
is read back with ``GET /generations/{id}`` (the generated image's ``motionMP4URL``).

Where the shared material disagrees with itself we follow the schemas and take both spellings
Leonardo may send:
- image-to-video's example answers ``motionSvdGenerationJob`` while its schema says
  ``motionVideoGenerationJob``: both keys are read, on every motion route;
- an example says ``"VEO_3"``, the enum ``VEO3``: the enum's names are the only ones sent;
- ``duration`` is documented on VEO3 / VEO3FAST (4, 6, 8) and KLING2_5 (5, 10) only: it is sent
  only there (the request model of our API refuses it elsewhere).

Same conventions as models.py: wire names as aliases, requests forbid unknown fields, responses
ignore them but require every field we read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from .models import ElementInput, GenerationJob, _Request, _Response
from .transport import PaidRoutes

# In domain/video_catalog.py's order: Literals of the same values are equal, and pydantic's schema
# of whichever it meets first is reused for the other, so docs/openapi.json would follow import order.
VideoModel = Literal["MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5"]
VideoResolution = Literal["RESOLUTION_480", "RESOLUTION_720", "RESOLUTION_1080"]
ImageType = Literal["GENERATED", "UPLOADED"]


class _VideoRequest(_Request):
    prompt: str = Field(min_length=1)
    negative_prompt: str | None = Field(default=None, alias="negativePrompt")
    model: VideoModel | None = None
    resolution: VideoResolution | None = None
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    duration: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0)
    frame_interpolation: bool | None = Field(default=None, alias="frameInterpolation")
    prompt_enhance: bool | None = Field(default=None, alias="promptEnhance")
    is_public: bool | None = Field(default=None, alias="isPublic")
    style_ids: list[str] | None = Field(default=None, alias="styleIds")
    elements: list[ElementInput] | None = None


class TextToVideoRequest(_VideoRequest):
    """Body of ``POST /generations-text-to-video``."""


class FrameImage(_Request):
    id: str = Field(min_length=1)
    type: ImageType


class ImageToVideoRequest(_VideoRequest):
    """Body of ``POST /generations-image-to-video``: one of our images (GENERATED) or an init image
    (UPLOADED) as the first frame."""

    image_id: str = Field(alias="imageId", min_length=1)
    image_type: ImageType = Field(alias="imageType")
    end_frame_image: FrameImage | None = Field(default=None, alias="endFrameImage")


class MotionSvdRequest(_Request):
    """Body of ``POST /generations-motion-svd``: animate one image."""

    image_id: str = Field(alias="imageId", min_length=1)
    is_init_image: bool | None = Field(default=None, alias="isInitImage")
    is_variation: bool | None = Field(default=None, alias="isVariation")
    motion_strength: int | None = Field(default=None, ge=1, le=10, alias="motionStrength")
    is_public: bool | None = Field(default=None, alias="isPublic")


class MotionJobEnvelope(_Response):
    """Either spelling of the motion routes' answer (see the module)."""

    job: GenerationJob = Field(
        validation_alias=AliasChoices("motionVideoGenerationJob", "motionSvdGenerationJob")
    )


MOTION_ROUTES: dict[str, type[_Request]] = {
    "/generations-text-to-video": TextToVideoRequest,
    "/generations-image-to-video": ImageToVideoRequest,
    "/generations-motion-svd": MotionSvdRequest,
}


class MotionCalls(PaidRoutes):
    """LeonardoClient's motion routes (mixed in: it provides `_paid`, one attempt, never resent)."""

    def create_video(self, route: str, body: dict[str, Any]) -> GenerationJob:
        """Start a video generation on one of the motion routes (billed, sent once)."""
        request = MOTION_ROUTES[route].model_validate(body)
        return self._paid(route, MotionJobEnvelope, request.to_payload()).job

"""Video jobs: a clip from text, from one of the caller's images, or the SVD motion of an image.

Each is one of Leonardo's motion routes (leonardo/motion.py), answered with a generation id. The
motion document has no GET and no webhook of its own: we assume, and write down, that a video's
generation is read with `GET /generations/{id}` (its image's `motionMP4URL`) and that no callback
announces it, so the reconciler polls it (remote "video"). Leonardo's list is not known to echo a
video's request, so an unanswered POST cannot be recognised there: the job fails
`submit_outcome_unknown` instead of paying twice (DECISIONS.md, the submit protocol).

The image a clip starts from goes to Leonardo as it knows it: one of our outputs by its generated
image id (`imageType: GENERATED`), one of the caller's uploads as an init image (`UPLOADED`, handed
over at submit like any upload). image-to-video takes only those two; the SVD motion also takes a
variation's output (`isVariation`).
"""

from __future__ import annotations

from typing import Any

from ..video_catalog import RESOLUTIONS
from .base import Kind, LeonardoCall, Refs

# Our field -> Leonardo's, for the options both video routes take.
VIDEO_NAMES = {
    "prompt": "prompt",
    "negative_prompt": "negativePrompt",
    "model": "model",
    "width": "width",
    "height": "height",
    "duration": "duration",
    "frame_interpolation": "frameInterpolation",
    "prompt_enhance": "promptEnhance",
}


def _options(request: dict[str, Any], seed: int | None) -> dict[str, Any]:
    body = {wire: request[ours] for ours, wire in VIDEO_NAMES.items() if request.get(ours) is not None}
    if request.get("resolution"):
        body["resolution"] = RESOLUTIONS[request["resolution"]]
    if seed is not None:
        body["seed"] = seed
    body["isPublic"] = False  # our users' clips never go to Leonardo's community feed
    return body


def _image(refs: Refs) -> tuple[str, str]:
    """(Leonardo's id of the first frame, its imageType)."""
    if refs.generated_image_id:
        return refs.generated_image_id, "GENERATED"
    if refs.init_image_id:
        return refs.init_image_id, "UPLOADED"
    raise ValueError("an image-to-video job needs its source image's Leonardo id")


def text_to_video_call(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
    return LeonardoCall(route="/generations-text-to-video", body=_options(request, seed))


def image_to_video_call(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
    image_id, image_type = _image(refs)
    body = _options(request, seed) | {"imageId": image_id, "imageType": image_type}
    return LeonardoCall(route="/generations-image-to-video", body=body)


def motion_call(request: dict[str, Any], refs: Refs, seed: int | None) -> LeonardoCall:
    image_id, image_type = _image(refs)
    body: dict[str, Any] = {"imageId": image_id, "isPublic": False}
    if image_type == "UPLOADED":
        body["isInitImage"] = True
    if refs.from_variation:
        body["isVariation"] = True
    if request.get("motion_strength") is not None:
        body["motionStrength"] = request["motion_strength"]
    return LeonardoCall(route="/generations-motion-svd", body=body)


KINDS = (
    Kind(name="text_to_video", remote="video", build=text_to_video_call, output="video", pool="video"),
    Kind(name="image_to_video", remote="video", build=image_to_video_call, output="video", pool="video"),
    Kind(
        name="motion", remote="video", build=motion_call, output="video", pool="video", takes_variation=True
    ),
)

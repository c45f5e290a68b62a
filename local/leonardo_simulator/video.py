"""Video generations: the motion document's three creates, checked field by field, and the clip the
CDN serves for each (a real, playable MP4 of JPEG frames, mp4.py).

- `POST /generations-text-to-video` (`prompt` required) and `POST /generations-image-to-video`
  (`prompt`, `imageId`, `imageType` GENERATED | UPLOADED required) answer
  `{"motionVideoGenerationJob": {"generationId", "apiCreditCost", "cost"}}`;
- `POST /generations-motion-svd` (`imageId` required; `isInitImage` / `isVariation` say what it is;
  `motionStrength`) answers `{"motionSvdGenerationJob": {...}}`.

The motion document has no GET of its own: a video is a generation, read with
`GET /generations/{id}`, whose one generated image carries the clip as `motionMP4URL` (the image
document's field) and a poster frame as `url`. The rules between fields come from the document's
field descriptions; docs/leonardo-simulator.md lists each, and the choices made where the shared
material disagrees with itself.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageChops, ImageDraw

from . import errors
from .mp4 import mjpeg_mp4
from .validation import Field, check_field

TEXT_TO_VIDEO = "/generations-text-to-video"
IMAGE_TO_VIDEO = "/generations-image-to-video"
MOTION_SVD = "/generations-motion-svd"
# route -> (the job kind, the answer's envelope key: the schemas', not the example's).
VIDEO_ROUTES: dict[str, tuple[str, str]] = {
    TEXT_TO_VIDEO: ("text_to_video", "motionVideoGenerationJob"),
    IMAGE_TO_VIDEO: ("image_to_video", "motionVideoGenerationJob"),
    MOTION_SVD: ("motion_svd", "motionSvdGenerationJob"),
}
MODELS = ("MOTION2", "VEO3", "MOTION2FAST", "VEO3FAST", "KLING2_1", "KLING2_5")  # the enum, as spelled
DEFAULT_MODEL = "MOTION2"  # "Defaults to MOTION2 if not specified."
RESOLUTIONS = {"RESOLUTION_480": (832, 480), "RESOLUTION_720": (1280, 720), "RESOLUTION_1080": (1920, 1080)}
IMAGE_TYPES = frozenset({"GENERATED", "UPLOADED"})

# Only the models a description names; elsewhere nothing is refused.
# `seed`: "The maximum seed value is 2147483637 for Motion 2.0 and 4294967293 for Veo3."
SEED_CAPS = {"MOTION2": 2_147_483_637, "MOTION2FAST": 2_147_483_637, "VEO3": 4_294_967_293,
             "VEO3FAST": 4_294_967_293}  # fmt: skip
# `duration`, per route: text-to-video "Allowed values: 4, 6, or 8. Supported on models VEO3 and
# VEO3FAST"; image-to-video "4, 6, or 8 on models VEO3 and VEO3FAST (default: 8) and 5 or 10 on model
# KLING2_5 (default: 5)". model -> (allowed, default).
DURATIONS: dict[str, dict[str, tuple[tuple[int, ...], int]]] = {
    TEXT_TO_VIDEO: {"VEO3": ((4, 6, 8), 8), "VEO3FAST": ((4, 6, 8), 8)},
    IMAGE_TO_VIDEO: {"VEO3": ((4, 6, 8), 8), "VEO3FAST": ((4, 6, 8), 8), "KLING2_5": ((5, 10), 5)},
}
FIXED_SECONDS = 5  # ours: a model without a `duration` makes 5 s clips (Motion 2.0's length)
SVD_SECONDS = 4  # ours: an SVD clip
# `resolution`: "Acceptable values vary based on model"; the pricing calculator document names them for
# Motion 2.0 ("Must be RESOLUTION_480 or RESOLUTION_720") and Veo3 ("Supported resolution for VEO3 is
# RESOLUTION_720"). Leonardo's Motion 2.0 guide: "Defaults to RESOLUTION_480".
MODEL_RESOLUTIONS = {
    "MOTION2": ("RESOLUTION_480", "RESOLUTION_720"),
    "MOTION2FAST": ("RESOLUTION_480", "RESOLUTION_720"),
    "VEO3": ("RESOLUTION_720",),
    "VEO3FAST": ("RESOLUTION_720",),
}
DEFAULT_RESOLUTION = {"MOTION2": "RESOLUTION_480", "MOTION2FAST": "RESOLUTION_480"}  # others: 720
END_FRAME_MODELS = frozenset({"KLING2_1"})  # "Supported only on kling2_1 model"
ELEMENT_MODELS = frozenset({"MOTION2", "MOTION2FAST"})  # "only supported for Motion2.0 generations"
MOTION_STRENGTH = (1, 10)  # ours: Leonardo's app offers 1..10; the document gives no range
DEFAULT_MOTION_STRENGTH = 5

_VIDEO_FIELDS: dict[str, Field] = {
    "prompt": Field("string"),
    "resolution": Field("string", enum=frozenset(RESOLUTIONS)),
    "model": Field("string", enum=frozenset(MODELS)),
    "frameInterpolation": Field("boolean"),
    "isPublic": Field("boolean"),
    "seed": Field("integer", 0),
    "negativePrompt": Field("string"),
    "promptEnhance": Field("boolean"),
    "promptEnhanceInstruction": Field("string"),
    "styleIds": Field("array", items="string"),
    "height": Field("integer", 1),
    "width": Field("integer", 1),
    "duration": Field("integer"),
    "elements": Field("array", items="object", item_required=("akUUID",)),
}
FIELDS: dict[str, dict[str, Field]] = {
    TEXT_TO_VIDEO: _VIDEO_FIELDS,
    IMAGE_TO_VIDEO: {
        **_VIDEO_FIELDS,
        "imageId": Field("string"),
        "imageType": Field("string", enum=IMAGE_TYPES),
        "endFrameImage": Field("object"),
    },
    MOTION_SVD: {
        "imageId": Field("string"),
        "isPublic": Field("boolean"),
        "isInitImage": Field("boolean"),
        "isVariation": Field("boolean"),
        "motionStrength": Field("integer"),
    },
}
REQUIRED = {
    TEXT_TO_VIDEO: ("prompt",),
    IMAGE_TO_VIDEO: ("prompt", "imageId", "imageType"),
    MOTION_SVD: ("imageId",),
}
# Hasura's input type names, for the unknown-field message.
INPUT_TYPES = {TEXT_TO_VIDEO: "TextToVideoGenerationInput", IMAGE_TO_VIDEO: "ImageToVideoGenerationInput",
               MOTION_SVD: "SVDMotionGenerationInput"}  # fmt: skip


@dataclass(frozen=True)
class VideoRequest:
    """An accepted video create: its body, and what it means (defaults applied)."""

    route: str
    body: dict[str, Any]
    model: str | None
    resolution: str | None
    duration_seconds: int
    source_id: str | None
    source_type: str | None  # GENERATED | UPLOADED | VARIATION
    motion_strength: int | None

    @property
    def kind(self) -> str:
        return VIDEO_ROUTES[self.route][0]


def validate_video_request(route: str, body: Any, strict: bool) -> VideoRequest:
    """The accepted request (unknown fields dropped when not strict), or Leonardo's 400."""
    if not isinstance(body, dict):
        raise errors.validation("expected an object for the request body")
    fields = FIELDS[route]
    unknown = [key for key in body if key not in fields]
    if strict and unknown:
        raise errors.validation(f"field '{unknown[0]}' not found in type: '{INPUT_TYPES[route]}'", unknown[0])
    accepted = {key: value for key, value in body.items() if key in fields}
    for name in REQUIRED[route]:
        if accepted.get(name) is None:
            raise errors.validation(f"missing required field '{name}'", name)
    for name, value in accepted.items():
        if value is None:
            continue
        if name == "endFrameImage":
            _check_end_frame(value)
        elif name == "elements":
            check_field(name, fields[name], value)
            _check_elements(value)
        else:
            check_field(name, fields[name], value)
    if route == MOTION_SVD:
        return _svd_request(accepted)
    if not accepted["prompt"].strip():
        raise errors.validation("'prompt' must not be empty", "prompt")
    model = accepted.get("model") or DEFAULT_MODEL
    seed = accepted.get("seed")
    if seed is not None and model in SEED_CAPS and seed > SEED_CAPS[model]:
        raise errors.validation(f"the maximum seed value is {SEED_CAPS[model]} for {model}", "seed")
    resolution = accepted.get("resolution") or DEFAULT_RESOLUTION.get(model, "RESOLUTION_720")
    allowed = MODEL_RESOLUTIONS.get(model)
    if allowed is not None and resolution not in allowed:
        raise errors.validation(f"{model} supports {' and '.join(allowed)} only", "resolution")
    durations = DURATIONS[route].get(model)
    duration = accepted.get("duration")
    if duration is not None:
        if durations is None:
            models = " and ".join(DURATIONS[route])
            raise errors.validation(f"duration is supported on models {models} only", "duration")
        if duration not in durations[0]:
            values = ", ".join(map(str, durations[0]))
            raise errors.validation(f"duration must be one of {values} on {model}", "duration")
    seconds = duration or (durations[1] if durations else FIXED_SECONDS)
    if accepted.get("endFrameImage") is not None and model not in END_FRAME_MODELS:
        raise errors.validation("endFrameImage is supported only on the KLING2_1 model", "endFrameImage")
    if accepted.get("elements") and model not in ELEMENT_MODELS:
        raise errors.validation("elements are only supported for Motion 2.0 generations", "elements")
    source_id = accepted.get("imageId")
    return VideoRequest(
        route, accepted, model, resolution, seconds, source_id, accepted.get("imageType"), None
    )


def _svd_request(accepted: dict[str, Any]) -> VideoRequest:
    if accepted.get("isInitImage") and accepted.get("isVariation"):
        raise errors.validation("an image is either an init image or a variation, not both", "isVariation")
    strength = accepted.get("motionStrength")
    low, high = MOTION_STRENGTH
    if strength is not None and not low <= strength <= high:
        raise errors.validation(f"'motionStrength' must be between {low} and {high}", "motionStrength")
    source_type = "GENERATED"
    if accepted.get("isInitImage"):
        source_type = "UPLOADED"
    elif accepted.get("isVariation"):
        source_type = "VARIATION"
    return VideoRequest(
        MOTION_SVD, accepted, None, None, SVD_SECONDS, accepted["imageId"], source_type,
        strength if strength is not None else DEFAULT_MOTION_STRENGTH,
    )  # fmt: skip


def _check_end_frame(value: Any) -> None:
    if not isinstance(value, dict):
        raise errors.validation("expected Object for field 'endFrameImage'", "endFrameImage")
    for name in ("id", "type"):
        if value.get(name) is None:
            raise errors.validation(f"missing required field '{name}'", f"endFrameImage.{name}")
        if not isinstance(value[name], str):
            raise errors.validation(f"expected String for field '{name}'", f"endFrameImage.{name}")
    if value["type"] not in IMAGE_TYPES:
        message = f"unexpected value {value['type']!r} for enum field 'type'"
        raise errors.validation(message, "endFrameImage.type")
    unknown = sorted(set(value) - {"id", "type"})
    if unknown:
        raise errors.validation(f"unexpected field {unknown[0]!r}", f"endFrameImage.{unknown[0]}")


def _check_elements(elements: list[dict[str, Any]]) -> None:
    for i, element in enumerate(elements):
        if not isinstance(element["akUUID"], str):
            raise errors.validation("expected String for field 'akUUID'", f"elements[{i}].akUUID")
        weight = element.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int | float)):
            raise errors.validation("expected Float for field 'weight'", f"elements[{i}].weight")


def output_size(request: VideoRequest, source_size: tuple[int, int] | None) -> tuple[int, int]:
    """The video's size: `width`/`height` when given, else the resolution's (turned upright for an
    upright source); an SVD clip has its source's size."""
    if request.route == MOTION_SVD:
        return source_size or RESOLUTIONS["RESOLUTION_720"]
    width, height = RESOLUTIONS[request.resolution or "RESOLUTION_720"]
    if source_size is not None and source_size[1] > source_size[0]:
        width, height = height, width
    return request.body.get("width") or width, request.body.get("height") or height


# -- the clip --------------------------------------------------------------------

FRAMES = 12
MAX_CLIP_SIDE = 320  # the frames are a stand-in: small, the video's aspect ratio kept
JPEG_QUALITY = 80


def clip_size(width: int, height: int) -> tuple[int, int]:
    """The frames' size: the video's, scaled down so the longer side is at most MAX_CLIP_SIDE, even."""
    scale = min(1.0, MAX_CLIP_SIDE / max(width, height))
    return max(16, round(width * scale / 2) * 2), max(16, round(height * scale / 2) * 2)


def clip_key(text: str, seed: int, spec_words: str, source_sha256: str) -> bytes:
    return hashlib.sha256(f"{text}\x00{seed}\x00{spec_words}\x00{source_sha256}".encode()).digest()


@lru_cache(maxsize=16)  # players and copiers fetch a clip more than once
def render_clip(
    key: bytes, width: int, height: int, seconds: int, motion: int, source: bytes | None = None
) -> tuple[bytes, bytes]:
    """(the MP4, its first frame as a JPEG poster): FRAMES frames of `width` x `height` over `seconds`.

    Each frame is the source picture (or, from text, a gradient in two colours from `key`) panned by
    `motion` steps per frame, a disc in a third colour crossing it, and the frame's number."""
    base = _base_picture(key, width, height, source)
    disc = (key[6], key[7], key[8])
    radius = max(3, min(width, height) // 8)
    frames = []
    for index in range(FRAMES):
        shift = round(index * motion * width / (FRAMES * 20))
        frame = ImageChops.offset(base, shift, 0)
        draw = ImageDraw.Draw(frame)
        x = radius + (width - 2 * radius) * index // max(1, FRAMES - 1)
        y = height // 2
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=disc, outline=(255, 255, 255))
        draw.rectangle((0, 0, 44, 14), fill=(0, 0, 0))
        draw.text((3, 2), f"{index + 1:02d}/{FRAMES}", fill=(255, 255, 255))
        out = io.BytesIO()
        frame.save(out, format="JPEG", quality=JPEG_QUALITY)
        frames.append(out.getvalue())
    return mjpeg_mp4(frames, width, height, seconds * 1000), frames[0]


def _base_picture(key: bytes, width: int, height: int, source: bytes | None) -> Image.Image:
    if source is not None:
        try:
            with Image.open(io.BytesIO(source)) as picture:
                return picture.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
        except (OSError, ValueError):
            pass  # an upload Pillow cannot read: animate a gradient instead
    strip = Image.new("RGB", (1, 2))
    strip.putpixel((0, 0), (key[0], key[1], key[2]))
    strip.putpixel((0, 1), (key[3], key[4], key[5]))
    return strip.resize((width, height), Image.Resampling.BILINEAR)

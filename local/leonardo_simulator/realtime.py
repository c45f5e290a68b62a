"""The realtime canvas (LCM): four synchronous routes that answer with the picture itself.

`POST /generations-lcm`, `/lcm-instant-refine`, `/lcm-inpainting` and `/lcm-upscale` take a
base64 data URL (`imageDataUrl`, plus `maskDataUrl` for inpainting) and a prompt, and answer
`{"lcmGenerationJob": {"imageDataUrl": ["data:image/jpeg;base64,..."], "requestTimestamp",
"apiCreditCost", "cost"}}` after `lcm_answer_seconds`: no job, no id, no CDN. The caps are the
document's field descriptions; the picture is the input blended with a pattern drawn from (route,
prompt, seed, style), by `strength`, and through the mask for inpainting, so the same call gives
the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from . import errors
from .pricing import lcm_credits
from .validation import Field, check_field

GENERATE, INSTANT_REFINE, INPAINTING, UPSCALE = (
    "/generations-lcm", "/lcm-instant-refine", "/lcm-inpainting", "/lcm-upscale"
)  # fmt: skip
LCM_ROUTES = (GENERATE, INSTANT_REFINE, INPAINTING, UPSCALE)
STYLES = frozenset({
    "ANIME", "CINEMATIC", "DIGITAL_ART", "DYNAMIC", "ENVIRONMENT", "FANTASY_ART", "ILLUSTRATION",
    "PHOTOGRAPHY", "RENDER_3D", "RAYTRACED", "SKETCH_BW", "SKETCH_COLOR", "VIBRANT", "NONE",
})  # fmt: skip
SIDES = (512, 640, 1024)  # width, height: "Must be 512, 640 or 1024."
DEFAULT_SIDE = 512
DEFAULT_STRENGTH = {GENERATE: 0.65, INSTANT_REFINE: 0.35, INPAINTING: 0.8, UPSCALE: 0.35}  # ours
UPSCALE_FACTOR = 2  # ours: an Alchemy upscale answers twice the requested size
# The document's prefix is `data:image/jpeg;base64,`; a PNG canvas is taken too (a browser canvas gives
# either), anything else is refused.
DATA_URL_PREFIXES = ("data:image/jpeg;base64,", "data:image/jpg;base64,", "data:image/png;base64,")
JPEG_QUALITY = 85

_COMMON: dict[str, Field] = {
    "imageDataUrl": Field("string"),
    "prompt": Field("string"),
    "guidance": Field("number", 0.5, 20),  # "Must be a float between 0.5 and 20."
    "strength": Field("number", 0.1, 1),  # "Must be a float between 0.1 and 1."
    "requestTimestamp": Field("string"),
    "style": Field("string", enum=STYLES),
    "steps": Field("integer", 4, 16),  # "Must be between 4 and 16."
    "width": Field("integer", check=lambda v: None if v in SIDES else "must be 512, 640 or 1024"),
    "height": Field("integer", check=lambda v: None if v in SIDES else "must be 512, 640 or 1024"),
    "seed": Field("integer", 0, 9_999_999_998),  # "9999999998 for other models" (LCM is not Flux)
}
FIELDS: dict[str, dict[str, Field]] = {
    GENERATE: _COMMON,
    INSTANT_REFINE: _COMMON,
    INPAINTING: {**_COMMON, "maskDataUrl": Field("string")},
    UPSCALE: {
        **_COMMON,
        "refineCreative": Field("boolean"),
        "refineStrength": Field("number", 0.5, 0.9),  # "Must be a float between 0.5 and 0.9."
    },
}
REQUIRED = {
    GENERATE: ("imageDataUrl", "prompt"),
    INSTANT_REFINE: ("imageDataUrl", "prompt"),
    INPAINTING: ("imageDataUrl", "maskDataUrl", "prompt"),
    UPSCALE: ("imageDataUrl", "prompt"),
}
# Fields the document marks `nullable: false`: a null there is a type error, not an omission.
NOT_NULLABLE = frozenset({"imageDataUrl", "maskDataUrl", "prompt", "requestTimestamp"})


@dataclass(frozen=True)
class LcmRequest:
    route: str
    body: dict[str, Any]
    image: bytes  # the decoded imageDataUrl
    mask: bytes | None  # the decoded maskDataUrl (inpainting)
    width: int
    height: int

    @property
    def credits(self) -> int:
        return lcm_credits(
            self.width, self.height, instant_refine=self.route == INSTANT_REFINE, refine=self.route == UPSCALE
        )


def validate_lcm_request(route: str, body: Any, strict: bool) -> LcmRequest:
    """The accepted call (unknown fields dropped when not strict), or Leonardo's 400."""
    if not isinstance(body, dict):
        raise errors.validation("expected an object for the request body")
    fields = FIELDS[route]
    unknown = [key for key in body if key not in fields]
    if strict and unknown:
        raise errors.validation(f"field '{unknown[0]}' not found in type: 'LcmGenerationInput'", unknown[0])
    accepted = {key: value for key, value in body.items() if key in fields}
    for name in REQUIRED[route]:
        if name not in accepted:
            raise errors.validation(f"missing required field '{name}'", name)
    for name, value in accepted.items():
        if value is None and name not in NOT_NULLABLE:
            continue
        if value is None:
            raise errors.validation(f"expected String for field '{name}', got null", name)
        check_field(name, fields[name], value)
    if not accepted["prompt"].strip():
        raise errors.validation("'prompt' must not be empty", "prompt")
    image = _decode_data_url(accepted["imageDataUrl"], "imageDataUrl")
    mask = _decode_data_url(accepted["maskDataUrl"], "maskDataUrl") if route == INPAINTING else None
    width = accepted.get("width") or DEFAULT_SIDE
    height = accepted.get("height") or DEFAULT_SIDE
    return LcmRequest(route, accepted, image, mask, width, height)


def _decode_data_url(value: str, name: str) -> bytes:
    prefix = next((p for p in DATA_URL_PREFIXES if value.startswith(p)), None)
    if prefix is None:
        message = f"'{name}' must be a base64 data URL starting with data:image/jpeg;base64,"
        raise errors.validation(message, name)
    try:
        raw = base64.b64decode(value[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise errors.validation(f"'{name}' is not valid base64", name) from None
    try:
        with Image.open(io.BytesIO(raw)) as picture:
            picture.verify()
    except (OSError, ValueError, SyntaxError):
        raise errors.validation(f"'{name}' is not a readable image", name) from None
    return raw


def render(request: LcmRequest) -> bytes:
    """The answer's JPEG: the input at the output size, blended by `strength` with a pattern drawn
    from (route, prompt, seed, style); inpainting changes only the mask's white area."""
    body = request.body
    width, height = request.width, request.height
    if request.route == UPSCALE:
        width, height = width * UPSCALE_FACTOR, height * UPSCALE_FACTOR
    source = _picture(request.image, width, height)
    words = f"{request.route}\x00{body['prompt']}\x00{body.get('seed')}\x00{body.get('style')}"
    digest = hashlib.sha256(words.encode()).digest()
    pattern = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(pattern)
    for i in range(4):
        b = digest[3 + i * 6 : 9 + i * 6]
        x0, y0 = b[0] * width // 256, b[1] * height // 256
        x1, y1 = x0 + max(8, b[2] * width // 384), y0 + max(8, b[3] * height // 384)
        (draw.ellipse if i % 2 else draw.rectangle)((x0, y0, x1, y1), fill=(b[4], b[5], b[0] ^ b[5]))
    strength = body.get("strength")
    strength = DEFAULT_STRENGTH[request.route] if strength is None else strength
    blended = Image.blend(source, pattern, float(strength))
    if request.mask is not None:
        mask = _picture(request.mask, width, height).convert("L")
        blended = Image.composite(blended, source, mask)  # white: generated, black: kept
    out = io.BytesIO()
    blended.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _picture(raw: bytes, width: int, height: int) -> Image.Image:
    with Image.open(io.BytesIO(raw)) as picture:
        return picture.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)


def answer(request: LcmRequest, jpeg: bytes, cost: dict[str, Any]) -> dict[str, Any]:
    """`{"lcmGenerationJob": {...}}` as documented. The upscale schema also lists `generationId`,
    `variationId` and `generatedImageId`; the simulator keeps no record they could name, so it sends
    none (the example leaves `generationId` out too): clients must not need them."""
    timestamp = request.body.get("requestTimestamp")
    return {
        "lcmGenerationJob": {
            "imageDataUrl": ["data:image/jpeg;base64," + base64.b64encode(jpeg).decode()],
            "requestTimestamp": timestamp if timestamp is not None else str(int(time.time() * 1000)),
            **cost,
        }
    }

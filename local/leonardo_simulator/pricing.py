"""The simulator's one price list: what a generation, a variation and a prompt tool cost, and what
`POST /pricing-calculator` answers, from the same figures, so the calculator always agrees with
what a create charges (docs/leonardo-simulator.md, "Pricing").

Sources:
- Leonardo's guide "Plan with the Pricing Calculator" (docs.leonardo.ai/docs/plan-with-the-pricing-
  calculator), "Estimated Pricing Table": credits for 4 images at 512x512 and at 1024x1024 per kind
  of model (ROWS), and its "Fixed Costs" (upscale 15, unzoom 15, remove background 5, motion 45,
  3D texturing 150, its preview 30). Its tip: "The cost of generating 1 image versus multiple images
  may be the same".
- Ours, where nothing is published: between and beyond the two sizes the price is linear in the
  pixel count; up to 4 images cost what 4 cost (the tip), more are priced pro rata; a model or
  option the table does not list is priced at its highest row (UNDOCUMENTED); the universal
  upscaler is priced as an upscale; a prompt tool call costs 4; a credit is $0.0012.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from . import errors
from .catalog import sd_version_of

SMALL, LARGE = 512 * 512, 1024 * 1024  # the two sizes the table prices


@dataclass(frozen=True)
class Row:
    """One line of the Estimated Pricing Table: credits for 4 images at 512x512 and at 1024x1024."""

    small: int
    large: int


ROWS: dict[str, Row] = {
    "lightning_xl": Row(15, 40),  # "Lighting SDXL Finetune Model + Alchemy v2 (Leonardo Lightning XL)"
    "sdxl": Row(24, 66),  # "SDXL Finetune Model + Alchemy v2 (Leonardo Diffusion XL)"
    "photoreal_v1": Row(23, 63),  # "PhotoReal v1 + Alchemy v1"
    "sd_alchemy": Row(16, 44),  # "SD Finetune Model + Alchemy v1 (DreamShaper v7)"
    "sd": Row(7, 12),  # "Stable Diffusion 1.5" / "2.1", with or without "PM v2"
    "sd_prompt_magic_v3": Row(24, 63),  # "Stable Diffusion 1.5 + PM v3 + Alchemy" (and 2.1)
}
UNDOCUMENTED = "sdxl"  # the highest row: Phoenix, Flux, Lucid, ultra, photoReal v2's own price, ...

# The fixed costs (Fixed Costs table; the universal upscaler is not there: priced as an upscale).
VARIATION_CREDITS: dict[str, int] = {
    "/variations/upscale": 15,
    "/variations/unzoom": 15,
    "/variations/nobg": 5,
    "/variations/universal-upscaler": 15,
}
MOTION_CREDITS = 45  # "Motion" in the Fixed Costs table: the SVD route
# Video models and the realtime canvas are not in the guide: ours, per second of clip for one model at
# 480p, times a factor per resolution; the LCM routes per call (LCM_CREDITS).
VIDEO_CREDITS_PER_SECOND = {"MOTION2": 20, "MOTION2FAST": 10, "VEO3": 100, "VEO3FAST": 50,
                            "KLING2_1": 40, "KLING2_5": 40}  # fmt: skip
RESOLUTION_FACTOR = {"RESOLUTION_480": 1, "RESOLUTION_720": 2, "RESOLUTION_1080": 3}
LCM_CREDITS, LCM_LARGE_CREDITS = 1, 2  # a 512 or 640 px side / a 1024 px side
LCM_INSTANT_REFINE_CREDITS, LCM_REFINE_CREDITS = 1, 8  # on top: instant refine, Alchemy upscale
TEXTURE_CREDITS, TEXTURE_PREVIEW_CREDITS = 150, 30
PROMPT_CREDITS = 4  # not published
DOLLARS_PER_CREDIT = Decimal("0.0012")  # not published: an account billed in dollars

# sd_version -> row family. Anything else (Phoenix, Flux, Kino 2.0, v3, a model we do not know)
# is UNDOCUMENTED.
_FAMILY = {
    "SDXL_LIGHTNING": "lightning_xl",
    "SDXL_0_8": "sdxl",
    "SDXL_0_9": "sdxl",
    "SDXL_1_0": "sdxl",
    "v1_5": "sd",
    "v2": "sd",
}


def row_for(
    family: str | None,
    *,
    alchemy: bool,
    photo_real: bool,
    photo_real_version: str | None,
    prompt_magic_v3: bool,
) -> str:
    """The table row a generation is priced by. `family` is "lightning_xl", "sdxl", "sd" or None."""
    if photo_real and photo_real_version != "v2":
        return "photoreal_v1"  # v1 runs without a model
    if family in ("lightning_xl", "sdxl"):
        return family
    if family == "sd":
        if prompt_magic_v3:
            return "sd_prompt_magic_v3"
        return "sd_alchemy" if alchemy else "sd"
    return UNDOCUMENTED


def generation_credits(row: str, width: int, height: int, num_images: int) -> int:
    """Credits for one generation: the row's 4-image price at this pixel count (linear through the
    two published sizes), the same up to 4 images, pro rata beyond."""
    prices = ROWS[row]
    per_four = prices.small + Fraction(prices.large - prices.small, LARGE - SMALL) * (width * height - SMALL)
    return max(1, math.ceil(per_four * max(num_images, 4) / 4))


def created_generation_credits(accepted: dict[str, Any], default_model_id: str) -> int:
    """What a `POST /generations` body costs (its omitted fields at the document's defaults)."""
    model_id = (accepted.get("modelId") or default_model_id).lower()
    version = sd_version_of(model_id, accepted.get("sd_version"))
    alchemy = accepted.get("alchemy")
    row = row_for(
        _FAMILY.get(version or ""),
        alchemy=True if alchemy is None else alchemy,
        photo_real=bool(accepted.get("photoReal")),
        photo_real_version=accepted.get("photoRealVersion"),
        prompt_magic_v3=bool(accepted.get("promptMagic")) and accepted.get("promptMagicVersion") == "v3",
    )
    return generation_credits(
        row, accepted.get("width") or 1024, accepted.get("height") or 768, accepted.get("num_images") or 4
    )


def video_credits(model: str | None, resolution: str | None, seconds: int) -> int:
    """What a video create costs: SVD (no model) the guide's fixed "Motion" cost, others ours."""
    if model is None:
        return MOTION_CREDITS
    return VIDEO_CREDITS_PER_SECOND[model] * seconds * RESOLUTION_FACTOR[resolution or "RESOLUTION_720"]


def lcm_credits(width: int, height: int, *, instant_refine: bool = False, refine: bool = False) -> int:
    """One realtime canvas (LCM) call."""
    credits = LCM_LARGE_CREDITS if max(width, height) > 640 else LCM_CREDITS
    return credits + LCM_INSTANT_REFINE_CREDITS * instant_refine + LCM_REFINE_CREDITS * refine


def dollars(credits: int) -> Decimal:
    return Decimal(credits) * DOLLARS_PER_CREDIT


# -- POST /pricing-calculator ---------------------------------------------------

SERVICES = (
    "IMAGE_GENERATION", "FANTASY_AVATAR_GENERATION", "MOTION_SVD_GENERATION", "MOTION_VIDEO_GENERATION",
    "VEO3_MOTION_VIDEO_GENERATION", "LCM_GENERATION", "MODEL_TRAINING", "TEXTURE_GENERATION",
    "UNIVERSAL_UPSCALER", "UNIVERSAL_UPSCALER_ULTRA",
)  # fmt: skip
PRICED_SERVICES = frozenset(
    {"IMAGE_GENERATION", "MOTION_SVD_GENERATION", "MOTION_VIDEO_GENERATION", "VEO3_MOTION_VIDEO_GENERATION",
     "LCM_GENERATION", "TEXTURE_GENERATION", "UNIVERSAL_UPSCALER", "UNIVERSAL_UPSCALER_ULTRA"}
)  # fmt: skip
FAMILY_FLAGS = {
    "isSDXLLightning": "lightning_xl",
    "isSDXL": "sdxl",
    "isPhoenix": None,
    "isFluxSchnell": None,
    "isFluxDev": None,
    "isFluxKontext": None,
}
# name -> (JSON type, nullable); the document's IMAGE_GENERATION properties.
_IMAGE_FIELDS: dict[str, tuple[str, bool]] = {
    "imageHeight": ("integer", False), "imageWidth": ("integer", False), "numImages": ("integer", False),
    "inferenceSteps": ("integer", False), "promptMagic": ("boolean", True),
    "promptMagicStrength": ("number", True), "promptMagicVersion": ("string", True),
    "alchemyMode": ("boolean", False), "photoRealMode": ("boolean", True),
    "photoRealStrength": ("number", True), "photoRealVersion": ("string", True),
    "highResolution": ("boolean", False), "loraCount": ("integer", True), "isModelCustom": ("boolean", True),
    "controlnetsCost": ("integer", True), "isUltra": ("boolean", True),
    **{flag: ("boolean", True) for flag in FAMILY_FLAGS},
}  # fmt: skip
_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "IMAGE_GENERATION": _IMAGE_FIELDS,
    "MOTION_SVD_GENERATION": {},
    "MOTION_VIDEO_GENERATION": {"resolution": ("string", False)},
    "VEO3_MOTION_VIDEO_GENERATION": {"resolution": ("string", False)},
    "LCM_GENERATION": {
        "width": ("integer", True), "height": ("integer", True), "instantRefine": ("boolean", True),
        "refine": ("boolean", True),
    },
    "TEXTURE_GENERATION": {"preview": ("boolean", False)},
    "UNIVERSAL_UPSCALER": {"megapixel": ("integer", False)},
    "UNIVERSAL_UPSCALER_ULTRA": {
        "inputWidth": ("integer", False), "inputHeight": ("integer", False),
        "upscaleMultiplier": ("number", False),
    },
}  # fmt: skip
_REQUIRED = {
    "IMAGE_GENERATION": ("imageWidth", "imageHeight", "numImages"),
    "UNIVERSAL_UPSCALER": ("megapixel",),
    "UNIVERSAL_UPSCALER_ULTRA": ("inputWidth", "inputHeight", "upscaleMultiplier"),
    "MOTION_VIDEO_GENERATION": ("resolution",),
    "VEO3_MOTION_VIDEO_GENERATION": ("resolution",),
}
# The resolutions each video service takes: "Must be RESOLUTION_480 or RESOLUTION_720" (Motion 2.0),
# the enum `[RESOLUTION_720]` (Veo3); each is priced as its model's default clip (5 s, 8 s).
VIDEO_SERVICES = {
    "MOTION_VIDEO_GENERATION": ("MOTION2", ("RESOLUTION_480", "RESOLUTION_720"), 5),
    "VEO3_MOTION_VIDEO_GENERATION": ("VEO3", ("RESOLUTION_720",), 8),
}
LCM_SIDES = (512, 640, 1024)


def example_key(service: str) -> str:
    """The documented example's name for a service's parameters: IMAGE_GENERATION ->
    imageGenerationParams (the schema names them after the service itself)."""
    head, *rest = service.lower().split("_")
    return head + "".join(word.capitalize() for word in rest) + "Params"


def price_request(body: Any, *, strict: bool = True) -> int:
    """Credits `POST /pricing-calculator` answers for `body`, or the 400 Leonardo would send.

    The schema's shape is `{"service": S, "serviceParams": {S: {...}}}`; the documented example's,
    `{"serviceParams": {"imageGenerationParams": {..., "modelId"}}}`, is accepted too (a model
    named by `modelId` is priced as that model)."""
    if not isinstance(body, dict):
        raise errors.validation("expected an object", None)
    service = body.get("service")
    if service not in SERVICES:
        raise errors.validation(f"service must be one of {', '.join(SERVICES)}", "service")
    unknown = set(body) - {"service", "serviceParams"}
    if unknown and strict:
        raise errors.validation(f"unexpected field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    params = _service_params(body.get("serviceParams"), service, strict=strict)
    if service not in PRICED_SERVICES:
        raise errors.validation(f"the simulator does not price {service}", "service")
    if service == "IMAGE_GENERATION":
        return _image_generation(params, strict=strict)
    _check_fields(service, params, strict=strict)
    if service == "MOTION_SVD_GENERATION":
        return MOTION_CREDITS
    if service in VIDEO_SERVICES:
        model, resolutions, seconds = VIDEO_SERVICES[service]
        if params["resolution"] not in resolutions:
            where = f"serviceParams.{params['_key']}.resolution"
            raise errors.validation(f"resolution must be {' or '.join(resolutions)}", where)
        return video_credits(model, params["resolution"], seconds)
    if service == "LCM_GENERATION":
        for name in ("width", "height"):
            if params.get(name) is not None and params[name] not in LCM_SIDES:
                where = f"serviceParams.{params['_key']}.{name}"
                raise errors.validation(f"{name} must be 512, 640 or 1024", where)
        return lcm_credits(
            params.get("width") or 512, params.get("height") or 512,
            instant_refine=bool(params.get("instantRefine")), refine=bool(params.get("refine")),
        )  # fmt: skip
    if service == "TEXTURE_GENERATION":
        return TEXTURE_PREVIEW_CREDITS if params.get("preview") else TEXTURE_CREDITS
    if service == "UNIVERSAL_UPSCALER":
        _in_range(params, "megapixel", 1, 20, "UNIVERSAL_UPSCALER")
    else:
        _in_range(params, "upscaleMultiplier", 1.0, 2.0, "UNIVERSAL_UPSCALER_ULTRA")
        for name in ("inputWidth", "inputHeight"):
            _in_range(params, name, 1, 100_000, "UNIVERSAL_UPSCALER_ULTRA")
    return VARIATION_CREDITS["/variations/universal-upscaler"]


def _service_params(given: Any, service: str, *, strict: bool) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise errors.validation("expected Object for field 'serviceParams'", "serviceParams")
    known = set(SERVICES) | {example_key(s) for s in SERVICES}
    unknown = set(given) - known
    if unknown and strict:
        name = sorted(unknown)[0]
        raise errors.validation(f"unexpected field {name!r}", f"serviceParams.{name}")
    named = [key for key in (service, example_key(service)) if given.get(key) is not None]
    if not named:
        raise errors.validation(f"serviceParams.{service} is required", f"serviceParams.{service}")
    if len(named) > 1:
        raise errors.validation(f"serviceParams names {service} twice", f"serviceParams.{named[1]}")
    params = given[named[0]]
    if not isinstance(params, dict):
        raise errors.validation(f"expected Object for field '{named[0]}'", f"serviceParams.{named[0]}")
    return params | {"_key": named[0]}


def _check_fields(
    service: str, params: dict[str, Any], *, strict: bool, extra: frozenset[str] = frozenset()
) -> None:
    where = f"serviceParams.{params['_key']}"
    fields = _FIELDS[service]
    for name, value in params.items():
        if name == "_key" or name in extra:
            continue
        if name not in fields:
            if strict:
                raise errors.validation(f"unexpected field {name!r}", f"{where}.{name}")
            continue
        kind, nullable = fields[name]
        if value is None and nullable:
            continue
        if not _is(kind, value):
            raise errors.validation(f"expected {kind} for field {name!r}", f"{where}.{name}")
    for name in _REQUIRED.get(service, ()):
        if params.get(name) is None:
            raise errors.validation(f"{name} is required", f"{where}.{name}")


def _is(kind: str, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if isinstance(value, bool):  # never a number in JSON
        return False
    return isinstance(value, int) if kind == "integer" else isinstance(value, int | float)


def _in_range(params: dict[str, Any], name: str, low: float, high: float, service: str) -> None:
    value = params.get(name)
    if value is not None and not low <= value <= high:
        where = f"serviceParams.{params['_key']}.{name}"
        raise errors.validation(f"{name} must be between {low} and {high} ({service})", where)


def _image_generation(params: dict[str, Any], *, strict: bool) -> int:
    _check_fields("IMAGE_GENERATION", params, strict=strict, extra=frozenset({"modelId"}))
    where = f"serviceParams.{params['_key']}"
    for name in ("imageWidth", "imageHeight"):
        # "Must be between 32 and 1024 and be a multiple of 8."
        value = params[name]
        if not 32 <= value <= 1024 or value % 8:
            message = f"{name} must be between 32 and 1024 and a multiple of 8"
            raise errors.validation(message, f"{where}.{name}")
    width, height, count = params["imageWidth"], params["imageHeight"], params["numImages"]
    if not 1 <= count <= (4 if width > 768 or height > 768 else 8):
        raise errors.validation(
            "numImages must be between 1 and 8, and at most 4 when width or height is over 768",
            f"{where}.numImages",
        )
    _in_range(params, "inferenceSteps", 10, 60, "IMAGE_GENERATION")
    _in_range(params, "promptMagicStrength", 0.1, 1.0, "IMAGE_GENERATION")
    if params.get("photoRealStrength") not in (None, 0.55, 0.5, 0.45):
        raise errors.validation("photoRealStrength must be 0.55, 0.5 or 0.45", f"{where}.photoRealStrength")
    for name, allowed in (("photoRealVersion", ("v1", "v2")), ("promptMagicVersion", ("v2", "v3"))):
        if params.get(name) not in (None, *allowed):
            raise errors.validation(f"{name} must be one of {', '.join(allowed)}", f"{where}.{name}")
    for name in ("loraCount", "controlnetsCost"):
        _in_range(params, name, 0, 1_000_000, "IMAGE_GENERATION")
    flags = [flag for flag in FAMILY_FLAGS if params.get(flag)]
    if len(flags) > 1:
        raise errors.validation(f"{flags[0]} and {flags[1]} name two models", f"{where}.{flags[1]}")
    family = FAMILY_FLAGS[flags[0]] if flags else _family_of_model(params.get("modelId"), where)
    alchemy = params.get("alchemyMode")
    row = row_for(
        None if params.get("isUltra") else family,
        alchemy=True if alchemy is None else alchemy,
        photo_real=bool(params.get("photoRealMode")),
        photo_real_version=params.get("photoRealVersion"),
        prompt_magic_v3=bool(params.get("promptMagic")) and params.get("promptMagicVersion") == "v3",
    )
    return generation_credits(row, width, height, count)


_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


def _family_of_model(model_id: Any, where: str) -> str | None:
    """No model flag: the model the example names, else plain Stable Diffusion (1.5 / 2.1)."""
    if model_id is None:
        return "sd"
    if not isinstance(model_id, str) or not _UUID.match(model_id):
        raise errors.validation("modelId must be a UUID", f"{where}.modelId")
    uuid.UUID(model_id)
    return _FAMILY.get(sd_version_of(model_id.lower(), None) or "")


def calculator_answer(credits: int, cost_unit: str) -> dict[str, Any]:
    """`{"calculateProductionApiServiceCost": {"cost": n}}`: integer credits (the schema), or on an
    account billed in dollars the amount in dollars (the documented example's 0.048)."""
    cost: int | float = credits if cost_unit != "DOLLARS" else float(dollars(credits))
    return {"calculateProductionApiServiceCost": {"cost": cost}}

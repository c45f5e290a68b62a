"""Validation of the POST /generations body, field by field as the image openapi
document names them (mixed snake_case and camelCase, exactly like Leonardo),
and of the init-image upload bodies.

Every field but `prompt` is nullable in the document, so `null` always passes
the type check; range rules come from the field descriptions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import catalog, errors
from .initimages import CONTENT_TYPES

PRESET_STYLES = frozenset(
    [
        "ANIME",
        "BOKEH",
        "CINEMATIC",
        "CINEMATIC_CLOSEUP",
        "CREATIVE",
        "DYNAMIC",
        "ENVIRONMENT",
        "FASHION",
        "FILM",
        "FOOD",
        "GENERAL",
        "HDR",
        "ILLUSTRATION",
        "LEONARDO",
        "LONG_EXPOSURE",
        "MACRO",
        "MINIMALISTIC",
        "MONOCHROME",
        "MOODY",
        "NONE",
        "NEUTRAL",
        "PHOTOGRAPHY",
        "PORTRAIT",
        "RAYTRACED",
        "RENDER_3D",
        "RETRO",
        "SKETCH_BW",
        "SKETCH_COLOR",
        "STOCK_PHOTO",
        "VIBRANT",
        "UNPROCESSED",
    ]
)
SCHEDULERS = frozenset(
    ["KLMS", "EULER_ANCESTRAL_DISCRETE", "EULER_DISCRETE", "DDIM", "DPM_SOLVER", "PNDM", "LEONARDO"]
)
SD_VERSIONS = frozenset(
    [
        "v1_5",
        "v2",
        "v3",
        "SDXL_0_8",
        "SDXL_0_9",
        "SDXL_1_0",
        "SDXL_LIGHTNING",
        "PHOENIX",
        "FLUX",
        "FLUX_DEV",
        "KINO_2_0",
    ]
)
MAX_SEED = 9_999_999_998


@dataclass(frozen=True)
class Field:
    kind: str  # string | integer | number | boolean | array
    minimum: float | None = None
    maximum: float | None = None
    enum: frozenset[str] | None = None
    check: Callable[[Any], str | None] | None = None  # extra rule -> error message or None
    items: str | None = None  # "string" or "object" for arrays
    item_required: tuple[str, ...] = ()


def _multiple_of_8(value: Any) -> str | None:
    return None if value % 8 == 0 else "must be a multiple of 8"


def _photo_real_strength(value: Any) -> str | None:
    return None if value in (0.55, 0.5, 0.45) else "must be 0.55, 0.5 or 0.45"


def _uuid(value: Any) -> str | None:
    try:
        uuid.UUID(value)
    except ValueError:
        return "must be a UUID"
    return None


FIELDS: dict[str, Field] = {
    "alchemy": Field("boolean"),
    "contrastRatio": Field("number", 0, 1),
    "contrast": Field("number", 1, 4.5),
    "controlnets": Field("array", items="object", item_required=("initImageId", "preprocessorId")),
    "elements": Field("array", items="object", item_required=("akUUID",)),
    "userElements": Field("array", items="object"),
    "expandedDomain": Field("boolean"),
    "fantasyAvatar": Field("boolean"),
    "guidance_scale": Field("number", 1, 20),
    "height": Field("integer", 32, 1536, check=_multiple_of_8),
    "highContrast": Field("boolean"),
    "highResolution": Field("boolean"),
    "imagePrompts": Field("array", items="string"),
    "imagePromptWeight": Field("number"),
    "init_generation_image_id": Field("string"),
    "init_image_id": Field("string"),
    "init_strength": Field("number", 0.1, 0.9),
    "modelId": Field("string", check=_uuid),
    "negative_prompt": Field("string"),
    "num_images": Field("integer", 1, 8),
    "num_inference_steps": Field("integer", 10, 60),
    "photoReal": Field("boolean"),
    "photoRealVersion": Field("string", enum=frozenset({"v1", "v2"})),
    "photoRealStrength": Field("number", check=_photo_real_strength),
    "presetStyle": Field("string", enum=PRESET_STYLES),
    "prompt": Field("string"),
    "promptMagic": Field("boolean"),
    "promptMagicStrength": Field("number", 0.1, 1.0),
    "promptMagicVersion": Field("string"),
    "public": Field("boolean"),
    "scheduler": Field("string", enum=SCHEDULERS),
    "sd_version": Field("string", enum=SD_VERSIONS),
    "seed": Field("integer", 0, MAX_SEED),
    "tiling": Field("boolean"),
    "transparency": Field("string", enum=frozenset({"disabled", "foreground_only"})),
    "ultra": Field("boolean"),
    "unzoom": Field("boolean"),
    "unzoomAmount": Field("number"),
    "upscaleRatio": Field("number"),
    "width": Field("integer", 32, 1536, check=_multiple_of_8),
    "controlNet": Field("boolean"),
    "controlNetType": Field("string", enum=frozenset({"POSE", "CANNY", "DEPTH"})),
    "weighting": Field("number"),
    "canvasRequest": Field("boolean"),
    "canvasRequestType": Field("string", enum=frozenset({"INPAINT", "OUTPAINT", "SKETCH2IMG", "IMG2IMG"})),
    "canvasInitId": Field("string"),
    "canvasMaskId": Field("string"),
    "enhancePrompt": Field("boolean"),
    "enhancePromptInstruction": Field("string"),
}

_JSON_TYPE = {"string": "String", "integer": "Int", "number": "Float", "boolean": "Boolean", "array": "List"}


def _type_ok(kind: str, value: Any) -> bool:
    # bool is an int subclass in Python but never a number in JSON.
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    raise AssertionError(kind)


def check_field(name: str, spec: Field, value: Any) -> None:
    """One non-null field against its spec (type, enum, range, extra rule, array items), or the 400 naming
    it; the video and realtime canvas routes check their fields with it too."""
    if not _type_ok(spec.kind, value):
        raise errors.validation(
            f"expected {_JSON_TYPE[spec.kind]} for field '{name}', got {type(value).__name__}", name
        )
    if spec.enum is not None and value not in spec.enum:
        raise errors.validation(f"unexpected value {value!r} for enum field '{name}'", name)
    if spec.minimum is not None and value < spec.minimum:
        raise errors.validation(f"'{name}' must be at least {spec.minimum:g}", name)
    if spec.maximum is not None and value > spec.maximum:
        raise errors.validation(f"'{name}' must be at most {spec.maximum:g}", name)
    if spec.check is not None and (problem := spec.check(value)):
        raise errors.validation(f"'{name}' {problem}", name)
    if spec.kind == "array":
        for i, item in enumerate(value):
            ok = isinstance(item, str) if spec.items == "string" else isinstance(item, dict)
            if not ok:
                raise errors.validation(f"unexpected item type in '{name}'", f"{name}[{i}]")
            for key in spec.item_required:
                if key not in item:
                    raise errors.validation(f"missing required field '{key}'", f"{name}[{i}].{key}")


def validate_generation_request(body: Any, strict: bool) -> dict[str, Any]:
    """Return the accepted fields (unknown ones dropped when not strict) or raise ApiError 400."""
    if not isinstance(body, dict):
        raise errors.validation("expected an object for the request body")
    unknown = [key for key in body if key not in FIELDS]
    if strict and unknown:
        # Hasura's wording for an unknown input field.
        raise errors.validation(f"field '{unknown[0]}' not found in type: 'SDGenerationInput'", unknown[0])
    if body.get("prompt") is None:
        raise errors.validation("missing required field 'prompt'", "prompt")
    accepted = {key: value for key, value in body.items() if key in FIELDS}
    for name, value in accepted.items():
        if value is not None:
            check_field(name, FIELDS[name], value)
    if not accepted["prompt"].strip():
        raise errors.validation("'prompt' must not be empty", "prompt")
    width, height = accepted.get("width") or 1024, accepted.get("height") or 768
    num_images = accepted.get("num_images") or 4
    if (width > 768 or height > 768) and num_images > 4:
        raise errors.validation(
            "'num_images' must be between 1 and 4 when width or height is over 768", "num_images"
        )
    _check_rules(accepted)
    return accepted


CONTRASTS = (1.0, 1.3, 1.8, 2.5, 3.0, 3.5, 4.0, 4.5)
INIT_IMAGE_TYPES = frozenset({"GENERATED", "UPLOADED"})
STRENGTH_TYPES = frozenset({"Low", "Mid", "High", "Ultra", "Max"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_rules(accepted: dict[str, Any]) -> None:
    """The rules between fields real Leonardo enforces (its documents say so), as its 400s.
    Only what a document or guide states is refused (docs/leonardo-simulator.md lists each)."""
    model_id = accepted.get("modelId")
    sd_version = catalog.sd_version_of(model_id, accepted.get("sd_version"))
    alchemy = accepted.get("alchemy")
    if accepted.get("ultra") and alchemy:
        raise errors.validation("ultra can not be used with alchemy", "ultra")
    if accepted.get("photoReal"):
        if alchemy is False:
            raise errors.validation("photoReal requires alchemy", "photoReal")
        if accepted.get("photoRealVersion") == "v2":
            model = catalog.BY_ID.get(model_id or "")
            if model is None or not model.photo_real_v2:
                raise errors.validation(
                    "photoReal v2 requires Leonardo Kino XL, Leonardo Diffusion XL or Leonardo Vision XL",
                    "modelId",
                )
        elif model_id:
            raise errors.validation("photoReal v1 requires modelId to be unspecified", "modelId")
    contrast = accepted.get("contrast")
    if contrast is not None:
        if not any(abs(contrast - allowed) < 1e-9 for allowed in CONTRASTS):
            raise errors.validation(f"contrast must be one of {list(CONTRASTS)}", "contrast")
        # alchemy's documented default is true: unset counts as on.
        if sd_version == "PHOENIX" and alchemy is not False and contrast < 2.5:
            raise errors.validation(
                "for Phoenix with alchemy, contrast needs to be 2.5 or higher", "contrast"
            )
    if accepted.get("unzoom") and not accepted.get("init_image_id"):
        raise errors.validation("unzoom requires init_image_id", "unzoom")
    seed = accepted.get("seed")
    if seed is not None and seed > (cap := catalog.seed_cap(sd_version)):
        family = "Flux" if cap == catalog.FLUX_SEED_CAP else "this model"
        raise errors.validation(f"the maximum seed value is {cap} for {family}", "seed")
    for name, key in (("elements", "akUUID"), ("userElements", "userLoraId")):
        for i, element in enumerate(accepted.get(name) or []):
            weight = element.get("weight")
            if weight is not None and not _is_number(weight):
                raise errors.validation("expected Float for field 'weight'", f"{name}[{i}].weight")
            ident = element.get(key)
            typed = _is_number(ident) if key == "userLoraId" else isinstance(ident, str)
            if ident is not None and not typed:
                raise errors.validation(f"unexpected type for field '{key}'", f"{name}[{i}].{key}")
    guided = any(accepted.get(name) for name in ("init_image_id", "init_generation_image_id", "canvasInitId"))
    for i, controlnet in enumerate(accepted.get("controlnets") or []):
        _check_controlnet(controlnet, sd_version, f"controlnets[{i}]")
        sdxl = (sd_version or "").startswith("SDXL")
        if guided and sdxl and controlnet.get("preprocessorId") not in catalog.SDXL_WITH_INIT_IMAGE:
            raise errors.validation(
                "with an init image, SDXL models take only Style Reference (67) and Character Reference "
                "(133) controlnets",
                f"controlnets[{i}].preprocessorId",
            )


def _check_controlnet(controlnet: dict[str, Any], sd_version: str | None, where: str) -> None:
    """One `controlnet_input`: its types, then the Image Guidance guide's preprocessor ids per base
    model, weight range and strength types. References are checked when the generation is created."""
    if not isinstance(controlnet.get("initImageId"), str):
        raise errors.validation("expected String for field 'initImageId'", f"{where}.initImageId")
    preprocessor = controlnet.get("preprocessorId")
    if not _is_number(preprocessor) or preprocessor != int(preprocessor):
        raise errors.validation("expected a numeric preprocessorId", f"{where}.preprocessorId")
    preprocessor = int(preprocessor)
    listed = catalog.PREPROCESSORS.get(sd_version or "")
    if preprocessor not in catalog.KNOWN_PREPROCESSORS or (listed is not None and preprocessor not in listed):
        raise errors.validation(
            f"preprocessorId {preprocessor} is not compatible with this model", f"{where}.preprocessorId"
        )
    kind = controlnet.get("initImageType")
    if kind is not None and kind not in INIT_IMAGE_TYPES:
        raise errors.validation(
            f"unexpected value {kind!r} for enum field 'initImageType'", f"{where}.initImageType"
        )
    weight = controlnet.get("weight")
    if weight is not None:
        low, high = catalog.CONTROLNET_WEIGHT
        if not _is_number(weight) or not low <= weight <= high:
            raise errors.validation(
                f"'weight' must be a number between {low:g} and {high:g}", f"{where}.weight"
            )
    strength = controlnet.get("strengthType")
    if strength is not None:
        if strength not in STRENGTH_TYPES:
            raise errors.validation(
                f"unexpected value {strength!r} for enum field 'strengthType'", f"{where}.strengthType"
            )
        if preprocessor not in catalog.REFERENCE_PREPROCESSORS:
            raise errors.validation(
                "strengthType can only be used for Style, Character and Content Reference controlnets",
                f"{where}.strengthType",
            )


def _extensions(body: Any, strict: bool, type_name: str, names: tuple[str, ...]) -> list[str]:
    if not isinstance(body, dict):
        raise errors.validation("expected an object for the request body")
    unknown = [key for key in body if key not in names]
    if strict and unknown:
        raise errors.validation(f"field '{unknown[0]}' not found in type: '{type_name}'", unknown[0])
    found = []
    for name in names:
        value = body.get(name)
        if value is None:
            raise errors.validation(f"missing required field '{name}'", name)
        if not isinstance(value, str):
            raise errors.validation(f"expected String for field '{name}', got {type(value).__name__}", name)
        if value not in CONTENT_TYPES:
            raise errors.validation(f"'{name}' has to be png, jpg, jpeg, or webp", name)
        found.append(value)
    return found


def validate_init_image_request(body: Any, strict: bool) -> str:
    """The `extension` of a POST /init-image body, or raise ApiError 400."""
    return _extensions(body, strict, "InitImageUploadInput", ("extension",))[0]


def validate_canvas_init_image_request(body: Any, strict: bool) -> tuple[str, str]:
    """(initExtension, maskExtension) of a POST /canvas-init-image body, or raise ApiError 400."""
    init, mask = _extensions(body, strict, "CanvasInitImageUploadInput", ("initExtension", "maskExtension"))
    return init, mask
